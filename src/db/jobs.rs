//! `jobs`: the background jobs of workspaces, from running to how they ended.

use super::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub workspace_id: String,
    pub user_id: String,
    /// `exec` or `run`.
    pub kind: String,
    /// A JSON array: the command of an exec, the file and arguments of a run.
    pub command: String,
    #[sqlx(try_from = "super::Flag")]
    pub tty: bool,
    /// `running`, `exited`, `killed`, `failed` or `lost`.
    pub state: String,
    pub code: Option<i64>,
    pub killed: Option<String>,
    pub error: Option<String>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

const COLUMNS: &str =
    "id, workspace_id, user_id, kind, command, tty, state, code, killed, error, started_at, ended_at";
/// [`COLUMNS`] as read (see [`super::Flag`]).
const SELECTED: &str = "id, workspace_id, user_id, kind, command, \
     CASE WHEN tty THEN 1 ELSE 0 END AS tty, state, code, killed, error, started_at, ended_at";

/// How many ended jobs a workspace keeps listed.
const ENDED_KEPT: i64 = 50;

/// Records a running job, unless its user already runs `at_most` jobs: one statement, in a
/// transaction holding the user's jobs, so that two jobs started at once cannot both take the
/// last place. False when the quota is full. `replica` is the one that runs it.
pub async fn insert_within(
    db: &Db,
    j: &JobRow,
    replica: &str,
    at_most: u32,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    super::hold(&mut tx, &format!("jobs:{}", j.user_id)).await?;
    let done = sqlx::query(&format!(
        "INSERT INTO jobs ({COLUMNS}, replica_id) \
         SELECT $1, $2, $3, $4, $5, $6, 'running', NULL, NULL, NULL, $7, NULL, $9 \
         WHERE (SELECT COUNT(*) FROM jobs WHERE user_id = $3 AND state = 'running') < $8"
    ))
    .bind(&j.id)
    .bind(&j.workspace_id)
    .bind(&j.user_id)
    .bind(&j.kind)
    .bind(&j.command)
    .bind(j.tty)
    .bind(j.started_at)
    .bind(i64::from(at_most))
    .bind(replica)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if done.rows_affected() == 1 {
        sqlx::query(
            "DELETE FROM jobs WHERE workspace_id = $1 AND state <> 'running' AND id NOT IN \
             (SELECT id FROM jobs WHERE workspace_id = $1 ORDER BY started_at DESC LIMIT $2)",
        )
        .bind(&j.workspace_id)
        .bind(ENDED_KEPT)
        .execute(db)
        .await?;
    }
    Ok(done.rows_affected() == 1)
}

/// Records how a running job ended; a job no longer running (removed, or marked lost) stays.
pub async fn finish(db: &Db, j: &JobRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE jobs SET state = $2, code = $3, killed = $4, error = $5, ended_at = $6 \
         WHERE id = $1 AND state = 'running'",
    )
    .bind(&j.id)
    .bind(&j.state)
    .bind(j.code)
    .bind(&j.killed)
    .bind(&j.error)
    .bind(j.ended_at)
    .execute(db)
    .await?;
    Ok(())
}

/// A workspace's jobs, newest first.
pub async fn of_workspace(db: &Db, workspace_id: &str) -> Result<Vec<JobRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SELECTED} FROM jobs WHERE workspace_id = $1 ORDER BY started_at DESC, id"
    ))
    .bind(workspace_id)
    .fetch_all(db)
    .await
}

pub async fn find(db: &Db, id: &str) -> Result<Option<JobRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {SELECTED} FROM jobs WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Forgets an ended job; false when there was none to forget.
pub async fn delete_ended(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM jobs WHERE id = $1 AND state <> 'running'")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The jobs still running on replicas that are no longer alive are lost (what they left is
/// killed with the rest of those replicas' execs), while `term` is current. Returns how many.
pub async fn mark_lost(db: &Db, now: i64, term: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'lost', ended_at = $1 WHERE state = 'running' \
         AND (replica_id IS NULL OR replica_id NOT IN (SELECT id FROM replicas)) \
         AND EXISTS (SELECT 1 FROM leadership WHERE id = 1 AND term = $2)",
    )
    .bind(now)
    .bind(term)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// The replica whose memory holds job `id`'s output, while it is alive.
pub async fn holder(
    db: &Db,
    id: &str,
    alive_since_ms: i64,
) -> Result<Option<super::held::Holder>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id AS replica_id, r.address FROM jobs j \
         JOIN replicas r ON r.id = j.replica_id WHERE j.id = $1 AND r.heartbeat_ms >= $2",
    )
    .bind(id)
    .bind(alive_since_ms)
    .fetch_optional(db)
    .await
}
