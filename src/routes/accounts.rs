//! `/auth/*` and `/me`: registering, logging in and out, the caller's account, WebSocket tickets.

use crate::session::resume::Resumes;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::accounts;
use crate::audit::Entry;
use crate::error::answers::{Conflict, Forbidden, TooMany};
use crate::error::ApiError;
use crate::routes::extract::{client_address, AuthUser};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Ticket {
    ticket: String,
    expires_in: u64,
}

/// Makes a local account, when `auth.registration` is `open`.
#[utoipa::path(
    tag = "accounts",
    security(()),
    responses(
        (status = 201, description = "The new account", body = crate::users::User),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
    ),
)]
#[post("/auth/register")]
async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let registration = state.sso.registration;
    let result = accounts::register(&state.db, registration, &body.username, &body.password).await;
    let entry = Entry::named(&body.username, "account.register")
        .from_client(client_address(&req, &state.auth.trusted_proxies))
        .made(&result, |u| u.id.clone());
    let user = state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::Created().json(user))
}

/// A bearer token for a username and password (a local account, or the LDAP directory's).
#[utoipa::path(
    tag = "accounts",
    security(()),
    responses(
        (status = 200, description = "Signed in", body = crate::auth::LoggedIn),
        (status = 401, response = crate::error::answers::Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 429, response = TooMany),
        (status = 503, response = crate::error::answers::Unavailable),
    ),
)]
#[post("/auth/login")]
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let client = client_address(&req, &state.auth.trusted_proxies)
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let result = accounts::login(
        &state.db,
        &state.auth,
        &state.audit,
        &state.sso,
        &body.username,
        &body.password,
        client,
    )
    .await;
    let entry = Entry::named(&body.username, "auth.login").from_client(Some(client));
    let token = state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::Ok().json(token))
}

/// Signing out also stops the streams the user's lost sessions left parked for a reattach.
#[utoipa::path(
    tag = "accounts",
    responses((status = 204, description = "The token is revoked and the user's sessions close")),
)]
#[post("/auth/logout")]
async fn logout(
    user: AuthUser,
    state: web::Data<AppState>,
    resumes: web::Data<Resumes>,
) -> Result<HttpResponse, ApiError> {
    let result = accounts::logout(
        &state.db,
        &state.auth,
        &state.sessions,
        &state.events,
        &user.claims,
    )
    .await;
    state
        .audit
        .record_outcome(user.audit("auth.logout"), result)
        .await?;
    resumes.end_user(&user.user.id).await;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's account.
#[utoipa::path(
    tag = "accounts",
    responses((status = 200, description = "The caller's account", body = crate::users::User)),
)]
#[get("/me")]
async fn me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(user.user)
}

/// Deletes the caller's account with everything it owns.
#[utoipa::path(
    tag = "accounts",
    responses((status = 204, description = "The account, its containers and workspaces are gone")),
)]
#[delete("/me")]
async fn delete_me(
    user: AuthUser,
    state: web::Data<AppState>,
    resumes: web::Data<Resumes>,
    jobs: web::Data<crate::session::jobs::Jobs>,
) -> Result<HttpResponse, ApiError> {
    resumes.end_user(&user.user.id).await;
    jobs.end_user(&user.user.id);
    let owned = accounts::Owned {
        db: &state.db,
        auth: &state.auth,
        sessions: &state.sessions,
        events: &state.events,
        workspaces: &state.workspaces,
        containers: &state.containers,
        snapshots: state.snapshots(),
    };
    let result = accounts::delete(owned, &user.user, &user.claims).await;
    state
        .audit
        .record_outcome(user.audit("account.delete"), result)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A single-use ticket that opens one WebSocket (`/api/v1/ws?ticket=`), so the token itself is
/// never in a URL.
#[utoipa::path(
    tag = "accounts",
    responses((status = 200, description = "The ticket", body = Ticket)),
)]
#[post("/ws/ticket")]
async fn ws_ticket(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(Ticket {
        ticket: state
            .auth
            .issue_ticket(&state.db, &user.user.id, &user.claims)
            .await?,
        expires_in: state.auth.ticket_ttl.as_secs(),
    }))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(register)
        .service(login)
        .service(logout)
        .service(me)
        .service(delete_me)
        .service(ws_ticket);
}
