//! Events between berth replicas, and within one: a check-in taken by one replica reaches the
//! teacher's screen on another, a logout there closes the sessions here.
//!
//! An event is a row (`db::events`), written after whatever it tells of has been committed, in
//! a short transaction of its own. A [`Broker`] only wakes the replicas to read the rows they
//! have not seen yet; every replica also reads them every [`CATCH_UP`] whatever it heard, so a
//! wake-up that is lost (a listener's connection dropped and made again: sqlx #447, #1102)
//! delays an event by at most that and loses nothing. Wake-ups are sent after the rows are
//! written, at most one per channel for however many rows were written meanwhile.

pub mod broker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

pub use broker::Broker;

use crate::clock::now_ms;
use crate::db::{self, Db};
use crate::error::ApiError;

/// How often a replica reads events whatever it heard.
pub const CATCH_UP: Duration = Duration::from_secs(1);
/// How long events are kept: a replica away from the database for longer misses what went by.
pub const KEPT: Duration = Duration::from_secs(600);
/// Events read at once.
const PAGE: i64 = 256;

/// What one replica tells every replica (itself included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A student's first check-in to an attendance session; `count` is who is there now.
    CheckIn {
        attendance: String,
        user_id: String,
        username: String,
        at_ms: i64,
        count: i64,
    },
    AttendanceClosed {
        attendance: String,
    },
    /// A token was revoked (its user signed out): the sessions opened with it close.
    TokenRevoked {
        user_id: String,
        jti: String,
    },
    /// An account is being deleted: its sessions, parked streams and jobs end.
    AccountDeleted {
        user_id: String,
    },
    /// An admin ended a user's sessions.
    SessionsEnded {
        user_id: String,
    },
    /// A Docker host was added or removed: every replica reads the hosts again.
    HostsChanged {},
    /// A user stopped a background job (their right to was checked): the replica running it
    /// kills it.
    JobCancelled {
        job: String,
    },
}

impl Event {
    /// The channel it is announced on.
    pub fn channel(&self) -> &'static str {
        match self {
            Event::CheckIn { .. } | Event::AttendanceClosed { .. } => "attendance",
            Event::TokenRevoked { .. }
            | Event::AccountDeleted { .. }
            | Event::SessionsEnded { .. } => "sessions",
            Event::HostsChanged {} => "hosts",
            Event::JobCancelled { .. } => "jobs",
        }
    }
}

/// Every channel there is, for a broker to listen on.
pub const CHANNELS: [&str; 4] = ["attendance", "sessions", "hosts", "jobs"];

/// Publishes events and hands every replica's to this one's subscribers.
pub struct Events {
    db: Db,
    broker: Arc<dyn Broker>,
    /// Events read from the rows, for this replica's subscribers.
    heard: broadcast::Sender<Arc<Event>>,
    /// Wakes the reader: a broker heard something, or this replica wrote something.
    read_now: Arc<Notify>,
    /// The last seq written per channel and not yet announced, and what wakes the announcer.
    unannounced: Mutex<HashMap<&'static str, i64>>,
    announce_now: Notify,
}

impl Events {
    pub fn new(db: Db, broker: Arc<dyn Broker>) -> Events {
        Events {
            db,
            broker,
            heard: broadcast::channel(4096).0,
            read_now: Arc::new(Notify::new()),
            unannounced: Mutex::new(HashMap::new()),
            announce_now: Notify::new(),
        }
    }

    /// Writes `event` for every replica; it is stored when this returns.
    pub async fn publish(&self, event: Event) -> Result<(), ApiError> {
        let body = serde_json::to_string(&event).map_err(|e| ApiError::internal(&e))?;
        let seq = db::events::append(&self.db, &[(event.channel(), body)], now_ms()).await?;
        self.read_now.notify_one();
        self.unannounced
            .lock()
            .expect("events lock")
            .insert(event.channel(), seq);
        self.announce_now.notify_one();
        Ok(())
    }

    /// Every event from now on, this replica's and the others'.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.heard.subscribe()
    }

    /// Listens, reads and announces until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let listening = self
            .broker
            .clone()
            .listen(&CHANNELS, self.read_now.clone(), stop.clone());
        tokio::join!(listening, self.read(stop.clone()), self.announce(stop));
    }

    /// Reads the events after the last one seen, when woken and every [`CATCH_UP`].
    async fn read(&self, stop: CancellationToken) {
        let mut seen = loop {
            match db::events::last_seq(&self.db).await {
                Ok(seq) => break seq,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the last event; trying again");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(CATCH_UP) => {}
                    }
                }
            }
        };
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.read_now.notified() => {}
                _ = tokio::time::sleep(CATCH_UP) => {}
            }
            loop {
                let rows = match db::events::after(&self.db, seen, PAGE).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read events");
                        break;
                    }
                };
                for row in &rows {
                    seen = row.seq;
                    match serde_json::from_str::<Event>(&row.body) {
                        Ok(event) => {
                            let _ = self.heard.send(Arc::new(event));
                        }
                        // A newer replica's event this one does not know.
                        Err(e) => {
                            tracing::warn!(seq = row.seq, channel = %row.channel, error = %e, "event not understood")
                        }
                    }
                }
                if (rows.len() as i64) < PAGE {
                    break;
                }
            }
        }
    }

    /// Wakes the other replicas for what was written: once per channel however many rows.
    async fn announce(&self, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.announce_now.notified() => {}
            }
            let due: Vec<(&'static str, i64)> = self
                .unannounced
                .lock()
                .expect("events lock")
                .drain()
                .collect();
            for (channel, seq) in due {
                if let Err(e) = self.broker.announce(channel, seq).await {
                    // The others read it at their next catch-up.
                    tracing::warn!(channel, error = %e, "could not announce events");
                }
            }
        }
    }

    /// Forgets events older than [`KEPT`].
    pub async fn prune(&self) -> Result<u64, sqlx::Error> {
        db::events::prune(&self.db, now_ms() - KEPT.as_millis() as i64).await
    }
}
