//! `/images`: list with fuzzy search, inspect, tag (never stealing a tag by surprise), remove,
//! prune, and the offline-site transfers: load a `docker save` tar, export one, import a root
//! filesystem. Students list and inspect; teachers and admins change.

use std::collections::{HashMap, HashSet};

use actix_web::{web, HttpResponse};
use bollard::query_parameters::{
    CreateImageOptions, ImportImageOptions, ListImagesOptions, PruneImagesOptions,
    RemoveImageOptions, TagImageOptions,
};
use futures_util::StreamExt;
use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;
use serde::{Deserialize, Serialize};

use crate::accounts::User;
use crate::auth::AuthUser;
use crate::config::Settings;
use crate::docker::Engine;
use crate::error::ApiError;
use crate::hosts::{Hosts, OnHost};
use crate::upload;

fn require_manager(user: &User) -> Result<(), ApiError> {
    if !user.is_staff() {
        Err(ApiError::forbidden(
            "only teachers and admins manage images",
        ))
    } else {
        Ok(())
    }
}

/// An image reference as users type it: `repo[:tag]` or an id, without odd characters.
pub fn check_ref(reference: &str) -> Result<(), ApiError> {
    let ok = !reference.is_empty()
        && reference.len() <= 255
        && !reference.starts_with('-')
        && reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "not an image reference: {reference:?}"
        )))
    }
}

/// Splits `repo[:tag]` (a registry's `host:port/` prefix is part of the repo).
pub fn split_tag(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (reference, "latest"),
    }
}

/// Starts pulling `image` (its tag, `latest` when none: never every tag of a repository).
pub fn pull(
    docker: &bollard::Docker,
    image: &str,
    credentials: Option<bollard::auth::DockerCredentials>,
) -> impl futures_util::Stream<Item = Result<bollard::models::CreateImageInfo, bollard::errors::Error>>
{
    let (repo, tag) = split_tag(image);
    let options = CreateImageOptions {
        from_image: Some(repo.to_string()),
        tag: Some(tag.to_string()),
        ..Default::default()
    };
    docker.create_image(Some(options), None, credentials)
}

/// Ids of every image on the engine now, so that a cleanup afterwards can tell what it made.
pub async fn image_ids(docker: &bollard::Docker) -> Result<HashSet<String>, ApiError> {
    let options = ListImagesOptions {
        all: true,
        ..Default::default()
    };
    Ok(docker
        .list_images(Some(options))
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect())
}

/// Removes an image that a refused operation left, but only one it made: absent from `before`,
/// with no tag, and used by no container. Never forced, so the engine still refuses when
/// something else (a child image) needs it. A build's result can be a cached image that other
/// tags name; those are left alone.
pub async fn discard_if_unused(docker: &bollard::Docker, id: &str, before: &HashSet<String>) {
    if before.contains(id) {
        return;
    }
    let tagged = match docker.inspect_image(id).await {
        Ok(image) => image.repo_tags.is_some_and(|tags| !tags.is_empty()),
        Err(_) => return,
    };
    let filters = HashMap::from([("ancestor".to_string(), vec![id.to_string()])]);
    let options = bollard::query_parameters::ListContainersOptions {
        all: true,
        filters: Some(filters),
        ..Default::default()
    };
    let used = match docker.list_containers(Some(options)).await {
        Ok(containers) => !containers.is_empty(),
        Err(_) => true,
    };
    if tagged || used {
        return;
    }
    let options = RemoveImageOptions {
        force: false,
        noprune: false,
    };
    if let Err(e) = docker.remove_image(id, Some(options), None).await {
        tracing::info!(image = %id, error = %e, "left a refused build's image in place");
    }
}

/// A pull or push failure the engine reported: the registry's answer, which is about the image
/// the user named.
pub fn transfer_error(e: bollard::errors::Error) -> ApiError {
    match e {
        bollard::errors::Error::DockerStreamError { error } => ApiError::bad_request(error),
        bollard::errors::Error::DockerResponseServerError {
            status_code: 500,
            message,
        } => ApiError::bad_request(message),
        other => other.into(),
    }
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

/// How well `query` matches an image: subsequences ("busybx" in "busybox") score by the skim
/// algorithm, near-misses ("bsuybox") by edit distance. None when nothing is close.
pub fn match_score(query: &str, tags: &[String], id: &str) -> Option<i64> {
    let matcher = SkimMatcherV2::default().ignore_case();
    let query = query.trim().to_lowercase();
    let short_id = id.trim_start_matches("sha256:");
    let mut best: Option<i64> = None;
    let mut consider = |score: i64| best = Some(best.map_or(score, |b| b.max(score)));
    if short_id.starts_with(&query) {
        consider(1000);
    }
    for tag in tags {
        if let Some(score) = matcher.fuzzy_match(tag, &query) {
            consider(score);
        }
        // Edit distance against the repository's name and its last path segment.
        let repo = tag.rsplit_once(':').map_or(tag.as_str(), |(r, _)| r);
        let name = repo.rsplit('/').next().unwrap_or(repo);
        for candidate in [repo, name] {
            let similarity =
                strsim::normalized_damerau_levenshtein(&query, &candidate.to_lowercase());
            if similarity >= 0.6 {
                consider((similarity * 40.0) as i64);
            }
        }
    }
    best
}

async fn list(
    _user: AuthUser,
    hosts: web::Data<Hosts>,
    on: web::Query<OnHost>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let engine = hosts.get(on.host.as_deref())?.engine;
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
    _user: AuthUser,
    hosts: web::Data<Hosts>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let engine = hosts.get(on.host.as_deref())?.engine;
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

/// Points `repo:tag` at `image_id`, unless it already names a different image and `force` is
/// not set: an old image never loses its tag by surprise.
pub async fn tag_safely(
    engine: &Engine,
    image_id: &str,
    repo: &str,
    tag: &str,
    force: bool,
) -> Result<(), ApiError> {
    let target = format!("{repo}:{tag}");
    check_ref(&target)?;
    let docker = engine.client().await?;
    match docker.inspect_image(&target).await {
        Ok(existing) if existing.id.as_deref() != Some(image_id) && !force => {
            return Err(ApiError::conflict(format!(
                "{target} already names image {}; set force to move the tag",
                existing.id.unwrap_or_default()
            )));
        }
        Ok(_)
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => return Err(e.into()),
    }
    let options = TagImageOptions {
        repo: Some(repo.to_string()),
        tag: Some(tag.to_string()),
    };
    docker.tag_image(image_id, Some(options)).await?;
    Ok(())
}

async fn tag(
    user: AuthUser,
    hosts: web::Data<Hosts>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
    body: web::Json<TagBody>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&user.user)?;
    let engine = hosts.get(on.host.as_deref())?.engine;
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
    user: AuthUser,
    hosts: web::Data<Hosts>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
    query: web::Query<RemoveQuery>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&user.user)?;
    let engine = hosts.get(on.host.as_deref())?.engine;
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
    user: AuthUser,
    hosts: web::Data<Hosts>,
    on: web::Query<OnHost>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&user.user)?;
    let engine = hosts.get(on.host.as_deref())?.engine;
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
    user: AuthUser,
    hosts: web::Data<Hosts>,
    on: web::Query<OnHost>,
    settings: web::Data<Settings>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_manager(&user.user)?;
    let engine = hosts.get(on.host.as_deref())?.engine;
    let limit = settings.limits.max_upload_mb << 20;
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
    user: AuthUser,
    hosts: web::Data<Hosts>,
    on: web::Query<OnHost>,
    reference: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&user.user)?;
    let engine = hosts.get(on.host.as_deref())?.engine;
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
    user: AuthUser,
    hosts: web::Data<Hosts>,
    on: web::Query<OnHost>,
    settings: web::Data<Settings>,
    query: web::Query<ImportQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_manager(&user.user)?;
    let engine = hosts.get(on.host.as_deref())?.engine;
    let tag = query.tag.clone().unwrap_or_else(|| "latest".to_string());
    let target = format!("{}:{tag}", query.repo);
    check_ref(&target)?;
    let docker = engine.client().await?;
    if docker.inspect_image(&target).await.is_ok() {
        return Err(ApiError::conflict(format!("{target} already exists")));
    }
    let limit = settings.limits.max_upload_mb << 20;
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

#[cfg(test)]
mod tests {
    use super::match_score;

    #[test]
    fn fuzzy_matching_forgives_typos_and_ranks_close_names_first() {
        let busybox = vec!["berth-test/busybox:1".to_string()];
        let python = vec!["python:3.12".to_string()];
        assert!(match_score("busybx", &busybox, "sha256:abc").is_some());
        assert!(match_score("bsuybox", &busybox, "sha256:abc").is_some());
        assert!(match_score("busybx", &python, "sha256:abc").is_none());
        assert!(
            match_score("abc", &python, "sha256:abcdef").is_some(),
            "id prefix"
        );
        let exact = match_score("busybox", &busybox, "x").unwrap();
        let typo = match_score("busybx", &busybox, "x").unwrap();
        assert!(exact > typo);
    }
}
