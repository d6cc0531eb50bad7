//! The command task: every frame from the client lands here, and becomes a stream started, a
//! stream steered (stdin, resize, pause, cancel), or an answer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix_ws::AggregatedMessage;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use super::protocol::{self, ClientMessage, StreamId};
use super::{streams, Control, Flow, SessionCtx, StreamHandle, StreamParts};
use crate::attendance;
use crate::error::{ApiError, ErrorCode};
use crate::session::protocol::ServerMessage;

/// The command task: every frame from the client lands here.
pub(super) async fn read_loop(
    ctx: &Arc<SessionCtx>,
    mut messages: actix_ws::AggregatedMessageStream,
    started: Instant,
    last_seen: &AtomicU64,
    control: &mpsc::Sender<Control>,
) {
    loop {
        let message = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            message = messages.next() => message,
        };
        let Some(message) = message else { return };
        last_seen.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        match message {
            Ok(AggregatedMessage::Text(text)) => {
                if text.len() > ctx.settings.max_frame_bytes {
                    ctx.send_error(None, &too_large(ctx)).await;
                    continue;
                }
                if super::relay::pass_text(ctx, &text).await {
                    continue;
                }
                match protocol::parse(&text) {
                    Ok(command) => handle_command(ctx, command).await,
                    Err((stream, err)) => ctx.send_error(stream, &err).await,
                }
            }
            Ok(AggregatedMessage::Binary(frame)) => {
                if !super::relay::pass_binary(ctx, &frame).await {
                    handle_input(ctx, frame).await;
                }
            }
            Ok(AggregatedMessage::Ping(payload)) => {
                let _ = control.try_send(Control::Pong(payload));
            }
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Close(_)) => return,
            Err(actix_ws::ProtocolError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                ctx.send_error(
                    None,
                    &ApiError::bad_request("text frame is not valid UTF-8"),
                )
                .await;
            }
            Err(e) => {
                // The frame could not be read past: the connection cannot go on.
                tracing::info!(error = %e, "protocol error; closing");
                return;
            }
        }
    }
}

fn too_large(ctx: &SessionCtx) -> ApiError {
    ApiError::bad_request(format!(
        "frame larger than {} bytes",
        ctx.settings.max_frame_bytes
    ))
}

/// Binary frames are stdin for an exec stream: `[stream, 0, bytes...]`.
async fn handle_input(ctx: &Arc<SessionCtx>, frame: Bytes) {
    if frame.len() > ctx.settings.max_frame_bytes + 2 {
        ctx.send_error(frame.first().copied(), &too_large(ctx))
            .await;
        return;
    }
    if frame.len() < 2 {
        let err = ApiError::bad_request("binary frame needs a stream byte and a channel byte");
        ctx.send_error(None, &err).await;
        return;
    }
    let (stream, channel) = (frame[0], frame[1]);
    if channel != protocol::CHANNEL_STDIN {
        let err = ApiError::bad_request("clients may only send on channel 0 (stdin)");
        ctx.send_error(Some(stream), &err).await;
        return;
    }
    let stdin = {
        let streams = ctx.streams.lock().expect("streams lock");
        streams.get(&stream).map(|s| {
            // Ctrl-C typed into a terminal (a TTY, with a window): see `Flow::interrupted`.
            if s.resize.is_some() && !s.watching && frame[2..].contains(&0x03) {
                s.flow.send_modify(Flow::interrupted);
            }
            (s.watching, s.stdin.clone())
        })
    };
    let result = match stdin {
        None => Err(ApiError::not_found("no such stream")),
        Some((true, _)) => Err(ApiError::forbidden("a watched terminal takes no input")),
        Some((false, None)) => Err(ApiError::bad_request(
            "this stream takes no input (or its stdin was closed)",
        )),
        Some((false, Some(tx))) => tx.try_send(frame.slice(2..)),
    };
    if let Err(err) = result {
        ctx.send_error(Some(stream), &err).await;
    }
}

async fn handle_command(ctx: &Arc<SessionCtx>, command: ClientMessage) {
    match command {
        ClientMessage::Ping { t } => {
            ctx.send(ServerMessage::Pong { t }).await;
        }
        ClientMessage::AttendanceCheckin { attendance, code } => {
            check_in(ctx, &attendance, &code).await;
        }
        ClientMessage::Reattach { token, received } => {
            // Parked on another replica: the request goes there (see `relay`).
            if let Some(address) = ctx.resumes.elsewhere(&token, &ctx.user.id).await {
                let request = serde_json::json!({
                    "type": "reattach", "token": token, "received": received,
                });
                return super::relay::open(ctx, address, request, None);
            }
            let holder: Arc<dyn super::resume::Holder> = ctx.clone();
            if let Err(err) = ctx.resumes.reattach(holder, &token, &received).await {
                ctx.send_error(None, &err).await;
            }
        }
        ClientMessage::Share { stream, course } => match share(ctx, stream, &course).await {
            Ok(share) => {
                ctx.send(ServerMessage::Shared { stream, share }).await;
            }
            Err(err) => ctx.send_error(Some(stream.get()), &err).await,
        },
        ClientMessage::Unshare { stream } => {
            match with_stream(ctx, stream, |s| Ok(s.out.clone())) {
                Ok(out) => {
                    out.unshare().await;
                    ctx.shares.remove_stream(&out).await;
                }
                Err(err) => ctx.send_error(Some(stream.get()), &err).await,
            }
        }
        ClientMessage::Attach { stream, job } => {
            if let Err(err) = attach(ctx, stream, &job).await {
                ctx.send_error(Some(stream.get()), &err).await;
            }
        }
        ClientMessage::Detach { stream } => {
            if let Err(err) = detach(ctx, stream).await {
                ctx.send_error(Some(stream.get()), &err).await;
            }
        }
        ClientMessage::Bye => {
            ctx.bye.store(true, Ordering::Relaxed);
            ctx.cancel.cancel();
        }
        ClientMessage::Resize { .. }
        | ClientMessage::Eof { .. }
        | ClientMessage::Cancel { .. }
        | ClientMessage::Pause { .. }
        | ClientMessage::Resume { .. }
        | ClientMessage::Ack { .. } => steer(ctx, command).await,
        starting => start(ctx, starting).await,
    }
}

/// The replica running what a watch names, when it is another one: its address.
async fn watched_elsewhere(ctx: &SessionCtx, what: &streams::share::Watching) -> Option<String> {
    use crate::replicas::held::Place;
    let place = match what {
        streams::share::Watching::Share(share) => {
            if ctx.shares.find(share).is_some() {
                return None;
            }
            ctx.state.replicas.share_place(share).await
        }
        streams::share::Watching::Source { workspace, source } => {
            if ctx.shares.source(workspace, source).is_some() {
                return None;
            }
            ctx.state.replicas.source_place(workspace, source).await
        }
    };
    match place {
        Ok(Place::Replica(address)) => Some(address),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e.message, "could not look for a watched stream elsewhere");
            None
        }
    }
}

/// Shares a TTY stream of the session with a course its user teaches; the share's id.
async fn share(ctx: &SessionCtx, stream: StreamId, course: &str) -> Result<String, ApiError> {
    let course = crate::courses::taught(&ctx.state.db, &ctx.user, course).await?;
    let out = with_stream(ctx, stream, |s| {
        if s.watching {
            Err(ApiError::bad_request("a watch cannot be shared again"))
        } else {
            Ok(s.out.clone())
        }
    })?;
    if !out.share().await {
        return Err(ApiError::bad_request("only a TTY exec can be shared"));
    }
    ctx.shares.add(&course.id, &ctx.user.username, out).await
}

/// Takes a background job of the user's over as `stream`. Another user's job, or one whose
/// output is no longer kept, is `not_found`. A job another replica runs is attached there,
/// through a relay (that replica checks the user's right to it).
async fn attach(ctx: &Arc<SessionCtx>, stream: StreamId, job: &str) -> Result<(), ApiError> {
    let missing = || ApiError::not_found(format!("no job {job} with output to attach"));
    let Some(found) = ctx.jobs.attachable(job) else {
        use crate::replicas::held::Place;
        let Place::Replica(address) = ctx.state.replicas.job_place(job).await? else {
            return Err(missing());
        };
        if ctx.has_stream(stream) {
            return Err(ApiError::conflict(format!("stream {stream} is in use")));
        }
        let request = serde_json::json!({"type": "attach", "stream": stream, "job": job});
        super::relay::open(ctx, address, request, Some(stream));
        return Ok(());
    };
    ctx.state
        .workspaces
        .open(
            &ctx.user,
            &found.workspace,
            crate::workspaces::Access::Write,
        )
        .await
        .map_err(|err| match err.code {
            ErrorCode::Forbidden => missing(),
            _ => err,
        })?;
    let holder: Arc<dyn super::resume::Holder> = ctx.clone();
    found.out.attach(holder, stream, job).await
}

/// Lets a job's stream go from the session; the job runs on.
async fn detach(ctx: &Arc<SessionCtx>, stream: StreamId) -> Result<(), ApiError> {
    let out = with_stream(ctx, stream, |s| Ok(s.out.clone()))?;
    let job = out
        .is_job()
        .then(|| ctx.jobs.id_of(&out))
        .flatten()
        .ok_or_else(|| ApiError::bad_request("only a background job's stream can be detached"))?;
    out.park(&**ctx).await;
    ctx.forget_resumable(&out);
    ctx.send(ServerMessage::Detached { stream, job }).await;
    Ok(())
}

/// A student's check-in, answered on the session (no stream).
async fn check_in(ctx: &SessionCtx, attendance: &str, code: &str) {
    let state = &ctx.state;
    match attendance::check_in(&state.db, &state.attendance, &ctx.user, attendance, code).await {
        Ok(checked) => {
            ctx.send(ServerMessage::AttendanceCheckedIn {
                attendance: checked.attendance,
                at: checked.at,
                first: checked.first,
            })
            .await;
        }
        Err(err) => ctx.send_error(None, &err).await,
    }
}

/// A message that steers a live stream: applied at once, or refused with an `error` about
/// that stream (which goes on).
async fn steer(ctx: &SessionCtx, command: ClientMessage) {
    let (stream, result) = match command {
        ClientMessage::Resize { stream, cols, rows } => (stream, resize(ctx, stream, cols, rows)),
        ClientMessage::Eof { stream } => (
            stream,
            with_stream(ctx, stream, |s| {
                s.stdin
                    .take()
                    .map(drop)
                    .ok_or_else(|| ApiError::bad_request("stream has no open stdin"))
            }),
        ),
        ClientMessage::Cancel { stream } => (
            stream,
            with_stream(ctx, stream, |s| {
                s.cancel.cancel();
                Ok(())
            }),
        ),
        ClientMessage::Pause { stream } => (stream, set_paused(ctx, stream, true)),
        ClientMessage::Resume { stream } => (stream, set_paused(ctx, stream, false)),
        ClientMessage::Ack { stream, bytes } => (stream, acknowledge(ctx, stream, bytes)),
        // Only steering messages are passed here.
        _ => return,
    };
    if let Err(err) = result {
        ctx.send_error(Some(stream.get()), &err).await;
    }
}

fn resize(ctx: &SessionCtx, stream: StreamId, cols: u16, rows: u16) -> Result<(), ApiError> {
    protocol::check_size(cols)?;
    protocol::check_size(rows)?;
    with_stream(ctx, stream, |s| match &s.resize {
        Some(tx) => tx
            .try_send((cols, rows))
            .map_err(|_| ApiError::new(ErrorCode::TooMany, "resizing too fast")),
        None => Err(ApiError::bad_request("stream has no TTY")),
    })
}

fn set_paused(ctx: &SessionCtx, stream: StreamId, paused: bool) -> Result<(), ApiError> {
    with_stream(ctx, stream, |s| {
        s.flow.send_modify(|flow| flow.paused = paused);
        Ok(())
    })
}

/// The client has taken `bytes` more of a windowed stream's output.
fn acknowledge(ctx: &SessionCtx, stream: StreamId, bytes: u64) -> Result<(), ApiError> {
    with_stream(ctx, stream, |s| {
        if s.flow.borrow().allowed.is_none() {
            return Err(ApiError::bad_request("stream has no window to acknowledge"));
        }
        s.flow.send_modify(|flow| {
            flow.allowed = flow.allowed.map(|allowed| allowed.saturating_add(bytes));
        });
        Ok(())
    })
}

/// What a stream runs, once its id is reserved.
type Task = Box<dyn FnOnce(StreamParts) -> BoxFuture<'static, streams::Outcome> + Send>;

/// Starts the stream a message asks for: reserves its id and runs its task, or says why it
/// cannot start.
async fn start(ctx: &Arc<SessionCtx>, command: ClientMessage) {
    let c = ctx.clone();
    let (stream, kind, io, task): (StreamId, StreamKind, Io, Task) = match command {
        ClientMessage::Exec(request) => {
            if let Err(err) = request.validate() {
                return ctx.send_error(Some(request.stream.get()), &err).await;
            }
            let io = Io {
                stdin: true,
                tty: request.tty,
                window: request.window,
                resume: request.resume,
                detach: request.detach,
                tty_size: request
                    .tty
                    .then(|| (request.cols.unwrap_or(80), request.rows.unwrap_or(24))),
                watching: false,
            };
            let stream = request.stream;
            let task: Task = Box::new(|p| streams::exec::exec(c, request, p).boxed());
            (stream, StreamKind::Exec, io, task)
        }
        ClientMessage::Run(request) => {
            let io = Io {
                stdin: true,
                resume: request.resume,
                detach: request.detach,
                ..NO_IO
            };
            let stream = request.stream;
            let task: Task = Box::new(|p| streams::exec::run(c, request, p).boxed());
            (stream, StreamKind::Run, io, task)
        }
        ClientMessage::Logs(r) => (
            r.stream,
            StreamKind::Logs,
            NO_IO,
            Box::new(|p| streams::logs_stats::logs(c, r, p).boxed()),
        ),
        ClientMessage::Stats(r) => (
            r.stream,
            StreamKind::Stats,
            NO_IO,
            Box::new(|p| streams::logs_stats::stats(c, r, p).boxed()),
        ),
        ClientMessage::Pull(r) => (
            r.stream,
            StreamKind::Pull,
            NO_IO,
            Box::new(|p| streams::images::pull(c, r, p).boxed()),
        ),
        ClientMessage::Push(r) => (
            r.stream,
            StreamKind::Push,
            NO_IO,
            Box::new(|p| streams::images::push(c, r, p).boxed()),
        ),
        ClientMessage::Build(r) => (
            r.stream,
            StreamKind::Build,
            NO_IO,
            Box::new(|p| streams::images::build(c, r, p).boxed()),
        ),
        ClientMessage::Derive(r) => (
            r.stream,
            StreamKind::Derive,
            NO_IO,
            Box::new(|p| streams::images::derive(c, r, p).boxed()),
        ),
        ClientMessage::Watch {
            stream,
            share,
            workspace,
            source,
        } => {
            let what = match (share, workspace, source) {
                (Some(share), None, None) => streams::share::Watching::Share(share),
                (None, Some(workspace), Some(source)) => {
                    streams::share::Watching::Source { workspace, source }
                }
                _ => {
                    let err =
                        ApiError::bad_request("watch names a share, or a workspace and a source");
                    return ctx.send_error(Some(stream.get()), &err).await;
                }
            };
            if let Some(address) = watched_elsewhere(ctx, &what).await {
                if ctx.has_stream(stream) {
                    let err = ApiError::conflict(format!("stream {stream} is in use"));
                    return ctx.send_error(Some(stream.get()), &err).await;
                }
                let request = match &what {
                    streams::share::Watching::Share(share) => {
                        serde_json::json!({"type": "watch", "stream": stream, "share": share})
                    }
                    streams::share::Watching::Source { workspace, source } => serde_json::json!({
                        "type": "watch", "stream": stream, "workspace": workspace, "source": source,
                    }),
                };
                return super::relay::open(ctx, address, request, Some(stream));
            }
            let io = Io {
                watching: true,
                ..NO_IO
            };
            let task: Task = Box::new(move |p| streams::share::watch(c, stream, what, p).boxed());
            (stream, StreamKind::Watch, io, task)
        }
        ClientMessage::AttendanceWatch { stream, attendance } => (
            stream,
            StreamKind::AttendanceWatch,
            NO_IO,
            Box::new(move |p| streams::attendance::watch(c, stream, attendance, p).boxed()),
        ),
        // The other messages start no stream (see `handle_command`).
        _ => return,
    };
    match open_stream(ctx, stream, io) {
        Ok(parts) => {
            let out = parts.out.clone();
            let outlives = io.resume || io.detach;
            spawn_stream(ctx, out, kind, outlives, task(parts))
        }
        Err(err) => ctx.send_error(Some(stream.get()), &err).await,
    }
}

/// The kinds of stream a session runs, as its logs name them.
#[derive(Debug, Clone, Copy)]
enum StreamKind {
    Exec,
    Run,
    Logs,
    Stats,
    Pull,
    Push,
    Build,
    Derive,
    AttendanceWatch,
    Watch,
}

impl StreamKind {
    fn name(self) -> &'static str {
        match self {
            StreamKind::Exec => "exec",
            StreamKind::Run => "run",
            StreamKind::Logs => "logs",
            StreamKind::Stats => "stats",
            StreamKind::Pull => "pull",
            StreamKind::Push => "push",
            StreamKind::Build => "build",
            StreamKind::Derive => "derive",
            StreamKind::AttendanceWatch => "attendance.watch",
            StreamKind::Watch => "watch",
        }
    }
}

fn with_stream<T>(
    ctx: &SessionCtx,
    stream: StreamId,
    f: impl FnOnce(&mut StreamHandle) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut streams = ctx.streams.lock().expect("streams lock");
    match streams.get_mut(&stream.get()) {
        Some(handle) => f(handle),
        None => Err(ApiError::not_found("no such stream")),
    }
}

/// Reserves a stream id and makes the channels a stream is steered through, and where its
/// output goes (kept for a reattach when it is resumable).
fn open_stream(ctx: &Arc<SessionCtx>, stream: StreamId, io: Io) -> Result<StreamParts, ApiError> {
    let mut streams = ctx.streams.lock().expect("streams lock");
    if streams.contains_key(&stream.get()) {
        return Err(ApiError::conflict(format!("stream {stream} is in use")));
    }
    if streams.len() >= ctx.settings.max_streams {
        return Err(ApiError::new(
            ErrorCode::TooMany,
            format!("at most {} streams per session", ctx.settings.max_streams),
        ));
    }
    let resumable = io.resume && ctx.settings.resume_grace_s > 0;
    // A resumable stream and a job end with the server, not with their session.
    let outlives = resumable || io.detach;
    let cancel = if outlives {
        ctx.state.sessions.child_token()
    } else {
        ctx.cancel.child_token()
    };
    let out = super::resume::StreamOut::new(
        ctx.clone(),
        stream,
        cancel.clone(),
        io.window,
        outlives.then_some(ctx.settings.replay_kib * 1024),
        io.tty_size,
        io.detach,
    );
    if outlives {
        ctx.resumables
            .lock()
            .expect("resumables lock")
            .push(out.clone());
    }
    let (stdin_tx, stdin_rx) = if io.stdin {
        let (tx, rx) = super::stdin::queue(ctx.settings.max_stdin_bytes);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let (resize_tx, resize_rx) = if io.tty {
        let (tx, rx) = mpsc::channel(16);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let (flow_tx, flow_rx) = watch::channel(Flow {
        paused: false,
        allowed: io.window,
        burst_until: None,
    });
    streams.insert(
        stream.get(),
        StreamHandle {
            cancel: cancel.clone(),
            out: out.clone(),
            watching: io.watching,
            stdin: stdin_tx,
            resize: resize_tx,
            flow: flow_tx,
        },
    );
    ctx.count_stream(true);
    Ok(StreamParts {
        cancel,
        out,
        stdin: stdin_rx,
        resize: resize_rx,
        flow: flow_rx,
        detach: io.detach,
    })
}

/// What a stream takes from the client besides commands: stdin, resizes of its TTY, and whether
/// its output is bounded by a window the client's `ack`s move.
#[derive(Clone, Copy)]
struct Io {
    stdin: bool,
    tty: bool,
    window: Option<u64>,
    /// Whether it may outlive its session (`resume: true`).
    resume: bool,
    /// Whether it runs as a background job (`detach: true`).
    detach: bool,
    /// A TTY's size as it starts (columns, rows).
    tty_size: Option<(u16, u16)>,
    /// A watch of someone's shared stream.
    watching: bool,
}

const NO_IO: Io = Io {
    stdin: false,
    tty: false,
    window: None,
    resume: false,
    detach: false,
    tty_size: None,
    watching: false,
};

/// Runs a stream; when it returns, releases its id (first, so that a client reusing the id
/// right after the last message is never refused) and sends its last message: `exit`/`end`
/// (unless the whole session is closing), or `error`.
fn spawn_stream(
    ctx: &Arc<SessionCtx>,
    out: Arc<super::resume::StreamOut>,
    kind: StreamKind,
    outlives: bool,
    task: BoxFuture<'static, streams::Outcome>,
) {
    let stream = out.id();
    let span = tracing::info_span!("stream", stream = stream.get(), kind = kind.name());
    // A resumable stream or a job is the server's to wait for, not its session's.
    let tracker = if outlives {
        ctx.state.sessions.tracker()
    } else {
        ctx.tracker.clone()
    };
    let counted = crate::metrics::metrics().stream(kind.name());
    tracker.spawn(
        async move {
            let _counted = counted;
            let outcome = task.await;
            // Made for the id the stream has when it ends (a job's may have changed).
            let ending: super::resume::EndFn = Arc::new(move |stream| match &outcome {
                Ok(ending) => ending.message(stream),
                Err(err) => ServerMessage::error(Some(stream.get()), err),
            });
            out.end(ending).await;
        }
        .instrument(span),
    );
}
