//! What each user holds and uses now, for admins (`GET /admin/usage`), and the workspaces by
//! state for the metrics: berth's containers as every host lists them, matched with the
//! accounts and workspaces the database has and the sessions every replica holds.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;

use crate::db::{self, Db};
use crate::docker::{self, policy};
use crate::error::ApiError;
use crate::hosts::Hosts;
use crate::live_sessions::Sessions;

/// How long one container's CPU sample may take before it is left out.
const SAMPLE_WITHIN: Duration = Duration::from_secs(3);
/// CPU samples taken at once.
const SAMPLES_AT_ONCE: usize = 16;

/// One user's share of the server now.
#[derive(Debug, Default, Clone, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct UserUsage {
    pub user_id: String,
    pub username: String,
    pub role: String,
    /// Live WebSocket sessions on every replica, and the streams they run (those of the other
    /// replicas as each recorded them within the last second; a stream relayed from another
    /// replica is counted only when the replica holding it answers).
    pub sessions: usize,
    pub streams: usize,
    /// Containers (workspaces not counted), running and not.
    pub containers_running: usize,
    pub containers_stopped: usize,
    pub workspaces_running: usize,
    pub workspaces_stopped: usize,
    /// Memory their containers and workspaces reserve (their limits), running or not.
    pub memory_mb: u64,
    /// Of one CPU, summed over their running containers and workspaces (200: two CPUs busy).
    pub cpu_percent: f64,
}

/// Everyone's usage, and whether every host answered (when not, what is on a silent host is
/// missing from the figures).
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct ServerUsage {
    pub users: Vec<UserUsage>,
    pub every_host_answered: bool,
}

/// One of berth's containers, as its host lists it.
struct Listed {
    host: String,
    id: String,
    owner: Option<String>,
    workspace: bool,
    running: bool,
    memory_mb: u64,
}

async fn listed(hosts: &Hosts) -> (Vec<Listed>, bool) {
    let mut all = Vec::new();
    let mut every_host_answered = true;
    for host in hosts.all() {
        let containers = match host.engine.list_managed(None).await {
            Ok(containers) => containers,
            Err(_) => {
                every_host_answered = false;
                continue;
            }
        };
        for c in containers {
            let labels = c.labels.unwrap_or_default();
            all.push(Listed {
                host: host.name.clone(),
                id: c.id.unwrap_or_default(),
                owner: labels.get(docker::LABEL_OWNER).cloned(),
                workspace: labels.contains_key(policy::LABEL_WORKSPACE),
                running: c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING),
                memory_mb: labels
                    .get(docker::LABEL_MEMORY_MB)
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(0),
            });
        }
    }
    (all, every_host_answered)
}

/// Every account with what it holds and uses now: `everywhere`, each user's sessions on every
/// replica and their streams on the other replicas (user id → (sessions, streams)); the streams
/// of this replica's sessions are counted from `here`.
pub async fn per_user(
    db: &Db,
    hosts: &Hosts,
    here: &Sessions,
    everywhere: &HashMap<String, (usize, usize)>,
) -> Result<ServerUsage, ApiError> {
    let (containers, every_host_answered) = listed(hosts).await;
    let streams_here = here.streams_per_user();
    let mut users: Vec<UserUsage> = db::users::all(db)
        .await?
        .into_iter()
        .map(|u| {
            let (sessions, elsewhere) = everywhere.get(&u.id).copied().unwrap_or_default();
            let streams = elsewhere + streams_here.get(&u.id).copied().unwrap_or(0);
            UserUsage {
                user_id: u.id,
                username: u.username,
                role: u.role,
                sessions,
                streams,
                ..UserUsage::default()
            }
        })
        .collect();
    let index: HashMap<String, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.user_id.clone(), i))
        .collect();
    let mut running = Vec::new();
    for c in &containers {
        let Some(&i) = c.owner.as_ref().and_then(|o| index.get(o)) else {
            continue;
        };
        let user = &mut users[i];
        user.memory_mb += c.memory_mb;
        match (c.workspace, c.running) {
            (true, true) => user.workspaces_running += 1,
            (true, false) => user.workspaces_stopped += 1,
            (false, true) => user.containers_running += 1,
            (false, false) => user.containers_stopped += 1,
        }
        if c.running {
            running.push((i, c));
        }
    }
    // One sample per running container, a few at a time; one that is slow is left out.
    let samples: Vec<(usize, f64)> = futures_util::stream::iter(running)
        .map(|(i, c)| async move {
            let host = hosts.get(Some(&c.host)).ok()?;
            let sample = tokio::time::timeout(SAMPLE_WITHIN, host.engine.usage_now(&c.id));
            let usage = sample.await.ok()?.ok()?;
            Some((i, usage.cpu_percent))
        })
        .buffer_unordered(SAMPLES_AT_ONCE)
        .filter_map(|s| async move { s })
        .collect()
        .await;
    for (i, cpu) in samples {
        users[i].cpu_percent += cpu;
    }
    Ok(ServerUsage {
        users,
        every_host_answered,
    })
}

/// Workspaces by the state of their containers: `running`, `stopped`, `missing` (its host
/// answers without it) or `unknown` (its host does not answer).
pub async fn workspaces_by_state(db: &Db, hosts: &Hosts) -> Result<Vec<(String, i64)>, ApiError> {
    let (containers, _) = listed(hosts).await;
    let answering: Vec<String> = hosts
        .all()
        .iter()
        .filter(|h| h.engine.is_healthy())
        .map(|h| h.name.clone())
        .collect();
    let state_of: HashMap<&str, bool> = containers
        .iter()
        .map(|c| (c.id.as_str(), c.running))
        .collect();
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for w in db::workspaces::list(db, None).await? {
        let state = match state_of.get(w.container_id.as_str()) {
            Some(true) => "running",
            Some(false) => "stopped",
            None if answering.contains(&w.host) => "missing",
            None => "unknown",
        };
        *counts.entry(state).or_default() += 1;
    }
    Ok(counts
        .into_iter()
        .map(|(s, n)| (s.to_string(), n))
        .collect())
}
