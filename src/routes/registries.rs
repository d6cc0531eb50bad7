//! `/registries`: add, list, remove, and search Docker Hub and the private registries together.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::answers::{Conflict, Forbidden, NotFound, Unavailable};
use crate::error::ApiError;
use crate::registries::{NewRegistry, RegistryView};
use crate::routes::extract::AuthUser;
use crate::state::AppState;

/// Adds a private registry, once a login with the credentials works; the password is stored
/// sealed and never shown again.
#[utoipa::path(
    tag = "registries",
    responses(
        (status = 201, description = "The registry", body = RegistryView),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/registries")]
async fn add(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<NewRegistry>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    // The login's username, never its password.
    let entry = user
        .audit("registry.add")
        .detail("name", body.name.clone())
        .detail("server", body.server.clone())
        .detail("username", body.username.clone())
        .detail("shared", body.shared);
    let result = state.registries.add(&user.user, body).await;
    let entry = entry.made(&result, |r| r.id.clone());
    let registry = state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::Created().json(registry.view()))
}

/// The registries the caller may use: their own and the shared ones.
#[utoipa::path(
    tag = "registries",
    responses((status = 200, description = "The registries", body = Vec<RegistryView>)),
)]
#[get("/registries")]
async fn list(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let views: Vec<RegistryView> = state
        .registries
        .visible(&user.user)
        .await?
        .iter()
        .map(|r| r.view())
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Removes a registry, for the one who added it or an admin.
#[utoipa::path(
    tag = "registries",
    responses(
        (status = 204, description = "Removed"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
#[delete("/registries/{id}")]
async fn remove(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let result = state.registries.remove(&user.user, &id).await;
    let entry = user.audit("registry.remove").target(id.as_str());
    state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
struct SearchQuery {
    q: String,
}

/// `GET /registries/search?q=`: one list from Docker Hub (through the engine) and every private
/// registry the user may use. A source that fails is reported, not fatal.
#[utoipa::path(
    tag = "registries",
    params(SearchQuery),
    responses((status = 200, description = "What each source found, and how it answered", body = crate::registries::search::SearchResults)),
)]
#[get("/registries/search")]
async fn search(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .registries
        .search_everywhere(&user.user, &state.hosts, &query.q)
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(search)
        .service(add)
        .service(remove);
}
