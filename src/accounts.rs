//! `/auth/*` and `/me`: registering, logging in and out, the caller's account, WebSocket tickets.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::auth::extract::{client_address, AuthUser};
use crate::db;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::users::{self, password, Role};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

#[derive(Serialize)]
struct LoggedIn {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
}

#[derive(Serialize)]
struct Ticket {
    ticket: String,
    expires_in: u64,
}

async fn register(
    state: web::Data<AppState>,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let user = users::create(&state.db, &body.username, &body.password, Role::Student).await?;
    tracing::info!(user = %user.id, username = %user.username, "account registered");
    Ok(HttpResponse::Created().json(user))
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let auth = &state.auth;
    let client =
        client_address(&req, &auth.trusted_proxies).unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    auth.logins.check(&body.username, client)?;
    let (id, hash) = match db::users::credentials(&state.db, &body.username).await? {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    // Verified (slowly) even when there is no such account, so timing tells nothing.
    let valid = password::verify(body.password.clone(), hash).await;
    let Some(id) = id.filter(|_| valid) else {
        auth.logins.failed(&body.username, client);
        tracing::info!(username = %body.username, %client, "login refused");
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "wrong username or password",
        ));
    };
    auth.logins.succeeded(&body.username, client);
    let (access_token, _) = auth.keys.issue(&id).map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok().json(LoggedIn {
        access_token,
        token_type: "Bearer",
        expires_in: auth.keys.ttl_s,
    }))
}

async fn logout(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.auth.revoke(&state.db, &user.claims).await?;
    state.sessions.close_token(&user.claims.jti);
    Ok(HttpResponse::NoContent().finish())
}

async fn me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(user.user)
}

/// Deletes the caller's account: its sessions close, its workspaces (files included) and its
/// containers are removed.
async fn delete_me(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.sessions.close_user(&user.user.id);
    state.workspaces.remove_all_of(&user.user.id).await?;
    state.containers.remove_all_of(&user.user.id).await?;
    db::users::delete(&state.db, &user.user.id).await?;
    state.auth.revoke(&state.db, &user.claims).await?;
    tracing::info!(user = %user.user.id, "account deleted");
    Ok(HttpResponse::NoContent().finish())
}

async fn ws_ticket(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(Ticket {
        ticket: state.auth.issue_ticket(&user.user.id, &user.claims)?,
        expires_in: state.auth.ticket_ttl.as_secs(),
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/register", web::post().to(register))
        .route("/auth/login", web::post().to(login))
        .route("/auth/logout", web::post().to(logout))
        .route("/me", web::get().to(me))
        .route("/me", web::delete().to(delete_me))
        .route("/ws/ticket", web::post().to(ws_ticket));
}
