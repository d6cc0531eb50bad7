//! `live_shares`, `live_sources` and `parked_streams`: the streams a replica holds in its memory
//! that a client of another replica may ask for (a watch, a reattach). The other replica finds
//! the holder here and relays to it. `live_sessions`: the WebSocket sessions each replica holds,
//! counted against a user's limit. Rows of a replica that is not alive are never answered or
//! counted, and the leader forgets them.

use super::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShareRow {
    pub id: String,
    pub replica_id: String,
    pub course_id: String,
    pub by_username: String,
    pub started_ms: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SourceRow {
    pub id: String,
    pub replica_id: String,
    pub workspace_id: String,
    pub kind: String,
    pub tty: i64,
    pub started_ms: i64,
}

/// The replica holding something, and where it is reached.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Holder {
    pub replica_id: String,
    pub address: Option<String>,
}

pub async fn share_added(db: &Db, share: &ShareRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO live_shares (id, replica_id, course_id, by_username, started_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&share.id)
    .bind(&share.replica_id)
    .bind(&share.course_id)
    .bind(&share.by_username)
    .bind(share.started_ms)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn share_ended(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM live_shares WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The shares of a course held by replicas alive since `alive_since_ms`, oldest first.
pub async fn shares_of_course(
    db: &Db,
    course_id: &str,
    alive_since_ms: i64,
) -> Result<Vec<ShareRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.replica_id, s.course_id, s.by_username, s.started_ms \
         FROM live_shares s JOIN replicas r ON r.id = s.replica_id \
         WHERE s.course_id = $1 AND r.heartbeat_ms >= $2 ORDER BY s.started_ms, s.id",
    )
    .bind(course_id)
    .bind(alive_since_ms)
    .fetch_all(db)
    .await
}

pub async fn share_holder(
    db: &Db,
    id: &str,
    alive_since_ms: i64,
) -> Result<Option<Holder>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id AS replica_id, r.address FROM live_shares s \
         JOIN replicas r ON r.id = s.replica_id WHERE s.id = $1 AND r.heartbeat_ms >= $2",
    )
    .bind(id)
    .bind(alive_since_ms)
    .fetch_optional(db)
    .await
}

pub async fn source_added(db: &Db, source: &SourceRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO live_sources (id, replica_id, workspace_id, kind, tty, started_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&source.id)
    .bind(&source.replica_id)
    .bind(&source.workspace_id)
    .bind(&source.kind)
    .bind(source.tty)
    .bind(source.started_ms)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn source_ended(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM live_sources WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The live streams of a workspace held by replicas alive since `alive_since_ms`, oldest first.
pub async fn sources_of_workspace(
    db: &Db,
    workspace_id: &str,
    alive_since_ms: i64,
) -> Result<Vec<SourceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.replica_id, s.workspace_id, s.kind, s.tty, s.started_ms \
         FROM live_sources s JOIN replicas r ON r.id = s.replica_id \
         WHERE s.workspace_id = $1 AND r.heartbeat_ms >= $2 ORDER BY s.started_ms, s.id",
    )
    .bind(workspace_id)
    .bind(alive_since_ms)
    .fetch_all(db)
    .await
}

pub async fn source_holder(
    db: &Db,
    workspace_id: &str,
    id: &str,
    alive_since_ms: i64,
) -> Result<Option<Holder>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id AS replica_id, r.address FROM live_sources s \
         JOIN replicas r ON r.id = s.replica_id \
         WHERE s.id = $1 AND s.workspace_id = $2 AND r.heartbeat_ms >= $3",
    )
    .bind(id)
    .bind(workspace_id)
    .bind(alive_since_ms)
    .fetch_optional(db)
    .await
}

/// Records streams of `user_id` parked under `resume_hash` on `replica_id` until `until_ms`.
pub async fn parked(
    db: &Db,
    resume_hash: &str,
    replica_id: &str,
    user_id: &str,
    until_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO parked_streams (resume_hash, replica_id, user_id, until_ms) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (resume_hash) \
         DO UPDATE SET replica_id = $2, user_id = $3, until_ms = $4",
    )
    .bind(resume_hash)
    .bind(replica_id)
    .bind(user_id)
    .bind(until_ms)
    .execute(db)
    .await?;
    Ok(())
}

/// The parked streams under `resume_hash` were taken over or stopped (on `replica_id`).
pub async fn unparked(db: &Db, resume_hash: &str, replica_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM parked_streams WHERE resume_hash = $1 AND replica_id = $2")
        .bind(resume_hash)
        .bind(replica_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The live replica holding `user_id`'s streams parked under `resume_hash`, within their grace.
pub async fn parked_holder(
    db: &Db,
    resume_hash: &str,
    user_id: &str,
    now_ms: i64,
    alive_since_ms: i64,
) -> Result<Option<Holder>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id AS replica_id, r.address FROM parked_streams p \
         JOIN replicas r ON r.id = p.replica_id \
         WHERE p.resume_hash = $1 AND p.user_id = $2 AND p.until_ms > $3 \
         AND r.heartbeat_ms >= $4",
    )
    .bind(resume_hash)
    .bind(user_id)
    .bind(now_ms)
    .bind(alive_since_ms)
    .fetch_optional(db)
    .await
}

/// Forgets what replicas no longer recorded held, and parked streams past their grace. With a
/// `term`, only while that term is the leader's (a stale leader changes nothing).
pub async fn forget_orphans(db: &Db, term: Option<i64>) -> Result<(), sqlx::Error> {
    for table in [
        "live_shares",
        "live_sources",
        "parked_streams",
        "live_sessions",
    ] {
        let orphaned =
            format!("DELETE FROM {table} WHERE replica_id NOT IN (SELECT id FROM replicas)");
        match term {
            Some(term) => {
                let sql = format!(
                    "{orphaned} AND EXISTS (SELECT 1 FROM leadership WHERE id = 1 AND term = $1)"
                );
                sqlx::query(&sql).bind(term).execute(db).await?;
            }
            None => {
                sqlx::query(&orphaned).execute(db).await?;
            }
        }
    }
    Ok(())
}

/// Records session `id` of `user_id` on `replica`, unless the user has `max` open already on
/// the replicas alive (heartbeat at `alive_since_ms` or later): one statement, in a transaction
/// holding the user's sessions, so two replicas cannot both admit the last one. Whether it was.
pub async fn admit_session(
    db: &Db,
    id: &str,
    user_id: &str,
    replica: &str,
    max: i64,
    now_ms: i64,
    alive_since_ms: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    super::hold(&mut tx, &format!("sessions:{user_id}")).await?;
    let done = sqlx::query(
        "INSERT INTO live_sessions (id, user_id, replica_id, opened_ms) \
         SELECT $1, $2, $3, $4 WHERE (SELECT COUNT(*) FROM live_sessions s \
           JOIN replicas r ON r.id = s.replica_id \
           WHERE s.user_id = $2 AND r.heartbeat_ms >= $6) < $5",
    )
    .bind(id)
    .bind(user_id)
    .bind(replica)
    .bind(now_ms)
    .bind(max)
    .bind(alive_since_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

pub async fn session_closed(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM live_sessions WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The sessions recorded on `replica`: (id, opened at).
pub async fn sessions_of_replica(
    db: &Db,
    replica: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT id, opened_ms FROM live_sessions WHERE replica_id = $1")
        .bind(replica)
        .fetch_all(db)
        .await
}

/// A row of `live_sessions`.
pub struct LiveSessionRow<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub replica_id: &'a str,
    pub opened_ms: i64,
    pub streams: i64,
}

/// A live session recorded again (the leader forgot it while its replica was silent), unless
/// it is there: not counted against the limit, it is open already.
pub async fn session_recorded_again(db: &Db, row: &LiveSessionRow<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO live_sessions (id, user_id, replica_id, opened_ms, streams) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
    )
    .bind(row.id)
    .bind(row.user_id)
    .bind(row.replica_id)
    .bind(row.opened_ms)
    .bind(row.streams)
    .execute(db)
    .await?;
    Ok(())
}

/// Records how many streams each of these sessions runs now, in one transaction.
pub async fn session_streams(db: &Db, counts: &[(String, i64)]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    for (id, streams) in counts {
        sqlx::query("UPDATE live_sessions SET streams = $2 WHERE id = $1")
            .bind(id)
            .bind(streams)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// Each user's sessions open on the replicas alive, and the streams they run on replicas other
/// than `here` (as those recorded them): (user id, sessions, streams).
pub async fn sessions_per_user(
    db: &Db,
    alive_since_ms: i64,
    here: &str,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.user_id, COUNT(*), \
           CAST(COALESCE(SUM(CASE WHEN s.replica_id = $2 THEN 0 ELSE s.streams END), 0) AS BIGINT) \
         FROM live_sessions s JOIN replicas r ON r.id = s.replica_id \
         WHERE r.heartbeat_ms >= $1 GROUP BY s.user_id",
    )
    .bind(alive_since_ms)
    .bind(here)
    .fetch_all(db)
    .await
}
