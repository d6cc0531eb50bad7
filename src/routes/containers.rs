//! `/containers`: create, list, inspect, start, stop, restart and remove the caller's containers.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::containers::{Action, ContainerView};
use crate::docker::policy::ContainerSpec;
use crate::error::answers::{Conflict, Forbidden, NotFound, Unavailable};
use crate::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
#[schema(as = CreatedContainer)]
pub struct Created {
    #[serde(flatten)]
    container: ContainerView,
    /// Whether its image was pulled first.
    pulled: bool,
}

/// Makes a container under the safety policy, pulling its image first when the host lacks it.
#[utoipa::path(
    tag = "containers",
    responses(
        (status = 201, description = "The container", body = Created),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/containers")]
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

/// The caller's containers, on every host.
#[utoipa::path(
    tag = "containers",
    responses(
        (status = 200, description = "The caller's containers", body = Vec<ContainerView>),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/containers")]
async fn list(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.containers.list(&user.user).await?))
}

/// One of the caller's containers.
#[utoipa::path(
    tag = "containers",
    responses(
        (status = 200, description = "The container", body = ContainerView),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/containers/{id}")]
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

/// Starts one of the caller's containers.
#[utoipa::path(
    tag = "containers",
    responses(
        (status = 200, description = "The container, started", body = ContainerView),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/containers/{id}/start")]
async fn start(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(user, state, id, Action::Start).await
}

/// Stops one of the caller's containers; its streams end.
#[utoipa::path(
    tag = "containers",
    responses(
        (status = 200, description = "The container, stopped", body = ContainerView),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/containers/{id}/stop")]
async fn stop(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(user, state, id, Action::Stop).await
}

/// Restarts one of the caller's containers.
#[utoipa::path(
    tag = "containers",
    responses(
        (status = 200, description = "The container, restarted", body = ContainerView),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/containers/{id}/restart")]
async fn restart(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(user, state, id, Action::Restart).await
}

/// Removes the container (stopping it first) and ends its streams.
#[utoipa::path(
    tag = "containers",
    responses(
        (status = 204, description = "Removed"),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
#[delete("/containers/{id}")]
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

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get)
        .service(remove)
        .service(start)
        .service(stop)
        .service(restart);
}
