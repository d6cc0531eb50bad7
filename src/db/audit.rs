//! `audit`.

use super::Db;

/// One entry as stored; `detail` is JSON text.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct AuditRow {
    pub id: String,
    pub at_ms: i64,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub client: Option<String>,
    pub detail: String,
}

pub async fn insert(db: &Db, row: &AuditRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit (id, at_ms, user_id, username, action, target, outcome, client, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&row.id)
    .bind(row.at_ms)
    .bind(&row.user_id)
    .bind(&row.username)
    .bind(&row.action)
    .bind(&row.target)
    .bind(&row.outcome)
    .bind(&row.client)
    .bind(&row.detail)
    .execute(db)
    .await?;
    Ok(())
}

/// Entries from `since_ms` on, newest first, at most `limit`: of `username` when given, and of
/// the actions starting with `action_prefix` when given.
pub async fn list(
    db: &Db,
    since_ms: i64,
    username: Option<&str>,
    action_prefix: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, at_ms, user_id, username, action, target, outcome, client, detail FROM audit \
         WHERE at_ms >= $1 AND (CAST($2 AS TEXT) IS NULL OR username = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR action = $3 OR substr(action, 1, length($3) + 1) = $3 || '.') \
         ORDER BY at_ms DESC, id DESC LIMIT $4",
    )
    .bind(since_ms)
    .bind(username)
    .bind(action_prefix)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Removes the entries older than `before_ms`; how many went.
pub async fn delete_before(db: &Db, before_ms: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM audit WHERE at_ms < $1")
        .bind(before_ms)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
