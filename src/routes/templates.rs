//! `/templates`: everyone lists and reads; teachers and admins create, change and delete.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::error::ApiError;
use crate::routes::extract::{AuthUser, Staff};
use crate::state::AppState;
use crate::templates::TemplateSpec;

async fn list(_: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::templates::list(&state.db).await?))
}

async fn get(
    _: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::templates::find(&state.db, &id).await?))
}

async fn create(
    Staff(caller): Staff,
    state: web::Data<AppState>,
    body: web::Json<TemplateSpec>,
) -> Result<HttpResponse, ApiError> {
    let template = crate::templates::create(
        &state.db,
        &caller.user,
        body.into_inner(),
        &state.settings.limits,
    )
    .await?;
    Ok(HttpResponse::Created().json(template))
}

async fn update(
    Staff(caller): Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let template = crate::templates::update(
        &state.db,
        &caller.user,
        &id,
        body.into_inner(),
        &state.settings.limits,
    )
    .await?;
    Ok(HttpResponse::Ok().json(template))
}

#[derive(Deserialize)]
struct DeleteQuery {
    #[serde(default)]
    force: bool,
}

async fn delete(
    Staff(caller): Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    crate::templates::delete(&state.db, &caller.user, &id, query.force).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/templates", web::get().to(list))
        .route("/templates", web::post().to(create))
        .route("/templates/{id}", web::get().to(get))
        .route("/templates/{id}", web::patch().to(update))
        .route("/templates/{id}", web::delete().to(delete));
}
