//! `/admin/*`: what each user holds and uses now, ending a user's sessions, and the replicas.

use actix_web::{delete, get, web, HttpResponse};
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::answers::{Forbidden, NotFound, Unavailable};
use crate::error::ApiError;
use crate::routes::extract::Admin;
use crate::session::resume::Resumes;
use crate::state::AppState;

/// `GET /admin/usage`: every account with its live sessions and streams, its containers and
/// workspaces (running and stopped), the memory they reserve and the CPU they use now.
#[utoipa::path(
    tag = "admin",
    responses(
        (status = 200, description = "Every account's usage", body = crate::usage::ServerUsage),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/admin/usage")]
async fn usage(_caller: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let everywhere = state.replicas.sessions_per_user().await?;
    let usage =
        crate::usage::per_user(&state.db, &state.hosts, &state.sessions, &everywhere).await?;
    Ok(HttpResponse::Ok().json(usage))
}

#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Ended {
    /// Sessions that were open and are closing.
    sessions: usize,
}

/// `DELETE /admin/users/{id}/sessions`: closes the user's sessions (their streams stop, and so
/// do those parked for a reattach; background jobs go on). The user may sign in again.
#[utoipa::path(
    tag = "admin",
    responses(
        (status = 200, description = "How many sessions are closing", body = Ended),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
#[delete("/admin/users/{id}/sessions")]
async fn end_sessions(
    caller: Admin,
    state: web::Data<AppState>,
    resumes: web::Data<Resumes>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let found = crate::users::find_by_id(&state.db, &id).await;
    let result = match found {
        Ok(Some(user)) => {
            let sessions = state.sessions.end_user(&user.id);
            resumes.end_user(&user.id).await;
            let user_id = user.id.clone();
            // The other replicas end theirs when they hear of it.
            state
                .events
                .publish(crate::events::Event::SessionsEnded { user_id })
                .await
                .map(|()| Ended { sessions })
        }
        Ok(None) => Err(ApiError::not_found(format!("no such user: {id}"))),
        Err(e) => Err(e),
    };
    let entry = caller.audit("account.end_sessions").target(id.as_str());
    let ended = state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::Ok().json(ended))
}

/// `GET /admin/replicas`: the berth processes on this database, their heartbeats, the execs
/// each runs, and which one leads.
#[utoipa::path(
    tag = "admin",
    responses(
        (status = 200, description = "Every replica recorded", body = crate::replicas::ReplicasView),
        (status = 403, response = Forbidden),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/admin/replicas")]
async fn replicas(_caller: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.replicas.view().await?))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(usage).service(end_sessions).service(replicas);
}
