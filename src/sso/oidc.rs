//! Signing in with an OpenID Connect provider: the authorization code flow with PKCE and a nonce.
//! A flow begins in the browser with a redirect to the provider and ends at berth's callback,
//! which checks the state against the flow the browser began, trades the code for tokens,
//! verifies the ID token and reads the user's claims. The berth token is then handed to the page
//! once, out of band (`hand_off`/`take`), never in a URL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
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

use super::identity::{Identity, RoleGroups, Source};
use crate::auth::LoggedIn;
use crate::config::OidcSettings;
use crate::error::{ApiError, ErrorCode};

/// How long a browser has between leaving for the provider and coming back.
const FLOW_TTL: Duration = Duration::from_secs(600);
/// How long a finished sign-in waits for its page to take its token.
const HANDOFF_TTL: Duration = Duration::from_secs(60);
/// Sign-ins in flight at once; more are refused rather than kept.
const MAX_FLOWS: usize = 10_000;
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

/// What the callback checks a returning browser against.
struct Flow {
    state: String,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
    expires: Instant,
}

struct Handoff {
    result: Result<LoggedIn, ApiError>,
    expires: Instant,
}

/// The provider of `auth.oidc`, its discovery document read at the first sign-in.
pub struct Provider {
    settings: OidcSettings,
    http: reqwest::Client,
    discovered: tokio::sync::Mutex<Option<(Instant, Arc<Discovered>)>>,
    flows: DashMap<String, Flow>,
    handoffs: DashMap<String, Handoff>,
}

impl Provider {
    /// Refuses settings that cannot work; the provider itself is not asked yet.
    pub fn new(settings: OidcSettings) -> anyhow::Result<Provider> {
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
            flows: DashMap::new(),
            handoffs: DashMap::new(),
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
        let now = Instant::now();
        self.flows.retain(|_, flow| flow.expires > now);
        if self.flows.len() >= MAX_FLOWS {
            return Err(ApiError::new(
                ErrorCode::TooMany,
                "too many sign-ins at once",
            ));
        }
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
        self.flows.insert(
            id.clone(),
            Flow {
                state: state.secret().clone(),
                nonce,
                verifier,
                expires: now + FLOW_TTL,
            },
        );
        Ok((id, url))
    }

    /// Ends the flow `flow` (the browser's cookie) that the provider refused: whether the
    /// refusal is for it (its `state`), so that only then is what the provider said shown.
    pub fn abandon(&self, flow: Option<&str>, state: Option<&str>) -> bool {
        let Some((_, begun)) = flow.and_then(|id| self.flows.remove(id)) else {
            return false;
        };
        begun.expires > Instant::now() && state == Some(begun.state.as_str())
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
        let (_, flow) = flow
            .and_then(|id| self.flows.remove(id))
            .ok_or_else(refused)?;
        if flow.expires < Instant::now() || flow.state != state {
            return Err(refused());
        }
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
            .set_pkce_verifier(flow.verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| failed("code exchange", &e))?;
        let id_token = tokens.id_token().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthorized,
                "the identity provider sent no ID token",
            )
        })?;
        let verified = match id_token.claims(&client.id_token_verifier(), &flow.nonce) {
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

    /// Keeps the outcome of a finished flow for its page to take once; the id goes in a cookie.
    pub fn hand_off(&self, result: Result<LoggedIn, ApiError>) -> String {
        let now = Instant::now();
        self.handoffs.retain(|_, handoff| handoff.expires > now);
        let id = crate::auth::token::random_token();
        self.handoffs.insert(
            id.clone(),
            Handoff {
                result,
                expires: now + HANDOFF_TTL,
            },
        );
        id
    }

    /// The outcome kept under `id`, once.
    pub fn take(&self, id: &str) -> Option<Result<LoggedIn, ApiError>> {
        let (_, handoff) = self.handoffs.remove(id)?;
        (handoff.expires > Instant::now()).then_some(handoff.result)
    }
}
