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
    let body = body.into_inner();
    let entry = caller
        .audit("template.create")
        .detail("name", body.name.clone())
        .detail("image", body.image.clone());
    let result =
        crate::templates::create(&state.db, &caller.user, body, &state.settings.limits).await;
    let entry = entry.made(&result, |t| t.id.clone());
    let template = state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::Created().json(template))
}

async fn update(
    Staff(caller): Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    // Which fields changed, not their new texts (starter files can be long).
    let fields: Vec<String> = body
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let result =
        crate::templates::update(&state.db, &caller.user, &id, body, &state.settings.limits).await;
    let entry = caller
        .audit("template.update")
        .target(id.as_str())
        .detail("fields", fields);
    let template = state.audit.record_outcome(entry, result).await?;
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
    let result = crate::templates::delete(&state.db, &caller.user, &id, query.force).await;
    let entry = caller
        .audit("template.delete")
        .target(id.as_str())
        .detail("force", query.force);
    state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/templates", web::get().to(list))
        .route("/templates", web::post().to(create))
        .route("/templates/{id}", web::get().to(get))
        .route("/templates/{id}", web::patch().to(update))
        .route("/templates/{id}", web::delete().to(delete));
}
