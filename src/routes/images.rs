//! `/images`: list with fuzzy search, inspect, tag (never stealing a tag by surprise), remove,
//! prune, and the offline-site transfers: load a `docker save` tar, export one, import a root
//! filesystem. Students list and inspect; teachers and admins change.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::docker::images::{tag_safely, ImageRef};
use crate::error::ApiError;
use crate::fuzzy::match_score;
use crate::routes::extract::{AuthUser, Staff};
use crate::state::AppState;
use crate::upload;

/// `?host=` on the image endpoints: the host to act on (`local` when absent).
#[derive(Deserialize)]
pub struct OnHost {
    pub host: Option<String>,
}

#[derive(Serialize)]
struct ImageView {
    id: String,
    tags: Vec<String>,
    /// Bytes.
    size: i64,
    /// Unix seconds.
    created: i64,
    containers: i64,
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
}

async fn list(
    _: AuthUser,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    let images = engine.list_images().await?;
    let mut scored: Vec<(i64, ImageView)> = images
        .into_iter()
        .filter_map(|image| {
            let tags: Vec<String> = image
                .repo_tags
                .into_iter()
                .filter(|t| t != "<none>:<none>")
                .collect();
            let score = match query.q.as_deref().filter(|q| !q.trim().is_empty()) {
                Some(q) => match_score(q, &tags, &image.id)?,
                None => 0,
            };
            Some((
                score,
                ImageView {
                    id: image.id,
                    tags,
                    size: image.size,
                    created: image.created,
                    containers: image.containers,
                },
            ))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.created.cmp(&a.1.created)));
    let images: Vec<ImageView> = scored.into_iter().map(|(_, image)| image).collect();
    Ok(HttpResponse::Ok().json(images))
}

async fn inspect(
    user: AuthUser,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    let reference = ImageRef::parse(&reference)?;
    let image = engine.inspect_image(&reference).await?;
    Ok(HttpResponse::Ok().json(ImageDetails {
        id: image.id,
        tags: image.repo_tags,
        size: image.size,
        created: image.created,
        architecture: image.architecture,
        os: image.os,
        config: image.config.map(|c| ImageConfigView {
            cmd: c.cmd,
            entrypoint: c.entrypoint,
            // An image's environment can hold what its maker put there for themselves.
            env: c.env.filter(|_| user.user.is_staff()),
            working_dir: c.working_dir,
            exposed_ports: c.exposed_ports.map(|p| p.into_keys().collect()),
        }),
    }))
}

/// `GET /images/{ref}`.
#[derive(Serialize)]
struct ImageDetails {
    id: Option<String>,
    tags: Option<Vec<String>>,
    /// Bytes.
    size: Option<i64>,
    created: Option<String>,
    architecture: Option<String>,
    os: Option<String>,
    config: Option<ImageConfigView>,
}

/// What a container of the image runs by default.
#[derive(Serialize)]
struct ImageConfigView {
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    env: Option<Vec<String>>,
    working_dir: Option<String>,
    exposed_ports: Option<Vec<String>>,
}

/// An image and the tag that now names it (`tag`, `import`).
#[derive(Serialize)]
struct Tagged {
    id: Option<String>,
    tag: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagBody {
    repo: String,
    tag: Option<String>,
    #[serde(default)]
    force: bool,
}

async fn tag(
    Staff(user): Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
    body: web::Json<TagBody>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    let reference = ImageRef::parse(&reference)?;
    state
        .registries
        .check_may_use(&user.user, &engine, &reference)
        .await?;
    let image = engine.inspect_image(&reference).await?;
    let id = image.id.unwrap_or_default();
    let tag = body.tag.as_deref().unwrap_or("latest");
    tag_safely(
        &engine,
        &id,
        &ImageRef::tagged(&body.repo, tag)?,
        body.force,
    )
    .await?;
    Ok(HttpResponse::Ok().json(Tagged {
        id: Some(id),
        tag: format!("{}:{tag}", body.repo),
    }))
}

/// What a remove did: tags taken off, and images deleted.
#[derive(Serialize)]
struct Removed {
    untagged: Vec<String>,
    deleted: Vec<String>,
}

/// What a prune deleted, and the bytes it freed.
#[derive(Serialize)]
struct Pruned {
    deleted: Vec<String>,
    space_reclaimed: i64,
}

/// The images a `docker save` tar held.
#[derive(Serialize)]
struct Loaded {
    loaded: Vec<String>,
}

#[derive(Deserialize)]
struct RemoveQuery {
    #[serde(default)]
    force: bool,
}

async fn remove(
    _: Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
    query: web::Query<RemoveQuery>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    let reference = ImageRef::parse(&reference)?;
    let removed = engine.remove_image(&reference, query.force).await?;
    let untagged: Vec<_> = removed.iter().filter_map(|r| r.untagged.clone()).collect();
    let deleted: Vec<_> = removed.iter().filter_map(|r| r.deleted.clone()).collect();
    Ok(HttpResponse::Ok().json(Removed { untagged, deleted }))
}

async fn prune(
    _: Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    let pruned = engine.prune_dangling_images().await?;
    let deleted: Vec<_> = pruned
        .images_deleted
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| d.deleted)
        .collect();
    Ok(HttpResponse::Ok().json(Pruned {
        deleted,
        space_reclaimed: pruned.space_reclaimed.unwrap_or(0),
    }))
}

/// `POST /images/load`: a `docker save` tar, streamed to the engine.
async fn load(
    _: Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
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
    tracing::info!(?loaded, "images loaded");
    Ok(HttpResponse::Ok().json(Loaded { loaded }))
}

/// `GET /images/{ref}/export`: a `docker save` tar, streamed from the engine.
async fn export(
    Staff(user): Staff,
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
    Ok(HttpResponse::Ok()
        .content_type("application/x-tar")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{file}.tar\""),
        ))
        .streaming(tar))
}

#[derive(Deserialize)]
struct ImportQuery {
    repo: String,
    tag: Option<String>,
}

/// `POST /images/import?repo=&tag=`: a root filesystem tar becomes an image.
async fn import(
    _: Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    query: web::Query<ImportQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
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
    Ok(HttpResponse::Created().json(Tagged {
        id: image.id,
        tag: target.to_string(),
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/images", web::get().to(list))
        .route("/images/prune", web::post().to(prune))
        .route("/images/load", web::post().to(load))
        .route("/images/import", web::post().to(import))
        .route("/images/{ref:.+}/export", web::get().to(export))
        .route("/images/{ref:.+}/tag", web::post().to(tag))
        .route("/images/{ref:.+}", web::get().to(inspect))
        .route("/images/{ref:.+}", web::delete().to(remove));
}
