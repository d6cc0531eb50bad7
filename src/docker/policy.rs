//! The safety policy for containers users create: what a user may choose ([`ContainerSpec`]),
//! and the engine request berth makes of it. Pure, so the policy is tested without an engine.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig};

use super::{
    LABEL_CPUS, LABEL_HOST, LABEL_MANAGED, LABEL_MEMORY_MB, LABEL_OWNER, LABEL_PIDS_LIMIT,
};
use crate::config::ContainerLimits;
use crate::error::ApiError;

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

/// What a user may choose about a new container; anything else is refused.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
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

/// Below these a shell does not start: the floor of every memory (MiB) and process limit.
pub const MIN_MEMORY_MB: u64 = 16;
pub const MIN_PIDS: i64 = 16;

/// The memory, CPUs and processes a container gets, checked once against the limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resources {
    pub memory_mb: u64,
    pub cpus: f64,
    pub pids: i64,
}

impl Resources {
    /// What was asked for (the settings' defaults for what was not), each within the limits;
    /// the reason otherwise. `pids_field` is the name the request gives the process limit
    /// (`pids_limit` for a container, `pids` for a template).
    pub fn parse(
        memory_mb: Option<u64>,
        cpus: Option<f64>,
        pids: Option<i64>,
        pids_field: &str,
        limits: &ContainerLimits,
    ) -> Result<Resources, ApiError> {
        let memory_mb = memory_mb.unwrap_or(limits.default_memory_mb);
        let cpus = cpus.unwrap_or(limits.default_cpus);
        let pids = pids.unwrap_or(limits.default_pids);
        if !(MIN_MEMORY_MB..=limits.max_memory_mb).contains(&memory_mb) {
            return Err(ApiError::bad_request(format!(
                "memory_mb must be between {MIN_MEMORY_MB} and {}",
                limits.max_memory_mb
            )));
        }
        if !(cpus > 0.0 && cpus <= limits.max_cpus) {
            return Err(ApiError::bad_request(format!(
                "cpus must be above 0 and at most {}",
                limits.max_cpus
            )));
        }
        if !(MIN_PIDS..=limits.max_pids).contains(&pids) {
            return Err(ApiError::bad_request(format!(
                "{pids_field} must be between {MIN_PIDS} and {}",
                limits.max_pids
            )));
        }
        Ok(Resources {
            memory_mb,
            cpus,
            pids,
        })
    }
}

/// The engine request for `spec`: owner labels, `resources`, all capabilities dropped but
/// [`KEPT_CAPABILITIES`], no new privileges, an init process, and no host mounts, host network
/// or privileged mode (a user cannot ask for them).
pub fn container_body(
    owner_id: &str,
    spec: &ContainerSpec,
    resources: &Resources,
    host_name: &str,
) -> ContainerCreateBody {
    let Resources {
        memory_mb,
        cpus,
        pids,
    } = *resources;
    let labels = HashMap::from([
        (LABEL_MANAGED.to_string(), "1".to_string()),
        (LABEL_OWNER.to_string(), owner_id.to_string()),
        (LABEL_HOST.to_string(), host_name.to_string()),
        (LABEL_MEMORY_MB.to_string(), memory_mb.to_string()),
        (LABEL_CPUS.to_string(), cpus.to_string()),
        (LABEL_PIDS_LIMIT.to_string(), pids.to_string()),
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
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.cmd.clone(),
        env,
        tty: Some(spec.tty.unwrap_or(false)),
        open_stdin: Some(spec.tty.unwrap_or(false)),
        labels: Some(labels),
        host_config: Some(host_config),
        ..Default::default()
    }
}

/// Marks a container as a workspace's (its value is the workspace's id): such containers are
/// reached through the workspaces API only.
pub const LABEL_WORKSPACE: &str = "berth.workspace";

/// What a workspace's container is made of (from its template).
pub struct WorkspaceSpec<'a> {
    pub workspace_id: &'a str,
    pub image: &'a str,
    pub resources: Resources,
    pub gpus: Option<u32>,
    /// No network interface but loopback.
    pub network_none: bool,
    /// The named volume mounted at /workspace.
    pub volume: &'a str,
}

/// A workspace's container: the same policy as any container, its network as the template
/// says, its files in a named volume (not a host mount) at /workspace, and a main process that
/// only keeps it alive (and stops at once when asked).
pub fn workspace_body(
    owner_id: &str,
    spec: &WorkspaceSpec,
    host_name: &str,
) -> ContainerCreateBody {
    let container = ContainerSpec {
        image: spec.image.to_string(),
        cmd: Some(vec![
            "sh".into(),
            "-c".into(),
            "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done".into(),
        ]),
        env: None,
        tty: None,
        name: None,
        memory_mb: None,
        cpus: None,
        pids_limit: None,
        host: None,
    };
    let mut body = container_body(owner_id, &container, &spec.resources, host_name);
    if let Some(labels) = body.labels.as_mut() {
        labels.insert(LABEL_WORKSPACE.to_string(), spec.workspace_id.to_string());
    }
    body.working_dir = Some("/workspace".into());
    let host = body.host_config.get_or_insert_with(Default::default);
    if spec.network_none {
        host.network_mode = Some("none".into());
    }
    host.mounts = Some(vec![bollard::models::Mount {
        target: Some("/workspace".into()),
        source: Some(spec.volume.to_string()),
        typ: Some(bollard::models::MountTypeEnum::VOLUME),
        ..Default::default()
    }]);
    if let Some(count) = spec.gpus.filter(|g| *g > 0) {
        host.device_requests = Some(vec![bollard::models::DeviceRequest {
            driver: Some("nvidia".into()),
            count: Some(count.into()),
            capabilities: Some(vec![vec!["gpu".into()]]),
            ..Default::default()
        }]);
    }
    body
}

/// Marks a check's sandbox (its value is the submission's id). It has no owner: no user
/// reaches it through the containers API, so the check's hidden files stay hidden.
pub const LABEL_CHECK: &str = "berth.check";

/// What a check's sandbox is made of.
pub struct SandboxSpec<'a> {
    pub submission_id: &'a str,
    pub image: &'a str,
    pub cmd: Vec<String>,
    pub resources: Resources,
    /// `uid:gid` it runs as.
    pub user: &'a str,
}

/// A check's sandbox: the policy of any container, no network, no volume (its files are what
/// berth unpacks into it), run as `user` in /workspace.
pub fn sandbox_body(spec: &SandboxSpec, host_name: &str) -> ContainerCreateBody {
    let container = ContainerSpec {
        image: spec.image.to_string(),
        cmd: Some(spec.cmd.clone()),
        env: Some([("HOME".to_string(), "/workspace".to_string())].into()),
        tty: None,
        name: None,
        memory_mb: None,
        cpus: None,
        pids_limit: None,
        host: None,
    };
    let mut body = container_body("", &container, &spec.resources, host_name);
    if let Some(labels) = body.labels.as_mut() {
        labels.insert(LABEL_CHECK.to_string(), spec.submission_id.to_string());
    }
    body.working_dir = Some("/workspace".into());
    body.user = Some(spec.user.to_string());
    let host = body.host_config.get_or_insert_with(Default::default);
    host.network_mode = Some("none".into());
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ContainerLimits {
        crate::config::Settings::default().limits
    }

    fn spec(json: serde_json::Value) -> ContainerSpec {
        serde_json::from_value(json).unwrap()
    }

    /// The engine request for a container spec, as the containers service makes it.
    fn body_of(json: serde_json::Value) -> Result<ContainerCreateBody, ApiError> {
        let spec = spec(json);
        let resources = Resources::parse(
            spec.memory_mb,
            spec.cpus,
            spec.pids_limit,
            "pids_limit",
            &limits(),
        )?;
        Ok(container_body("u1", &spec, &resources, "local"))
    }

    #[test]
    fn a_container_gets_the_safety_policy_and_its_owner() {
        let body = body_of(serde_json::json!({"image": "x"})).unwrap();
        let host = body.host_config.unwrap();
        assert_eq!(host.privileged, Some(false));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges".to_string()])
        );
        assert_eq!(host.memory, Some(512 << 20));
        assert_eq!(
            host.memory_swap, host.memory,
            "no swap beyond the memory limit"
        );
        assert_eq!(host.pids_limit, Some(256));
        assert!(
            host.binds.is_none() && host.mounts.is_none(),
            "no host mounts"
        );
        assert_eq!(host.network_mode.as_deref(), Some("bridge"));
        let labels = body.labels.unwrap();
        assert_eq!(labels[LABEL_OWNER], "u1");
        assert_eq!(labels[LABEL_MEMORY_MB], "512");
        assert_eq!(labels[LABEL_PIDS_LIMIT], "256");
    }

    #[test]
    fn limits_outside_the_settings_are_refused_and_raw_options_cannot_be_asked_for() {
        for over in [
            serde_json::json!({"image": "x", "memory_mb": 8}),
            serde_json::json!({"image": "x", "memory_mb": 1 << 20}),
            serde_json::json!({"image": "x", "cpus": 0.0}),
            serde_json::json!({"image": "x", "cpus": 64.0}),
            serde_json::json!({"image": "x", "pids_limit": 1 << 20}),
        ] {
            assert!(body_of(over.clone()).is_err(), "{over}");
        }
        let raw = serde_json::json!({"image": "x", "privileged": true});
        assert!(serde_json::from_value::<ContainerSpec>(raw).is_err());
        let raw = serde_json::json!({"image": "x", "binds": ["/:/host"]});
        assert!(serde_json::from_value::<ContainerSpec>(raw).is_err());
    }

    #[test]
    fn a_checks_sandbox_has_no_owner_no_network_and_no_volume() {
        let resources = Resources {
            memory_mb: 128,
            cpus: 0.5,
            pids: 64,
        };
        let spec = SandboxSpec {
            submission_id: "s1",
            image: "x",
            cmd: vec!["sh".into(), "test.sh".into()],
            resources,
            user: "1000:1000",
        };
        let body = sandbox_body(&spec, "local");
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert!(host.mounts.is_none() && host.binds.is_none());
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.memory, Some(128 << 20));
        assert_eq!(host.pids_limit, Some(64));
        let labels = body.labels.unwrap();
        assert_eq!(labels[LABEL_OWNER], "", "no user reaches a check's sandbox");
        assert_eq!(labels[LABEL_CHECK], "s1");
        assert_eq!(body.user.as_deref(), Some("1000:1000"));
        assert_eq!(body.working_dir.as_deref(), Some("/workspace"));
    }

    #[test]
    fn a_workspace_keeps_its_files_in_a_volume_and_has_no_network_unless_asked() {
        let spec = WorkspaceSpec {
            workspace_id: "w1",
            image: "x",
            resources: Resources::parse(Some(256), None, Some(64), "pids", &limits()).unwrap(),
            gpus: None,
            network_none: true,
            volume: "berth-ws-w1",
        };
        let body = workspace_body("u1", &spec, "local");
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        let mount = &host.mounts.unwrap()[0];
        assert_eq!(mount.typ, Some(bollard::models::MountTypeEnum::VOLUME));
        assert_eq!(mount.target.as_deref(), Some("/workspace"));
        assert_eq!(host.pids_limit, Some(64));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(body.labels.unwrap()[LABEL_WORKSPACE], "w1");
    }
}
