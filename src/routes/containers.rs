//! `/containers`: create, list, inspect, start, stop, restart and remove the caller's containers.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::containers::{Action, ContainerView};
use crate::docker::policy::ContainerSpec;
use crate::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

#[derive(Serialize, ts_rs::TS)]
pub struct Created {
    #[serde(flatten)]
    container: ContainerView,
    /// Whether its image was pulled first.
    pulled: bool,
}

async fn create(
    user: AuthUser,
    state: web::Data<AppState>,
    spec: web::Json<ContainerSpec>,
) -> Result<HttpResponse, ApiError> {
    let entry = user
        .audit("container.create")
        .detail("image", spec.image.clone());
    let result = state
        .containers
        .create(&user.user, &spec, &state.registries)
        .await;
    let entry = entry.made(&result, |(c, _)| c.id.clone());
    let (container, pulled) = state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::Created().json(Created { container, pulled }))
}

async fn list(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.containers.list(&user.user).await?))
}

async fn get(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.containers.view(&user.user, &id).await?))
}

async fn act(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    action: Action,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.containers.act(&user.user, &id, action).await?))
}

async fn start(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(user, state, id, Action::Start).await
}

async fn stop(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(user, state, id, Action::Stop).await
}

async fn restart(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(user, state, id, Action::Restart).await
}

async fn remove(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let result = state.containers.remove(&user.user, &id).await;
    let entry = user.audit("container.remove").target(id.as_str());
    state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/containers", web::post().to(create))
        .route("/containers", web::get().to(list))
        .route("/containers/{id}", web::get().to(get))
        .route("/containers/{id}", web::delete().to(remove))
        .route("/containers/{id}/start", web::post().to(start))
        .route("/containers/{id}/stop", web::post().to(stop))
        .route("/containers/{id}/restart", web::post().to(restart));
}
