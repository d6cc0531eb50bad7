//! One leader among the replicas, for the work only one may do (culling, sweeping dead
//! replicas, running unfinished checks again, collecting at due times, pruning). On PostgreSQL
//! the leader holds a session-level advisory lock on a connection of its own: when its process
//! dies, PostgreSQL ends that session and the lock goes; the others try for it every
//! [`TRY_EVERY`]. Each new leader raises the term in `leadership`, and its writes are
//! conditional on that term, so a leader that lost its lock without knowing it yet changes
//! nothing. Alone on SQLite, berth leads at once.

use std::time::Duration;

use sqlx::postgres::PgConnection;
use tokio_util::sync::CancellationToken;

use crate::db::{self, Db};

/// How often a replica that does not lead tries to.
pub const TRY_EVERY: Duration = Duration::from_secs(2);

/// How often the leader checks that its connection, and so its lock, is still there.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Runs `duties(term, leading)` whenever this replica becomes leader; `leading` is cancelled
/// when it stops being leader (its lock's connection is lost) or at `stop`. `shared_url` is the
/// PostgreSQL database the replicas share; None: berth is alone.
pub async fn lead<F>(
    db: Db,
    shared_url: Option<String>,
    replica: String,
    stop: CancellationToken,
    duties: F,
) where
    F: Fn(i64, CancellationToken),
{
    let Some(url) = shared_url else {
        match begin_term(&db, &replica).await {
            Some(term) => duties(term, stop.child_token()),
            None => tracing::error!("could not take the leader's term: nothing is culled"),
        }
        return;
    };
    // Kept between tries while the lock is another's.
    let mut waiting: Option<PgConnection> = None;
    loop {
        let attempt = tokio::select! {
            _ = stop.cancelled() => return,
            attempt = try_lead(&url, &mut waiting) => attempt,
        };
        match attempt {
            Ok(Some(mut lock)) => {
                if let Some(term) = begin_term(&db, &replica).await {
                    let leading = stop.child_token();
                    duties(term, leading.clone());
                    hold(&mut lock, &stop).await;
                    leading.cancel();
                    tracing::warn!(term, "this replica stopped leading");
                }
                // Dropping the connection gives up the lock, if PostgreSQL has not already.
                drop(lock);
            }
            Ok(None) => {}
            Err(e) => {
                waiting = None;
                tracing::warn!(error = %e, "could not try for the leader's lock");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(TRY_EVERY) => {}
        }
    }
}

/// Tries for the lock on the `waiting` connection (made first if there is none): the
/// connection, now holding the lock, or None while another holds it.
async fn try_lead(
    url: &str,
    waiting: &mut Option<PgConnection>,
) -> Result<Option<PgConnection>, sqlx::Error> {
    let conn = match waiting {
        Some(conn) => conn,
        None => waiting.insert(db::replicas::lead_connection(url).await?),
    };
    match db::replicas::try_lead(conn).await? {
        true => Ok(waiting.take()),
        false => Ok(None),
    }
}

async fn begin_term(db: &Db, replica: &str) -> Option<i64> {
    match db::replicas::take_term(db, replica, crate::clock::now_ms()).await {
        Ok(term) => {
            tracing::info!(term, replica, "this replica leads");
            Some(term)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not take the leader's term");
            None
        }
    }
}

/// Until `stop`, or until the lock's connection stops answering.
async fn hold(lock: &mut PgConnection, stop: &CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(CHECK_EVERY) => {}
        }
        match tokio::time::timeout(CHECK_EVERY * 2, db::replicas::still_leading(lock)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the leader's connection was lost");
                return;
            }
            Err(_) => {
                tracing::warn!("the leader's connection stopped answering");
                return;
            }
        }
    }
}
