//! Image helpers the services share: reference syntax, pulling, tagging without stealing a tag,
//! and cleaning up only what berth made.

use std::collections::{HashMap, HashSet};

use bollard::query_parameters::{
    CreateImageOptions, ListImagesOptions, RemoveImageOptions, TagImageOptions,
};

use super::Engine;
use crate::error::ApiError;

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
