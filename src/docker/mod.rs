//! The Docker engine as berth uses it: one negotiated client per host, ownership labels, the
//! safety policy for containers users create ([`policy`]), images ([`images`]), builds
//! ([`build`], held to a process limit by a cgroup of [`cgroup`]), processes ([`exec`]), logs and
//! stats ([`observe`]), files ([`files`]) and killing what an exec started.
//! Every call to an engine lives under this module; above it, services and streams use these
//! functions (some take the client [`Engine::client`] hands out). It takes owner ids and decides
//! nothing about who may do what: the services above it do.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, ContainerInspectResponse};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;

pub mod build;
pub mod cgroup;
pub mod endpoint;
pub mod exec;
mod exec_kill;
pub mod files;
pub mod images;
pub mod observe;
pub mod policy;
pub mod sandbox;
pub mod tty;

use crate::error::ApiError;
pub use exec_kill::EXEC_MARKER;

pub const LABEL_MANAGED: &str = "berth.managed";
pub const LABEL_OWNER: &str = "berth.owner";
/// The host a container was placed on, and its memory limit (which placement adds up).
pub const LABEL_HOST: &str = "berth.host";
pub const LABEL_MEMORY_MB: &str = "berth.memory_mb";
/// The CPU and process limits it was made with, so that a list shows them without an inspect.
pub const LABEL_CPUS: &str = "berth.cpus";
pub const LABEL_PIDS_LIMIT: &str = "berth.pids_limit";
/// The quota reservation a container holds (workspaces hold theirs by their id).
pub const LABEL_RESERVATION: &str = "berth.reservation";
/// The installation that made a container (`db::installation`): reconciling rows with
/// containers touches only its own.
pub const LABEL_INSTALLATION: &str = "berth.installation";

/// How long the in-container fallback of [`Engine::kill_exec_processes`] may take: the
/// container's own tools run it, and they may have been replaced by ones that never return.
pub const IN_CONTAINER_KILL_TIMEOUT: Duration = Duration::from_secs(3);
/// How long killing an exec's processes goes on looking for its process to have ended.
const EXEC_END_WAIT: Duration = Duration::from_secs(3);

/// One Docker engine: how to reach it, its client, and whether it answers.
pub struct Engine {
    endpoint: endpoint::Endpoint,
    /// Built and version-negotiated on first successful use; until then every use retries, so
    /// an engine that was down at start (or whose socket did not exist yet) is picked up later.
    docker: std::sync::RwLock<Option<Docker>>,
    /// Whether the engine answered its last ping. New work on an engine that did not is refused
    /// at once, and the streams running on it end, rather than wait on it.
    health: tokio::sync::watch::Sender<bool>,
    /// Stamped on every container this client makes ([`LABEL_INSTALLATION`]).
    installation: String,
}

impl Engine {
    /// An engine at `endpoint`, whose containers `installation` makes. Nothing is contacted yet.
    pub fn new(endpoint: endpoint::Endpoint, installation: &str) -> Engine {
        Engine {
            endpoint,
            docker: std::sync::RwLock::new(None),
            health: tokio::sync::watch::Sender::new(true),
            installation: installation.to_string(),
        }
    }

    /// The engine at the settings' `docker_host`, else `DOCKER_HOST`, else the local socket.
    pub fn from_settings(docker_host: Option<&str>, installation: &str) -> anyhow::Result<Engine> {
        let endpoint =
            endpoint::Endpoint::resolve(docker_host, None).map_err(|e| anyhow::anyhow!(e))?;
        Ok(Engine::new(endpoint, installation))
    }

    /// The installation whose containers this client makes.
    pub fn installation(&self) -> &str {
        &self.installation
    }

    /// Whether this installation made the container `labels` belong to.
    pub fn made(&self, labels: Option<&HashMap<String, String>>) -> bool {
        labels.and_then(|l| l.get(LABEL_INSTALLATION)) == Some(&self.installation)
    }

    pub fn is_healthy(&self) -> bool {
        *self.health.borrow()
    }

    /// Resolves once a ping has failed (at once if the last one did).
    pub async fn stopped_answering(&self) {
        let _ = self.health.subscribe().wait_for(|healthy| !*healthy).await;
    }

    /// Resolves once a ping succeeds (at once if the last one did).
    pub async fn answering(&self) {
        let _ = self.health.subscribe().wait_for(|healthy| *healthy).await;
    }

    /// The client, its API version lowered to the engine's (so Debian's 20.10, API 1.41, works).
    pub async fn client(&self) -> Result<Docker, ApiError> {
        if let Some(docker) = self.docker.read().expect("engine lock").as_ref() {
            return Ok(docker.clone());
        }
        let unavailable = |detail: String| {
            tracing::warn!(error = %detail, "Docker engine unreachable");
            ApiError::new(
                crate::error::ErrorCode::Unavailable,
                "the Docker engine is unavailable",
            )
        };
        let docker = self
            .endpoint
            .docker()
            .map_err(|e| unavailable(crate::error::chain(&e)))?;
        let docker = tokio::time::timeout(Duration::from_secs(5), docker.negotiate_version())
            .await
            .map_err(|_| unavailable("no answer within 5 s".into()))?
            .map_err(ApiError::from)?;
        *self.docker.write().expect("engine lock") = Some(docker.clone());
        Ok(docker)
    }

    /// Starts a TTY exec, its output passed on byte for byte (see [`tty`]).
    pub async fn start_tty_exec(
        &self,
        exec_id: &str,
        read_capacity: usize,
    ) -> Result<(tty::TtyOutput, tty::TtyInput), ApiError> {
        tty::start(
            &self.endpoint,
            &self.api_version_path().await?,
            exec_id,
            read_capacity,
        )
        .await
    }

    /// A TTY container's logs, byte for byte (see [`tty`]).
    pub async fn tty_logs(
        &self,
        container_id: &str,
        query: &str,
    ) -> Result<tty::TtyOutput, ApiError> {
        tty::logs(
            &self.endpoint,
            &self.api_version_path().await?,
            container_id,
            query,
        )
        .await
    }

    /// `1.41` for the negotiated API version, as request paths take it.
    async fn api_version_path(&self) -> Result<String, ApiError> {
        let version = self.client().await?.client_version();
        Ok(format!(
            "{}.{}",
            version.major_version, version.minor_version
        ))
    }

    /// The engine's API version, when it answers within 5 s; also records whether it did.
    pub async fn api_version(&self) -> Result<String, ApiError> {
        let answer = tokio::time::timeout(Duration::from_secs(5), async {
            let docker = self.client().await?;
            Ok::<_, ApiError>(docker.version().await?)
        })
        .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(_) => Err(ApiError::new(
                crate::error::ErrorCode::Unavailable,
                "the Docker engine did not answer in time",
            )),
        };
        let healthy = answer.is_ok();
        self.health
            .send_if_modified(|was| std::mem::replace(was, healthy) != healthy);
        Ok(answer?.api_version.unwrap_or_default())
    }

    /// Inspects a container; None when there is none by that id or name.
    pub async fn inspect_container(
        &self,
        id_or_name: &str,
    ) -> Result<Option<ContainerInspectResponse>, ApiError> {
        if id_or_name.is_empty() || id_or_name.len() > 128 {
            return Ok(None);
        }
        let inspected = self
            .client()
            .await?
            .inspect_container(
                id_or_name,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await;
        match inspected {
            Ok(info) => Ok(Some(info)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a container, its anonymous volumes with it; one already gone is not an error.
    pub async fn remove_container(&self, id: &str) -> Result<(), ApiError> {
        self.remove(id, true).await
    }

    /// Removes a container and leaves its anonymous volumes; one already gone is not an error.
    pub async fn remove_container_keeping_volumes(&self, id: &str) -> Result<(), ApiError> {
        self.remove(id, false).await
    }

    async fn remove(&self, id: &str, volumes: bool) -> Result<(), ApiError> {
        let options = RemoveContainerOptions {
            force: true,
            v: volumes,
            ..Default::default()
        };
        match self
            .client()
            .await?
            .remove_container(id, Some(options))
            .await
        {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Berth's containers: one owner's, or all of them.
    pub async fn list_managed(
        &self,
        owner: Option<&str>,
    ) -> Result<Vec<bollard::models::ContainerSummary>, ApiError> {
        let label = match owner {
            Some(owner) => format!("{LABEL_OWNER}={owner}"),
            None => LABEL_MANAGED.to_string(),
        };
        let filters = HashMap::from([("label".to_string(), vec![label])]);
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        Ok(self.client().await?.list_containers(Some(options)).await?)
    }

    /// The engine's own ID (`docker info`): the same engine reached by two addresses has one.
    pub async fn engine_id(&self) -> Result<Option<String>, ApiError> {
        Ok(self
            .client()
            .await?
            .info()
            .await?
            .id
            .filter(|id| !id.is_empty()))
    }

    /// Memory in bytes not reserved by berth's running containers: the engine's total minus
    /// their limits (negative when overcommitted). Placement compares hosts by it.
    pub async fn unreserved_memory(&self) -> Result<i64, ApiError> {
        let docker = self.client().await?;
        let total = docker.info().await?.mem_total.unwrap_or(0);
        let filters = HashMap::from([
            ("label".to_string(), vec![LABEL_MANAGED.to_string()]),
            ("status".to_string(), vec!["running".to_string()]),
        ]);
        let options = ListContainersOptions {
            filters: Some(filters),
            ..Default::default()
        };
        let reserved_mb: i64 = docker
            .list_containers(Some(options))
            .await?
            .iter()
            .filter_map(|c| c.labels.as_ref()?.get(LABEL_MEMORY_MB)?.parse::<i64>().ok())
            .sum();
        Ok(total - reserved_mb * 1024 * 1024)
    }

    /// Removes every container of a user (their account is going away).
    pub async fn remove_owned_by(&self, owner: &str) -> Result<(), ApiError> {
        for container in self.list_managed(Some(owner)).await? {
            if let Some(id) = container.id {
                self.remove_container(&id).await?;
            }
        }
        Ok(())
    }

    /// Creates a container from a request made by [`policy::container_body`], stamped with the
    /// installation; its id.
    pub async fn create_container(
        &self,
        mut body: ContainerCreateBody,
        name: Option<String>,
    ) -> Result<String, ApiError> {
        body.labels
            .get_or_insert_with(Default::default)
            .insert(LABEL_INSTALLATION.to_string(), self.installation.clone());
        let image = body.image.clone().unwrap_or_default();
        let options = CreateContainerOptions {
            name,
            ..Default::default()
        };
        let docker = self.client().await?;
        match docker.create_container(Some(options), body).await {
            Ok(created) => Ok(created.id),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Err(ApiError::not_found(format!(
                "no such image on this host: {image}"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Starts a container; one already running is left as it is. An engine without a GPU
    /// runtime, asked for GPUs, is refused plainly.
    pub async fn start_container(&self, id: &str) -> Result<(), ApiError> {
        let started = self
            .client()
            .await?
            .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
            .await;
        match started {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                if message.contains("could not select device driver") =>
            {
                Err(ApiError::bad_request(
                    "this Docker host has no GPU runtime, and the container asks for GPUs",
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Stops a container (SIGTERM, then SIGKILL after `grace_s`); one already stopped is left
    /// as it is.
    pub async fn stop_container(&self, id: &str, grace_s: i32) -> Result<(), ApiError> {
        let options = bollard::query_parameters::StopContainerOptions {
            t: Some(grace_s),
            signal: None,
        };
        let stopped = self.client().await?.stop_container(id, Some(options)).await;
        match stopped {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Restarts a container (SIGTERM, then SIGKILL after `grace_s`, then a start).
    pub async fn restart_container(&self, id: &str, grace_s: i32) -> Result<(), ApiError> {
        let options = bollard::query_parameters::RestartContainerOptions {
            t: Some(grace_s),
            signal: None,
        };
        Ok(self
            .client()
            .await?
            .restart_container(id, Some(options))
            .await?)
    }

    /// Makes a named volume (labelled as berth's, for `owner`).
    pub async fn create_volume(&self, name: &str, owner: &str) -> Result<(), ApiError> {
        let labels = HashMap::from([
            (LABEL_MANAGED.to_string(), "1".to_string()),
            (LABEL_OWNER.to_string(), owner.to_string()),
        ]);
        let options = bollard::models::VolumeCreateOptions {
            name: Some(name.to_string()),
            labels: Some(labels),
            ..Default::default()
        };
        self.client().await?.create_volume(options).await?;
        Ok(())
    }

    /// Removes a named volume; one already gone is not an error.
    pub async fn remove_volume(&self, name: &str) -> Result<(), ApiError> {
        let removed = self
            .client()
            .await?
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await;
        match removed {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Docker Hub's answer to a search, through the engine (which may be offline).
    pub async fn search_hub(
        &self,
        term: &str,
    ) -> Result<Vec<bollard::models::ImageSearchResponseItem>, ApiError> {
        let options = bollard::query_parameters::SearchImagesOptions {
            term: term.to_string(),
            limit: Some(25),
            ..Default::default()
        };
        self.client()
            .await?
            .search_images(options)
            .await
            .map_err(|e| {
                tracing::info!(error = %crate::error::chain(&e), "Docker Hub search failed");
                ApiError::new(
                    crate::error::ErrorCode::Unavailable,
                    "Docker Hub search failed (is the engine offline?)",
                )
            })
    }

    /// How many times the kernel's OOM killer has killed a process in the container `info`
    /// describes (see [`cgroup`]); None for an engine on another machine, or a container whose
    /// cgroup berth cannot read.
    pub fn oom_kills(&self, info: &ContainerInspectResponse) -> Option<u64> {
        if !matches!(self.endpoint, endpoint::Endpoint::Unix(_)) {
            return None;
        }
        let pid = info.state.as_ref()?.pid?;
        cgroup::oom_kills(info.id.as_deref()?, i32::try_from(pid).ok()?)
    }

    /// Kills every process an exec started: its own, everything descended from it, and
    /// everything carrying its marker (see [`exec_kill`]). From the host when berth can see the
    /// engine's processes; otherwise by a short exec in the container, given at most
    /// [`IN_CONTAINER_KILL_TIMEOUT`]. An error says the processes may still run.
    pub async fn kill_exec_processes(
        &self,
        container: &str,
        exec_id: &str,
        marker: &str,
    ) -> Result<(), ApiError> {
        // The engine answers an exec's start before its process exists: killed that early, a
        // pass finds nothing and the process starts afterwards. So the pass is made again until
        // the engine says the exec's process has ended (bounded).
        let deadline = tokio::time::Instant::now() + EXEC_END_WAIT;
        loop {
            self.kill_marked(container, Some(exec_id), Some(marker))
                .await?;
            let docker = self.client().await?;
            let ended = docker
                .inspect_exec(exec_id)
                .await
                .map(|e| e.exit_code.is_some())
                .unwrap_or(true);
            if ended {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    exec = exec_id,
                    "an exec's process was still not seen to end"
                );
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills every process in a container that an exec of berth's started (it carries a
    /// marker): at start, what sessions of a berth that was killed left running.
    pub async fn kill_orphaned_execs(&self, container: &str) -> Result<(), ApiError> {
        self.kill_marked(container, None, None).await
    }

    /// Kills what the exec `exec_id` started and what carries `marker`; with neither, whatever
    /// carries any marker.
    async fn kill_marked(
        &self,
        container: &str,
        exec_id: Option<&str>,
        marker: Option<&str>,
    ) -> Result<(), ApiError> {
        let docker = self.client().await?;
        if matches!(self.endpoint, endpoint::Endpoint::Unix(_)) {
            let info = docker
                .inspect_container(
                    container,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await?;
            let container_id = info.id.unwrap_or_default();
            let container_pid = info.state.and_then(|s| s.pid).unwrap_or(0) as i32;
            let exec_pid = match exec_id {
                Some(exec_id) => docker
                    .inspect_exec(exec_id)
                    .await
                    .ok()
                    .and_then(|e| e.pid)
                    .map(|p| p as i32),
                None => None,
            };
            let marker_owned = marker.map(str::to_string);
            let killed = tokio::task::spawn_blocking(move || {
                exec_kill::kill_from_host(&exec_kill::ExecProcesses {
                    container_id: &container_id,
                    container_pid,
                    exec_pid,
                    marker: marker_owned.as_deref(),
                })
            })
            .await
            .map_err(|e| ApiError::internal(&e))?;
            if let Some(killed) = killed {
                tracing::debug!(killed, "exec processes killed from the host");
                return Ok(());
            }
        }
        let inside = async {
            let exec = docker
                .create_exec(
                    container,
                    bollard::exec::CreateExecOptions {
                        cmd: Some(vec![
                            "/bin/sh".to_string(),
                            "-c".to_string(),
                            exec_kill::in_container_script(marker),
                        ]),
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        user: Some("0".to_string()),
                        ..Default::default()
                    },
                )
                .await?;
            // Wait for the killer to finish by draining its (empty) output.
            if let bollard::exec::StartExecResults::Attached { mut output, .. } =
                docker.start_exec(&exec.id, None).await?
            {
                while output.next().await.is_some() {}
            }
            Ok::<_, ApiError>(())
        };
        match tokio::time::timeout(IN_CONTAINER_KILL_TIMEOUT, inside).await {
            Ok(done) => done,
            Err(_) => Err(ApiError::new(
                crate::error::ErrorCode::Unavailable,
                "the in-container killer did not finish in time",
            )),
        }
    }
}

/// The owner label of a container berth made.
pub fn owner_of(info: &ContainerInspectResponse) -> Option<&str> {
    labels(info)?.get(LABEL_OWNER).map(String::as_str)
}

/// A label of a container.
pub fn label<'a>(info: &'a ContainerInspectResponse, key: &str) -> Option<&'a str> {
    labels(info)?.get(key).map(String::as_str)
}

/// Whether berth made this container.
pub fn is_managed(info: &ContainerInspectResponse) -> bool {
    labels(info).is_some_and(|l| l.contains_key(LABEL_MANAGED))
}

fn labels(info: &ContainerInspectResponse) -> Option<&HashMap<String, String>> {
    info.config.as_ref()?.labels.as_ref()
}
