//! The command task: every frame from the client lands here, and becomes a stream started, a
//! stream steered (stdin, resize, pause, cancel), or an answer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix_ws::AggregatedMessage;
use bytes::Bytes;
use futures_util::StreamExt;
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
                match protocol::parse(&text) {
                    Ok(command) => handle_command(ctx, command).await,
                    Err((stream, err)) => ctx.send_error(stream, &err).await,
                }
            }
            Ok(AggregatedMessage::Binary(frame)) => handle_input(ctx, frame).await,
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
        streams.get(&stream).map(|s| s.stdin.clone())
    };
    let result = match stdin {
        None => Err(ApiError::not_found("no such stream")),
        Some(None) => Err(ApiError::bad_request(
            "this stream takes no input (or its stdin was closed)",
        )),
        Some(Some(tx)) => tx.try_send(frame.slice(2..)),
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
        ClientMessage::Exec(request) => {
            if let Err(err) = request.validate() {
                return ctx.send_error(Some(request.stream.get()), &err).await;
            }
            let stream = request.stream;
            let io = Io {
                stdin: true,
                tty: request.tty,
                window: request.window,
            };
            start_stream(ctx, stream, "exec", io, |parts| {
                streams::exec::exec(ctx.clone(), request, parts)
            })
            .await
        }
        ClientMessage::Logs(request) => {
            start_stream(ctx, request.stream, "logs", NO_IO, |parts| {
                streams::logs_stats::logs(ctx.clone(), request, parts)
            })
            .await
        }
        ClientMessage::Stats(request) => {
            start_stream(ctx, request.stream, "stats", NO_IO, |parts| {
                streams::logs_stats::stats(ctx.clone(), request, parts)
            })
            .await
        }
        ClientMessage::Run(request) => {
            let io = Io {
                stdin: true,
                ..NO_IO
            };
            start_stream(ctx, request.stream, "run", io, |parts| {
                streams::exec::run(ctx.clone(), request, parts)
            })
            .await
        }
        ClientMessage::Pull(request) => {
            start_stream(ctx, request.stream, "pull", NO_IO, |parts| {
                streams::images::pull(ctx.clone(), request, parts)
            })
            .await
        }
        ClientMessage::Push(request) => {
            start_stream(ctx, request.stream, "push", NO_IO, |parts| {
                streams::images::push(ctx.clone(), request, parts)
            })
            .await
        }
        ClientMessage::Build(request) => {
            start_stream(ctx, request.stream, "build", NO_IO, |parts| {
                streams::images::build(ctx.clone(), request, parts)
            })
            .await
        }
        ClientMessage::Derive(request) => {
            start_stream(ctx, request.stream, "derive", NO_IO, |parts| {
                streams::images::derive(ctx.clone(), request, parts)
            })
            .await
        }
        ClientMessage::AttendanceWatch { stream, attendance } => {
            start_stream(ctx, stream, "attendance.watch", NO_IO, |parts| {
                streams::attendance::watch(ctx.clone(), stream, attendance, parts)
            })
            .await
        }
        ClientMessage::AttendanceCheckin { attendance, code } => {
            let state = &ctx.state;
            let checked =
                attendance::check_in(&state.db, &state.attendance, &ctx.user, &attendance, &code)
                    .await;
            match checked {
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
        ClientMessage::Resize { stream, cols, rows } => {
            let result = protocol::check_size(cols)
                .and_then(|_| protocol::check_size(rows))
                .and_then(|_| {
                    with_stream(ctx, stream, |s| match &s.resize {
                        Some(tx) => tx
                            .try_send((cols, rows))
                            .map_err(|_| ApiError::new(ErrorCode::TooMany, "resizing too fast")),
                        None => Err(ApiError::bad_request("stream has no TTY")),
                    })
                });
            if let Err(err) = result {
                ctx.send_error(Some(stream.get()), &err).await;
            }
        }
        ClientMessage::Eof { stream } => {
            if let Err(err) = with_stream(ctx, stream, |s| {
                s.stdin
                    .take()
                    .map(drop)
                    .ok_or_else(|| ApiError::bad_request("stream has no open stdin"))
            }) {
                ctx.send_error(Some(stream.get()), &err).await;
            }
        }
        ClientMessage::Cancel { stream } => {
            if let Err(err) = with_stream(ctx, stream, |s| {
                s.cancel.cancel();
                Ok(())
            }) {
                ctx.send_error(Some(stream.get()), &err).await;
            }
        }
        ClientMessage::Pause { stream } | ClientMessage::Resume { stream } => {
            let pause = matches!(command, ClientMessage::Pause { .. });
            if let Err(err) = with_stream(ctx, stream, |s| {
                s.flow.send_modify(|flow| flow.paused = pause);
                Ok(())
            }) {
                ctx.send_error(Some(stream.get()), &err).await;
            }
        }
        ClientMessage::Ack { stream, bytes } => {
            if let Err(err) = with_stream(ctx, stream, |s| {
                if s.flow.borrow().allowed.is_none() {
                    return Err(ApiError::bad_request("stream has no window to acknowledge"));
                }
                s.flow.send_modify(|flow| {
                    flow.allowed = flow.allowed.map(|allowed| allowed.saturating_add(bytes));
                });
                Ok(())
            }) {
                ctx.send_error(Some(stream.get()), &err).await;
            }
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

/// Reserves a stream id and makes the channels a stream is steered through.
fn open_stream(ctx: &SessionCtx, stream: StreamId, io: Io) -> Result<StreamParts, ApiError> {
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
    let cancel = ctx.cancel.child_token();
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
    });
    streams.insert(
        stream.get(),
        StreamHandle {
            cancel: cancel.clone(),
            stdin: stdin_tx,
            resize: resize_tx,
            flow: flow_tx,
        },
    );
    ctx.live_streams.fetch_add(1, Ordering::Relaxed);
    Ok(StreamParts {
        cancel,
        stdin: stdin_rx,
        resize: resize_rx,
        flow: flow_rx,
    })
}

/// What a stream takes from the client besides commands: stdin, resizes of its TTY, and whether
/// its output is bounded by a window the client's `ack`s move.
#[derive(Clone, Copy)]
struct Io {
    stdin: bool,
    tty: bool,
    window: Option<u64>,
}

const NO_IO: Io = Io {
    stdin: false,
    tty: false,
    window: None,
};

/// Reserves the stream id and runs `task` as that stream, or says why it cannot start.
async fn start_stream<Task>(
    ctx: &Arc<SessionCtx>,
    stream: StreamId,
    kind: &'static str,
    io: Io,
    task: impl FnOnce(StreamParts) -> Task,
) where
    Task: std::future::Future<Output = streams::Outcome> + Send + 'static,
{
    match open_stream(ctx, stream, io) {
        Ok(parts) => spawn_stream(ctx, stream, kind, task(parts)),
        Err(err) => ctx.send_error(Some(stream.get()), &err).await,
    }
}

/// Runs a stream; when it returns, releases its id (first, so that a client reusing the id
/// right after the last message is never refused) and sends its last message: `exit`/`end`
/// (unless the whole session is closing), or `error`.
fn spawn_stream(
    ctx: &Arc<SessionCtx>,
    stream: StreamId,
    kind: &'static str,
    task: impl std::future::Future<Output = streams::Outcome> + Send + 'static,
) {
    let span = tracing::info_span!("stream", stream = stream.get(), kind);
    let ctx = ctx.clone();
    let tracker = ctx.tracker.clone();
    tracker.spawn(
        async move {
            let outcome = task.await;
            ctx.finish_stream(stream);
            match outcome {
                Ok(ending) if !ctx.cancel.is_cancelled() => {
                    ctx.send(ending.message(stream)).await;
                }
                Ok(_) => {}
                Err(err) => ctx.send_error(Some(stream.get()), &err).await,
            }
        }
        .instrument(span),
    );
}
