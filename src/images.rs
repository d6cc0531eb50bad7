//! Images on a host as users see them: the list ranked by a fuzzy search, an image's details
//! (its environment for staff only), tagging without stealing a tag, removing and pruning.
//! The engine calls are in `docker::images`.

use serde::Serialize;

use crate::docker::images::{tag_safely, ImageRef};
use crate::docker::Engine;
use crate::error::ApiError;
use crate::fuzzy::match_score;
use crate::registries::Registries;
use crate::users::User;

#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct ImageView {
    pub id: String,
    pub tags: Vec<String>,
    /// Bytes.
    pub size: i64,
    /// Unix seconds.
    pub created: i64,
    pub containers: i64,
}

/// An image in detail (`GET /images/{ref}`).
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct ImageDetails {
    pub id: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Bytes.
    pub size: Option<i64>,
    pub created: Option<String>,
    pub architecture: Option<String>,
    pub os: Option<String>,
    pub config: Option<ImageConfigView>,
}

/// What a container of the image runs by default.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct ImageConfigView {
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub exposed_ports: Option<Vec<String>>,
}

/// An image and the tag that now names it (`tag`, `import`).
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Tagged {
    pub id: Option<String>,
    pub tag: String,
}

/// What a remove did: tags taken off, and images deleted.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Removed {
    pub untagged: Vec<String>,
    pub deleted: Vec<String>,
}

/// What a prune deleted, and the bytes it freed.
#[derive(Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Pruned {
    pub deleted: Vec<String>,
    pub space_reclaimed: i64,
}

/// The images on `engine`, best match for `query` first (all of them, newest first, without
/// one).
pub async fn list(engine: &Engine, query: Option<&str>) -> Result<Vec<ImageView>, ApiError> {
    let query = query.filter(|q| !q.trim().is_empty());
    let mut scored: Vec<(i64, ImageView)> = engine
        .list_images()
        .await?
        .into_iter()
        .filter_map(|image| {
            let tags: Vec<String> = image
                .repo_tags
                .into_iter()
                .filter(|t| t != "<none>:<none>")
                .collect();
            let score = match query {
                Some(q) => match_score(q, &tags, &image.id)?,
                None => 0,
            };
            let view = ImageView {
                id: image.id,
                tags,
                size: image.size,
                created: image.created,
                containers: image.containers,
            };
            Some((score, view))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.created.cmp(&a.1.created)));
    Ok(scored.into_iter().map(|(_, image)| image).collect())
}

/// An image's details, as `user` may see them: an image's environment can hold what its maker
/// put there for themselves, so only staff see it.
pub async fn details(
    engine: &Engine,
    user: &User,
    reference: &str,
) -> Result<ImageDetails, ApiError> {
    let image = engine.inspect_image(&ImageRef::parse(reference)?).await?;
    Ok(ImageDetails {
        id: image.id,
        tags: image.repo_tags,
        size: image.size,
        created: image.created,
        architecture: image.architecture,
        os: image.os,
        config: image.config.map(|c| ImageConfigView {
            cmd: c.cmd,
            entrypoint: c.entrypoint,
            env: c.env.filter(|_| user.is_staff()),
            working_dir: c.working_dir,
            exposed_ports: c.exposed_ports.map(|p| p.into_keys().collect()),
        }),
    })
}

/// Tags the image `reference` names as `repo:tag` (`latest` when none), never taking a tag
/// from another image unless `force`; only an image `user` may use.
pub async fn tag(
    registries: &Registries,
    user: &User,
    engine: &Engine,
    reference: &str,
    (repo, tag, force): (&str, Option<&str>, bool),
) -> Result<Tagged, ApiError> {
    let reference = ImageRef::parse(reference)?;
    registries.check_may_use(user, engine, &reference).await?;
    let id = engine
        .inspect_image(&reference)
        .await?
        .id
        .unwrap_or_default();
    let tag = tag.unwrap_or("latest");
    tag_safely(engine, &id, &ImageRef::tagged(repo, tag)?, force).await?;
    Ok(Tagged {
        id: Some(id),
        tag: format!("{repo}:{tag}"),
    })
}

/// Removes what `reference` names: its tag, and the image once no tag is left.
pub async fn remove(engine: &Engine, reference: &str, force: bool) -> Result<Removed, ApiError> {
    let removed = engine
        .remove_image(&ImageRef::parse(reference)?, force)
        .await?;
    Ok(Removed {
        untagged: removed.iter().filter_map(|r| r.untagged.clone()).collect(),
        deleted: removed.iter().filter_map(|r| r.deleted.clone()).collect(),
    })
}

/// Deletes the dangling images (no tag, no container).
pub async fn prune(engine: &Engine) -> Result<Pruned, ApiError> {
    let pruned = engine.prune_dangling_images().await?;
    let deleted = pruned
        .images_deleted
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| d.deleted)
        .collect();
    Ok(Pruned {
        deleted,
        space_reclaimed: pruned.space_reclaimed.unwrap_or(0),
    })
}
