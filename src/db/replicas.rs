//! `replicas`, `live_execs` and `leadership`: which berth processes are alive, what each has
//! running in containers, and which one leads (see `replicas` the service).

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use super::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReplicaRow {
    pub id: String,
    pub started_ms: i64,
    pub heartbeat_ms: i64,
    pub local_engine: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveExec {
    pub marker: String,
    pub replica_id: String,
    pub host: String,
    pub container_id: String,
    pub exec_id: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Leadership {
    pub term: i64,
    pub replica_id: String,
    pub since_ms: i64,
}

/// One replica's heartbeat.
pub struct Beat<'a> {
    pub id: &'a str,
    /// Where the others reach it.
    pub address: &'a str,
    pub started_ms: i64,
    pub now_ms: i64,
    /// The ID of the engine it reaches as `local`, once known.
    pub local_engine: Option<&'a str>,
}

/// Records that a replica is alive (its row made again if the others took it for dead).
pub async fn beat(db: &Db, beat: &Beat<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO replicas (id, started_ms, heartbeat_ms, address, local_engine) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET heartbeat_ms = $3, \
           local_engine = COALESCE($5, replicas.local_engine)",
    )
    .bind(beat.id)
    .bind(beat.started_ms)
    .bind(beat.now_ms)
    .bind(beat.address)
    .bind(beat.local_engine)
    .execute(db)
    .await?;
    Ok(())
}

/// The `local` engine of each replica alive (heartbeat at `alive_since_ms` or later), None for
/// one that has not said yet.
pub async fn local_engines(
    db: &Db,
    alive_since_ms: i64,
) -> Result<Vec<Option<String>>, sqlx::Error> {
    sqlx::query_scalar("SELECT local_engine FROM replicas WHERE heartbeat_ms >= $1")
        .bind(alive_since_ms)
        .fetch_all(db)
        .await
}

/// A replica that stops: its row goes, and with it its claim to be alive.
pub async fn leave(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM replicas WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn all(db: &Db) -> Result<Vec<ReplicaRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, started_ms, heartbeat_ms, local_engine FROM replicas ORDER BY started_ms",
    )
    .fetch_all(db)
    .await
}

/// The term a leader is in, and who holds it; None before the first leader.
pub async fn leadership(db: &Db) -> Result<Option<Leadership>, sqlx::Error> {
    sqlx::query_as("SELECT term, replica_id, since_ms FROM leadership WHERE id = 1")
        .fetch_optional(db)
        .await
}

/// Whether `term` is still the leader's: checked right before what a leader does on an engine,
/// which no statement can make conditional.
pub async fn holds_term(db: &Db, term: i64) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM leadership WHERE id = 1 AND term = $1")
        .bind(term)
        .fetch_one(db)
        .await?;
    Ok(n == 1)
}

/// `replica` becomes leader: the term is raised, and the new one returned.
pub async fn take_term(db: &Db, replica: &str, now_ms: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO leadership (id, term, replica_id, since_ms) VALUES (1, 1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET term = leadership.term + 1, replica_id = $1, since_ms = $2 \
         RETURNING term",
    )
    .bind(replica)
    .bind(now_ms)
    .fetch_one(db)
    .await
}

/// Forgets the replicas whose heartbeat is older than `before_ms`, while `term` is current;
/// returns their ids. Never the `leader` itself: it is alive, however late its last beat was
/// written (alone on a busy SQLite file, it would otherwise declare itself dead).
pub async fn forget_dead(
    db: &Db,
    before_ms: i64,
    leader: &str,
    term: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "DELETE FROM replicas WHERE heartbeat_ms < $1 AND id <> $2 \
         AND EXISTS (SELECT 1 FROM leadership WHERE id = 1 AND term = $3) RETURNING id",
    )
    .bind(before_ms)
    .bind(leader)
    .bind(term)
    .fetch_all(db)
    .await
}

/// Everything but `alive`: at the start of a berth alone on its database, every other row is
/// an earlier run of it.
pub async fn forget_others(db: &Db, alive: &str) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM replicas WHERE id <> $1")
        .bind(alive)
        .execute(db)
        .await?;
    super::held::forget_orphans(db, None).await?;
    Ok(done.rows_affected())
}

/// Where `id` is reached, while it is alive (its heartbeat at `alive_since_ms` or later).
pub async fn address_of(
    db: &Db,
    id: &str,
    alive_since_ms: i64,
) -> Result<Option<String>, sqlx::Error> {
    let found: Option<Option<String>> =
        sqlx::query_scalar("SELECT address FROM replicas WHERE id = $1 AND heartbeat_ms >= $2")
            .bind(id)
            .bind(alive_since_ms)
            .fetch_optional(db)
            .await?;
    Ok(found.flatten())
}

/// Records an exec the engine is about to start.
pub async fn exec_started(db: &Db, exec: &LiveExec, now_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO live_execs (marker, replica_id, host, container_id, exec_id, started_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&exec.marker)
    .bind(&exec.replica_id)
    .bind(&exec.host)
    .bind(&exec.container_id)
    .bind(&exec.exec_id)
    .bind(now_ms)
    .execute(db)
    .await?;
    Ok(())
}

/// What an exec left is killed: its row goes.
pub async fn exec_ended(db: &Db, marker: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM live_execs WHERE marker = $1")
        .bind(marker)
        .execute(db)
        .await?;
    Ok(())
}

/// The execs of replicas no longer alive.
pub async fn orphaned_execs(db: &Db) -> Result<Vec<LiveExec>, sqlx::Error> {
    sqlx::query_as(
        "SELECT marker, replica_id, host, container_id, exec_id FROM live_execs \
         WHERE replica_id NOT IN (SELECT id FROM replicas)",
    )
    .fetch_all(db)
    .await
}

/// Forgets an orphaned exec whose processes were killed, while `term` is current.
pub async fn forget_orphaned_exec(db: &Db, marker: &str, term: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM live_execs WHERE marker = $1 \
         AND EXISTS (SELECT 1 FROM leadership WHERE id = 1 AND term = $2)",
    )
    .bind(marker)
    .bind(term)
    .execute(db)
    .await?;
    Ok(())
}

/// How many execs each replica has running.
pub async fn exec_counts(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT replica_id, CAST(COUNT(*) AS BIGINT) FROM live_execs GROUP BY replica_id",
    )
    .fetch_all(db)
    .await
}

/// The application name the leader's connection goes by (in `pg_stat_activity`).
pub const LEADER_APPLICATION: &str = "berth-leader";

/// The key of the session-level advisory lock the leader holds.
const LEADER_LOCK: i64 = 0x6265_7274_686c_6472; // "berthldr"

/// PostgreSQL: a connection of its own, to hold the leader's advisory lock on. The lock goes
/// with the connection; TCP keepalives (on the server's side) let PostgreSQL see within seconds
/// that a leader's machine vanished.
pub async fn lead_connection(url: &str) -> Result<PgConnection, sqlx::Error> {
    let mut conn = PgConnectOptions::from_str(url)?
        .application_name(LEADER_APPLICATION)
        .connect()
        .await?;
    for setting in [
        "SET tcp_keepalives_idle = 2",
        "SET tcp_keepalives_interval = 1",
        "SET tcp_keepalives_count = 3",
    ] {
        sqlx::query(setting).execute(&mut conn).await?;
    }
    Ok(conn)
}

/// Takes the leader's lock on `conn`: false while another replica's connection holds it.
pub async fn try_lead(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(LEADER_LOCK)
        .fetch_one(conn)
        .await
}

/// The leader's connection still answers (and so still holds the lock).
pub async fn still_leading(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    conn.ping().await
}
