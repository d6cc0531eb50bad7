//! `events`: what replicas tell each other, and the PostgreSQL notifications that wake them.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use super::Db;

/// One event as stored.
#[derive(sqlx::FromRow)]
pub struct Row {
    pub seq: i64,
    pub channel: String,
    pub body: String,
}

/// Stores `events` (channel, body) in one transaction, numbered after every event before them,
/// and returns the last seq given. The lock held until the commit makes publishers take turns,
/// so a reader never sees seq N+1 while N is still uncommitted.
pub async fn append(db: &Db, events: &[(&str, String)], at_ms: i64) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin().await?;
    super::hold(&mut tx, "events").await?;
    let mut seq = 0;
    // The next seq is read by the INSERT itself: on SQLite a transaction that read first and
    // wrote after would fail at once (`database is locked`) when another write came between,
    // rather than wait its turn.
    for (channel, body) in events {
        seq = sqlx::query_scalar(
            "INSERT INTO events (seq, channel, body, at_ms) \
             SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) + 1, $1, $2, $3 FROM events \
             RETURNING seq",
        )
        .bind(*channel)
        .bind(body)
        .bind(at_ms)
        .fetch_one(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(seq)
}

/// The last seq given (0 before the first event).
pub async fn last_seq(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM events")
        .fetch_one(db)
        .await
}

/// Up to `limit` events after `seq`, in order.
pub async fn after(db: &Db, seq: i64, limit: i64) -> Result<Vec<Row>, sqlx::Error> {
    sqlx::query_as("SELECT seq, channel, body FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(seq)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// Forgets events older than `before_ms`, but never the last one: the next seq follows it.
pub async fn prune(db: &Db, before_ms: i64) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM events WHERE at_ms < $1 AND seq < (SELECT MAX(seq) FROM events)")
            .bind(before_ms)
            .execute(db)
            .await?;
    Ok(done.rows_affected())
}

/// PostgreSQL: wakes the replicas listening on `channel`, saying up to which seq there is.
pub async fn notify(db: &Db, channel: &str, seq: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1 FROM (SELECT pg_notify($1, $2)) AS sent")
        .bind(channel)
        .bind(seq.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// The application name a replica's listening connection goes by (in `pg_stat_activity`).
pub const LISTENER_APPLICATION: &str = "berth-listener";

/// PostgreSQL: a connection of its own that listens on `channels`. sqlx reconnects it at the
/// next receive after it is lost, and what was notified meanwhile is gone: the caller reads
/// the rows back.
pub async fn listen(url: &str, channels: &[&str]) -> Result<PgListener, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.application_name(LISTENER_APPLICATION);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with(options);
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen_all(channels.iter().copied()).await?;
    Ok(listener)
}
