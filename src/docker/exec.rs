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
}
