//! Every live session of this server, so that logout, account deletion and shutdown can close
//! them, and a count of their streams.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_ws::{CloseCode, CloseReason};
use dashmap::DashMap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// All live sessions of this server, so logout, account deletion and shutdown can close them.
pub struct Sessions {
    pub(super) live: DashMap<String, LiveSession>,
    pub(super) shutdown: CancellationToken,
    pub(super) tracker: TaskTracker,
    pub(super) live_streams: Arc<AtomicUsize>,
    /// Open sessions per user, so one user cannot hold the server's sockets and tasks.
    per_user: DashMap<String, usize>,
}

pub(super) struct LiveSession {
    pub(super) user_id: String,
    pub(super) jti: String,
    pub(super) cancel: CancellationToken,
    pub(super) reason: Arc<OnceLock<CloseReason>>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            live: DashMap::new(),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            live_streams: Arc::new(AtomicUsize::new(0)),
            per_user: DashMap::new(),
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

    /// Counts a new session of `user_id`, unless they have `max` open already.
    pub(super) fn admit(&self, user_id: &str, max: usize) -> bool {
        let mut open = self.per_user.entry(user_id.to_string()).or_insert(0);
        if *open >= max {
            return false;
        }
        *open += 1;
        true
    }

    /// Counts a session of `user_id` as closed.
    pub(super) fn left(&self, user_id: &str) {
        self.per_user.remove_if_mut(user_id, |_, open| {
            *open = open.saturating_sub(1);
            *open == 0
        });
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
