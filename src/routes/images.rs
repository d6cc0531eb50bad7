//! `/images`: list with fuzzy search, inspect, tag (never stealing a tag by surprise), remove,
//! prune, and the offline-site transfers: load a `docker save` tar, export one, import a root
//! filesystem. Students list and inspect; teachers and admins change.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::docker::images::ImageRef;
use crate::error::answers::{BadRequest, Conflict, Forbidden, NotFound, TooLarge, Unavailable};
use crate::error::ApiError;
use crate::images::{self, Tagged};
use crate::routes::extract::{AuthUser, Staff};
use crate::state::AppState;
use crate::upload;

/// `?host=` on the image endpoints: the host to act on (`local` when absent).
#[derive(Deserialize, utoipa::IntoParams)]
pub struct OnHost {
    pub host: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
struct ListQuery {
    q: Option<String>,
}

/// The host's images, fuzzy-filtered by `q`.
#[utoipa::path(
    tag = "images",
    params(OnHost, ListQuery),
    responses(
        (status = 200, description = "The images, best match first", body = Vec<images::ImageView>),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/images")]
async fn list(
    _caller: AuthUser,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    Ok(HttpResponse::Ok().json(images::list(&engine, query.q.as_deref()).await?))
}

/// An image by reference or id, with its configuration.
#[utoipa::path(
    tag = "images",
    params(OnHost),
    responses(
        (status = 200, description = "The image", body = images::ImageDetails),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/images/{ref:.+}")]
async fn inspect(
    user: AuthUser,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    Ok(HttpResponse::Ok().json(images::details(&engine, &user.user, &reference).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TagBody {
    repo: String,
    tag: Option<String>,
    #[serde(default)]
    force: bool,
}

/// Tags an image; a tag another image holds is taken only with `force`.
#[utoipa::path(
    tag = "images",
    params(OnHost),
    responses(
        (status = 200, description = "Tagged", body = Tagged),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/images/{ref:.+}/tag")]
async fn tag_image(
    user: Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
    body: web::Json<TagBody>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    let to = (body.repo.as_str(), body.tag.as_deref(), body.force);
    let result = images::tag(&state.registries, &user.user, &engine, &reference, to).await;
    let entry = user
        .audit("image.tag")
        .target(reference.as_str())
        .detail("repo", body.repo.clone())
        .detail("tag", body.tag.clone())
        .detail("host", on.host.clone());
    let tagged = state.audit.record_outcome(entry, result).await?;
    Ok(HttpResponse::Ok().json(tagged))
}

/// The images a `docker save` tar held.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Loaded {
    loaded: Vec<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
struct RemoveQuery {
    #[serde(default)]
    force: bool,
}

/// Removes an image; one a container uses only with `force`.
#[utoipa::path(
    tag = "images",
    params(OnHost, RemoveQuery),
    responses(
        (status = 200, description = "What was untagged and deleted", body = images::Removed),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 503, response = Unavailable),
    ),
)]
#[delete("/images/{ref:.+}")]
async fn remove(
    caller: Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
    query: web::Query<RemoveQuery>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    let result = images::remove(&engine, &reference, query.force).await;
    let entry = caller
        .audit("image.remove")
        .target(reference.as_str())
        .detail("force", query.force)
        .detail("host", on.host.clone());
    Ok(HttpResponse::Ok().json(state.audit.record_outcome(entry, result).await?))
}

/// Removes the host's dangling images.
#[utoipa::path(
    tag = "images",
    params(OnHost),
    responses(
        (status = 200, description = "What was removed", body = images::Pruned),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/images/prune")]
async fn prune(
    caller: Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    let result = images::prune(&engine).await;
    let entry = caller.audit("image.prune").detail("host", on.host.clone());
    Ok(HttpResponse::Ok().json(state.audit.record_outcome(entry, result).await?))
}

/// `POST /images/load`: a `docker save` tar, streamed to the engine.
#[utoipa::path(
    tag = "images",
    params(OnHost),
    request_body(content = Vec<u8>, content_type = "application/x-tar"),
    responses(
        (status = 200, description = "The images the tar held", body = Loaded),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/images/load")]
async fn load(
    caller: Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let entry = caller.audit("image.load").detail("host", on.host.clone());
    let result = load_tar(&state, &on, payload).await;
    let entry = match &result {
        Ok(loaded) => entry.detail("loaded", loaded.clone()),
        Err(_) => entry,
    };
    let loaded = state.audit.record_outcome(entry, result).await?;
    tracing::info!(?loaded, "images loaded");
    Ok(HttpResponse::Ok().json(Loaded { loaded }))
}

/// Streams the request's tar to the engine: the images it held.
async fn load_tar(
    state: &AppState,
    on: &OnHost,
    payload: web::Payload,
) -> Result<Vec<String>, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    let limit = state.settings.limits.max_upload_mb << 20;
    let (body, pump) = upload::stream(payload, limit);
    let (upload, loaded) = tokio::join!(pump, engine.load_images(Box::pin(body)));
    upload::check(&upload, limit)?;
    let loaded = loaded?;
    if loaded.is_empty() {
        return Err(ApiError::bad_request(
            "the tar held no image (is it a `docker save` tar?)",
        ));
    }
    Ok(loaded)
}

/// `GET /images/{ref}/export`: a `docker save` tar, streamed from the engine.
#[utoipa::path(
    tag = "images",
    params(OnHost),
    responses(
        (status = 200, description = "The image as a `docker save` tar", content_type = "application/x-tar"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    ),
)]
#[get("/images/{ref:.+}/export")]
async fn export(
    user: Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    let reference = ImageRef::parse(&reference)?;
    state
        .registries
        .check_may_use(&user.user, &engine, &reference)
        .await?;
    let tar = engine.export_image(&reference).await?;
    let file = reference.as_str().replace(['/', ':', '@'], "_");
    Ok(crate::routes::download::tar_download(&file, tar))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct ImportQuery {
    repo: String,
    tag: Option<String>,
}

/// `POST /images/import?repo=&tag=`: a root filesystem tar becomes an image.
#[utoipa::path(
    tag = "images",
    params(OnHost, ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/x-tar"),
    responses(
        (status = 201, description = "The new image", body = Tagged),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 503, response = Unavailable),
    ),
)]
#[post("/images/import")]
async fn import(
    caller: Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    query: web::Query<ImportQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let entry = caller.audit("image.import").detail("host", on.host.clone());
    let result = import_rootfs(&state, &on, &query, payload).await;
    let entry = entry.made(&result, |t| t.tag.clone());
    Ok(HttpResponse::Created().json(state.audit.record_outcome(entry, result).await?))
}

/// Streams the request's root filesystem tar to the engine as the image `query` names.
async fn import_rootfs(
    state: &AppState,
    on: &OnHost,
    query: &ImportQuery,
    payload: web::Payload,
) -> Result<Tagged, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    let tag = query.tag.clone().unwrap_or_else(|| "latest".to_string());
    let target = ImageRef::tagged(&query.repo, &tag)?;
    if engine.has_image(&target).await? {
        return Err(ApiError::conflict(format!("{target} already exists")));
    }
    let limit = state.settings.limits.max_upload_mb << 20;
    let (body, pump) = upload::stream(payload, limit);
    let imported = engine.import_rootfs(&query.repo, &tag, Box::pin(body));
    let (upload, imported) = tokio::join!(pump, imported);
    upload::check(&upload, limit)?;
    imported?;
    let image = engine.inspect_image(&target).await?;
    Ok(Tagged {
        id: image.id,
        tag: target.to_string(),
    })
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list)
        .service(prune)
        .service(load)
        .service(import)
        .service(export)
        .service(tag_image)
        .service(inspect)
        .service(remove);
}
