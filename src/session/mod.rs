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
//!
//! Where things are: [`upgrade`] authenticates and registers a new session, [`socket`] runs its
//! three tasks, [`dispatch`] turns client frames into stream starts and steering, and
//! [`streams`] holds one module per kind of stream.

mod dispatch;
pub mod jobs;
pub mod protocol;
mod relay;
mod replay;
pub mod resume;
pub mod share;
mod socket;

pub(crate) use resume::{Flow, StreamHandle};
mod stdin;
mod streams;
pub mod upgrade;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::web;
use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::SessionSettings;
use crate::error::ApiError;
use crate::session::protocol::ServerMessage;
use crate::state::AppState;
use crate::users::User;
use protocol::StreamId;

/// The relay of each relayed stream id of a session: where its client's frames go (see `relay`,
/// which reads and fills it; the session only asks which ids are taken).
pub(crate) type RelayMap =
    HashMap<u8, tokio::sync::mpsc::Sender<tokio_tungstenite::tungstenite::Message>>;

/// What the tasks of one session share.
pub(crate) struct SessionCtx {
    pub id: String,
    pub user: User,
    /// The token the session was opened with (a relay to another replica opens one with it).
    pub claims: crate::auth::token::Claims,
    /// Where the session's upgrade came from, for the audit log.
    pub client: Option<std::net::IpAddr>,
    /// What every handler shares: database, hosts, containers, registries, attendance.
    pub state: web::Data<AppState>,
    pub settings: SessionSettings,
    pub cancel: CancellationToken,
    /// The one bounded output queue: every stream's frames and messages, in the order produced.
    out: mpsc::Sender<Outgoing>,
    streams: Mutex<HashMap<u8, StreamHandle>>,
    tracker: TaskTracker,
    live_streams: Arc<AtomicUsize>,
    /// This session's own, for the usage of its user.
    own_streams: Arc<AtomicUsize>,
    /// The resume token's hash (the token went to the client in `hello`), and where parked
    /// streams wait.
    resume_hash: String,
    resumes: Arc<resume::Resumes>,
    /// The server's shared terminals.
    shares: Arc<share::Shares>,
    /// The server's background jobs.
    jobs: Arc<jobs::Jobs>,
    /// Its streams held by another replica, by id (see `relay`).
    relays: Mutex<RelayMap>,
    /// This session's streams that outlive it (`resume: true`, and jobs).
    resumables: Mutex<Vec<Arc<resume::StreamOut>>>,
    /// The client said `bye`: its resumable streams stop with it.
    bye: AtomicBool,
}

impl SessionCtx {
    /// An audit entry of this session's user doing `action`.
    pub fn audit(&self, action: &'static str) -> crate::audit::Entry {
        crate::audit::Entry::by(&self.user, action).from_client(self.client)
    }
}

/// The stream's side of its handle.
pub(crate) struct StreamParts {
    pub cancel: CancellationToken,
    /// Where its output and messages go.
    pub out: Arc<resume::StreamOut>,
    pub stdin: Option<stdin::StdinReceiver>,
    pub resize: Option<mpsc::Receiver<(u16, u16)>>,
    pub flow: watch::Receiver<Flow>,
    /// Whether it runs as a background job (`detach: true`).
    pub detach: bool,
}

/// Frames that bypass the output queue: keepalive must not wait behind stream output.
pub(crate) enum Control {
    Ping,
    Pong(Bytes),
}

/// One frame for the writer.
pub(crate) enum Outgoing {
    Text(String),
    Binary(Bytes),
}

// What a stream's output needs of the session holding it (see `resume::Holder`).
impl resume::Holder for SessionCtx {
    fn user_id(&self) -> &str {
        &self.user.id
    }

    fn closing(&self) -> &CancellationToken {
        &self.cancel
    }

    fn send_message(&self, message: ServerMessage) -> futures_util::future::BoxFuture<'_, bool> {
        Box::pin(self.send(message))
    }

    fn send_frame<'a>(
        &'a self,
        frame: Bytes,
        stop: &'a CancellationToken,
    ) -> futures_util::future::BoxFuture<'a, bool> {
        Box::pin(self.send_binary(frame, stop))
    }

    fn finish_stream(&self, stream: StreamId) {
        SessionCtx::finish_stream(self, stream);
    }

    fn forget_resumable(&self, out: &resume::StreamOut) {
        SessionCtx::forget_resumable(self, out);
    }

    fn has_stream(&self, stream: StreamId) -> bool {
        SessionCtx::has_stream(self, stream)
    }

    fn take_stream(&self, stream: StreamId) -> Option<StreamHandle> {
        SessionCtx::take_stream(self, stream)
    }

    fn adopt(&self, stream: StreamId, handle: StreamHandle, out: Arc<resume::StreamOut>) {
        SessionCtx::adopt(self, stream, handle, out);
    }
}

impl SessionCtx {
    /// Queues a text frame; waits while the client is slow. False once the session is over.
    pub async fn send(&self, message: ServerMessage) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            sent = self.out.send(Outgoing::Text(message.to_text())) => sent.is_ok(),
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
        self.send(ServerMessage::error(stream, err)).await;
    }

    fn has_stream(&self, stream: StreamId) -> bool {
        self.streams
            .lock()
            .expect("streams lock")
            .contains_key(&stream.get())
            || self
                .relays
                .lock()
                .expect("relays lock")
                .contains_key(&stream.get())
    }

    /// Counts a stream of this session as started or ended, in all and for the session.
    pub(super) fn count_stream(&self, started: bool) {
        for counter in [&self.live_streams, &self.own_streams] {
            if started {
                counter.fetch_add(1, Ordering::Relaxed);
            } else {
                counter.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Takes a stream's handle out of this session (it is parked).
    fn take_stream(&self, stream: StreamId) -> Option<StreamHandle> {
        let taken = self
            .streams
            .lock()
            .expect("streams lock")
            .remove(&stream.get());
        if taken.is_some() {
            self.count_stream(false);
        }
        taken
    }

    /// Takes over a parked stream under its old id.
    fn adopt(&self, stream: StreamId, handle: StreamHandle, out: Arc<resume::StreamOut>) {
        self.streams
            .lock()
            .expect("streams lock")
            .insert(stream.get(), handle);
        self.count_stream(true);
        self.resumables.lock().expect("resumables lock").push(out);
    }

    fn forget_resumable(&self, gone: &resume::StreamOut) {
        self.resumables
            .lock()
            .expect("resumables lock")
            .retain(|out| !std::ptr::eq(Arc::as_ptr(out), gone));
    }

    fn take_resumables(&self) -> Vec<Arc<resume::StreamOut>> {
        std::mem::take(&mut *self.resumables.lock().expect("resumables lock"))
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
            self.count_stream(false);
        }
    }
}
