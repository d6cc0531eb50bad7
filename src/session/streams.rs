//! The streams a session runs: exec, logs and stats. Each ends on its own token (a child of the
//! session's), releases its id, then says `exit` or `end`.

use std::sync::Arc;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::ImageId;
use bollard::query_parameters::{
    BuildImageOptions, LogsOptions, ResizeExecOptions, StatsOptions, WaitContainerOptions,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::json;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::protocol::{
    self, BuildRequest, ExecRequest, LogsRequest, StreamId, TransferRequest, CHANNEL_STDERR,
    CHANNEL_STDOUT,
};
use super::{SessionCtx, StreamParts};
use crate::attendance::{self, code};
use crate::builds;
use crate::docker::EXEC_MARKER;
use crate::error::ApiError;
use crate::registries;

/// Largest chunk read from Docker at once; bigger output arrives as several frames.
const READ_CAPACITY: usize = 64 * 1024;

/// How long the cleanup of a cancelled exec may take before it is given up (and logged).
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// Reports a failure on the stream and releases its id.
async fn fail(ctx: &SessionCtx, stream: StreamId, err: ApiError) {
    ctx.finish_stream(stream);
    ctx.send_error(Some(stream.get()), &err).await;
}

/// Waits until the stream is not paused; false if it was cancelled meanwhile.
async fn wait_unpaused(paused: &mut watch::Receiver<bool>, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => false,
        r = paused.wait_for(|p| !*p) => r.is_ok(),
    }
}

/// Forwards Docker output to the client as binary frames until the output ends or the stream is
/// cancelled. Output is read only as fast as the client takes it, and not at all while paused.
/// Returns true when cancelled.
async fn pump_output<S>(
    ctx: &SessionCtx,
    stream: StreamId,
    output: &mut S,
    parts: &mut StreamParts,
    mut on_resize: impl FnMut(u16, u16) -> tokio::task::JoinHandle<()>,
) -> bool
where
    S: Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin,
{
    let cancel = parts.cancel.clone();
    loop {
        if !wait_unpaused(&mut parts.paused, &cancel).await {
            return true;
        }
        let resize = async {
            match parts.resize.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        let item = tokio::select! {
            biased;
            _ = cancel.cancelled() => return true,
            Some((cols, rows)) = resize => {
                on_resize(cols, rows);
                continue;
            }
            item = output.next() => item,
        };
        let (channel, message) = match item {
            Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                (CHANNEL_STDOUT, message)
            }
            Some(Ok(LogOutput::StdErr { message })) => (CHANNEL_STDERR, message),
            Some(Ok(LogOutput::StdIn { .. })) => continue,
            Some(Err(e)) => {
                tracing::info!(error = %crate::error::chain(&e), "output stream failed");
                return false;
            }
            None => return false,
        };
        let frame = protocol::binary_frame(stream, channel, &message);
        if !ctx.send_binary(frame, &cancel).await {
            return true;
        }
    }
}

/// Runs a command in a container, with stdin, resize, pause and cancel, and kills everything it
/// started when the stream or the session ends.
pub(super) async fn exec(ctx: Arc<SessionCtx>, request: ExecRequest, mut parts: StreamParts) {
    let stream = request.stream;
    let info = match ctx
        .engine
        .owned_container(&ctx.user, &request.container)
        .await
    {
        Ok(info) => info,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let container = info.id.unwrap_or_default();
    if !info.state.and_then(|s| s.running).unwrap_or(false) {
        let err = ApiError::conflict(format!("container {} is not running", request.container));
        return fail(&ctx, stream, err).await;
    }
    let docker = match ctx.engine.client().await {
        Ok(docker) => docker,
        Err(err) => return fail(&ctx, stream, err).await,
    };

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
    let created = docker
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
        .await;
    let exec_id = match created {
        Ok(created) => created.id,
        Err(e) => return fail(&ctx, stream, e.into()).await,
    };
    let started = if request.tty {
        ctx.engine.start_tty_exec(&exec_id, READ_CAPACITY).await
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
    let (mut output, input) = match started {
        Ok(attached) => attached,
        Err(err) => return fail(&ctx, stream, err).await,
    };
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
    let cancelled = pump_output(&ctx, stream, &mut output, &mut parts, resize).await;
    drop(output);
    parts.cancel.cancel(); // stops the stdin feeder
    if let Some(stdin) = stdin {
        let _ = stdin.await;
    }
    if cancelled {
        kill_leftovers(&ctx, &container, &marker).await;
    }
    let code = exit_code(&docker, &exec_id).await;
    tracing::info!(?code, cancelled, "exec ended");
    ctx.finish_stream(stream);
    if !ctx.cancel.is_cancelled() {
        ctx.send_text(protocol::exit(stream, code)).await;
    }
    // What the process left running in the background goes with it, as when a terminal closes.
    if !cancelled {
        kill_leftovers(&ctx, &container, &marker).await;
    }
}

async fn kill_leftovers(ctx: &SessionCtx, container: &str, marker: &str) {
    let kill = ctx.engine.kill_exec_processes(container, marker);
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

/// Streams a container's logs; with `follow`, until the container stops or the stream ends.
pub(super) async fn logs(ctx: Arc<SessionCtx>, request: LogsRequest, mut parts: StreamParts) {
    let stream = request.stream;
    let info = match ctx
        .engine
        .owned_container(&ctx.user, &request.container)
        .await
    {
        Ok(info) => info,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let docker = match ctx.engine.client().await {
        Ok(docker) => docker,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let since = match request.since.map(i32::try_from) {
        None => 0,
        Some(Ok(since)) if since >= 0 => since,
        _ => return fail(&ctx, stream, ApiError::bad_request("since is out of range")).await,
    };
    let options = LogsOptions {
        follow: request.follow,
        stdout: true,
        stderr: true,
        since,
        timestamps: request.timestamps,
        tail: request
            .tail
            .map_or_else(|| "all".to_string(), |n| n.to_string()),
        ..Default::default()
    };
    let id = info.id.unwrap_or_default();
    let no_resize = |_, _| tokio::spawn(async {});
    if info.config.and_then(|c| c.tty).unwrap_or(false) {
        // A TTY container's output has no frame headers: read it raw (see docker::tty).
        let query = format!(
            "stdout=1&stderr=1&follow={}&since={}&timestamps={}&tail={}",
            options.follow, options.since, options.timestamps, options.tail
        );
        let mut output = match ctx.engine.tty_logs(&id, &query).await {
            Ok(output) => output,
            Err(err) => return fail(&ctx, stream, err).await,
        };
        ctx.send_text(protocol::started(stream)).await;
        pump_output(&ctx, stream, &mut output, &mut parts, no_resize).await;
    } else {
        let mut output = docker.logs(&id, Some(options));
        ctx.send_text(protocol::started(stream)).await;
        pump_output(&ctx, stream, &mut output, &mut parts, no_resize).await;
    }
    ctx.finish_stream(stream);
    if !ctx.cancel.is_cancelled() {
        ctx.send_text(protocol::end(stream)).await;
    }
}

/// Sends a container's resource use about once a second until it stops or the stream ends.
pub(super) async fn stats(
    ctx: Arc<SessionCtx>,
    stream: StreamId,
    container: String,
    mut parts: StreamParts,
) {
    let info = match ctx.engine.owned_container(&ctx.user, &container).await {
        Ok(info) => info,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let docker = match ctx.engine.client().await {
        Ok(docker) => docker,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let options = StatsOptions {
        stream: true,
        one_shot: false,
    };
    let id = info.id.unwrap_or_default();
    let mut samples = docker.stats(&id, Some(options));
    // Docker goes on sending empty samples for a stopped container: its stop ends the stream.
    let wait = WaitContainerOptions {
        condition: "not-running".to_string(),
    };
    let mut stopped = docker.wait_container(&id, Some(wait));
    ctx.send_text(protocol::started(stream)).await;
    let cancel = parts.cancel.clone();
    loop {
        if !wait_unpaused(&mut parts.paused, &cancel).await {
            break;
        }
        let sample = tokio::select! {
            _ = cancel.cancelled() => break,
            _ = stopped.next() => break,
            sample = samples.next() => sample,
        };
        let Some(Ok(sample)) = sample else { break };
        if !ctx.send_text(stats_message(stream, &sample)).await {
            break;
        }
    }
    ctx.finish_stream(stream);
    if !ctx.cancel.is_cancelled() {
        ctx.send_text(protocol::end(stream)).await;
    }
}

/// The `stats` message, computed as `docker stats` does.
fn stats_message(stream: StreamId, s: &bollard::models::ContainerStatsResponse) -> String {
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
    json!({
        "type": "stats",
        "stream": stream,
        "cpu_percent": (cpu_percent * 100.0).round() / 100.0,
        "memory_bytes": memory_bytes,
        "memory_limit": memory.and_then(|m| m.limit).unwrap_or(0),
        "pids": s.pids_stats.as_ref().and_then(|p| p.current).unwrap_or(0),
        "net_rx_bytes": rx,
        "net_tx_bytes": tx,
    })
    .to_string()
}

/// A teacher's screen: the code of every step as it starts, and each check-in as it happens,
/// until the attendance session closes (`end`) or the stream or session ends. Nothing runs for
/// the attendance session itself; this stream's timer is the only one, and it dies with it.
pub(super) async fn attendance_watch(
    ctx: Arc<SessionCtx>,
    stream: StreamId,
    attendance_id: String,
    parts: StreamParts,
) {
    let session = match attendance::watchable_session(&ctx.db, &ctx.user, &attendance_id).await {
        Ok(session) => session,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let mut events = ctx.attendance.subscribe(&session.id);
    ctx.send_text(protocol::started(stream)).await;
    let cancel = parts.cancel.clone();
    let secret = session.secret.as_bytes();
    'steps: loop {
        let now = attendance::now_ms();
        if !session.is_open(now) {
            break;
        }
        let step = code::step(now, session.opens_at, session.period_ms());
        let step_end = code::step_end(step, session.opens_at, session.period_ms());
        let expires_at = attendance::rfc3339(step_end.min(session.closes_at));
        let message = protocol::attendance_code(stream, &code::code(secret, step), &expires_at);
        if !ctx.send_text(message).await {
            break;
        }
        let wait = (step_end.min(session.closes_at) - attendance::now_ms()).max(0) as u64;
        let next_step = tokio::time::sleep(Duration::from_millis(wait));
        tokio::pin!(next_step);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break 'steps,
                _ = &mut next_step => continue 'steps,
                event = events.recv() => match event {
                    Ok(attendance::Event::CheckIn { user_id, username, at_ms, count }) => {
                        let at = attendance::rfc3339(at_ms);
                        let message = protocol::attendance_checkin(stream, &user_id, &username, &at, count);
                        if !ctx.send_text(message).await {
                            break 'steps;
                        }
                    }
                    Ok(attendance::Event::Closed) | Err(broadcast::error::RecvError::Closed) => break 'steps,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "watcher fell behind on check-ins");
                    }
                },
            }
        }
    }
    drop(events);
    ctx.attendance.unsubscribed(&session.id);
    ctx.finish_stream(stream);
    if !ctx.cancel.is_cancelled() {
        ctx.send_text(protocol::end(stream)).await;
    }
}

/// Builds an uploaded context, streaming the log line by line as the engine writes it, then tags
/// the result (never taking a tag from another image unless `force`). Cancelling the stream or
/// ending the session drops the request, which makes the engine stop the build; `forcerm`
/// removes its intermediate containers.
pub(super) async fn build(ctx: Arc<SessionCtx>, request: BuildRequest, parts: StreamParts) {
    let stream = request.stream;
    if let Err(err) =
        builds::require_builder(&ctx.user).and_then(|_| crate::images::check_ref(&request.tag))
    {
        return fail(&ctx, stream, err).await;
    }
    let (repo, tag) = crate::images::split_tag(&request.tag);
    let path = match ctx.contexts.path_for(&ctx.user, &request.context) {
        Ok(path) => path,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let docker = match ctx.engine.client().await {
        Ok(docker) => docker,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) => return fail(&ctx, stream, ApiError::internal(&e)).await,
    };
    let options = BuildImageOptions {
        dockerfile: request
            .dockerfile
            .clone()
            .unwrap_or_else(|| "Dockerfile".into()),
        rm: true,
        forcerm: true,
        buildargs: request
            .build_args
            .clone()
            .map(|args| args.into_iter().collect()),
        labels: Some([("berth.built_by".to_string(), ctx.user.id.clone())].into()),
        ..Default::default()
    };
    let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(file));
    let mut progress = docker.build_image(options, None, Some(body));
    tracing::info!(tag = %request.tag, "build started");
    ctx.send_text(protocol::started(stream)).await;

    let mut image_id = None;
    let mut failure = None;
    loop {
        let item = tokio::select! {
            _ = parts.cancel.cancelled() => break,
            item = progress.next() => item,
        };
        match item {
            Some(Ok(info)) => {
                if let Some(ImageId { id: Some(id) }) = info.aux {
                    image_id = Some(id);
                }
                if let Some(error) = info.error {
                    failure = Some(ApiError::bad_request(error));
                }
                let text = info.stream.or(info.status).unwrap_or_default();
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    if !ctx.send_text(protocol::progress_log(stream, line)).await {
                        break;
                    }
                }
            }
            Some(Err(bollard::errors::Error::DockerStreamError { error })) => {
                failure = Some(ApiError::bad_request(error));
            }
            Some(Err(e)) => failure = Some(e.into()),
            None => break,
        }
    }
    // Dropping the request is what stops an unfinished build on the engine.
    drop(progress);
    if parts.cancel.is_cancelled() {
        tracing::info!("build cancelled");
        ctx.finish_stream(stream);
        if !ctx.cancel.is_cancelled() {
            ctx.send_text(protocol::built(stream, None)).await;
        }
        return;
    }
    let image_id = match (failure, image_id) {
        (Some(err), _) => return fail(&ctx, stream, err).await,
        (None, None) => {
            let err = ApiError::internal(&std::io::Error::other("build gave no image id"));
            return fail(&ctx, stream, err).await;
        }
        (None, Some(id)) => id,
    };
    if let Err(err) =
        crate::images::tag_safely(&ctx.engine, &image_id, repo, tag, request.force).await
    {
        // The refused build stays untagged; do not leave it behind.
        let _ = docker
            .remove_image(
                &image_id,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await;
        return fail(&ctx, stream, err).await;
    }
    tracing::info!(image = %image_id, "build done");
    ctx.finish_stream(stream);
    ctx.send_text(protocol::built(stream, Some(&image_id)))
        .await;
}

/// Pulls an image, with the stored credentials of its registry, reporting the engine's progress
/// layer by layer. Cancelling drops the request, which stops the pull.
pub(super) async fn pull(ctx: Arc<SessionCtx>, request: TransferRequest, parts: StreamParts) {
    let stream = request.stream;
    let prepared = async {
        crate::docker::check_host(request.host.as_deref())?;
        crate::images::check_ref(&request.image)?;
        let registry = registries::for_image(
            &ctx.db,
            &ctx.user,
            &request.image,
            request.registry.as_deref(),
        )
        .await?;
        let credentials = registry.map(|r| r.credentials(&ctx.secrets)).transpose()?;
        Ok::<_, ApiError>((ctx.engine.client().await?, credentials))
    };
    let (docker, credentials) = match prepared.await {
        Ok(prepared) => prepared,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let progress = crate::images::pull(&docker, &request.image, credentials);
    ctx.send_text(protocol::started(stream)).await;
    tracing::info!(image = %request.image, "pull started");
    transfer(
        &ctx,
        stream,
        progress.map(|i| i.map(Transfer::from)),
        &parts,
    )
    .await;
}

/// Pushes an image to a stored registry, tagging it under the registry's host first when its
/// name does not start with it.
pub(super) async fn push(ctx: Arc<SessionCtx>, request: TransferRequest, parts: StreamParts) {
    let stream = request.stream;
    let prepared = async {
        crate::docker::check_host(request.host.as_deref())?;
        builds::require_builder(&ctx.user)?;
        crate::images::check_ref(&request.image)?;
        let named = request
            .registry
            .as_deref()
            .ok_or_else(|| ApiError::bad_request("push needs a registry"))?;
        let registry = registries::for_image(&ctx.db, &ctx.user, &request.image, Some(named))
            .await?
            .ok_or_else(|| ApiError::not_found("no such registry"))?;
        let credentials = registry.credentials(&ctx.secrets)?;
        let docker = ctx.engine.client().await?;
        let target = if registries::image_host(&request.image) == Some(registry.host()) {
            request.image.clone()
        } else {
            format!("{}/{}", registry.host(), request.image)
        };
        if target != request.image {
            let image = docker.inspect_image(&request.image).await?;
            let (repo, tag) = crate::images::split_tag(&target);
            crate::images::tag_safely(&ctx.engine, &image.id.unwrap_or_default(), repo, tag, false)
                .await?;
        }
        Ok::<_, ApiError>((docker, credentials, target))
    };
    let (docker, credentials, target) = match prepared.await {
        Ok(prepared) => prepared,
        Err(err) => return fail(&ctx, stream, err).await,
    };
    let (repo, tag) = crate::images::split_tag(&target);
    let options = bollard::query_parameters::PushImageOptions {
        tag: Some(tag.to_string()),
        ..Default::default()
    };
    let progress = docker.push_image(repo, Some(options), Some(credentials));
    ctx.send_text(protocol::started(stream)).await;
    tracing::info!(image = %target, "push started");
    transfer(
        &ctx,
        stream,
        progress.map(|i| i.map(Transfer::from)),
        &parts,
    )
    .await;
}

/// One progress report of a pull or push.
struct Transfer {
    id: Option<String>,
    status: Option<String>,
    error: Option<String>,
    current: Option<i64>,
    total: Option<i64>,
}

impl From<bollard::models::CreateImageInfo> for Transfer {
    fn from(i: bollard::models::CreateImageInfo) -> Self {
        let detail = i.progress_detail.unwrap_or_default();
        Transfer {
            id: i.id,
            status: i.status,
            error: i.error,
            current: detail.current,
            total: detail.total,
        }
    }
}

impl From<bollard::models::PushImageInfo> for Transfer {
    fn from(i: bollard::models::PushImageInfo) -> Self {
        let detail = i.progress_detail.unwrap_or_default();
        Transfer {
            id: None,
            status: i.status,
            error: i.error,
            current: detail.current,
            total: detail.total,
        }
    }
}

async fn transfer<S>(ctx: &SessionCtx, stream: StreamId, progress: S, parts: &StreamParts)
where
    S: Stream<Item = Result<Transfer, bollard::errors::Error>>,
{
    let mut progress = Box::pin(progress);
    let mut failure = None;
    loop {
        let item = tokio::select! {
            _ = parts.cancel.cancelled() => break,
            item = progress.next() => item,
        };
        match item {
            Some(Ok(t)) => {
                if let Some(error) = t.error {
                    failure = Some(ApiError::bad_request(error));
                    continue;
                }
                let message = protocol::transfer_progress(
                    stream,
                    t.id.as_deref(),
                    t.status.as_deref(),
                    t.current,
                    t.total,
                );
                if !ctx.send_text(message).await {
                    break;
                }
            }
            Some(Err(e)) => failure = Some(crate::images::transfer_error(e)),
            None => break,
        }
    }
    drop(progress); // an unfinished transfer stops with its request
    if let Some(err) = failure {
        return fail(ctx, stream, err).await;
    }
    ctx.finish_stream(stream);
    if !ctx.cancel.is_cancelled() {
        ctx.send_text(protocol::end(stream)).await;
    }
}
