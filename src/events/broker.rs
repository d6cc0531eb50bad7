//! What wakes replicas when events are written: nothing beyond the process on SQLite (one
//! process has the file), PostgreSQL's LISTEN/NOTIFY on a shared database. Another broker
//! (NATS, Redis) would be one more implementation; the services see only [`super::Events`].

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::db::{self, Db};

pub trait Broker: Send + Sync {
    /// Tells the other replicas that `channel` has events up to `seq`.
    fn announce<'a>(&'a self, channel: &'a str, seq: i64)
        -> BoxFuture<'a, Result<(), sqlx::Error>>;

    /// Wakes `read` at every announcement on `channels` heard, and each time listening starts
    /// (again: what was announced while it was not listening is lost), until `stop`.
    fn listen(
        self: Arc<Self>,
        channels: &'static [&'static str],
        read: Arc<Notify>,
        stop: CancellationToken,
    ) -> BoxFuture<'static, ()>;
}

/// One process: the writer wakes its own reader, there is nobody else.
pub struct Local;

impl Broker for Local {
    fn announce<'a>(&'a self, _: &'a str, _: i64) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async { Ok(()) })
    }

    fn listen(
        self: Arc<Self>,
        _: &'static [&'static str],
        _: Arc<Notify>,
        stop: CancellationToken,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move { stop.cancelled().await })
    }
}

/// PostgreSQL's LISTEN/NOTIFY: a notification on `berth_<channel>` carries the last seq.
pub struct Postgres {
    db: Db,
    url: String,
}

/// How long a listener that could not connect waits before it tries again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

impl Postgres {
    pub fn new(db: Db, url: String) -> Postgres {
        Postgres { db, url }
    }
}

fn pg_channel(channel: &str) -> String {
    format!("berth_{channel}")
}

impl Broker for Postgres {
    fn announce<'a>(
        &'a self,
        channel: &'a str,
        seq: i64,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move { db::events::notify(&self.db, &pg_channel(channel), seq).await })
    }

    fn listen(
        self: Arc<Self>,
        channels: &'static [&'static str],
        read: Arc<Notify>,
        stop: CancellationToken,
    ) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let channels: Vec<String> = channels.iter().map(|c| pg_channel(c)).collect();
            let channels: Vec<&str> = channels.iter().map(String::as_str).collect();
            loop {
                let connected = tokio::select! {
                    _ = stop.cancelled() => return,
                    connected = db::events::listen(&self.url, &channels) => connected,
                };
                let mut listener = match connected {
                    Ok(listener) => listener,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for events; trying again");
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = tokio::time::sleep(RECONNECT_AFTER) => continue,
                        }
                    }
                };
                // Listening (again): what went by meanwhile is read now.
                read.notify_one();
                loop {
                    let heard = tokio::select! {
                        _ = stop.cancelled() => return,
                        heard = listener.try_recv() => heard,
                    };
                    match heard {
                        Ok(Some(_)) => read.notify_one(),
                        // Lost: sqlx would reconnect at the next receive, but not say when it
                        // listens again; a new listener does, and wakes the reader then.
                        Ok(None) => {
                            tracing::warn!("the event listener's connection was lost");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "the event listener failed");
                            break;
                        }
                    }
                }
            }
        })
    }
}
