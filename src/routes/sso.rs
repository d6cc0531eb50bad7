//! `/auth/providers` (how this server signs people in) and `/auth/oidc/*`, the OpenID Connect
//! flow: `start` sends the browser to the provider, `callback` is where it comes back, and the
//! page then takes its token from `token`. The flow and its result travel in HttpOnly cookies
//! scoped to `/api/v1/auth/oidc`, so the token is never in a URL.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::audit::Entry;
use crate::config::Registration;
use crate::error::answers::{NotFound, Unauthorized, Unavailable};
use crate::error::ApiError;
use crate::routes::extract::client_address;
use crate::sso::oidc::Provider;
use crate::state::AppState;

const COOKIE_PATH: &str = "/api/v1/auth/oidc";
/// Binds a returning browser to the flow it began.
const FLOW_COOKIE: &str = "berth_oidc_flow";
/// Names the finished sign-in whose token the page takes.
const DONE_COOKIE: &str = "berth_oidc_done";

/// How this server signs people in, for the sign-in page.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Providers {
    /// `open`: the page may offer to register.
    registration: Registration,
    /// The login form checks passwords against an LDAP directory (besides local accounts).
    ldap: bool,
    /// An OpenID Connect provider, and what its button says after "Sign in with".
    oidc: Option<OidcButton>,
}

#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct OidcButton {
    label: String,
}

/// How this server signs people in, for the sign-in page.
#[utoipa::path(
    tag = "sign-in",
    security(()),
    responses((status = 200, description = "How this server signs people in", body = Providers)),
)]
#[get("/auth/providers")]
async fn providers(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(Providers {
        registration: state.sso.registration,
        ldap: state.sso.ldap.is_some(),
        oidc: state.sso.oidc.as_ref().map(|p| OidcButton {
            label: p.label().to_string(),
        }),
    })
}

fn provider(state: &AppState) -> Result<&Provider, ApiError> {
    state
        .sso
        .oidc
        .as_ref()
        .ok_or_else(|| ApiError::not_found("this server has no OpenID Connect sign-in"))
}

fn cookie<'a>(
    name: &'a str,
    value: String,
    same_site: SameSite,
    secure: bool,
    max_age_s: i64,
) -> Cookie<'a> {
    Cookie::build(name, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .secure(secure)
        .same_site(same_site)
        .max_age(time::Duration::seconds(max_age_s))
        .finish()
}

/// Sends the browser to the provider.
#[utoipa::path(
    tag = "sign-in",
    security(()),
    responses(
        (status = 303, description = "To the provider's sign-in, with a cookie that binds the flow to this browser"),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/auth/oidc/start")]
async fn start(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let provider = provider(&state)?;
    let (flow, url) = provider.start().await?;
    // Lax: the provider sends the browser back with a top-level GET from its own site.
    let flow = cookie(FLOW_COOKIE, flow, SameSite::Lax, provider.secure(), 600);
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url.as_str()))
        .cookie(flow)
        .finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ProviderAnswer {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Where the provider sends the browser back: the sign-in is finished here and its outcome
/// (a token, or why not) kept for the page, which is loaded next.
#[utoipa::path(
    tag = "sign-in",
    params(ProviderAnswer),
    security(()),
    responses(
        (status = 303, description = "To the page (`/#/sso`), with a cookie naming the outcome"),
        (status = 404, response = NotFound),
    ),
)]
#[get("/auth/oidc/callback")]
async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    answer: web::Query<ProviderAnswer>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&state)?;
    let flow = req.cookie(FLOW_COOKIE).map(|c| c.value().to_string());
    // Who the provider said signed in, when it got that far.
    let mut who_said = None;
    let outcome = match (&answer.code, &answer.state, &answer.error) {
        // What the provider said is shown only for the flow this browser began: anyone can
        // send a browser here with an error of their own wording.
        (_, returned, Some(error))
            if provider
                .abandon(flow.as_deref(), returned.as_deref())
                .await? =>
        {
            let said = answer.error_description.as_deref().unwrap_or(error);
            let said: String = said.chars().take(200).collect();
            Err(ApiError::forbidden(format!(
                "the identity provider refused: {said}"
            )))
        }
        (_, _, Some(_)) => Err(ApiError::new(
            crate::error::ErrorCode::Unauthorized,
            "this sign-in was not begun in this browser, or took too long: sign in again",
        )),
        (Some(code), Some(returned), None) => {
            match provider.finish(flow.as_deref(), returned, code).await {
                Ok(who) => {
                    who_said = Some(who.username.clone());
                    let registration = state.sso.registration;
                    crate::sso::account(&state.db, &state.audit, registration, who).await
                }
                Err(e) => Err(e),
            }
        }
        _ => Err(ApiError::bad_request("the provider's answer has no code")),
    };
    if let Err(e) = &outcome {
        tracing::info!(error = %e.message, "OpenID Connect sign-in refused");
    }
    let entry = Entry::named(who_said.as_deref().unwrap_or(""), "auth.login")
        .detail("source", "oidc")
        .from_client(client_address(&req, &state.auth.trusted_proxies))
        .outcome(&outcome);
    state.audit.record(entry).await;
    let done = provider.hand_off(&outcome).await?;
    let mut gone = cookie(
        FLOW_COOKIE,
        String::new(),
        SameSite::Lax,
        provider.secure(),
        0,
    );
    gone.make_removal();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/#/sso"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(gone)
        .cookie(cookie(
            DONE_COOKIE,
            done,
            SameSite::Strict,
            provider.secure(),
            60,
        ))
        .finish())
}

/// The page takes its token (or why there is none), once.
#[utoipa::path(
    tag = "sign-in",
    security(()),
    responses(
        (status = 200, description = "Signed in", body = crate::auth::LoggedIn),
        (status = 401, response = Unauthorized),
        (status = 403, response = crate::error::answers::Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = crate::error::answers::Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/auth/oidc/token")]
async fn token(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let provider = provider(&state)?;
    let done = req.cookie(DONE_COOKIE);
    let outcome = provider.take(done.as_ref().map(|c| c.value())).await;
    let mut gone = cookie(
        DONE_COOKIE,
        String::new(),
        SameSite::Strict,
        provider.secure(),
        0,
    );
    gone.make_removal();
    let logged_in = state.auth.sign_in(&outcome?)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(gone)
        .json(logged_in))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(providers)
        .service(start)
        .service(callback)
        .service(token);
}
