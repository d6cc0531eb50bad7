//! `exec` and `run`: a process in a container or a workspace, with stdin, resize, pause and
//! cancel; a `run` also with a time and an output limit.

use std::sync::Arc;
use std::time::Duration;

use crate::session::protocol::ServerMessage;
use crate::session::stdin::StdinReceiver;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    engine_went_away, find, host_lost, output_failed, pump_output, Ending, Found, Interrupted,
    Limits, Outcome, Use, READ_CAPACITY,
};
use crate::docker::exec::ExecSpec;
use crate::docker::{Engine, EXEC_MARKER};
use crate::error::ApiError;
use crate::replicas::ExecRecord;
use crate::session::protocol::{self, ExecRequest, RunRequest, StreamId};
use crate::session::{SessionCtx, StreamParts};
use crate::workspace_path::{WorkspacePath, ROOT};
use crate::workspaces::files::UID;
use crate::workspaces::{jobs, run};

/// How long the cleanup of a cancelled exec may take before it is given up (and logged).
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long berth waits for a host that stopped answering mid-exec to come back, so that it can
/// kill what the exec started.
const KILL_WHEN_BACK_WITHIN: Duration = Duration::from_secs(3600);

/// What to start, and how.
struct Process {
    cmd: Vec<String>,
    env: Vec<(String, String)>,
    workdir: Option<String>,
    /// `uid:gid`, or the image's user when None.
    user: Option<String>,
    tty: bool,
    size: Option<(u16, u16)>,
}

/// How a process ended.
struct Ended {
    code: Option<i64>,
    /// What stopped it, when it did not end by itself.
    interrupted: Option<Interrupted>,
}

/// Runs a command in a container, or in a workspace (as the workspace's user, in /workspace,
/// started first if it was stopped), with stdin, resize, pause and cancel; kills everything it
/// started when the stream or the session ends.
pub(in crate::session) async fn exec(
    ctx: Arc<SessionCtx>,
    request: ExecRequest,
    parts: StreamParts,
) -> Outcome {
    let target = protocol::target(&request.container, &request.workspace)?;
    let found = find(&ctx, &target, Use::Run).await?;
    let in_workspace = found.workspace.is_some();
    let mut env: Vec<(String, String)> = request.env.into_iter().flatten().collect();
    if in_workspace && !env.iter().any(|(k, _)| k == "HOME") {
        env.push(("HOME".into(), ROOT.into()));
    }
    let process = Process {
        cmd: request.cmd,
        env,
        workdir: request
            .workdir
            .or_else(|| in_workspace.then(|| ROOT.to_string())),
        user: in_workspace.then(|| format!("{UID}:{UID}")),
        tty: request.tty,
        size: request.cols.zip(request.rows),
    };
    let limits = match (&found.workspace, request.detach) {
        (Some(workspace), true) => {
            let template = ctx.state.workspaces.template(&workspace.opened).await?;
            job_limits(&template, None, None)
        }
        _ => Limits::default(),
    };
    let ended = start(&ctx, request.stream, &found, process, limits, parts, "exec").await?;
    Ok(Ending::Exit(ended.code))
}

/// Runs a workspace's file with its template's command for that kind of file, as the
/// workspace's user, until it ends or reaches its time or output limit (the settings' defaults,
/// at most their maxima). The exit says why berth killed it, if it did.
pub(in crate::session) async fn run(
    ctx: Arc<SessionCtx>,
    request: RunRequest,
    parts: StreamParts,
) -> Outcome {
    let path = WorkspacePath::parse(&request.path)?;
    // A job's limits are the template's; a run's are checked before anything starts.
    let run_limits = match request.detach {
        true => None,
        false => Some(run::limits(
            request.time_limit_s,
            request.output_limit_kb,
            ctx.state.workspaces.settings(),
        )?),
    };
    let found = find(
        &ctx,
        &protocol::Target::Workspace(request.workspace.clone()),
        Use::Run,
    )
    .await?;
    let workspace = found
        .workspace
        .as_ref()
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("run without a workspace")))?;
    let template = ctx.state.workspaces.template(&workspace.opened).await?;
    let plan = run::plan(&template, &path, request.args)?;
    let process = Process {
        cmd: plan.cmd,
        env: plan.env,
        workdir: Some(plan.workdir),
        user: Some(plan.user),
        tty: false,
        size: None,
    };
    let limits = match run_limits {
        Some(run_limits) => Limits {
            deadline: Some(tokio::time::Instant::now() + run_limits.time),
            output_bytes: Some(run_limits.output_bytes),
        },
        None => job_limits(&template, request.time_limit_s, request.output_limit_kb),
    };
    let ooms_before = found.engine.oom_kills(&found.info);
    let began = std::time::Instant::now();
    let ended = start(&ctx, request.stream, &found, process, limits, parts, "run").await?;
    let oom_killed = match (ooms_before, found.engine.oom_kills(&found.info)) {
        (Some(before), Some(after)) => after > before,
        _ => true,
    };
    // (An exec whose host was lost, or whose output broke off, ended in an error already.)
    let stopped = ended.interrupted.and_then(|why| match why {
        Interrupted::TimeLimit => Some(run::Stopped::TimeLimit),
        Interrupted::OutputLimit => Some(run::Stopped::OutputLimit),
        Interrupted::Cancelled => Some(run::Stopped::Cancelled),
        Interrupted::HostLost | Interrupted::OutputFailed => None,
    });
    Ok(Ending::Ran {
        code: ended.code,
        duration_ms: began.elapsed().as_millis() as u64,
        killed: run::why_killed(stopped, ended.code, oom_killed),
    })
}

/// What a background job may use: the template's `job_max_s` (or less, when asked), and an
/// output limit only when asked.
fn job_limits(
    template: &crate::templates::Template,
    time_limit_s: Option<u64>,
    output_limit_kb: Option<u64>,
) -> Limits {
    let most = template.spec.job_max_s.unwrap_or(jobs::DEFAULT_JOB_MAX_S);
    let time = time_limit_s.map_or(most, |asked| asked.min(most));
    Limits {
        deadline: Some(tokio::time::Instant::now() + Duration::from_secs(time)),
        output_bytes: output_limit_kb.map(|kb| kb.saturating_mul(1024)),
    }
}

/// Starts `process` in the found container and relays it until it ends, is stopped or
/// reaches a limit; then kills everything it started. A stream with `detach` is recorded as a
/// background job from before it starts until it ended.
async fn start(
    ctx: &SessionCtx,
    stream: StreamId,
    found: &Found,
    process: Process,
    limits: Limits,
    parts: StreamParts,
    kind: &'static str,
) -> Result<Ended, ApiError> {
    let running = found.info.state.as_ref().and_then(|s| s.running);
    if running != Some(true) {
        return Err(ApiError::conflict(format!(
            "container {} is not running",
            found.name
        )));
    }
    let workspace = found.workspace.as_ref().map(|w| w.opened.row.id.clone());
    let entry = ctx
        .audit("exec.start")
        .target(found.name.as_str())
        .detail("kind", kind)
        .detail("command", process.cmd.clone())
        .detail("tty", process.tty)
        .detail("workspace", workspace)
        .detail("background", parts.detach);
    ctx.state.audit.record(entry).await;
    let job = match (&found.workspace, parts.detach) {
        (Some(workspace), true) => {
            let quota = ctx.state.settings.quotas.for_user(ctx.user.is_staff());
            let id = jobs::begin(
                &ctx.state.db,
                ctx.state.replicas.id(),
                &ctx.user,
                &workspace.opened.row.id,
                kind,
                &process.cmd,
                process.tty,
                quota.jobs,
            )
            .await?;
            ctx.jobs.add(
                &id,
                &ctx.user.id,
                &workspace.opened.row.id,
                parts.out.clone(),
                parts.cancel.clone(),
            );
            parts
                .out
                .send(ServerMessage::Job {
                    stream,
                    job: id.clone(),
                })
                .await;
            Some(id)
        }
        _ => None,
    };
    let ended = relay(ctx, stream, found, process, limits, parts, kind).await;
    if let Some(job) = job {
        jobs::end(&ctx.state.db, &job, &job_end(&ended)).await;
        ctx.jobs.ended(&job);
    }
    ended
}

/// How a job ended, by how its process did.
fn job_end(ended: &Result<Ended, ApiError>) -> jobs::JobEnd {
    match ended {
        Ok(Ended {
            code,
            interrupted: None,
        }) => jobs::JobEnd::Exited(*code),
        Ok(Ended {
            code,
            interrupted: Some(why),
        }) => jobs::JobEnd::Killed {
            code: *code,
            why: match why {
                Interrupted::TimeLimit => "timeout",
                Interrupted::OutputLimit => "output",
                _ => "cancelled",
            },
        },
        Err(err) => jobs::JobEnd::Failed(err.message.clone()),
    }
}

/// Relays a started `process` (see `start`).
async fn relay(
    ctx: &SessionCtx,
    stream: StreamId,
    found: &Found,
    process: Process,
    limits: Limits,
    mut parts: StreamParts,
    kind: &'static str,
) -> Result<Ended, ApiError> {
    let engine = found.engine.clone();
    let container = found.info.id.clone().unwrap_or_default();
    // One marker per exec, never per stream id: a client may reuse an id at once, while what the
    // last exec under it left is still being killed by its marker (and its record dropped).
    static EXECS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = EXECS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let marker = format!("{}-{}-{}", ctx.id, stream, seq);
    let asked = std::time::Instant::now();
    let exec_id = engine
        .create_exec(&container, exec_spec(&process, &marker))
        .await?;
    // Recorded before it starts, so that if this replica dies the others kill what it ran.
    let record = ctx
        .state
        .replicas
        .exec_started(&found.host, &container, &exec_id, &marker)
        .await?;
    let started = Started {
        engine,
        container,
        exec_id,
        marker,
        record,
    };
    let (mut output, input) = started
        .engine
        .start_exec(&started.exec_id, process.tty, READ_CAPACITY)
        .await?;
    crate::metrics::metrics()
        .exec_start
        .observe(asked.elapsed().as_secs_f64());
    tracing::info!(container = %started.container, exec = %started.exec_id, tty = process.tty, "exec started");
    parts.out.send(ServerMessage::Started { stream }).await;
    // Listed for the workspace's teacher to watch, while it runs.
    let _source = match &found.workspace {
        Some(w) => Some(
            ctx.shares
                .add_source(&w.opened.row.id, kind, parts.out.clone())
                .await,
        ),
        None => None,
    };

    // A TTY exec starts at 0x0; it can only be resized once started.
    let resize = |cols: u16, rows: u16| {
        let engine = started.engine.clone();
        let exec_id = started.exec_id.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.resize_exec(&exec_id, cols, rows).await {
                tracing::debug!(error = %e.message, "resize failed");
            }
        })
    };
    if let (true, Some((cols, rows))) = (process.tty, process.size) {
        let _ = resize(cols, rows).await;
    }

    let stdin = parts
        .stdin
        .take()
        .map(|rx| tokio::spawn(feed_stdin(rx, input, parts.cancel.clone())));
    let interrupted = pump_output(&started.engine, &mut output, &mut parts, limits, resize).await;
    drop(output);
    parts.cancel.cancel(); // stops the stdin feeder
    if let Some(stdin) = stdin {
        let _ = stdin.await;
    }
    started.finish(ctx, interrupted).await
}

/// The engine's exec for `process`, carrying `marker` so that what it starts can be found.
fn exec_spec(process: &Process, marker: &str) -> ExecSpec {
    let mut env: Vec<String> = process
        .env
        .iter()
        .filter(|(k, _)| k.as_str() != EXEC_MARKER)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    env.push(format!("{EXEC_MARKER}={marker}"));
    if process.tty {
        env.push("TERM=xterm-256color".to_string());
    }
    ExecSpec {
        cmd: process.cmd.clone(),
        env,
        workdir: process.workdir.clone(),
        user: process.user.clone(),
        tty: process.tty,
    }
}

/// An exec the engine has started, and how to find what it started.
struct Started {
    engine: Arc<Engine>,
    container: String,
    exec_id: String,
    marker: String,
    /// Kept until what the exec started is killed.
    record: ExecRecord,
}

impl Started {
    /// Once the output ended (or was `interrupted`): the exit status, and nothing the exec
    /// started left running.
    async fn finish(
        self,
        ctx: &SessionCtx,
        interrupted: Option<Interrupted>,
    ) -> Result<Ended, ApiError> {
        let Started {
            engine,
            container,
            exec_id,
            marker,
            record,
        } = self;
        let mut code = match interrupted {
            None => engine.exec_exit_code(&exec_id).await,
            Some(_) => None,
        };
        // Output that ended (or broke off) with no exit status to show for it: the engine may
        // have gone away.
        let suspect = matches!(interrupted, None | Some(Interrupted::OutputFailed));
        let went_away = suspect && code.is_none() && engine_went_away(&engine).await;
        if interrupted == Some(Interrupted::HostLost) || went_away {
            tracing::warn!(container = %container, "the exec's host stopped answering");
            // What it started is killed once the host answers again: nothing outlives the stream.
            tokio::spawn(async move {
                if tokio::time::timeout(KILL_WHEN_BACK_WITHIN, engine.answering())
                    .await
                    .is_ok()
                {
                    kill_leftovers(&engine, &container, &exec_id, &marker).await;
                }
                drop(record);
            });
            return Err(host_lost());
        }
        let stopped = interrupted.is_some();
        if stopped {
            kill_leftovers(&engine, &container, &exec_id, &marker).await;
            code = engine.exec_exit_code(&exec_id).await;
        }
        if interrupted == Some(Interrupted::OutputFailed) {
            return Err(output_failed());
        }
        tracing::info!(?code, ?interrupted, "exec ended");
        if !stopped {
            // What the process left running in the background goes with it, as when a terminal
            // closes; the exit is reported without waiting for that, but the session's close does.
            ctx.tracker.spawn(
                async move {
                    kill_leftovers(&engine, &container, &exec_id, &marker).await;
                    drop(record);
                }
                .in_current_span(),
            );
        }
        Ok(Ended { code, interrupted })
    }
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
    mut rx: StdinReceiver,
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
            written = input.write_all(&chunk.bytes) => written,
        };
        if written.is_err() || input.flush().await.is_err() {
            return;
        }
    }
}
