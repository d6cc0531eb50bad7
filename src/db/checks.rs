//! `checks`: the check of each submission, from queued (recorded with the submission, see
//! `assignments::insert_submission`) to its result.

use super::Db;

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct CheckRow {
    pub submission_id: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    pub code: Option<i64>,
    #[sqlx(try_from = "super::NullableFlag")]
    pub passed: Option<bool>,
    pub duration_ms: Option<i64>,
    pub killed: Option<String>,
    pub output: String,
    pub error: Option<String>,
    pub finished_at: Option<i64>,
}

/// As read (see [`super::Flag`]).
const COLUMNS: &str = "submission_id, state, code, \
     CASE WHEN passed IS NULL THEN NULL WHEN passed THEN 1 ELSE 0 END AS passed, \
     duration_ms, killed, output, error, finished_at";

pub async fn mark_running(db: &Db, submission_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE checks SET state = 'running' WHERE submission_id = $1")
        .bind(submission_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Stores how a check ended (`done` or `failed`).
pub async fn finish(db: &Db, c: &CheckRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE checks SET state = $2, code = $3, passed = $4, duration_ms = $5, killed = $6, \
         output = $7, error = $8, finished_at = $9 WHERE submission_id = $1",
    )
    .bind(&c.submission_id)
    .bind(&c.state)
    .bind(c.code)
    .bind(c.passed)
    .bind(c.duration_ms)
    .bind(&c.killed)
    .bind(&c.output)
    .bind(&c.error)
    .bind(c.finished_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find(db: &Db, submission_id: &str) -> Result<Option<CheckRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM checks WHERE submission_id = $1"
    ))
    .bind(submission_id)
    .fetch_optional(db)
    .await
}

/// The checks of an assignment's submissions.
pub async fn of_assignment(db: &Db, assignment_id: &str) -> Result<Vec<CheckRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.submission_id, c.state, c.code, \
         CASE WHEN c.passed IS NULL THEN NULL WHEN c.passed THEN 1 ELSE 0 END AS passed, \
         c.duration_ms, c.killed, c.output, \
         c.error, c.finished_at FROM checks c JOIN submissions s ON s.id = c.submission_id \
         WHERE s.assignment_id = $1",
    )
    .bind(assignment_id)
    .fetch_all(db)
    .await
}

/// The leader in `term` takes for `replica` the checks that have not ended (queued, or running)
/// on replicas no longer alive; their submissions, oldest first.
pub async fn adopt_unfinished(
    db: &Db,
    replica: &str,
    term: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let mut ids: Vec<String> = sqlx::query_scalar(
        "UPDATE checks SET replica_id = $1 WHERE state IN ('queued', 'running') \
         AND (replica_id IS NULL OR replica_id NOT IN (SELECT id FROM replicas)) \
         AND EXISTS (SELECT 1 FROM leadership WHERE id = 1 AND term = $2) \
         RETURNING submission_id",
    )
    .bind(replica)
    .bind(term)
    .fetch_all(db)
    .await?;
    ids.sort();
    Ok(ids)
}
