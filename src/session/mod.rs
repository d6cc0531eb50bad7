//! One WebSocket per browser session.
//!
//! Per connection, three tasks share one `CancellationToken` and one bounded output channel:
//! - the **reader** (this module's command loop) parses frames and starts or steers streams;
//! - the **writer** alone owns the socket's sink and drains the output channel;
//! - the **heartbeat** pings the client and cancels the session when it goes silent.
//!
//! Every stream (exec, logs, stats) runs under a child token of the session's token, so a
//! disconnect, a silent client, a revoked token or a server shutdown stops all of them at once,
//! and each stream cleans up after itself (an exec kills what it started) before it ends.

pub mod protocol;
mod streams;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use bytes::Bytes;
use dashmap::DashMap;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::accounts::{self, User};
use crate::attendance::{self, Attendance};
use crate::auth::{self, AuthState};
use crate::builds::BuildContexts;
use crate::config::{SessionSettings, Settings};
use crate::db::Db;
use crate::error::{ApiError, ErrorCode};
use crate::hosts::Hosts;
use crate::secrets::SecretBox;
use protocol::{ClientMessage, StreamId};

/// Frames larger than this end the connection (close code 1009); frames between the configured
/// `max_frame_bytes` and this get an `error` and the session goes on.
const HARD_FRAME_LIMIT: usize = 64 << 20;

/// How long a closing session waits for its streams to clean up.
const CLEANUP_GRACE: Duration = Duration::from_secs(10);

/// All live sessions of this server, so logout, account deletion and shutdown can close them.
pub struct Sessions {
    live: DashMap<String, LiveSession>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    live_streams: Arc<AtomicUsize>,
}

struct LiveSession {
    user_id: String,
    jti: String,
    cancel: CancellationToken,
    reason: Arc<OnceLock<CloseReason>>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            live: DashMap::new(),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            live_streams: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Sessions {
    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Streams (exec, logs, stats) running now, over all sessions.
    pub fn live_streams(&self) -> usize {
        self.live_streams.load(Ordering::Relaxed)
    }

    fn close_where(&self, reason: &str, pred: impl Fn(&LiveSession) -> bool) {
        for entry in self.live.iter().filter(|e| pred(e.value())) {
            let _ = entry.reason.set(CloseReason {
                code: CloseCode::Policy,
                description: Some(reason.to_string()),
            });
            entry.cancel.cancel();
        }
    }

    /// Closes every session opened with this token (it was revoked).
    pub fn close_token(&self, jti: &str) {
        self.close_where("token revoked", |s| s.jti == jti);
    }

    /// Closes every session of this user (the account is going away).
    pub fn close_user(&self, user_id: &str) {
        self.close_where("account deleted", |s| s.user_id == user_id);
    }

    /// Closes every session and waits (bounded) until their streams have cleaned up.
    pub async fn shutdown(&self, within: Duration) {
        for entry in self.live.iter() {
            let _ = entry.reason.set(CloseReason {
                code: CloseCode::Restart,
                description: Some("server shutting down".into()),
            });
        }
        self.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(within, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("sessions still cleaning up at shutdown");
        }
    }
}

/// What the tasks of one session share.
pub(crate) struct SessionCtx {
    pub id: String,
    pub user: User,
    pub hosts: web::Data<Hosts>,
    pub db: web::Data<Db>,
    pub attendance: web::Data<Attendance>,
    pub contexts: web::Data<BuildContexts>,
    pub secrets: web::Data<SecretBox>,
    pub egress: web::Data<crate::registries::Egress>,
    pub settings: SessionSettings,
    pub cancel: CancellationToken,
    /// The one bounded output queue: every stream's frames and messages, in the order produced.
    out: mpsc::Sender<Outgoing>,
    streams: Mutex<HashMap<u8, StreamHandle>>,
    tracker: TaskTracker,
    live_streams: Arc<AtomicUsize>,
}

/// The reader's grip on one running stream.
pub(crate) struct StreamHandle {
    pub cancel: CancellationToken,
    pub stdin: Option<mpsc::Sender<Bytes>>,
    pub resize: Option<mpsc::Sender<(u16, u16)>>,
    pub paused: watch::Sender<bool>,
}

/// One frame for the writer.
enum Outgoing {
    Text(String),
    Binary(Bytes),
}

impl SessionCtx {
    /// Queues a text frame; waits while the client is slow. False once the session is over.
    pub async fn send_text(&self, text: String) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            sent = self.out.send(Outgoing::Text(text)) => sent.is_ok(),
        }
    }

    /// Queues a binary frame; waits while the client is slow, which is what stops a stream from
    /// reading more from Docker. False once the session is over or `stop` fires.
    pub async fn send_binary(&self, frame: Bytes, stop: &CancellationToken) -> bool {
        tokio::select! {
            _ = stop.cancelled() => false,
            sent = self.out.send(Outgoing::Binary(frame)) => sent.is_ok(),
        }
    }

    pub async fn send_error(&self, stream: Option<u8>, err: &ApiError) {
        self.send_text(protocol::error(stream, err.code, &err.message))
            .await;
    }

    /// Forgets a finished stream so its id can be used again. Called before its last message is
    /// sent, so a client that reuses the id right after `exit`/`end` is never refused.
    pub fn finish_stream(&self, stream: StreamId) {
        if self
            .streams
            .lock()
            .expect("streams lock")
            .remove(&stream.get())
            .is_some()
        {
            self.live_streams.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[derive(serde::Deserialize)]
pub struct WsQuery {
    ticket: Option<String>,
}

/// `GET /api/v1/ws`: upgrades an authenticated request and starts the session's tasks.
#[allow(clippy::too_many_arguments)]
pub async fn ws_handler(
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<WsQuery>,
    db: web::Data<Db>,
    auth_state: web::Data<AuthState>,
    sessions: web::Data<Sessions>,
    hosts: web::Data<Hosts>,
    attendance: web::Data<Attendance>,
    contexts: web::Data<BuildContexts>,
    secrets: web::Data<SecretBox>,
    egress: web::Data<crate::registries::Egress>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, ApiError> {
    check_origin(&req, &settings.allowed_origins)?;
    let claims = match (auth::bearer(&req), &query.ticket) {
        (Some(token), _) => auth_state.check_token(token),
        (None, Some(ticket)) => auth_state.redeem_ticket(ticket).map(|t| t.claims),
        (None, None) => None,
    }
    .ok_or_else(ApiError::unauthorized)?;
    let user = accounts::find_by_id(&db, &claims.sub)
        .await?
        .ok_or_else(ApiError::unauthorized)?;

    let (response, ws, messages) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request(format!("not a WebSocket upgrade: {e}")))?;
    let messages = messages
        .max_frame_size(HARD_FRAME_LIMIT)
        .aggregate_continuations()
        .max_continuation_size(HARD_FRAME_LIMIT);

    let id = uuid::Uuid::new_v4().to_string();
    let cancel = sessions.shutdown.child_token();
    let reason = Arc::new(OnceLock::new());
    sessions.live.insert(
        id.clone(),
        LiveSession {
            user_id: user.id.clone(),
            jti: claims.jti.clone(),
            cancel: cancel.clone(),
            reason: reason.clone(),
        },
    );
    // The token may have been revoked between the check and the registration above.
    if auth_state.is_revoked(&claims.jti) {
        sessions.close_token(&claims.jti);
    }

    let span = tracing::info_span!("session", session = %id, user = %user.id);
    let (out_tx, out_rx) = mpsc::channel(settings.session.output_queue);
    let ctx = Arc::new(SessionCtx {
        id: id.clone(),
        user,
        hosts,
        db,
        attendance,
        contexts,
        secrets,
        egress,
        settings: settings.session.clone(),
        cancel: cancel.clone(),
        out: out_tx,
        streams: Mutex::new(HashMap::new()),
        tracker: TaskTracker::new(),
        live_streams: sessions.live_streams.clone(),
    });
    let sessions = sessions.into_inner();
    let tracker = sessions.tracker.clone();
    tracker.spawn_local(
        async move {
            tracing::info!("session opened");
            run(ctx, ws, messages, out_rx, reason).await;
            sessions.live.remove(&id);
            tracing::info!("session closed");
        }
        .instrument(span),
    );
    Ok(response)
}

/// A browser's `Origin` must be one of the allowed origins, or the server's own by default.
fn check_origin(req: &HttpRequest, allowed: &[String]) -> Result<(), ApiError> {
    let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) else {
        return Ok(()); // not a browser
    };
    let origin = origin.to_str().unwrap_or_default();
    let ok = if allowed.is_empty() {
        let host = req.connection_info().host().to_string();
        origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host)
    } else {
        allowed
            .iter()
            .any(|a| a.trim_end_matches('/') == origin.trim_end_matches('/'))
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::forbidden("origin not allowed"))
    }
}

async fn run(
    ctx: Arc<SessionCtx>,
    ws: actix_ws::Session,
    messages: actix_ws::AggregatedMessageStream,
    out_rx: mpsc::Receiver<Outgoing>,
    reason: Arc<OnceLock<CloseReason>>,
) {
    let started = Instant::now();
    let last_seen = Arc::new(AtomicU64::new(0));
    let (control_tx, control_rx) = mpsc::channel(8);

    let writer = actix_web::rt::spawn(
        write_loop(ws, out_rx, control_rx, ctx.cancel.clone(), reason.clone()).in_current_span(),
    );
    let heartbeat = actix_web::rt::spawn(
        heartbeat_loop(
            ctx.settings.clone(),
            started,
            last_seen.clone(),
            control_tx.clone(),
            ctx.cancel.clone(),
            reason.clone(),
        )
        .in_current_span(),
    );

    ctx.send_text(protocol::hello(&ctx.id, ctx.settings.heartbeat_interval_ms))
        .await;
    read_loop(&ctx, messages, started, &last_seen, &control_tx).await;

    // Whatever ended the reader ends the session: stop every stream, let them clean up.
    ctx.cancel.cancel();
    ctx.tracker.close();
    if tokio::time::timeout(CLEANUP_GRACE, ctx.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("streams still cleaning up after the grace period");
    }
    let _ = heartbeat.await;
    let _ = writer.await;
}

/// The command task: every frame from the client lands here.
async fn read_loop(
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
        Some(Some(tx)) => tx.try_send(frame.slice(2..)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ApiError::new(
                ErrorCode::TooMany,
                "the process is not reading its input; input refused",
            ),
            mpsc::error::TrySendError::Closed(_) => ApiError::not_found("stream has ended"),
        }),
    };
    if let Err(err) = result {
        ctx.send_error(Some(stream), &err).await;
    }
}

async fn handle_command(ctx: &Arc<SessionCtx>, command: ClientMessage) {
    match command {
        ClientMessage::Ping { t } => {
            ctx.send_text(protocol::pong(t)).await;
        }
        ClientMessage::Exec(request) => {
            if let Err(err) = request.validate() {
                return ctx.send_error(Some(request.stream.get()), &err).await;
            }
            let (stream, tty) = (request.stream, request.tty);
            start_stream(ctx, stream, "exec", (true, tty), |parts| {
                streams::exec(ctx.clone(), request, parts)
            })
            .await
        }
        ClientMessage::Logs(request) => {
            start_stream(ctx, request.stream, "logs", NO_IO, |parts| {
                streams::logs(ctx.clone(), request, parts)
            })
            .await
        }
        ClientMessage::Stats { stream, container } => {
            start_stream(ctx, stream, "stats", NO_IO, |parts| {
                streams::stats(ctx.clone(), stream, container, parts)
            })
            .await
        }
        ClientMessage::Pull(request) => {
            start_stream(ctx, request.stream, "pull", NO_IO, |parts| {
                streams::pull(ctx.clone(), request, parts)
            })
            .await
        }
        ClientMessage::Push(request) => {
            start_stream(ctx, request.stream, "push", NO_IO, |parts| {
                streams::push(ctx.clone(), request, parts)
            })
            .await
        }
        ClientMessage::Build(request) => {
            start_stream(ctx, request.stream, "build", NO_IO, |parts| {
                streams::build(ctx.clone(), request, parts)
            })
            .await
        }
        ClientMessage::AttendanceWatch { stream, attendance } => {
            start_stream(ctx, stream, "attendance.watch", NO_IO, |parts| {
                streams::attendance_watch(ctx.clone(), stream, attendance, parts)
            })
            .await
        }
        ClientMessage::AttendanceCheckin { attendance, code } => {
            let checked =
                attendance::check_in(&ctx.db, &ctx.attendance, &ctx.user, &attendance, &code).await;
            match checked {
                Ok(checked) => {
                    ctx.send_text(protocol::checked_in(&checked)).await;
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
                s.paused.send_replace(pause);
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

/// The stream's side of its handle.
pub(crate) struct StreamParts {
    pub cancel: CancellationToken,
    pub stdin: Option<mpsc::Receiver<Bytes>>,
    pub resize: Option<mpsc::Receiver<(u16, u16)>>,
    pub paused: watch::Receiver<bool>,
}

/// Reserves a stream id and makes the channels a stream is steered through.
fn open_stream(
    ctx: &SessionCtx,
    stream: StreamId,
    stdin: bool,
    tty: bool,
) -> Result<StreamParts, ApiError> {
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
    let (stdin_tx, stdin_rx) = if stdin {
        let (tx, rx) = mpsc::channel(64);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let (resize_tx, resize_rx) = if tty {
        let (tx, rx) = mpsc::channel(16);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let (paused_tx, paused_rx) = watch::channel(false);
    streams.insert(
        stream.get(),
        StreamHandle {
            cancel: cancel.clone(),
            stdin: stdin_tx,
            resize: resize_tx,
            paused: paused_tx,
        },
    );
    ctx.live_streams.fetch_add(1, Ordering::Relaxed);
    Ok(StreamParts {
        cancel,
        stdin: stdin_rx,
        resize: resize_rx,
        paused: paused_rx,
    })
}

/// Neither stdin nor a TTY.
const NO_IO: (bool, bool) = (false, false);

/// Reserves the stream id and runs `task` as that stream, or says why it cannot start.
/// `io` is (stdin, tty).
async fn start_stream<Task>(
    ctx: &Arc<SessionCtx>,
    stream: StreamId,
    kind: &'static str,
    io: (bool, bool),
    task: impl FnOnce(StreamParts) -> Task,
) where
    Task: std::future::Future<Output = ()> + Send + 'static,
{
    match open_stream(ctx, stream, io.0, io.1) {
        Ok(parts) => spawn_stream(ctx, stream, kind, task(parts)),
        Err(err) => ctx.send_error(Some(stream.get()), &err).await,
    }
}

fn spawn_stream(
    ctx: &Arc<SessionCtx>,
    stream: StreamId,
    kind: &'static str,
    task: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let span = tracing::info_span!("stream", stream = stream.get(), kind);
    let ctx_done = ctx.clone();
    ctx.tracker.spawn(
        async move {
            task.await;
            // In case the stream ended on a path that did not release its id.
            ctx_done.finish_stream(stream);
        }
        .instrument(span),
    );
}

/// Frames that bypass the output queue: keepalive must not wait behind stream output.
enum Control {
    Ping,
    Pong(Bytes),
}

enum Next {
    Control(Control),
    Out(Outgoing),
}

/// The writer task: the only owner of the socket's sink.
async fn write_loop(
    mut ws: actix_ws::Session,
    mut out: mpsc::Receiver<Outgoing>,
    mut control: mpsc::Receiver<Control>,
    cancel: CancellationToken,
    reason: Arc<OnceLock<CloseReason>>,
) {
    loop {
        // Keepalive goes first; stream output keeps its order.
        let frame = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            Some(c) = control.recv() => Next::Control(c),
            Some(o) = out.recv() => Next::Out(o),
            else => break,
        };
        let sent = tokio::select! {
            _ = cancel.cancelled() => break,
            sent = async {
                match frame {
                    Next::Out(Outgoing::Text(t)) => ws.text(t).await,
                    Next::Out(Outgoing::Binary(b)) => ws.binary(b).await,
                    Next::Control(Control::Ping) => ws.ping(b"").await,
                    Next::Control(Control::Pong(p)) => ws.pong(&p).await,
                }
            } => sent,
        };
        if sent.is_err() {
            break; // the client is gone
        }
    }
    cancel.cancel();
    let reason = reason.get().cloned().or(Some(CloseReason {
        code: CloseCode::Normal,
        description: None,
    }));
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(reason)).await;
}

/// The heartbeat task: pings on schedule, and ends the session when the client has sent
/// nothing (not even a pong) for the timeout.
async fn heartbeat_loop(
    settings: SessionSettings,
    started: Instant,
    last_seen: Arc<AtomicU64>,
    control: mpsc::Sender<Control>,
    cancel: CancellationToken,
    reason: Arc<OnceLock<CloseReason>>,
) {
    // Silence is checked more often than pings are sent, so a dead client is dropped close to
    // the timeout rather than up to one ping interval late.
    let ping_every = Duration::from_millis(settings.heartbeat_interval_ms);
    let check_every = ping_every.min(
        Duration::from_millis(settings.heartbeat_timeout_ms / 4).max(Duration::from_millis(50)),
    );
    let mut interval = tokio::time::interval(check_every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_ping = Instant::now();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = interval.tick() => {}
        }
        let silent_ms = (started.elapsed().as_millis() as u64)
            .saturating_sub(last_seen.load(Ordering::Relaxed));
        if silent_ms > settings.heartbeat_timeout_ms {
            tracing::info!(silent_ms, "client silent; closing session");
            let _ = reason.set(CloseReason {
                code: CloseCode::Away,
                description: Some("heartbeat timeout".into()),
            });
            cancel.cancel();
            return;
        }
        if last_ping.elapsed() >= ping_every {
            last_ping = Instant::now();
            let _ = control.try_send(Control::Ping);
        }
    }
}
