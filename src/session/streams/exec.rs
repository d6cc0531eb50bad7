//! `exec`: a command in a container, with stdin, resize, pause and cancel.

use std::sync::Arc;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::ResizeExecOptions;
use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{host_lost, owned_container, pump_output, Ending, Interrupted, Outcome, READ_CAPACITY};
use crate::docker::{Engine, EXEC_MARKER};
use crate::error::ApiError;
use crate::session::protocol::ExecRequest;
use crate::session::protocol::{self};
use crate::session::{SessionCtx, StreamParts};

/// How long the cleanup of a cancelled exec may take before it is given up (and logged).
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long berth waits for a host that stopped answering mid-exec to come back, so that it can
/// kill what the exec started.
const KILL_WHEN_BACK_WITHIN: Duration = Duration::from_secs(3600);

/// Runs a command in a container, with stdin, resize, pause and cancel, and kills everything it
/// started when the stream or the session ends.
pub(in crate::session) async fn exec(
    ctx: Arc<SessionCtx>,
    request: ExecRequest,
    mut parts: StreamParts,
) -> Outcome {
    let stream = request.stream;
    let (info, engine, docker) = owned_container(&ctx, &request.container).await?;
    let container = info.id.unwrap_or_default();
    if !info.state.and_then(|s| s.running).unwrap_or(false) {
        return Err(ApiError::conflict(format!(
            "container {} is not running",
            request.container
        )));
    }

    let marker = format!("{}-{}", ctx.id, stream);
    let mut env: Vec<String> = request
        .env
        .iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != EXEC_MARKER)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    env.push(format!("{EXEC_MARKER}={marker}"));
    if request.tty {
        env.push("TERM=xterm-256color".to_string());
    }
    let exec_id = docker
        .create_exec(
            &container,
            CreateExecOptions {
                cmd: Some(request.cmd.clone()),
                env: Some(env),
                working_dir: request.workdir.clone(),
                tty: Some(request.tty),
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await?
        .id;
    let started = if request.tty {
        engine.start_tty_exec(&exec_id, READ_CAPACITY).await
    } else {
        let options = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: Some(READ_CAPACITY),
        };
        match docker.start_exec(&exec_id, Some(options)).await {
            Ok(StartExecResults::Attached { output, input }) => Ok((output, input)),
            Ok(StartExecResults::Detached) => Err(ApiError::internal(&std::io::Error::other(
                "exec started detached",
            ))),
            Err(e) => Err(e.into()),
        }
    };
    let (mut output, input) = started?;
    tracing::info!(container = %container, exec = %exec_id, tty = request.tty, "exec started");
    ctx.send_text(protocol::started(stream)).await;

    // A TTY exec starts at 0x0; it can only be resized once started.
    let resize = |cols: u16, rows: u16| {
        let docker = docker.clone();
        let exec_id = exec_id.clone();
        tokio::spawn(async move {
            let options = ResizeExecOptions {
                w: cols.into(),
                h: rows.into(),
            };
            if let Err(e) = docker.resize_exec(&exec_id, options).await {
                tracing::debug!(error = %e, "resize failed");
            }
        })
    };
    if let (true, Some(cols), Some(rows)) = (request.tty, request.cols, request.rows) {
        let _ = resize(cols, rows).await;
    }

    let stdin = parts
        .stdin
        .take()
        .map(|rx| tokio::spawn(feed_stdin(rx, input, parts.cancel.clone())));
    let interrupted = pump_output(&ctx, stream, &engine, &mut output, &mut parts, resize).await;
    drop(output);
    parts.cancel.cancel(); // stops the stdin feeder
    if let Some(stdin) = stdin {
        let _ = stdin.await;
    }
    if interrupted == Some(Interrupted::HostLost) {
        tracing::warn!(container = %container, "the exec's host stopped answering");
        // What it started is killed once the host answers again: nothing outlives the stream.
        tokio::spawn(async move {
            if tokio::time::timeout(KILL_WHEN_BACK_WITHIN, engine.answering())
                .await
                .is_ok()
            {
                kill_leftovers(&engine, &container, &exec_id, &marker).await;
            }
        });
        return Err(host_lost());
    }
    let cancelled = interrupted.is_some();
    if cancelled {
        kill_leftovers(&engine, &container, &exec_id, &marker).await;
    }
    let code = exit_code(&docker, &exec_id).await;
    tracing::info!(?code, cancelled, "exec ended");
    if !cancelled {
        // What the process left running in the background goes with it, as when a terminal
        // closes; the exit is reported without waiting for that, but the session's close does.
        ctx.tracker.spawn(
            async move { kill_leftovers(&engine, &container, &exec_id, &marker).await }
                .in_current_span(),
        );
    }
    Ok(Ending::Exit(code))
}

async fn kill_leftovers(engine: &Engine, container: &str, exec_id: &str, marker: &str) {
    let kill = engine.kill_exec_processes(container, exec_id, marker);
    match tokio::time::timeout(KILL_TIMEOUT, kill).await {
        Ok(Ok(())) => tracing::debug!("exec processes killed"),
        Ok(Err(err)) => tracing::warn!(error = %err, "could not kill exec processes"),
        Err(_) => tracing::warn!("killing exec processes timed out"),
    }
}

/// Copies client input to the process; closing the channel (`eof`) half-closes its stdin.
async fn feed_stdin(
    mut rx: mpsc::Receiver<Bytes>,
    mut input: std::pin::Pin<Box<dyn AsyncWrite + Send>>,
    cancel: CancellationToken,
) {
    loop {
        let chunk = tokio::select! {
            _ = cancel.cancelled() => return,
            chunk = rx.recv() => chunk,
        };
        let Some(chunk) = chunk else {
            let _ = input.shutdown().await;
            return;
        };
        let written = tokio::select! {
            _ = cancel.cancelled() => return,
            written = input.write_all(&chunk) => written,
        };
        if written.is_err() || input.flush().await.is_err() {
            return;
        }
    }
}

/// The exit code once Docker has noticed the process ended (it may lag the output's end).
async fn exit_code(docker: &bollard::Docker, exec_id: &str) -> Option<i64> {
    for _ in 0..40 {
        match docker.inspect_exec(exec_id).await {
            Ok(info) if info.running != Some(true) => return info.exit_code,
            Ok(_) => tokio::time::sleep(Duration::from_millis(25)).await,
            Err(_) => return None,
        }
    }
    None
}
