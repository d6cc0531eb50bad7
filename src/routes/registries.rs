//! `/registries`: add, list, remove, and search Docker Hub and the private registries together.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::error::ApiError;
use crate::registries::{NewRegistry, RegistryView};
use crate::routes::extract::AuthUser;
use crate::state::AppState;

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

#[derive(Deserialize)]
struct SearchQuery {
    q: String,
}

/// `GET /registries/search?q=`: one list from Docker Hub (through the engine) and every private
/// registry the user may use. A source that fails is reported, not fatal.
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

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/registries", web::get().to(list))
        .route("/registries/search", web::get().to(search))
        .route("/registries", web::post().to(add))
        .route("/registries/{id}", web::delete().to(remove));
}
