//! A one-off sandbox: a container made for one command, given its files before it starts, run
//! to its end or to a limit, and removed. What checks of submissions run in.

use std::time::{Duration, Instant};

use bollard::container::AttachContainerResults;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{AttachContainerOptions, KillContainerOptions};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::Engine;
use crate::error::ApiError;

/// What ended a sandbox's command before it ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    TimeLimit,
    OutputLimit,
    Cancelled,
}

/// How a sandbox's command ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status (137 when killed).
    pub code: Option<i64>,
    /// stdout and stderr as they came, at most the output limit.
    pub output: Vec<u8>,
    pub cut: Option<Cut>,
    /// The kernel's OOM killer ended it at the memory limit.
    pub oom_killed: bool,
    /// From its start to its end.
    pub took: Duration,
}

/// The limits a sandbox runs within, beside those of its container.
pub struct SandboxLimits {
    pub time: Duration,
    pub output_bytes: usize,
}

impl Engine {
    /// Makes container `name` from `body`, unpacks `files` (a tar) at `/`, runs it to its end
    /// or to a limit (killed there), and removes it. A container left by a run berth did not
    /// finish has the same name, and is removed first.
    pub async fn run_sandbox(
        &self,
        name: &str,
        body: ContainerCreateBody,
        files: Vec<u8>,
        limits: &SandboxLimits,
        stop: &CancellationToken,
    ) -> Result<Finished, ApiError> {
        self.remove_container(name).await?;
        let id = self.create_container(body, Some(name.to_string())).await?;
        let finished = self.run_made(&id, files, limits, stop).await;
        if let Err(e) = self.remove_container(&id).await {
            tracing::warn!(container = %id, error = %e.message, "could not remove a sandbox");
        }
        finished
    }

    async fn run_made(
        &self,
        id: &str,
        files: Vec<u8>,
        limits: &SandboxLimits,
        stop: &CancellationToken,
    ) -> Result<Finished, ApiError> {
        let files = futures_util::stream::once(async move { Ok(bytes::Bytes::from(files)) });
        self.upload(id, "/", files).await?;
        let docker = self.client().await?;
        // Attached before it starts, so that not a byte of its output is missed. No replay of
        // its logs: there are none yet, and the engine can send the first output twice when the
        // replay and the stream overlap.
        let options = AttachContainerOptions {
            stdout: true,
            stderr: true,
            stream: true,
            logs: false,
            ..Default::default()
        };
        let AttachContainerResults { mut output, .. } =
            docker.attach_container(id, Some(options)).await?;
        self.start_container(id).await?;
        let started = Instant::now();
        let deadline = tokio::time::sleep(limits.time);
        tokio::pin!(deadline);
        let mut kept = Vec::new();
        let cut = loop {
            tokio::select! {
                _ = &mut deadline => break Some(Cut::TimeLimit),
                _ = stop.cancelled() => break Some(Cut::Cancelled),
                item = output.next() => match item {
                    Some(Ok(chunk)) => {
                        let chunk = chunk.into_bytes();
                        let room = limits.output_bytes - kept.len();
                        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                        if chunk.len() > room {
                            break Some(Cut::OutputLimit);
                        }
                    }
                    Some(Err(e)) => return Err(e.into()),
                    None => break None,
                },
            }
        };
        drop(output);
        if cut.is_some() {
            let kill = docker
                .kill_container(id, None::<KillContainerOptions>)
                .await;
            if let Err(e) = kill {
                // It may have ended by itself meanwhile; the inspect below tells.
                tracing::debug!(container = %id, error = %e, "sandbox kill");
            }
        }
        let (code, oom_killed) = self.exit_of(id).await?;
        Ok(Finished {
            code,
            output: kept,
            cut,
            oom_killed,
            took: started.elapsed(),
        })
    }

    /// The exit status of a container that ended (or was just killed), and whether the OOM
    /// killer ended it; waits up to 10 s for it to stop.
    async fn exit_of(&self, id: &str) -> Result<(Option<i64>, bool), ApiError> {
        for _ in 0..100 {
            let info = self
                .inspect_container(id)
                .await?
                .ok_or_else(|| ApiError::internal(&std::io::Error::other("sandbox vanished")))?;
            let state = info.state.unwrap_or_default();
            if !state.running.unwrap_or(false) {
                return Ok((state.exit_code, state.oom_killed.unwrap_or(false)));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(ApiError::internal(&std::io::Error::other(
            "the sandbox did not stop after it was killed",
        )))
    }
}
