//! Image helpers the services share: reference syntax, pulling, tagging without stealing a tag,
//! and cleaning up only what berth made.

use std::collections::{HashMap, HashSet};

use bollard::models::{ImageDeleteResponseItem, ImageInspect, ImagePruneResponse, ImageSummary};
use bollard::query_parameters::{
    CreateImageOptions, ImportImageOptions, ListImagesOptions, PruneImagesOptions,
    RemoveImageOptions, TagImageOptions,
};
use futures_util::{Stream, StreamExt};

use oci_spec::distribution::Reference;

use super::Engine;
use crate::error::ApiError;

/// An image reference as users type it, or an image id, parsed once with Docker's grammar
/// (`oci-spec`'s reference parser) so that berth and the engine agree on which registry host a
/// name points to, and nothing empty, overlong, option-like or with odd characters reaches an
/// engine.
#[derive(Debug, Clone)]
pub struct ImageRef {
    /// As the user wrote it: local lookups and messages use it.
    text: String,
    /// None for an image id (`sha256:…`), which names no registry.
    name: Option<Reference>,
}

impl PartialEq for ImageRef {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}
impl Eq for ImageRef {}

/// Docker Hub's names for itself: credentials and egress rules for one hold for all.
pub const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_ALIASES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// A registry host as the engine treats it, so that two spellings of one host compare equal:
/// lower case, without the default HTTPS port, Docker Hub's aliases as `docker.io`.
pub fn canonical_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix(":443").unwrap_or(&host);
    if DOCKER_HUB_ALIASES.contains(&host) {
        DOCKER_HUB.to_string()
    } else {
        host.to_string()
    }
}

impl ImageRef {
    pub fn parse(reference: &str) -> Result<ImageRef, ApiError> {
        let refuse = |why: &str| {
            ApiError::bad_request(format!("not an image reference: {reference:?} ({why})"))
        };
        if reference.is_empty() || reference.len() > 255 || reference.starts_with('-') {
            return Err(refuse("1-255 characters, not starting with '-'"));
        }
        if let Some(hex) = reference.strip_prefix("sha256:") {
            return if !hex.is_empty()
                && hex.len() <= 64
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
            {
                Ok(ImageRef {
                    text: reference.to_string(),
                    name: None,
                })
            } else {
                Err(refuse("an image id is sha256: and hex digits"))
            };
        }
        let name = Reference::try_from(reference).map_err(|e| refuse(&e.to_string()))?;
        // Docker also reads a first component with capitals as a host; the parser does not.
        if let Some((first, _)) = reference.split_once('/') {
            if name.registry() == DOCKER_HUB
                && !DOCKER_HUB_ALIASES.contains(&first)
                && first.chars().any(|c| c.is_ascii_uppercase())
            {
                return Err(refuse(&format!(
                    "Docker reads {first} as a registry host; write hosts in lower case"
                )));
            }
        }
        Ok(ImageRef {
            text: reference.to_string(),
            name: Some(name),
        })
    }

    /// `repo:tag`, checked as a whole.
    pub fn tagged(repo: &str, tag: &str) -> Result<ImageRef, ApiError> {
        ImageRef::parse(&format!("{repo}:{tag}"))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The registry host the engine would contact for this name (canonical, `docker.io` for
    /// Docker Hub); None for an image id.
    pub fn registry_host(&self) -> Option<String> {
        self.name.as_ref().map(|n| canonical_host(n.registry()))
    }

    /// The repository and the tag (`latest` when the reference names none), as written.
    pub fn repo_and_tag(&self) -> (&str, &str) {
        let text = self
            .text
            .split_once('@')
            .map_or(self.text.as_str(), |(t, _)| t);
        match text.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, tag),
            _ => (text, "latest"),
        }
    }

    /// What the engine is asked to pull: the fully qualified name berth parsed (so the engine
    /// cannot read a different host from it) and its tag, or the name with its digest.
    fn pull_target(&self) -> Result<(String, Option<String>), ApiError> {
        let name = self
            .name
            .as_ref()
            .ok_or_else(|| ApiError::bad_request("an image id cannot be pulled; give its name"))?;
        let repo = format!("{}/{}", name.registry(), name.repository());
        Ok(match name.digest() {
            Some(digest) => (format!("{repo}@{digest}"), None),
            None => (repo, Some(name.tag().unwrap_or("latest").to_string())),
        })
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Starts pulling `image` (its tag, `latest` when none: never every tag of a repository).
pub fn pull(
    docker: &bollard::Docker,
    image: &ImageRef,
    credentials: Option<bollard::auth::DockerCredentials>,
) -> Result<
    impl futures_util::Stream<Item = Result<bollard::models::CreateImageInfo, bollard::errors::Error>>,
    ApiError,
> {
    let (from_image, tag) = image.pull_target()?;
    let options = CreateImageOptions {
        from_image: Some(from_image),
        tag,
        ..Default::default()
    };
    Ok(docker.create_image(Some(options), None, credentials))
}

/// Starts pushing `repo:tag` (only that tag).
pub fn push(
    docker: &bollard::Docker,
    image: &ImageRef,
    credentials: bollard::auth::DockerCredentials,
) -> impl Stream<Item = Result<bollard::models::PushImageInfo, bollard::errors::Error>> {
    let (repo, tag) = image.repo_and_tag();
    let options = bollard::query_parameters::PushImageOptions {
        tag: Some(tag.to_string()),
        ..Default::default()
    };
    docker.push_image(repo, Some(options), Some(credentials))
}

/// A digest of each leading run of an image's layers, shortest first: an image built on
/// another (or the same image under another name) has the other's chain among its own.
pub fn layer_chains(image: &ImageInspect) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let layers = image
        .root_fs
        .as_ref()
        .and_then(|fs| fs.layers.clone())
        .unwrap_or_default();
    let mut hasher = Sha256::new();
    layers
        .iter()
        .map(|layer| {
            hasher.update(layer.as_bytes());
            hasher.update(b"\n");
            format!("{:x}", hasher.clone().finalize())
        })
        .collect()
}

/// The registry hosts an image's names point to (its tags and the digests it was pulled by).
pub fn named_hosts(image: &ImageInspect) -> Vec<String> {
    let tags = image.repo_tags.iter().flatten();
    let digests = image.repo_digests.iter().flatten();
    tags.chain(digests)
        .filter_map(|name| ImageRef::parse(name).ok()?.registry_host())
        .collect()
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
    target: &ImageRef,
    force: bool,
) -> Result<(), ApiError> {
    let (repo, tag) = target.repo_and_tag();
    let docker = engine.client().await?;
    match docker.inspect_image(target.as_str()).await {
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

/// An uploaded tar as the engine reads it.
type Upload = futures_util::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>;

impl Engine {
    /// Every image on the engine (tagged or not, no intermediate layers).
    pub async fn list_images(&self) -> Result<Vec<ImageSummary>, ApiError> {
        let options = ListImagesOptions::default();
        Ok(self.client().await?.list_images(Some(options)).await?)
    }

    /// The image `reference` names (`not_found` when there is none).
    pub async fn inspect_image(&self, reference: &ImageRef) -> Result<ImageInspect, ApiError> {
        Ok(self
            .client()
            .await?
            .inspect_image(reference.as_str())
            .await?)
    }

    /// Whether the engine has an image by that reference.
    pub async fn has_image(&self, reference: &ImageRef) -> Result<bool, ApiError> {
        Ok(self.find_image(reference).await?.is_some())
    }

    /// The image by that reference, if the engine has one.
    pub async fn find_image(&self, reference: &ImageRef) -> Result<Option<ImageInspect>, ApiError> {
        match self.client().await?.inspect_image(reference.as_str()).await {
            Ok(image) => Ok(Some(image)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `reference` (a tag is untagged; an image no tag names any more is deleted); what
    /// the engine untagged and deleted.
    pub async fn remove_image(
        &self,
        reference: &ImageRef,
        force: bool,
    ) -> Result<Vec<ImageDeleteResponseItem>, ApiError> {
        let options = RemoveImageOptions {
            force,
            noprune: false,
        };
        let docker = self.client().await?;
        match docker
            .remove_image(reference.as_str(), Some(options), None)
            .await
        {
            Ok(removed) => Ok(removed),
            // The engine's message names the container; the code says what to do about it.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409,
                message,
            }) if message.contains("container") => {
                Err(ApiError::new(crate::error::ErrorCode::ImageInUse, message))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the images no tag names and no other image needs.
    pub async fn prune_dangling_images(&self) -> Result<ImagePruneResponse, ApiError> {
        let filters = HashMap::from([("dangling".to_string(), vec!["true".to_string()])]);
        let options = PruneImagesOptions {
            filters: Some(filters),
        };
        Ok(self.client().await?.prune_images(Some(options)).await?)
    }

    /// Loads the images of a `docker save` tar as it arrives; the names it loaded. A tar that
    /// breaks off reaches the engine as an aborted request, and nothing loads.
    pub async fn load_images(&self, tar: Upload) -> Result<Vec<String>, ApiError> {
        let options = ImportImageOptions {
            quiet: true,
            platform: None,
        };
        let docker = self.client().await?;
        let mut progress = docker.import_image(options, bollard::body_try_stream(tar), None);
        let (mut loaded, mut failure) = (Vec::new(), None);
        // Read to the end whatever happens, so the upload is never left hanging.
        while let Some(item) = progress.next().await {
            match item {
                Ok(info) => {
                    if let Some(error) = info.error {
                        failure = Some(ApiError::bad_request(error));
                    }
                    let text = info.stream.or(info.status).unwrap_or_default();
                    loaded.extend(text.lines().filter_map(|line| {
                        line.strip_prefix("Loaded image: ")
                            .or_else(|| line.strip_prefix("Loaded image ID: "))
                            .map(|name| name.trim().to_string())
                    }));
                }
                Err(e) => failure = Some(refused_upload(e)),
            }
        }
        failure.map_or(Ok(loaded), Err)
    }

    /// Makes the image `repo:tag` from a root filesystem tar as it arrives.
    pub async fn import_rootfs(&self, repo: &str, tag: &str, tar: Upload) -> Result<(), ApiError> {
        let options = CreateImageOptions {
            from_src: Some("-".to_string()),
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
            ..Default::default()
        };
        let docker = self.client().await?;
        let body = Some(bollard::body_try_stream(tar));
        let mut progress = docker.create_image(Some(options), body, None);
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
        failure.map_or(Ok(()), Err)
    }

    /// A `docker save` tar of `reference`, streamed. The image is looked up first, so that a
    /// wrong name fails before any byte is sent rather than halfway through the tar.
    pub async fn export_image(
        &self,
        reference: &ImageRef,
    ) -> Result<impl Stream<Item = Result<bytes::Bytes, std::io::Error>> + 'static, ApiError> {
        let docker = self.client().await?;
        docker.inspect_image(reference.as_str()).await?;
        Ok(docker.export_image(reference.as_str()).map(|chunk| {
            chunk.map_err(|e| {
                tracing::warn!(error = %crate::error::chain(&e), "export broken off");
                std::io::Error::other("export broken off")
            })
        }))
    }
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

#[cfg(test)]
mod tests {
    use super::{canonical_host, ImageRef};

    #[test]
    fn an_image_reference_is_parsed_once_and_split_where_the_tag_is() {
        for good in [
            "busybox",
            "lab/python:3.12",
            "127.0.0.1:5555/lab/py:1",
            "sha256:0123abcd",
            "Localhost:5000/x",
        ] {
            assert!(ImageRef::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-x",
            "a b",
            "x;rm",
            "UPPER",
            "Evil/x",
            "sha256:xyz",
            &"a".repeat(256),
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
        let split = |r: &str| {
            let image = ImageRef::parse(r).unwrap();
            let (repo, tag) = image.repo_and_tag();
            (repo.to_string(), tag.to_string())
        };
        assert_eq!(split("lab/py:1"), ("lab/py".into(), "1".into()));
        assert_eq!(
            split("127.0.0.1:5555/lab/py"),
            ("127.0.0.1:5555/lab/py".into(), "latest".into())
        );
        assert_eq!(
            split("127.0.0.1:5555/lab/py:2"),
            ("127.0.0.1:5555/lab/py".into(), "2".into())
        );
    }

    #[test]
    fn the_registry_host_is_the_one_the_engine_would_contact() {
        let host = |r: &str| ImageRef::parse(r).unwrap().registry_host();
        assert_eq!(host("busybox").as_deref(), Some("docker.io"));
        assert_eq!(host("library/busybox:1").as_deref(), Some("docker.io"));
        assert_eq!(host("index.docker.io/x/y").as_deref(), Some("docker.io"));
        assert_eq!(
            host("registry-1.docker.io/x/y").as_deref(),
            Some("docker.io")
        );
        // Docker's rule: a first component with a dot, a port, or `localhost` is a host.
        assert_eq!(host("Localhost:5000/x").as_deref(), Some("localhost:5000"));
        assert_eq!(host("localhost/x").as_deref(), Some("localhost"));
        assert_eq!(
            host("Registry.Example.com:443/x").as_deref(),
            Some("registry.example.com")
        );
        assert_eq!(
            host("127.0.0.1:5555/lab/py:1").as_deref(),
            Some("127.0.0.1:5555")
        );
        assert_eq!(host("sha256:0123abcd"), None);
        assert_eq!(canonical_host("127.0.0.1:5555"), "127.0.0.1:5555");
    }

    #[test]
    fn the_engine_is_asked_for_the_name_berth_parsed() {
        let target = |r: &str| ImageRef::parse(r).unwrap().pull_target().unwrap();
        assert_eq!(
            target("busybox:1"),
            ("docker.io/library/busybox".into(), Some("1".into()))
        );
        assert_eq!(
            target("Localhost:5000/x"),
            ("Localhost:5000/x".into(), Some("latest".into()))
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            target(&format!("lab/py@{digest}")),
            (format!("docker.io/lab/py@{digest}"), None)
        );
        assert!(ImageRef::parse("sha256:0123abcd")
            .unwrap()
            .pull_target()
            .is_err());
    }
}
