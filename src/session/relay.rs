//! Streams of this session that another replica holds: a watch of a terminal running there, or
//! a reattach of streams parked there. The session opens a session of its own user on that
//! replica (with a relay ticket: see `upgrade`), sends it the client's request, and from then
//! on passes frames through unchanged: everything that session sends (output, `reattached`,
//! `exit`, …) goes to the client, and every message and input frame of the client naming one of
//! those streams goes there. So flow control, resize and input work as they do on the holder,
//! and the holder checks the user's right to each stream as for any session.
//!
//! The session there parks its streams under this session's resume token: when this client is
//! lost, the relay closes without `bye` and the streams wait there, where the client's next
//! reattach (through any replica) is relayed again. When its streams are all over, the relay
//! says `bye` and closes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::protocol::StreamId;
use super::{Outgoing, RelayMap, SessionCtx};
use crate::error::{ApiError, ErrorCode};

/// The header a relay carries its ticket in (never the URL, which access logs keep); `upgrade`
/// reads it.
pub(super) const RELAY_TICKET_HEADER: &str = "berth-relay-ticket";

/// How long the holder has to answer the relay's upgrade.
const CONNECT_WITHIN: Duration = Duration::from_secs(5);

/// How long the holder has to answer the relay's close.
const CLOSE_WITHIN: Duration = Duration::from_secs(2);

/// What the client sends for relayed streams, waiting for the relay to pass it on.
const QUEUE: usize = 64;

/// The messages after which a stream is over (an `error` is, before `started`).
const ENDINGS: [&str; 6] = ["exit", "ran", "end", "built", "derived", "detached"];

/// Opens a relay to the replica at `address` that sends it `request`: a `watch` of `stream`, or
/// (`stream` None) a `reattach`, whose streams are learned from the holder's answer.
pub(super) fn open(
    ctx: &Arc<SessionCtx>,
    address: String,
    request: serde_json::Value,
    stream: Option<StreamId>,
) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let mut mine = HashSet::new();
    if let Some(stream) = stream {
        mine.insert(stream.get());
        relays(ctx).insert(stream.get(), tx.clone());
    }
    let ctx = ctx.clone();
    ctx.tracker.clone().spawn(async move {
        let awaiting = stream.is_none();
        let relay = Relay {
            ctx: &ctx,
            tx: &tx,
            mine,
            started: HashSet::new(),
            awaiting,
        };
        relay.run(&address, request, rx).await;
    });
}

/// Passes a client's text frame to the relay of the stream it names, if it is relayed: whether
/// it was.
pub(super) async fn pass_text(ctx: &SessionCtx, text: &str) -> bool {
    if relays(ctx).is_empty() {
        return false;
    }
    let named = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("stream").and_then(|s| s.as_u64()));
    let Some(stream) = named.and_then(|s| u8::try_from(s).ok()) else {
        return false;
    };
    pass(ctx, stream, Message::text(text)).await
}

/// Passes a client's input frame to the relay of its stream, if it is relayed: whether it was.
pub(super) async fn pass_binary(ctx: &SessionCtx, frame: &Bytes) -> bool {
    match frame.first() {
        Some(&stream) => pass(ctx, stream, Message::binary(frame.clone())).await,
        None => false,
    }
}

async fn pass(ctx: &SessionCtx, stream: u8, message: Message) -> bool {
    let Some(tx) = relays(ctx).get(&stream).cloned() else {
        return false;
    };
    // The relay reads its queue until it closes; a closed one has taken the stream out of the
    // map already or is about to, and the frame is for a stream that is over.
    let _ = tx.send(message).await;
    true
}

fn relays(ctx: &SessionCtx) -> std::sync::MutexGuard<'_, RelayMap> {
    ctx.relays.lock().expect("relays lock")
}

struct Relay<'a> {
    ctx: &'a Arc<SessionCtx>,
    tx: &'a mpsc::Sender<Message>,
    /// The streams it carries that are not over.
    mine: HashSet<u8>,
    /// Those of them that have started (an error after that is about one input).
    started: HashSet<u8>,
    /// A reattach not answered yet.
    awaiting: bool,
}

type Upstream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Relay<'_> {
    async fn run(mut self, address: &str, request: serde_json::Value, rx: mpsc::Receiver<Message>) {
        let ended = match self.connect(address).await {
            Ok(upstream) => self.relay(upstream, request, rx).await,
            Err(err) => Err(err),
        };
        relays(self.ctx).retain(|_, tx| !tx.same_channel(self.tx));
        if let Err(err) = ended {
            tracing::info!(error = %err.message, "relay to another replica ended");
            if self.awaiting {
                self.ctx.send_error(None, &err).await;
            }
            for stream in std::mem::take(&mut self.mine) {
                self.ctx.send_error(Some(stream), &err).await;
            }
        }
    }

    async fn connect(&self, address: &str) -> Result<Upstream, ApiError> {
        let state = &self.ctx.state;
        let ticket = state
            .auth
            .issue_relay_ticket(&state.db, &self.ctx.claims, &self.ctx.resume_hash)
            .await?;
        let url = format!("{}/api/v1/ws", ws_base(address));
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| ApiError::internal(&e))?;
        let ticket = ticket.parse().map_err(|e| ApiError::internal(&e))?;
        request.headers_mut().insert(RELAY_TICKET_HEADER, ticket);
        let gone = |why: String| {
            ApiError::new(
                ErrorCode::Unavailable,
                format!("the replica holding this stream cannot be reached: {why}"),
            )
        };
        let (mut upstream, _) =
            tokio::time::timeout(CONNECT_WITHIN, tokio_tungstenite::connect_async(request))
                .await
                .map_err(|_| gone("no answer".into()))?
                .map_err(|e| gone(e.to_string()))?;
        // Its `hello` (its resume token is this session's, which the client has).
        match upstream.next().await {
            Some(Ok(Message::Text(_))) => Ok(upstream),
            _ => Err(gone("no hello".into())),
        }
    }

    async fn relay(
        &mut self,
        mut upstream: Upstream,
        request: serde_json::Value,
        mut rx: mpsc::Receiver<Message>,
    ) -> Result<(), ApiError> {
        let lost = || {
            ApiError::new(
                ErrorCode::Unavailable,
                "the replica holding this stream went away",
            )
        };
        upstream
            .send(Message::text(request.to_string()))
            .await
            .map_err(|_| lost())?;
        loop {
            if self.mine.is_empty() && !self.awaiting {
                // Nothing of the client's is there any more: nothing is to be parked.
                close(upstream, true).await;
                return Ok(());
            }
            tokio::select! {
                _ = self.ctx.cancel.cancelled() => {
                    // Lost (no `bye`): the session there parks the streams for a reattach.
                    let bye = self.ctx.bye.load(std::sync::atomic::Ordering::Relaxed);
                    close(upstream, bye).await;
                    self.mine.clear();
                    self.awaiting = false;
                    return Ok(());
                }
                Some(message) = rx.recv() => {
                    upstream.send(message).await.map_err(|_| lost())?;
                }
                down = upstream.next() => match down {
                    Some(Ok(Message::Text(text))) => self.down_text(text.as_str()).await,
                    Some(Ok(Message::Binary(frame))) => {
                        if let Some(&stream) = frame.first() {
                            self.learn(stream);
                            self.ctx.send_binary(frame, &self.ctx.cancel).await;
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Err(lost()),
                    Some(Ok(_)) => {} // pings are answered by the client library
                },
            }
        }
    }

    /// A message from the holder: to the client (but its keepalive), noting which streams it
    /// starts and ends.
    async fn down_text(&mut self, text: &str) {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(text) else {
            return;
        };
        let kind = message.get("type").and_then(|t| t.as_str()).unwrap_or("");
        let stream = message
            .get("stream")
            .and_then(|s| s.as_u64())
            .and_then(|s| u8::try_from(s).ok());
        match (kind, stream) {
            ("hello" | "pong", _) => return,
            ("reattached", _) => {
                self.awaiting = false;
                let streams = message.get("streams").and_then(|s| s.as_array());
                for reported in streams.into_iter().flatten() {
                    let id = reported.get("stream").and_then(|s| s.as_u64());
                    if let Some(id) = id.and_then(|s| u8::try_from(s).ok()) {
                        self.learn(id);
                        self.started.insert(id);
                    }
                }
            }
            ("error", None) => self.awaiting = false,
            (_, Some(stream)) => self.learn(stream),
            _ => {}
        }
        // Forgotten before its last message goes, so that a client using the id again at once
        // starts a stream here.
        if let Some(stream) = stream {
            match kind {
                "started" => {
                    self.started.insert(stream);
                }
                "error" if !self.started.contains(&stream) => self.forget(stream),
                kind if ENDINGS.contains(&kind) => self.forget(stream),
                _ => {}
            }
        }
        let cancel = &self.ctx.cancel;
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = self.ctx.out.send(Outgoing::Text(text.to_string())) => {}
        }
    }

    /// A stream the holder speaks of is this relay's (a reattach's streams come this way).
    fn learn(&mut self, stream: u8) {
        if self.mine.insert(stream) {
            relays(self.ctx).insert(stream, self.tx.clone());
        }
    }

    fn forget(&mut self, stream: u8) {
        self.mine.remove(&stream);
        self.started.remove(&stream);
        relays(self.ctx).remove(&stream);
    }
}

/// Ends the relay's session there, with `bye` or without. The holder's close is waited for (the
/// closing handshake): a connection dropped right after its close frame can lose the frames
/// before it there, `bye` among them, and the streams would be parked instead of stopped.
async fn close(mut upstream: Upstream, bye: bool) {
    if bye {
        let _ = upstream.send(Message::text(r#"{"type":"bye"}"#)).await;
    }
    let _ = upstream.close(None).await;
    let _ = tokio::time::timeout(CLOSE_WITHIN, async {
        while let Some(Ok(_)) = upstream.next().await {}
    })
    .await;
}

/// The WebSocket base of a replica's `http(s)://host:port` address.
fn ws_base(address: &str) -> String {
    match address.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}"),
        None => format!(
            "ws://{}",
            address.strip_prefix("http://").unwrap_or(address)
        ),
    }
}
