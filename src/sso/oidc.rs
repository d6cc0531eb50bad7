//! Signing in with an OpenID Connect provider: the authorization code flow with PKCE and a nonce.
//! A flow begins in the browser with a redirect to the provider and ends at berth's callback,
//! which checks the state against the flow the browser began, trades the code for tokens,
//! verifies the ID token and reads the user's claims. The outcome is then handed to the page
//! once, out of band (`hand_off`/`take`): its token is made then, and is never in a URL.
//!
//! The flow and the outcome are rows (`db::oidc`), so that the start, the callback and the
//! page's taking may each reach another replica behind the load balancer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::identity::{Identity, RoleGroups, Source};
use crate::config::OidcSettings;
use crate::db::{self, Db};
use crate::error::{ApiError, ErrorCode};
use crate::secrets::SecretBox;

/// How long a browser has between leaving for the provider and coming back.
const FLOW_TTL: Duration = Duration::from_secs(600);
/// How long a finished sign-in waits for its page to take its token.
const HANDOFF_TTL: Duration = Duration::from_secs(60);
/// Sign-ins in flight at once; more are refused rather than kept.
const MAX_FLOWS: i64 = 10_000;
/// How long the provider's discovery document (and its signing keys) is trusted before it is
/// read again: providers rotate their keys.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

type Discovered = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Every claim of a response, whatever it is called: `username_claim` and `roles_claim` name
/// any of them.
#[derive(Debug, Serialize, Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

/// The provider of `auth.oidc`, its discovery document read at the first sign-in.
pub struct Provider {
    settings: OidcSettings,
    http: reqwest::Client,
    discovered: tokio::sync::Mutex<Option<(Instant, Arc<Discovered>)>>,
    db: Db,
    /// Seals each flow's PKCE verifier in its row.
    secrets: Arc<SecretBox>,
}

impl Provider {
    /// Refuses settings that cannot work; the provider itself is not asked yet.
    pub fn new(
        settings: OidcSettings,
        db: Db,
        secrets: Arc<SecretBox>,
    ) -> anyhow::Result<Provider> {
        IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| anyhow::anyhow!("auth.oidc.issuer {:?}: {e}", settings.issuer))?;
        RedirectUrl::new(settings.redirect_url.clone()).map_err(|e| {
            anyhow::anyhow!("auth.oidc.redirect_url {:?}: {e}", settings.redirect_url)
        })?;
        anyhow::ensure!(
            !settings.client_id.is_empty(),
            "auth.oidc.client_id is required"
        );
        // The provider's answers are never followed elsewhere (openidconnect's advice against
        // SSRF).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Provider {
            settings,
            http,
            discovered: tokio::sync::Mutex::new(None),
            db,
            secrets,
        })
    }

    pub fn label(&self) -> &str {
        &self.settings.label
    }

    /// Whether cookies of the flow need `Secure` (berth is reached over https).
    pub fn secure(&self) -> bool {
        self.settings.redirect_url.starts_with("https://")
    }

    async fn client(&self) -> Result<Arc<Discovered>, ApiError> {
        let mut discovered = self.discovered.lock().await;
        if let Some((read, client)) = discovered.as_ref() {
            if read.elapsed() < DISCOVERY_TTL {
                return Ok(client.clone());
            }
        }
        let issuer =
            IssuerUrl::new(self.settings.issuer.clone()).map_err(|e| ApiError::internal(&e))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(error = %crate::error::chain(&e), "OpenID Connect discovery failed");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "the identity provider does not answer",
                )
            })?;
        let redirect = RedirectUrl::new(self.settings.redirect_url.clone())
            .map_err(|e| ApiError::internal(&e))?;
        let client = Arc::new(
            CoreClient::from_provider_metadata(
                metadata,
                ClientId::new(self.settings.client_id.clone()),
                Some(ClientSecret::new(self.settings.client_secret.clone())),
            )
            .set_redirect_uri(redirect),
        );
        *discovered = Some((Instant::now(), client.clone()));
        Ok(client)
    }

    /// A new flow: its id (for the browser's cookie) and where to send the browser.
    pub async fn start(&self) -> Result<(String, url::Url), ApiError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        let id = crate::auth::token::random_token();
        let now = crate::clock::now_ms();
        let flow = db::oidc::FlowRow {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            sealed_verifier: self.secrets.seal(verifier.secret()),
            expires_ms: now + FLOW_TTL.as_millis() as i64,
        };
        if !db::oidc::begin(&self.db, &hash(&id), &flow, now, MAX_FLOWS).await? {
            return Err(ApiError::new(
                ErrorCode::TooMany,
                "too many sign-ins at once",
            ));
        }
        Ok((id, url))
    }

    /// Takes the flow the browser's cookie names out, if it has not expired.
    async fn end_flow(&self, flow: Option<&str>) -> Result<Option<db::oidc::FlowRow>, ApiError> {
        let Some(id) = flow else { return Ok(None) };
        let begun = db::oidc::end(&self.db, &hash(id)).await?;
        Ok(begun.filter(|begun| begun.expires_ms > crate::clock::now_ms()))
    }

    /// Ends the flow `flow` (the browser's cookie) that the provider refused: whether the
    /// refusal is for it (its `state`), so that only then is what the provider said shown.
    pub async fn abandon(&self, flow: Option<&str>, state: Option<&str>) -> Result<bool, ApiError> {
        let begun = self.end_flow(flow).await?;
        Ok(begun.is_some_and(|begun| state == Some(begun.state.as_str())))
    }

    /// Ends the flow `flow` (the browser's cookie) with the provider's answer `state` and
    /// `code`: who signed in.
    pub async fn finish(
        &self,
        flow: Option<&str>,
        state: &str,
        code: &str,
    ) -> Result<Identity, ApiError> {
        let refused = || {
            ApiError::new(
                ErrorCode::Unauthorized,
                "this sign-in was not begun in this browser, or took too long: sign in again",
            )
        };
        let flow = self.end_flow(flow).await?.ok_or_else(refused)?;
        if flow.state != state {
            return Err(refused());
        }
        // A key other than the one that sealed it (secret_key changed meanwhile) opens nothing.
        let verifier = self
            .secrets
            .open(&flow.sealed_verifier)
            .map_err(|_| refused())?;
        let client = self.client().await?;
        let failed = |what: &str, e: &dyn std::error::Error| {
            tracing::warn!(what, error = %e, "OpenID Connect sign-in failed");
            ApiError::new(
                ErrorCode::Unauthorized,
                format!("the identity provider's answer did not hold up ({what})"),
            )
        };
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| failed("no token endpoint", &e))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| failed("code exchange", &e))?;
        let id_token = tokens.id_token().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthorized,
                "the identity provider sent no ID token",
            )
        })?;
        let nonce = Nonce::new(flow.nonce);
        let verified = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(verified) => verified,
            Err(e) => {
                // Perhaps signed with a key the provider rotated in: read its keys again next
                // time.
                *self.discovered.lock().await = None;
                return Err(failed("ID token", &e));
            }
        };
        let subject = verified.subject().clone();
        let mut claims = match serde_json::to_value(verified) {
            Ok(Value::Object(claims)) => claims,
            _ => serde_json::Map::new(),
        };
        // The user info endpoint, when there is one, has the claims an ID token may leave out.
        if let Ok(request) = client.user_info(tokens.access_token().clone(), Some(subject.clone()))
        {
            let info: UserInfoClaims<OtherClaims, CoreGenderClaim> = request
                .request_async(&self.http)
                .await
                .map_err(|e| failed("user info", &e))?;
            if let Ok(Value::Object(more)) = serde_json::to_value(&info) {
                claims.extend(more);
            }
        }
        self.identity(subject.as_str(), &claims)
    }

    fn identity(
        &self,
        subject: &str,
        claims: &serde_json::Map<String, Value>,
    ) -> Result<Identity, ApiError> {
        let username = claims
            .get(&self.settings.username_claim)
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::forbidden(format!(
                    "the identity provider did not give the claim {:?} (auth.oidc.username_claim)",
                    self.settings.username_claim
                ))
            })?;
        let groups: Vec<&str> = match claims.get(&self.settings.roles_claim) {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let role = RoleGroups {
            admin: &self.settings.admin_values,
            teacher: &self.settings.teacher_values,
        }
        .role_of(groups.iter().copied());
        Ok(Identity {
            source: Source::Oidc,
            external_id: subject.to_string(),
            username: username.to_string(),
            role,
        })
    }

    /// Keeps the outcome of a finished flow (the account it signed in, or why not) for its page
    /// to take once: the id, for a cookie.
    pub async fn hand_off(&self, outcome: &Result<String, ApiError>) -> Result<String, ApiError> {
        let id = crate::auth::token::random_token();
        let (user_id, error) = match outcome {
            Ok(user_id) => (Some(user_id.clone()), None),
            Err(err) => (None, Some(err)),
        };
        let handoff = db::oidc::HandoffRow {
            user_id,
            error_code: error.map(|e| e.code.name().to_string()),
            error_message: error.map(|e| e.message.clone()),
            expires_ms: crate::clock::now_ms() + HANDOFF_TTL.as_millis() as i64,
        };
        db::oidc::hand_off(&self.db, &hash(&id), &handoff).await?;
        Ok(id)
    }

    /// The outcome kept under the cookie `id`, once: the account signed in.
    pub async fn take(&self, id: Option<&str>) -> Result<String, ApiError> {
        let none = || {
            ApiError::new(
                ErrorCode::Unauthorized,
                "no finished sign-in in this browser: sign in again",
            )
        };
        let Some(id) = id else { return Err(none()) };
        let handoff = db::oidc::take(&self.db, &hash(id))
            .await?
            .filter(|handoff| handoff.expires_ms > crate::clock::now_ms())
            .ok_or_else(none)?;
        match (handoff.user_id, handoff.error_code) {
            (Some(user_id), None) => Ok(user_id),
            (_, code) => Err(ApiError::new(
                code.as_deref()
                    .and_then(ErrorCode::named)
                    .unwrap_or(ErrorCode::Unauthorized),
                handoff.error_message.unwrap_or_default(),
            )),
        }
    }
}

/// What a cookie's id is stored as: a copy of the database holds no flow or outcome to take.
fn hash(id: &str) -> String {
    format!("{:x}", Sha256::digest(id.as_bytes()))
}
