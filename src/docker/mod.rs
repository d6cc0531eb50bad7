//! The Docker engine as berth uses it: one negotiated client, ownership labels, the safety policy
//! for containers users create, and killing what an exec started.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, ContainerInspectResponse, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;

pub mod endpoint;
mod exec_kill;
pub mod tty;

use crate::accounts::User;
use crate::config::ContainerLimits;
use crate::error::ApiError;

pub const LABEL_MANAGED: &str = "berth.managed";
pub const LABEL_OWNER: &str = "berth.owner";
/// The host a container was placed on, and its memory limit (which placement adds up).
pub const LABEL_HOST: &str = "berth.host";
pub const LABEL_MEMORY_MB: &str = "berth.memory_mb";

/// Environment variable set on every exec berth starts; its value names the stream, and the
/// processes carrying it (the exec'd process and everything it forks) are killed with the stream.
pub const EXEC_MARKER: &str = "BERTH_EXEC";

/// How long the in-container fallback of [`Engine::kill_exec_processes`] may take: the
/// container's own tools run it, and they may have been replaced by ones that never return.
pub const IN_CONTAINER_KILL_TIMEOUT: Duration = Duration::from_secs(3);

/// Capabilities a container keeps; all others are dropped. These let package managers and
/// `su`-style tools inside the sandbox work, and let berth's stream cleanup signal processes.
pub const KEPT_CAPABILITIES: [&str; 8] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "NET_BIND_SERVICE",
];

pub struct Engine {
    endpoint: endpoint::Endpoint,
    /// Built and version-negotiated on first successful use; until then every use retries, so
    /// an engine that was down at start (or whose socket did not exist yet) is picked up later.
    docker: std::sync::RwLock<Option<Docker>>,
    /// Whether the engine answered its last ping. New work on an engine that did not is refused
    /// at once, and the streams running on it end, rather than wait on it.
    health: tokio::sync::watch::Sender<bool>,
}

impl Engine {
    /// An engine at `endpoint`. Nothing is contacted yet.
    pub fn new(endpoint: endpoint::Endpoint) -> Engine {
        Engine {
            endpoint,
            docker: std::sync::RwLock::new(None),
            health: tokio::sync::watch::Sender::new(true),
        }
    }

    /// The engine at the settings' `docker_host`, else `DOCKER_HOST`, else the local socket.
    pub fn from_settings(docker_host: Option<&str>) -> anyhow::Result<Engine> {
        let endpoint =
            endpoint::Endpoint::resolve(docker_host, None).map_err(|e| anyhow::anyhow!(e))?;
        Ok(Engine::new(endpoint))
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

    /// Inspects a container the user may use: their own, or any berth container for an admin.
    /// Someone else's container is reported as missing, so ids of others' containers leak nothing.
    pub async fn owned_container(
        &self,
        user: &User,
        id_or_name: &str,
    ) -> Result<ContainerInspectResponse, ApiError> {
        let not_found = || ApiError::not_found(format!("no such container: {id_or_name}"));
        if id_or_name.is_empty() || id_or_name.len() > 128 {
            return Err(not_found());
        }
        let docker = self.client().await?;
        let info = match docker
            .inspect_container(
                id_or_name,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        {
            Ok(info) => info,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        let labels = info.config.as_ref().and_then(|c| c.labels.as_ref());
        let owner = labels.and_then(|l| l.get(LABEL_OWNER));
        let managed = labels.is_some_and(|l| l.contains_key(LABEL_MANAGED));
        let allowed = owner == Some(&user.id) || (managed && user.is_admin());
        if allowed {
            Ok(info)
        } else {
            Err(not_found())
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
        let docker = self.client().await?;
        for container in self.list_managed(Some(owner)).await? {
            let Some(id) = container.id else { continue };
            let options = RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            };
            match docker.remove_container(&id, Some(options)).await {
                Ok(())
                | Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Creates a container under berth's policy: owner labels, resource limits, all capabilities
    /// dropped but [`KEPT_CAPABILITIES`], no new privileges, no host mounts or host network.
    pub async fn create_container(
        &self,
        owner: &User,
        spec: &ContainerSpec,
        limits: &ContainerLimits,
        host_name: &str,
    ) -> Result<String, ApiError> {
        let memory_mb = spec.memory_mb.unwrap_or(limits.default_memory_mb);
        let cpus = spec.cpus.unwrap_or(limits.default_cpus);
        let pids = spec.pids_limit.unwrap_or(limits.default_pids);
        if memory_mb < 16 || memory_mb > limits.max_memory_mb {
            return Err(ApiError::bad_request(format!(
                "memory_mb must be between 16 and {}",
                limits.max_memory_mb
            )));
        }
        if !(cpus > 0.0 && cpus <= limits.max_cpus) {
            return Err(ApiError::bad_request(format!(
                "cpus must be above 0 and at most {}",
                limits.max_cpus
            )));
        }
        if pids < 16 || pids > limits.max_pids {
            return Err(ApiError::bad_request(format!(
                "pids_limit must be between 16 and {}",
                limits.max_pids
            )));
        }
        let labels = HashMap::from([
            (LABEL_MANAGED.to_string(), "1".to_string()),
            (LABEL_OWNER.to_string(), owner.id.clone()),
            (LABEL_HOST.to_string(), host_name.to_string()),
            (LABEL_MEMORY_MB.to_string(), memory_mb.to_string()),
        ]);
        let env = spec
            .env
            .as_ref()
            .map(|env| env.iter().map(|(k, v)| format!("{k}={v}")).collect());
        let host_config = HostConfig {
            memory: Some((memory_mb * 1024 * 1024) as i64),
            memory_swap: Some((memory_mb * 1024 * 1024) as i64),
            nano_cpus: Some((cpus * 1e9) as i64),
            pids_limit: Some(pids),
            cap_drop: Some(vec!["ALL".to_string()]),
            cap_add: Some(KEPT_CAPABILITIES.iter().map(|c| c.to_string()).collect()),
            security_opt: Some(vec!["no-new-privileges".to_string()]),
            privileged: Some(false),
            network_mode: Some("bridge".to_string()),
            init: Some(true),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: spec.cmd.clone(),
            env,
            tty: Some(spec.tty.unwrap_or(false)),
            open_stdin: Some(spec.tty.unwrap_or(false)),
            labels: Some(labels),
            host_config: Some(host_config),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: spec.name.clone(),
            ..Default::default()
        };
        let docker = self.client().await?;
        match docker.create_container(Some(options), body).await {
            Ok(created) => Ok(created.id),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Err(ApiError::not_found(format!(
                "no such image on this host: {}",
                spec.image
            ))),
            Err(e) => Err(e.into()),
        }
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
            let exec_pid = docker
                .inspect_exec(exec_id)
                .await
                .ok()
                .and_then(|e| e.pid)
                .map(|p| p as i32);
            let marker_owned = marker.to_string();
            let killed = tokio::task::spawn_blocking(move || {
                exec_kill::kill_from_host(&exec_kill::ExecProcesses {
                    container_id: &container_id,
                    container_pid,
                    exec_pid,
                    marker: &marker_owned,
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

/// What a user may choose about a new container; anything else is refused.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    pub image: String,
    pub cmd: Option<Vec<String>>,
    pub env: Option<std::collections::BTreeMap<String, String>>,
    pub tty: Option<bool>,
    pub name: Option<String>,
    pub memory_mb: Option<u64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    /// A host's name, `auto` for the healthy one with the most unreserved memory, or `local`.
    pub host: Option<String>,
}
