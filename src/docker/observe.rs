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
