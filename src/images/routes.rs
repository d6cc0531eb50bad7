//! `/images`: list with fuzzy search, inspect, tag (never stealing a tag by surprise), remove,
//! prune, and the offline-site transfers: load a `docker save` tar, export one, import a root
//! filesystem. Students list and inspect; teachers and admins change.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use bollard::query_parameters::{
    CreateImageOptions, ImportImageOptions, ListImagesOptions, PruneImagesOptions,
    RemoveImageOptions,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::match_score;
use crate::auth::extract::{AuthUser, Staff};
use crate::docker::images::{check_ref, tag_safely};
use crate::error::ApiError;
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
    let images = engine
        .client()
        .await?
        .list_images(Some(ListImagesOptions::default()))
        .await?;
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
    _: AuthUser,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    check_ref(&reference)?;
    let image = engine.client().await?.inspect_image(&reference).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "id": image.id,
        "tags": image.repo_tags,
        "size": image.size,
        "created": image.created,
        "architecture": image.architecture,
        "os": image.os,
        "config": image.config.map(|c| serde_json::json!({
            "cmd": c.cmd, "entrypoint": c.entrypoint, "env": c.env,
            "working_dir": c.working_dir, "exposed_ports": c.exposed_ports.map(|p| p.into_keys().collect::<Vec<_>>()),
        })),
    })))
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
    _: Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
    body: web::Json<TagBody>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    check_ref(&reference)?;
    let image = engine.client().await?.inspect_image(&reference).await?;
    let id = image.id.unwrap_or_default();
    let tag = body.tag.as_deref().unwrap_or("latest");
    tag_safely(&engine, &id, &body.repo, tag, body.force).await?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"id": id, "tag": format!("{}:{tag}", body.repo)})))
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
    check_ref(&reference)?;
    let options = RemoveImageOptions {
        force: query.force,
        noprune: false,
    };
    let removed = engine
        .client()
        .await?
        .remove_image(&reference, Some(options), None)
        .await?;
    let untagged: Vec<_> = removed.iter().filter_map(|r| r.untagged.clone()).collect();
    let deleted: Vec<_> = removed.iter().filter_map(|r| r.deleted.clone()).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"untagged": untagged, "deleted": deleted})))
}

async fn prune(
    _: Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    let filters = HashMap::from([("dangling".to_string(), vec!["true".to_string()])]);
    let pruned = engine
        .client()
        .await?
        .prune_images(Some(PruneImagesOptions {
            filters: Some(filters),
        }))
        .await?;
    let deleted: Vec<_> = pruned
        .images_deleted
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| d.deleted)
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "deleted": deleted,
        "space_reclaimed": pruned.space_reclaimed.unwrap_or(0),
    })))
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
    let docker = engine.client().await?;
    let (body, pump) = upload::stream(payload, limit);
    // A body that breaks off (too large) reaches Docker as an aborted request: nothing loads.
    let mut progress = docker.import_image(
        ImportImageOptions {
            quiet: true,
            platform: None,
        },
        bollard::body_try_stream(body),
        None,
    );
    let collect = async {
        let mut loaded = Vec::new();
        let mut failure = None;
        while let Some(item) = progress.next().await {
            match item {
                Ok(info) => {
                    if let Some(error) = info.error {
                        failure = Some(ApiError::bad_request(error));
                    }
                    let text = info.stream.or(info.status).unwrap_or_default();
                    for line in text.lines() {
                        if let Some(name) = line
                            .strip_prefix("Loaded image: ")
                            .or_else(|| line.strip_prefix("Loaded image ID: "))
                        {
                            loaded.push(name.trim().to_string());
                        }
                    }
                }
                Err(e) => failure = Some(refused_upload(e)),
            }
        }
        (loaded, failure)
    };
    let (upload, (loaded, failure)) = tokio::join!(pump, collect);
    upload::check(&upload, limit)?;
    if let Some(err) = failure {
        return Err(err);
    }
    if loaded.is_empty() {
        return Err(ApiError::bad_request(
            "the tar held no image (is it a `docker save` tar?)",
        ));
    }
    tracing::info!(?loaded, "images loaded");
    Ok(HttpResponse::Ok().json(serde_json::json!({"loaded": loaded})))
}

/// An engine error while it reads an uploaded tar: the tar is at fault (the engine's message
/// names its own temporary paths, so it goes to the log only).
fn refused_upload(e: bollard::errors::Error) -> ApiError {
    use bollard::errors::Error as D;
    match e {
        D::DockerStreamError { .. }
        | D::DockerResponseServerError {
            status_code: 500, ..
        } => {
            tracing::info!(error = %e, "upload refused by the engine");
            ApiError::bad_request("the engine could not read that tar")
        }
        other => other.into(),
    }
}

/// `GET /images/{ref}/export`: a `docker save` tar, streamed from the engine.
async fn export(
    _: Staff,
    state: web::Data<AppState>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let engine = state.hosts.get(on.host.as_deref())?.engine;
    check_ref(&reference)?;
    let docker = engine.client().await?;
    // Fail with a clear error before the response starts, not halfway through the tar.
    docker.inspect_image(&reference).await?;
    let file = reference.replace(['/', ':', '@'], "_");
    let tar = docker.export_image(&reference).map(|chunk| {
        chunk.map_err(|e| {
            tracing::warn!(error = %crate::error::chain(&e), "export broken off");
            std::io::Error::other("export broken off")
        })
    });
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
    let target = format!("{}:{tag}", query.repo);
    check_ref(&target)?;
    let docker = engine.client().await?;
    if docker.inspect_image(&target).await.is_ok() {
        return Err(ApiError::conflict(format!("{target} already exists")));
    }
    let limit = state.settings.limits.max_upload_mb << 20;
    let (body, pump) = upload::stream(payload, limit);
    let options = CreateImageOptions {
        from_src: Some("-".to_string()),
        repo: Some(query.repo.clone()),
        tag: Some(tag.clone()),
        ..Default::default()
    };
    let mut progress =
        docker.create_image(Some(options), Some(bollard::body_try_stream(body)), None);
    let collect = async {
        let mut failure = None;
        while let Some(item) = progress.next().await {
            match item {
                Ok(info) => {
                    if let Some(error) = info.error {
                        failure = Some(ApiError::bad_request(error));
                    }
                }
                Err(e) => failure = Some(refused_upload(e)),
            }
        }
        failure
    };
    let (upload, failure) = tokio::join!(pump, collect);
    upload::check(&upload, limit)?;
    if let Some(err) = failure {
        return Err(err);
    }
    let image = docker.inspect_image(&target).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({"id": image.id, "tag": target})))
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
