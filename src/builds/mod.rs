//! Builds: contexts uploaded once over REST (a tar, or a Dockerfile alone) and built on a
//! WebSocket session with the log streamed live (`session::streams::images::build`); what a
//! non-admin's Dockerfile may make the engine fetch ([`dockerfile`]); and the cgroup that holds
//! a build to `builds.pids` processes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use actix_web::web;
use dashmap::DashMap;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::docker::cgroup::BuildCgroup;
use crate::docker::Engine;
use crate::error::{ApiError, ErrorCode};
use crate::registries::Registries;
use crate::upload;
use crate::users::User;

pub mod dockerfile;

/// How long an uploaded context is kept.
pub const CONTEXT_TTL: Duration = Duration::from_secs(3600);

/// Uploaded build contexts, each usable by its uploader for an hour.
pub struct BuildContexts {
    dir: PathBuf,
    contexts: DashMap<String, Context>,
}

struct Context {
    owner: String,
    path: PathBuf,
    uploaded: Instant,
}

impl BuildContexts {
    /// Contexts live in `<data_dir>/contexts`; leftovers of an earlier run are removed.
    pub fn new(data_dir: &std::path::Path) -> std::io::Result<BuildContexts> {
        let dir = data_dir.join("contexts");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(BuildContexts {
            dir,
            contexts: DashMap::new(),
        })
    }

    /// The tar of a context the user uploaded.
    pub fn path_for(&self, user: &User, id: &str) -> Result<PathBuf, ApiError> {
        match self.contexts.get(id) {
            Some(c) if c.owner == user.id && c.uploaded.elapsed() < CONTEXT_TTL => {
                Ok(c.path.clone())
            }
            _ => Err(ApiError::not_found(format!("no such build context: {id}"))),
        }
    }

    /// Stores an upload as `owner`'s build context: the body is a tar, or with `is_dockerfile` a
    /// Dockerfile alone. Returns the context's id and the upload's size; a refused upload
    /// leaves nothing behind.
    pub async fn store(
        &self,
        owner: &User,
        payload: web::Payload,
        limit: u64,
        is_dockerfile: bool,
    ) -> Result<(String, u64), ApiError> {
        self.forget_expired();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let path = self.dir.join(format!("{id}.tar"));
        let size = match receive(payload, limit, is_dockerfile, &path).await {
            Ok(size) => size,
            Err(err) => {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(err);
            }
        };
        self.contexts.insert(
            id.clone(),
            Context {
                owner: owner.id.clone(),
                path,
                uploaded: Instant::now(),
            },
        );
        Ok((id, size))
    }

    fn forget_expired(&self) {
        self.contexts.retain(|_, c| {
            let keep = c.uploaded.elapsed() < CONTEXT_TTL;
            if !keep {
                let _ = std::fs::remove_file(&c.path);
            }
            keep
        });
    }
}

/// The Dockerfile `name` of a context tar, as text (at most
/// [`dockerfile::MAX_DOCKERFILE_BYTES`]).
pub async fn read_dockerfile(context: PathBuf, name: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let bad = |why: String| ApiError::bad_request(why);
        let file = std::fs::File::open(&context).map_err(|e| ApiError::internal(&e))?;
        let mut archive = tar::Archive::new(file);
        let wanted = name.trim_start_matches("./");
        let entries = archive
            .entries()
            .map_err(|e| bad(format!("the context is not a tar: {e}")))?;
        for entry in entries {
            let entry = entry.map_err(|e| bad(format!("the context is not a tar: {e}")))?;
            let path = entry.path().map_err(|e| bad(e.to_string()))?;
            if path.to_string_lossy().trim_start_matches("./") != wanted {
                continue;
            }
            let mut text = String::new();
            let limit = dockerfile::MAX_DOCKERFILE_BYTES as u64 + 1;
            std::io::Read::read_to_string(&mut std::io::Read::take(entry, limit), &mut text)
                .map_err(|_| bad(format!("{name} is not text")))?;
            return Ok(text);
        }
        Err(bad(format!("the context holds no {name}")))
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
}

/// Refuses a non-admin's Dockerfile that would make the engine fetch what the user may not
/// have fetched: images (a pull on their behalf: Docker Hub, admins' registries and allowed
/// hosts only, never another's private image) and `ADD` URLs on a non-public network.
pub async fn vet_dockerfile(
    user: &User,
    text: &str,
    registries: &Registries,
    engine: &Engine,
) -> Result<(), ApiError> {
    let fetches = dockerfile::fetches(text)?;
    if user.is_admin() {
        return Ok(());
    }
    for image in &fetches.images {
        registries.check_engine_may_reach(user, image).await?;
        registries.check_may_use(user, engine, image).await?;
    }
    for url in &fetches.urls {
        registries.check_url(url).await?;
    }
    Ok(())
}

/// How a build's processes are held to `builds.pids`.
pub enum ProcessLimit {
    /// Its step containers run beneath this cgroup.
    Held(BuildCgroup),
    /// `builds.pids` is 0: no limit asked for.
    Off,
    /// An admin's build where berth cannot hold one, and why (shown in the build's log).
    NotHeld(String),
}

/// The cgroup that holds a build on `engine` to `pids` processes. Where berth cannot make one
/// (a remote engine, the systemd cgroup driver), a non-admin's build is refused and an admin's
/// runs without.
pub async fn process_limit(
    user: &User,
    engine: &Engine,
    pids: u64,
) -> Result<ProcessLimit, ApiError> {
    if pids == 0 {
        return Ok(ProcessLimit::Off);
    }
    match engine.build_cgroup(pids).await {
        Ok(cgroup) => Ok(ProcessLimit::Held(cgroup)),
        Err(reason) if user.is_admin() => Ok(ProcessLimit::NotHeld(reason)),
        Err(reason) => Err(ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "builds on this host cannot be held to builds.pids processes ({reason}); \
                 an admin can build here, or set builds.pids to 0"
            ),
        )),
    }
}

/// A tar holding just `Dockerfile`.
pub fn dockerfile_tar(text: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, "Dockerfile", text)?;
    builder.into_inner()
}

/// Writes an upload to `path` as a build context tar: the body itself, or a tar around a
/// Dockerfile text. Returns the upload's size.
async fn receive(
    payload: web::Payload,
    limit: u64,
    is_dockerfile: bool,
    path: &std::path::Path,
) -> Result<u64, ApiError> {
    let io = |e: std::io::Error| ApiError::internal(&e);
    let mut file = tokio::fs::File::create(path).await.map_err(io)?;
    let (body, pump) = upload::stream(payload, limit);
    let mut dockerfile = Vec::new();
    let write = async {
        let mut body = std::pin::pin!(body);
        // Stops at the end, or at the error that ends an upload over the limit.
        while let Some(Ok(chunk)) = body.next().await {
            if is_dockerfile {
                dockerfile.extend_from_slice(&chunk);
            } else {
                file.write_all(&chunk).await?;
            }
        }
        Ok::<_, std::io::Error>(())
    };
    let (received, written) = tokio::join!(pump, write);
    let size = upload::check(&received, limit)?;
    written.map_err(io)?;
    if is_dockerfile {
        if dockerfile.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("the Dockerfile is empty"));
        }
        file.write_all(&dockerfile_tar(&dockerfile).map_err(io)?)
            .await
            .map_err(io)?;
    } else if size == 0 {
        return Err(ApiError::bad_request("the build context is empty"));
    }
    file.flush().await.map_err(io)?;
    Ok(size)
}
