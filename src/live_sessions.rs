//! Every live WebSocket session of this server, so that logout, account deletion and shutdown
//! can close them, with a count per user and of their streams.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Why a session was closed from outside it (or by its heartbeat); the session turns it into
/// its close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closing {
    TokenRevoked,
    AccountDeleted,
    /// An admin ended the user's sessions.
    EndedByAdmin,
    ServerShutdown,
    /// The client sent nothing for the heartbeat timeout.
    Silent,
}

/// Set once, by whoever closes the session first.
pub type ClosingReason = Arc<OnceLock<Closing>>;

/// All live sessions of this server.
pub struct Sessions {
    live: DashMap<String, LiveSession>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    live_streams: Arc<AtomicUsize>,
}

struct LiveSession {
    user_id: String,
    jti: String,
    /// Its row in the database, counted against its user's limit on every replica (a relay's
    /// session has none: its client's session is counted where it is).
    seat: Option<String>,
    /// Its live streams (the session counts them).
    streams: Arc<AtomicUsize>,
    cancel: CancellationToken,
    reason: ClosingReason,
}

/// A session with a seat (a row), as [`Sessions::seats`] lists it.
pub struct Seated {
    pub user_id: String,
    pub streams: usize,
}

/// A session just registered: its id, the token that ends it and where its closing reason
/// goes.
pub struct Opened {
    pub id: String,
    /// Where the session counts its live streams.
    pub streams: Arc<AtomicUsize>,
    pub cancel: CancellationToken,
    pub reason: ClosingReason,
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

    /// Registers an admitted session opened with token `jti` (in `seat`, its row); it ends with
    /// the server.
    pub fn open(&self, user_id: &str, jti: &str, seat: Option<&str>) -> Opened {
        let opened = Opened {
            id: uuid::Uuid::new_v4().to_string(),
            streams: Arc::new(AtomicUsize::new(0)),
            cancel: self.shutdown.child_token(),
            reason: Arc::new(OnceLock::new()),
        };
        self.live.insert(
            opened.id.clone(),
            LiveSession {
                user_id: user_id.to_string(),
                jti: jti.to_string(),
                seat: seat.map(str::to_string),
                streams: opened.streams.clone(),
                cancel: opened.cancel.clone(),
                reason: opened.reason.clone(),
            },
        );
        opened
    }

    /// Forgets a session that has ended.
    pub fn closed(&self, id: &str) {
        self.live.remove(id);
    }

    /// A token that ends with the server (the sessions' own end sooner): a resumable stream's.
    pub fn child_token(&self) -> CancellationToken {
        self.shutdown.child_token()
    }

    /// The tasks of every session, which shutdown waits for.
    pub fn tracker(&self) -> TaskTracker {
        self.tracker.clone()
    }

    /// The counter the streams of every session add themselves to.
    pub fn stream_counter(&self) -> Arc<AtomicUsize> {
        self.live_streams.clone()
    }

    /// Streams (exec, logs, stats) running now, over all sessions.
    pub fn live_streams(&self) -> usize {
        self.live_streams.load(Ordering::Relaxed)
    }

    /// The live streams of this replica's sessions, by user id.
    pub fn streams_per_user(&self) -> std::collections::HashMap<String, usize> {
        let mut counts = std::collections::HashMap::new();
        for session in self.live.iter() {
            *counts.entry(session.user_id.clone()).or_insert(0) +=
                session.streams.load(Ordering::Relaxed);
        }
        counts
    }

    /// Each session that has a seat: its user and live streams, by seat (its row's id).
    pub fn seats(&self) -> std::collections::HashMap<String, Seated> {
        self.live
            .iter()
            .filter_map(|s| {
                let seated = Seated {
                    user_id: s.user_id.clone(),
                    streams: s.streams.load(Ordering::Relaxed),
                };
                Some((s.seat.clone()?, seated))
            })
            .collect()
    }

    /// Closes the sessions `pred` picks; how many.
    fn close_where(&self, why: Closing, pred: impl Fn(&LiveSession) -> bool) -> usize {
        let mut closed = 0;
        for entry in self.live.iter().filter(|e| pred(e.value())) {
            let _ = entry.reason.set(why);
            entry.cancel.cancel();
            closed += 1;
        }
        closed
    }

    /// Closes every session opened with this token (it was revoked).
    pub fn close_token(&self, jti: &str) {
        self.close_where(Closing::TokenRevoked, |s| s.jti == jti);
    }

    /// Closes every session of this user (the account is going away).
    pub fn close_user(&self, user_id: &str) {
        self.close_where(Closing::AccountDeleted, |s| s.user_id == user_id);
    }

    /// Closes every session of this user because an admin said so; how many there were.
    pub fn end_user(&self, user_id: &str) -> usize {
        self.close_where(Closing::EndedByAdmin, |s| s.user_id == user_id)
    }

    /// Closes every session and waits (bounded) until their streams have cleaned up.
    pub async fn shutdown(&self, within: Duration) {
        for entry in self.live.iter() {
            let _ = entry.reason.set(Closing::ServerShutdown);
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
