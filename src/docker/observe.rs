//! Watching a container: its logs (a TTY container's byte for byte, see [`super::tty`]) and its
//! resource use.

use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::{LogsOptions, StatsOptions, WaitContainerOptions};
use futures_util::{Stream, StreamExt};

use super::tty::TtyOutput;
use super::Engine;
use crate::error::ApiError;

/// Which of a container's logs to read.
pub struct LogsSpec {
    pub follow: bool,
    /// Unix seconds.
    pub since: i32,
    pub timestamps: bool,
    /// Lines from the end; all when None.
    pub tail: Option<u64>,
    /// Whether the container has a TTY (its output then has no frame headers).
    pub tty: bool,
}

impl Engine {
    /// A container's logs, stdout and stderr.
    pub async fn logs(&self, container_id: &str, spec: LogsSpec) -> Result<TtyOutput, ApiError> {
        let tail = spec
            .tail
            .map_or_else(|| "all".to_string(), |n| n.to_string());
        if spec.tty {
            let query = format!(
                "stdout=1&stderr=1&follow={}&since={}&timestamps={}&tail={tail}",
                spec.follow, spec.since, spec.timestamps
            );
            return self.tty_logs(container_id, &query).await;
        }
        let options = LogsOptions {
            follow: spec.follow,
            stdout: true,
            stderr: true,
            since: spec.since,
            timestamps: spec.timestamps,
            tail,
            ..Default::default()
        };
        let docker = self.client().await?;
        Ok(Box::pin(docker.logs(container_id, Some(options))))
    }

    /// A container's resource use now: one sample of the engine's (it takes about a second, to
    /// have two readings of the CPU to compare).
    pub async fn usage_now(&self, container_id: &str) -> Result<Usage, ApiError> {
        let docker = self.client().await?;
        let options = StatsOptions {
            stream: false,
            one_shot: false,
        };
        let sample = docker
            .stats(container_id, Some(options))
            .next()
            .await
            .ok_or_else(|| ApiError::not_found("no stats for that container"))??;
        Ok(usage(&sample))
    }

    /// A container's resource use as the engine samples it (about once a second), ending when
    /// the container stops: the engine would go on sending empty samples for a stopped one.
    pub async fn stats_until_stopped(
        &self,
        container_id: &str,
    ) -> Result<
        impl Stream<Item = Result<ContainerStatsResponse, bollard::errors::Error>> + Send + 'static,
        ApiError,
    > {
        let docker = self.client().await?;
        let wait = WaitContainerOptions {
            condition: "not-running".to_string(),
        };
        let stopped = docker
            .wait_container(container_id, Some(wait))
            .into_future();
        let options = StatsOptions {
            stream: true,
            one_shot: false,
        };
        Ok(docker
            .stats(container_id, Some(options))
            .take_until(stopped))
    }
}

/// A container's resource use at one moment.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Usage {
    /// Of one CPU: 200 is two CPUs busy.
    pub cpu_percent: f64,
    /// Without the page cache.
    pub memory_bytes: u64,
    pub memory_limit: u64,
    pub pids: u64,
    pub net_rx_bytes: u64,
    pub net_tx_bytes: u64,
}

/// A sample of a container's resource use, computed as `docker stats` does.
pub fn usage(s: &ContainerStatsResponse) -> Usage {
    let usage = |c: &Option<bollard::models::ContainerCpuStats>| {
        let c = c.as_ref();
        (
            c.and_then(|c| c.cpu_usage.as_ref())
                .and_then(|u| u.total_usage)
                .unwrap_or(0),
            c.and_then(|c| c.system_cpu_usage).unwrap_or(0),
        )
    };
    let (cpu, system) = usage(&s.cpu_stats);
    let (pre_cpu, pre_system) = usage(&s.precpu_stats);
    let online = s
        .cpu_stats
        .as_ref()
        .and_then(|c| {
            c.online_cpus.map(u64::from).or_else(|| {
                c.cpu_usage
                    .as_ref()
                    .and_then(|u| u.percpu_usage.as_ref())
                    .map(|p| p.len() as u64)
            })
        })
        .unwrap_or(1);
    let cpu_delta = cpu.saturating_sub(pre_cpu) as f64;
    let system_delta = system.saturating_sub(pre_system) as f64;
    let cpu_percent = if system_delta > 0.0 {
        cpu_delta / system_delta * online as f64 * 100.0
    } else {
        0.0
    };
    let memory = s.memory_stats.as_ref();
    let cache = memory
        .and_then(|m| m.stats.as_ref())
        .and_then(|st| {
            st.get("inactive_file")
                .or_else(|| st.get("total_inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    let memory_bytes = memory
        .and_then(|m| m.usage)
        .unwrap_or(0)
        .saturating_sub(cache);
    let (rx, tx) = s
        .networks
        .iter()
        .flatten()
        .fold((0, 0), |(rx, tx), (_, n)| {
            (rx + n.rx_bytes.unwrap_or(0), tx + n.tx_bytes.unwrap_or(0))
        });
    Usage {
        cpu_percent: (cpu_percent * 100.0).round() / 100.0,
        memory_bytes,
        memory_limit: memory.and_then(|m| m.limit).unwrap_or(0),
        pids: s.pids_stats.as_ref().and_then(|p| p.current).unwrap_or(0),
        net_rx_bytes: rx,
        net_tx_bytes: tx,
    }
}
