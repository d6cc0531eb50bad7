//! `/templates`: everyone lists and reads; teachers and admins create, change and delete.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::answers::{Conflict, Forbidden, NotFound, TooLarge};
use crate::error::ApiError;
use crate::routes::extract::{AuthUser, Staff};
use crate::state::AppState;
use crate::templates::Template;
use crate::templates::TemplateSpec;

/// Every template, for everyone.
#[utoipa::path(
    tag = "templates",
    responses((status = 200, description = "Every template", body = Vec<Template>)),
)]
#[get("/templates")]
async fn list(_caller: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::templates::list(&state.db).await?))
}

/// A template by its id or name.
#[utoipa::path(
    tag = "templates",
    responses(
        (status = 200, description = "The template", body = Template),
        (status = 404, response = NotFound),
    ),
)]
#[get("/templates/{id}")]
async fn get(
    _caller: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(crate::templates::find(&state.db, &id).await?))
}

/// Makes a template, for teachers and admins.
#[utoipa::path(
    tag = "templates",
    responses(
        (status = 201, description = "The template", body = Template),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
    ),
)]
#[post("/templates")]
async fn create(
    caller: Staff,
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

/// Changes the fields given, for the template's maker or an admin.
#[utoipa::path(
    tag = "templates",
    request_body(content = Object, description = "Any fields of a `TemplateSpec`; those not given stay as they are", content_type = "application/json"),
    responses(
        (status = 200, description = "The template as it is now", body = Template),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
    ),
)]
#[patch("/templates/{id}")]
async fn update(
    caller: Staff,
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

#[derive(Deserialize, utoipa::IntoParams)]
struct DeleteQuery {
    #[serde(default)]
    force: bool,
}

/// Deletes a template; one that workspaces still use only with `force`.
#[utoipa::path(
    tag = "templates",
    params(DeleteQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
#[delete("/templates/{id}")]
async fn delete(
    caller: Staff,
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

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(get)
        .service(update)
        .service(delete);
}
