//! Processes run in containers through the engine's exec API: created, started attached (a TTY
//! one byte for byte, see [`super::tty`]), resized, and their exit code read.

use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::ResizeExecOptions;

use super::tty::{TtyInput, TtyOutput};
use super::Engine;
use crate::error::ApiError;

/// A process to start in a container.
pub struct ExecSpec {
    pub cmd: Vec<String>,
    /// `NAME=value` entries.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub tty: bool,
}

impl Engine {
    /// Creates the exec in `container` (not started yet); its id.
    pub async fn create_exec(&self, container: &str, spec: ExecSpec) -> Result<String, ApiError> {
        let options = CreateExecOptions {
            cmd: Some(spec.cmd),
            env: Some(spec.env),
            working_dir: spec.workdir,
            user: spec.user,
            tty: Some(spec.tty),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        Ok(self
            .client()
            .await?
            .create_exec(container, options)
            .await?
            .id)
    }

    /// Starts an exec attached: its output (read `read_capacity` bytes at a time) and its stdin.
    pub async fn start_exec(
        &self,
        exec_id: &str,
        tty: bool,
        read_capacity: usize,
    ) -> Result<(TtyOutput, TtyInput), ApiError> {
        if tty {
            return self.start_tty_exec(exec_id, read_capacity).await;
        }
        let options = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: Some(read_capacity),
        };
        match self
            .client()
            .await?
            .start_exec(exec_id, Some(options))
            .await?
        {
            StartExecResults::Attached { output, input } => Ok((output, input)),
            StartExecResults::Detached => Err(ApiError::internal(&std::io::Error::other(
                "exec started detached",
            ))),
        }
    }

    /// Sets a TTY exec's size (only once it has started).
    pub async fn resize_exec(&self, exec_id: &str, cols: u16, rows: u16) -> Result<(), ApiError> {
        let options = ResizeExecOptions {
            w: cols.into(),
            h: rows.into(),
        };
        Ok(self.client().await?.resize_exec(exec_id, options).await?)
    }

    /// The exit code once the engine has noticed the process ended (it may lag the output's
    /// end by a little); None when it does not say within a second.
    pub async fn exec_exit_code(&self, exec_id: &str) -> Option<i64> {
        let docker = self.client().await.ok()?;
        for _ in 0..40 {
            match docker.inspect_exec(exec_id).await {
                Ok(info) if info.running != Some(true) => return info.exit_code,
                Ok(_) => tokio::time::sleep(Duration::from_millis(25)).await,
                Err(_) => return None,
            }
        }
        None
    }

    /// Runs `cmd` in a running container as `user`, with `input` as its stdin (closed at its
    /// end); the exit code and what it printed, given at most `within`.
    pub async fn run_with_input(
        &self,
        container: &str,
        cmd: Vec<String>,
        user: &str,
        input: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send,
        within: Duration,
    ) -> Result<(i64, String), ApiError> {
        use futures_util::StreamExt;
        use tokio::io::AsyncWriteExt;
        let docker = self.client().await?;
        let run = async {
            let exec = docker
                .create_exec(container, quiet_exec(cmd, user, true))
                .await?;
            let StartExecResults::Attached {
                mut output,
                input: mut stdin,
            } = docker.start_exec(&exec.id, None).await?
            else {
                return Err(ApiError::internal(&std::io::Error::other(
                    "exec started detached",
                )));
            };
            let feed = async {
                let mut input = std::pin::pin!(input);
                while let Some(chunk) = input.next().await {
                    stdin.write_all(&chunk?).await?;
                }
                stdin.shutdown().await
            };
            let mut printed = Vec::new();
            let read = async {
                while let Some(Ok(chunk)) = output.next().await {
                    printed.extend_from_slice(&chunk.into_bytes());
                }
            };
            let (fed, ()) = tokio::join!(feed, read);
            fed.map_err(|e| ApiError::internal(&e))?;
            let code = docker.inspect_exec(&exec.id).await?.exit_code.unwrap_or(-1);
            Ok((code, String::from_utf8_lossy(&printed).into_owned()))
        };
        tokio::time::timeout(within, run)
            .await
            .unwrap_or_else(|_| Err(did_not_finish()))
    }

    /// Runs `cmd` in a running container as `user` and streams what it writes to stdout; a
    /// failure (a nonzero exit, with what it wrote to stderr) before any output is returned as
    /// an error, one later ends the stream with an error.
    pub async fn run_streaming(
        &self,
        container: &str,
        cmd: Vec<String>,
        user: &str,
    ) -> Result<
        impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + use<>,
        ApiError,
    > {
        use bollard::container::LogOutput;
        use futures_util::StreamExt;
        let docker = self.client().await?;
        let exec = docker
            .create_exec(container, quiet_exec(cmd, user, false))
            .await?;
        let StartExecResults::Attached { output, .. } = docker.start_exec(&exec.id, None).await?
        else {
            return Err(ApiError::internal(&std::io::Error::other(
                "exec started detached",
            )));
        };
        let mut output = output.boxed();
        let mut complaint = Vec::new();
        // Up to the first bytes of stdout: a command that fails at once is an answer, not a
        // broken stream.
        let first = loop {
            match output.next().await {
                Some(Ok(LogOutput::StdOut { message })) => break Some(message),
                Some(Ok(LogOutput::StdErr { message })) => complaint.extend_from_slice(&message),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => break None,
            }
        };
        if first.is_none() {
            let code = docker.inspect_exec(&exec.id).await?.exit_code.unwrap_or(-1);
            if code != 0 {
                return Err(ApiError::bad_request(format!(
                    "the workspace refused: {}",
                    String::from_utf8_lossy(&complaint).trim()
                )));
            }
        }
        let rest = output.filter_map(|item| async move {
            match item {
                Ok(LogOutput::StdOut { message }) => Some(Ok(message)),
                Ok(_) => None,
                Err(e) => Some(Err(std::io::Error::other(e))),
            }
        });
        let id = exec.id;
        // After the output, the exit code: a command that failed midway breaks the stream.
        let verdict = futures_util::stream::once(async move {
            match docker.inspect_exec(&id).await.map(|i| i.exit_code) {
                Ok(Some(0)) => None,
                _ => Some(Err(std::io::Error::other(
                    "the command in the workspace failed",
                ))),
            }
        })
        .filter_map(|v| async move { v });
        Ok(futures_util::stream::iter(first.map(Ok))
            .chain(rest)
            .chain(verdict))
    }
}

/// An exec attached to its output (and stdin when asked), without a TTY.
fn quiet_exec(cmd: Vec<String>, user: &str, stdin: bool) -> CreateExecOptions<String> {
    CreateExecOptions {
        cmd: Some(cmd),
        attach_stdin: Some(stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        user: Some(user.to_string()),
        ..Default::default()
    }
}

fn did_not_finish() -> ApiError {
    ApiError::new(
        crate::error::ErrorCode::Unavailable,
        "the command in the container did not finish in time",
    )
}
