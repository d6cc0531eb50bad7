//! Streams that outlive their session. An `exec` or `run` with `resume: true` sends its output
//! through a [`StreamOut`] that keeps the last `session.replay_kib` of each channel. When its
//! session ends without `bye` (a dropped connection, a silent client, a reload), the stream is
//! parked under the session's resume token and keeps running for `session.resume_grace_s`; a
//! later session of the same user that sends `reattach` with that token takes it over: it is
//! sent `reattached`, then exactly the bytes it is missing, then the live output, under the old
//! stream id. Past the grace, on `bye`, logout or shutdown, the parked streams are cancelled and
//! clean up as any stream does (an exec kills what it started).
//!
//! The token is a secret: only its SHA-256 is kept, and it is never logged. A token is good for
//! one reattach; the new session has a token of its own.
//!
//! Every other stream goes through a [`StreamOut`] too, attached to its session for good.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch, Mutex};
use tokio_util::sync::CancellationToken;

use super::protocol::{self, ReattachedStream, Received, ServerMessage, StreamId};
use super::replay::Ring;
use crate::error::ApiError;

/// The reader's grip on one running stream.
pub(crate) struct StreamHandle {
    pub cancel: CancellationToken,
    /// Where its output goes (to share it).
    pub out: Arc<StreamOut>,
    /// Whether it is a watch of someone's stream (which takes no input).
    pub watching: bool,
    pub stdin: Option<super::stdin::StdinSender>,
    pub resize: Option<mpsc::Sender<(u16, u16)>>,
    pub flow: watch::Sender<Flow>,
}

/// How far a stream may run ahead of its client: not at all while paused, and with a window, no
/// further than the output bytes the client allowed (its window plus what it acknowledged), or
/// [`INTERRUPT_BURST_BYTES`] further for a moment after a Ctrl-C (see [`Flow::interrupted`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Flow {
    pub paused: bool,
    pub allowed: Option<u64>,
    /// Until when a Ctrl-C lets the stream run past its window.
    pub burst_until: Option<tokio::time::Instant>,
}

/// How long after a Ctrl-C on a TTY the window is lifted: long enough to read what the engine
/// held of the interrupted program's output (about 1.4 MiB measured), at engine speed.
const INTERRUPT_BURST: std::time::Duration = std::time::Duration::from_millis(200);
/// How far past its window the stream may run meanwhile (a program that ignores the Ctrl-C and
/// goes on printing sends no more than this ahead of its client).
const INTERRUPT_BURST_BYTES: u64 = 4 << 20;

impl Flow {
    /// Whether a stream that has sent `sent` output bytes may send more.
    pub fn lets(&self, sent: u64) -> bool {
        !self.paused && self.room(sent) > 0
    }

    /// How many more bytes it may send now.
    pub fn room(&self, sent: u64) -> u64 {
        let Some(allowed) = self.allowed else {
            return u64::MAX;
        };
        let bursting = self
            .burst_until
            .is_some_and(|until| tokio::time::Instant::now() < until);
        let allowed = if bursting {
            allowed.saturating_add(INTERRUPT_BURST_BYTES)
        } else {
            allowed
        };
        allowed.saturating_sub(sent)
    }

    /// The user pressed Ctrl-C in the terminal. What the interrupted program printed before it
    /// died is still queued in the engine (its pipes and the socket to berth) behind the window,
    /// and the prompt comes after all of it: for a moment the window is lifted, so that it all
    /// comes at once (the client draws large writes faster than a window per round trip) and
    /// the prompt with it. No byte is skipped; the window holds again after.
    pub fn interrupted(&mut self) {
        self.burst_until = Some(tokio::time::Instant::now() + INTERRUPT_BURST);
    }
}

/// What a stream's output needs of the session holding it: the one session type implements it,
/// so that this file needs nothing of the session's.
pub(crate) trait Holder: Send + Sync {
    fn user_id(&self) -> &str;
    /// Cancelled when the session is closing.
    fn closing(&self) -> &CancellationToken;
    fn send_message(&self, message: ServerMessage) -> BoxFuture<'_, bool>;
    fn send_frame<'a>(&'a self, frame: Bytes, stop: &'a CancellationToken) -> BoxFuture<'a, bool>;
    fn finish_stream(&self, stream: StreamId);
    fn forget_resumable(&self, out: &StreamOut);
    fn has_stream(&self, stream: StreamId) -> bool;
    fn take_stream(&self, stream: StreamId) -> Option<StreamHandle>;
    fn adopt(&self, stream: StreamId, handle: StreamHandle, out: Arc<StreamOut>);
}

/// How a stream's last message is made, for the stream id it has when it is sent (a job's
/// stream is numbered by each session that attaches it).
pub(crate) type EndFn = Arc<dyn Fn(StreamId) -> ServerMessage + Send + Sync>;

/// Largest binary frame of replayed output.
const REPLAY_FRAME: usize = 64 * 1024;

/// Where one stream's output goes.
pub(crate) struct StreamOut {
    /// Its id in the session holding it (a job's changes when another session attaches it).
    stream: std::sync::atomic::AtomicU8,
    /// Whether it outlives its session (`resume: true`, or a job).
    resumable: bool,
    /// Whether it is a background job (`detach: true`): it goes on after every session ends,
    /// and is taken back by `attach`, not by `reattach`.
    job: bool,
    /// The stream's own token: a resumable stream's is not its session's child.
    pub cancel: CancellationToken,
    /// The window the stream was started with, set again for the client that reattaches.
    window: Option<u64>,
    /// Whether watchers may watch it now.
    shared: std::sync::atomic::AtomicBool,
    /// Whether it is a TTY.
    tty: bool,
    /// Who watches it (usernames), and the workspace it runs in, to tell its session.
    watched: std::sync::Mutex<Vec<String>>,
    workspace: std::sync::Mutex<Option<String>>,
    state: Mutex<Attachment>,
}

struct Attachment {
    /// The session its output goes to; None while parked.
    session: Option<Arc<dyn Holder>>,
    /// The last output of channels 1 and 2, for a reattach (resumable streams only).
    replay: Option<[Ring; 2]>,
    /// The last message of a stream that ended while parked (a job's, however it ended).
    ending: Option<EndFn>,
    /// The stream's steering handle while parked.
    handle: Option<StreamHandle>,
    /// A TTY's screen as a terminal would show it (its output run through a VT parser), sent
    /// to a reattaching client whose missing output is no longer all kept, and to a watcher as
    /// it starts watching (or falls behind).
    screen: Option<vt100::Parser>,
    /// Where the output goes to the watchers of a shared TTY, while it is shared.
    watchers: Option<tokio::sync::broadcast::Sender<Watched>>,
    /// A TTY's size now (columns, rows); None for a stream without a TTY.
    tty_size: Option<(u16, u16)>,
}

/// What a shared TTY's watchers are sent: its output, and its new size.
#[derive(Debug, Clone)]
pub(crate) enum Watched {
    /// Output on a channel.
    Output(u8, bytes::Bytes),
    Resized {
        cols: u16,
        rows: u16,
    },
}

/// How far a watcher may fall behind before it skips to the current screen.
const WATCH_BACKLOG: usize = 256;

/// What a watcher starts from: a TTY's size and screen (none for a stream without a TTY), and
/// the output after it.
pub(crate) struct WatchStart {
    pub size: Option<(u16, u16)>,
    pub screen: Vec<u8>,
    pub output: tokio::sync::broadcast::Receiver<Watched>,
}

fn open_watchers(attached: &mut Attachment) {
    if let (Some((cols, rows)), None) = (attached.tty_size, &attached.screen) {
        attached.screen = Some(parser(cols, rows));
    }
    if attached.watchers.is_none() {
        attached.watchers = Some(tokio::sync::broadcast::channel(WATCH_BACKLOG).0);
    }
}

fn start_watch(attached: &Attachment) -> Option<WatchStart> {
    let output = attached.watchers.as_ref()?.subscribe();
    let (size, screen) = match &attached.screen {
        Some(screen) => {
            let (rows, cols) = screen.screen().size();
            (Some((cols.get(), rows.get())), redraw(screen))
        }
        None => (None, Vec::new()),
    };
    Some(WatchStart {
        size,
        screen,
        output,
    })
}

/// The screen a reattaching client is sent, as bytes a terminal draws: cleared, then the
/// parsed screen's contents, attributes, cursor and input modes.
fn redraw(screen: &vt100::Parser) -> Vec<u8> {
    let mut bytes = b"\x1b[H\x1b[2J".to_vec();
    bytes.extend(screen.screen().state_formatted().into_bytes());
    bytes
}

fn parser(cols: u16, rows: u16) -> vt100::Parser {
    let (rows, cols) = size(cols, rows);
    vt100::Parser::new(rows, cols, 0)
}

fn size(cols: u16, rows: u16) -> (std::num::NonZeroU16, std::num::NonZeroU16) {
    let at_least_one =
        |n: u16| std::num::NonZeroU16::new(n.max(1)).unwrap_or(std::num::NonZeroU16::MIN);
    (at_least_one(rows), at_least_one(cols))
}

fn ring_of(channel: u8) -> usize {
    if channel == protocol::CHANNEL_STDERR {
        1
    } else {
        0
    }
}

impl StreamOut {
    pub fn new(
        session: Arc<dyn Holder>,
        stream: StreamId,
        cancel: CancellationToken,
        window: Option<u64>,
        replay_bytes: Option<usize>,
        tty_size: Option<(u16, u16)>,
        job: bool,
    ) -> Arc<StreamOut> {
        // Kept from the start for a resumable TTY; a shared one gets it when it is shared.
        let screen = replay_bytes
            .and(tty_size)
            .map(|(cols, rows)| parser(cols, rows));
        Arc::new(StreamOut {
            stream: std::sync::atomic::AtomicU8::new(stream.get()),
            resumable: replay_bytes.is_some(),
            job,
            cancel,
            window,
            shared: std::sync::atomic::AtomicBool::new(false),
            tty: tty_size.is_some(),
            watched: std::sync::Mutex::new(Vec::new()),
            workspace: std::sync::Mutex::new(None),
            state: Mutex::new(Attachment {
                session: Some(session),
                replay: replay_bytes.map(|bytes| [Ring::new(bytes), Ring::new(bytes)]),
                ending: None,
                handle: None,
                screen,
                watchers: None,
                tty_size,
            }),
        })
    }

    /// Its id in the session holding it now.
    pub fn id(&self) -> StreamId {
        let id = self.stream.load(std::sync::atomic::Ordering::Relaxed);
        StreamId::new(id).unwrap_or(StreamId::MIN)
    }

    /// Whether it is a background job.
    pub fn is_job(&self) -> bool {
        self.job
    }

    /// Sends output to the session holding the stream (kept for a reattach first); waits while
    /// its client is slow. False when the stream should stop: `stop` fired, or, for a stream
    /// that does not outlive its session, the session is over.
    pub async fn send_binary(&self, channel: u8, payload: &[u8], stop: &CancellationToken) -> bool {
        let session = {
            let mut attached = self.state.lock().await;
            if let Some(replay) = attached.replay.as_mut() {
                replay[ring_of(channel)].append(payload);
            }
            if let Some(screen) = attached.screen.as_mut() {
                screen.process(payload);
            }
            if let Some(watchers) = &attached.watchers {
                // Never waits: a watcher that falls behind skips ahead instead.
                let _ = watchers.send(Watched::Output(
                    channel,
                    bytes::Bytes::copy_from_slice(payload),
                ));
            }
            attached.session.clone()
        };
        let sent = match session {
            Some(session) => {
                let frame = protocol::binary_frame(self.id(), channel, payload);
                session.send_frame(frame, stop).await
            }
            None => false,
        };
        sent || (self.resumable && !stop.is_cancelled())
    }

    /// The stream's TTY was resized: so is the screen kept for a reattach.
    pub async fn resized(&self, cols: u16, rows: u16) {
        let mut attached = self.state.lock().await;
        if attached.tty_size.is_some() {
            attached.tty_size = Some((cols, rows));
        }
        if let Some(screen) = attached.screen.as_mut() {
            let (rows_, cols_) = size(cols, rows);
            screen.set_size(rows_, cols_);
        }
        if let Some(watchers) = &attached.watchers {
            let _ = watchers.send(Watched::Resized { cols, rows });
        }
    }

    /// Starts sharing the stream's TTY with watchers; false for a stream without one. (A TTY
    /// that is not resumable has its screen followed from now on: what it drew before is not
    /// on the watchers' first screen.)
    pub async fn share(&self) -> bool {
        let mut attached = self.state.lock().await;
        if attached.tty_size.is_none() {
            return false;
        }
        open_watchers(&mut attached);
        self.shared
            .store(true, std::sync::atomic::Ordering::Relaxed);
        true
    }

    /// A teacher's mirror of a student's stream (a TTY or not): as `watch`, the stream's
    /// output opened to watchers first. None once the stream ended.
    pub async fn mirror(&self) -> Option<WatchStart> {
        let mut attached = self.state.lock().await;
        if attached.session.is_none() && attached.handle.is_none() {
            return None;
        }
        open_watchers(&mut attached);
        start_watch(&attached)
    }

    /// Someone started (`joined`) or stopped watching: the session holding the stream is told
    /// who watches now.
    pub async fn watched_by(&self, username: &str, joined: bool) {
        let (by, workspace) = {
            let mut watchers = self.watched.lock().expect("watchers lock");
            if joined {
                watchers.push(username.to_string());
            } else if let Some(at) = watchers.iter().position(|w| w == username) {
                watchers.remove(at);
            }
            (
                watchers.clone(),
                self.workspace.lock().expect("workspace lock").clone(),
            )
        };
        if let Some(workspace) = workspace {
            self.send(ServerMessage::Watchers {
                workspace,
                stream: self.id(),
                by,
            })
            .await;
        }
    }

    /// The workspace the stream runs in (its watchers are named to its session).
    pub fn in_workspace(&self, workspace: &str) {
        *self.workspace.lock().expect("workspace lock") = Some(workspace.to_string());
    }

    /// Stops sharing it: every watcher's stream ends.
    pub async fn unshare(&self) {
        // Unlisted first, so that no one is told it ended while it is still listed.
        self.shared
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.state.lock().await.watchers = None;
    }

    pub fn has_tty(&self) -> bool {
        self.tty
    }

    pub fn is_shared(&self) -> bool {
        self.shared.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A new watcher: the current screen (size, then what to draw) and the live output after
    /// it, with no gap between them; None when the stream is not shared.
    pub async fn watch(&self) -> Option<WatchStart> {
        start_watch(&*self.state.lock().await)
    }

    /// A message to the session holding the stream, if one does.
    pub async fn send(&self, message: ServerMessage) {
        let session = self.state.lock().await.session.clone();
        if let Some(session) = session {
            session.send_message(message).await;
        }
    }

    /// The stream ended: the session holding it releases its id and is sent its last message
    /// (unless it is closing); a parked stream, and a job, keep it for the client that
    /// reattaches or attaches.
    pub async fn end(&self, ending: EndFn) {
        let mut attached = self.state.lock().await;
        // Unlisted, then its watchers' streams end with it.
        self.shared
            .store(false, std::sync::atomic::Ordering::Relaxed);
        attached.watchers = None;
        if self.job {
            attached.ending = Some(ending.clone());
        }
        let Some(session) = attached.session.clone() else {
            attached.ending = Some(ending);
            attached.handle = None;
            return;
        };
        let stream = self.id();
        session.finish_stream(stream);
        session.forget_resumable(self);
        if self.job {
            // Its id there is free for the session's next stream: an attach takes nothing back.
            attached.session = None;
        }
        if session.closing().is_cancelled() {
            if self.resumable {
                attached.ending = Some(ending);
            }
            return;
        }
        drop(attached);
        session.send_message(ending(stream)).await;
    }

    /// Lets the stream go from `session` (its id released there): it runs on, unpaused and
    /// without a window, its output kept for a reattach or an attach.
    pub(crate) async fn park(&self, session: &dyn Holder) {
        let mut attached = self.state.lock().await;
        attached.session = None;
        if let Some(handle) = session.take_stream(self.id()) {
            handle.flow.send_modify(|flow| {
                flow.paused = false;
                flow.allowed = None;
            });
            attached.handle = Some(handle);
        }
    }
}

/// A new resume token and the hash it is kept by.
pub(crate) fn new_token() -> (String, String) {
    let token = crate::auth::token::random_token();
    let hash = hash(&token);
    (token, hash)
}

fn hash(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// The streams of sessions that ended without `bye`, waiting for a reattach, by token hash.
/// Each parking is recorded with this replica, so that a reattach reaching another replica is
/// relayed here (see `session::relay`).
pub struct Resumes {
    replicas: Arc<crate::replicas::Replicas>,
    parked: DashMap<String, Parked>,
}

struct Parked {
    user_id: String,
    streams: Vec<Arc<StreamOut>>,
}

impl Resumes {
    pub fn new(replicas: Arc<crate::replicas::Replicas>) -> Resumes {
        Resumes {
            replicas,
            parked: DashMap::new(),
        }
    }

    /// Where the streams parked under `token` for `user_id` are, when not here: the address of
    /// the replica holding them.
    pub(crate) async fn elsewhere(&self, token: &str, user_id: &str) -> Option<String> {
        let key = hash(token);
        if self.parked.contains_key(&key) {
            return None;
        }
        match self.replicas.parked_place(&key, user_id).await {
            Ok(crate::replicas::held::Place::Replica(address)) => Some(address),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e.message, "could not look for parked streams elsewhere");
                None
            }
        }
    }

    /// Parks the resumable streams of `session`, which ended without `bye`, for `grace`; then
    /// cancels those nobody took over.
    pub(crate) async fn park(
        self: &Arc<Self>,
        session: &dyn Holder,
        key: String,
        streams: Vec<Arc<StreamOut>>,
        grace: Duration,
    ) {
        if streams.is_empty() {
            return;
        }
        for stream in &streams {
            stream.park(session).await;
        }
        tracing::info!(
            streams = streams.len(),
            grace_s = grace.as_secs(),
            "resumable streams parked"
        );
        // Two sessions a relaying replica opened here for one client (two reattaches) park
        // under its one token: together, so that neither's streams are forgotten running.
        self.parked
            .entry(key.clone())
            .or_insert_with(|| Parked {
                user_id: session.user_id().to_string(),
                streams: Vec::new(),
            })
            .streams
            .extend(streams);
        self.replicas
            .parked(&key, session.user_id(), grace.as_millis() as i64)
            .await;
        let resumes = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if let Some((_, parked)) = resumes.parked.remove(&key) {
                resumes.replicas.unparked(&key).await;
                tracing::info!(
                    streams = parked.streams.len(),
                    "parked streams not taken over; stopping them"
                );
                for stream in parked.streams {
                    stream.cancel.cancel();
                }
            }
        });
    }

    /// Cancels every stream parked for `user_id` (they signed out, or their account went).
    pub async fn end_user(&self, user_id: &str) {
        let mut ended = Vec::new();
        self.parked.retain(|key, parked| {
            if parked.user_id != user_id {
                return true;
            }
            for stream in &parked.streams {
                stream.cancel.cancel();
            }
            ended.push(key.clone());
            false
        });
        for key in ended {
            self.replicas.unparked(&key).await;
        }
    }

    /// Hands the streams parked under `token` to `session`, of the same user: `reattached`,
    /// then each channel's missing bytes, then (a stream that ended meanwhile) its last message.
    /// A token that is unknown, spent, past its grace or another user's is `not_found`.
    pub(crate) async fn reattach(
        &self,
        session: Arc<dyn Holder>,
        token: &str,
        received: &[Received],
    ) -> Result<(), ApiError> {
        let missing = || ApiError::not_found("no session to resume with that token");
        let key = hash(token);
        let (_, parked) = self
            .parked
            .remove_if(&key, |_, parked| parked.user_id == session.user_id())
            .ok_or_else(missing)?;
        match take_over(&session, &parked.streams, received).await {
            Ok(()) => {
                self.replicas.unparked(&key).await;
                Ok(())
            }
            Err(err) => {
                // Nothing was taken over: the streams stay parked for a better request.
                self.parked.insert(key, parked);
                Err(err)
            }
        }
    }
}

async fn take_over(
    session: &Arc<dyn Holder>,
    streams: &[Arc<StreamOut>],
    received: &[Received],
) -> Result<(), ApiError> {
    let mut held = Vec::with_capacity(streams.len());
    for stream in streams {
        held.push((stream, stream.state.lock().await));
    }
    // Checked first, so that a refused reattach sends nothing.
    let mut report = Vec::new();
    let mut frames = Vec::new();
    for (stream, attached) in &held {
        if session.has_stream(stream.id()) {
            return Err(ApiError::conflict(format!(
                "stream {} is in use",
                stream.id()
            )));
        }
        catch_up(stream.id(), attached, received, &mut report, &mut frames)?;
    }
    session
        .send_message(ServerMessage::Reattached { streams: report })
        .await;
    for frame in frames {
        session.send_frame(frame, session.closing()).await;
    }
    for (stream, mut attached) in held {
        if let Some(ending) = attached.ending.take() {
            session.send_message(ending(stream.id())).await;
            continue;
        }
        hand_over(stream, &mut attached, session);
    }
    tracing::info!(streams = streams.len(), "streams reattached");
    Ok(())
}

/// What a client that has `received` of a stream's output (as `stream`) is sent to catch up:
/// per channel, where it goes on from (into `report`), and the frames of the missing bytes, or
/// of a TTY's current screen when they are no longer all kept (into `frames`).
fn catch_up(
    stream: StreamId,
    attached: &Attachment,
    received: &[Received],
    report: &mut Vec<ReattachedStream>,
    frames: &mut Vec<Bytes>,
) -> Result<(), ApiError> {
    let Some(replay) = attached.replay.as_ref() else {
        return Ok(());
    };
    for channel in [protocol::CHANNEL_STDOUT, protocol::CHANNEL_STDERR] {
        let ring = &replay[ring_of(channel)];
        let got = received
            .iter()
            .find(|r| r.stream == stream && r.channel == channel)
            .map_or(0, |r| r.bytes);
        let rest = ring.since(got).ok_or_else(|| {
            ApiError::bad_request(format!(
                "stream {stream} sent {} bytes on channel {channel}, not {got}",
                ring.total()
            ))
        })?;
        // A TTY whose missing output is not all kept is sent its screen instead: from the
        // current byte on, nothing torn.
        let redrawn = match &attached.screen {
            Some(screen) if rest.lost > 0 && channel == protocol::CHANNEL_STDOUT => {
                Some(redraw(screen))
            }
            _ => None,
        };
        let total = ring.total();
        report.push(ReattachedStream {
            stream,
            channel,
            from: if redrawn.is_some() { total } else { rest.from },
            lost: if redrawn.is_some() {
                total - got
            } else {
                rest.lost
            },
            screen: redrawn.is_some(),
        });
        let bytes = redrawn.unwrap_or(rest.bytes);
        for chunk in bytes.chunks(REPLAY_FRAME) {
            frames.push(protocol::binary_frame(stream, channel, chunk));
        }
    }
    Ok(())
}

/// Gives a caught-up stream's steering to `session`, with its window (if it has one) starting
/// afresh from what was sent, and its output after it.
fn hand_over(stream: &Arc<StreamOut>, attached: &mut Attachment, session: &Arc<dyn Holder>) {
    let sent: u64 = attached
        .replay
        .as_ref()
        .map_or(0, |replay| replay.iter().map(Ring::total).sum());
    if let Some(handle) = attached.handle.take() {
        handle.flow.send_modify(|flow| {
            flow.allowed = stream.window.map(|window| sent + window);
        });
        session.adopt(stream.id(), handle, stream.clone());
    }
    attached.session = Some(session.clone());
}

impl StreamOut {
    /// Gives a job's kept output to `session` as its stream `stream`: `attached`, the output
    /// from its first kept byte (or a TTY's screen, when some is gone), then its last message if
    /// it ended, else the live output, steerable from `session`. A session that held it is sent
    /// `detached` and steers it no more.
    pub(crate) async fn attach(
        self: &Arc<Self>,
        session: Arc<dyn Holder>,
        stream: StreamId,
        job: &str,
    ) -> Result<(), ApiError> {
        let mut attached = self.state.lock().await;
        if session.has_stream(stream) {
            return Err(ApiError::conflict(format!("stream {stream} is in use")));
        }
        let mut report = Vec::new();
        let mut frames = Vec::new();
        catch_up(stream, &attached, &[], &mut report, &mut frames)?;
        if let Some(before) = attached.session.take() {
            let old = self.id();
            if let Some(handle) = before.take_stream(old) {
                attached.handle = Some(handle);
            }
            before.forget_resumable(self);
            before
                .send_message(ServerMessage::Detached {
                    stream: old,
                    job: job.to_string(),
                })
                .await;
        }
        self.stream
            .store(stream.get(), std::sync::atomic::Ordering::Relaxed);
        session
            .send_message(ServerMessage::Attached {
                stream,
                job: job.to_string(),
                output: report,
            })
            .await;
        for frame in frames {
            session.send_frame(frame, session.closing()).await;
        }
        if let Some(ending) = &attached.ending {
            session.send_message(ending(stream)).await;
            return Ok(());
        }
        hand_over(self, &mut attached, &session);
        Ok(())
    }
}
