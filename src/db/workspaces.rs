//! `workspaces`: each user's workspaces, the container and volume behind each.

use super::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkspaceRow {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub template_id: String,
    pub host: String,
    pub container_id: String,
    pub volume: String,
    pub created_at: i64,
    pub last_active_at: i64,
}

const COLUMNS: &str =
    "id, name, owner_id, template_id, host, container_id, volume, created_at, last_active_at";

/// Fails with a unique violation when the owner has a workspace of that name.
pub async fn insert(db: &Db, w: &WorkspaceRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO workspaces ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&w.id)
    .bind(&w.name)
    .bind(&w.owner_id)
    .bind(&w.template_id)
    .bind(&w.host)
    .bind(&w.container_id)
    .bind(&w.volume)
    .bind(w.created_at)
    .bind(w.last_active_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find(db: &Db, id: &str) -> Result<Option<WorkspaceRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM workspaces WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// One owner's workspaces, or everyone's, oldest first.
pub async fn list(db: &Db, owner: Option<&str>) -> Result<Vec<WorkspaceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM workspaces WHERE ($1 IS NULL OR owner_id = $1) ORDER BY created_at"
    ))
    .bind(owner)
    .fetch_all(db)
    .await
}

pub async fn count_using_template(db: &Db, template_id: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM workspaces WHERE template_id = $1")
        .bind(template_id)
        .fetch_one(db)
        .await?;
    Ok(n)
}

pub async fn touch(db: &Db, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE workspaces SET last_active_at = $1 WHERE id = $2 AND last_active_at < $1")
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The leader in `term` takes workspace `id` to stop as idle: true when it was last active
/// before `idle_before` and no replica runs an exec in its container. (The write changes
/// nothing; its count says whether all of that held at once.)
pub async fn claim_idle(
    db: &Db,
    id: &str,
    idle_before: i64,
    term: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE workspaces SET last_active_at = last_active_at \
         WHERE id = $1 AND last_active_at < $2 \
         AND NOT EXISTS (SELECT 1 FROM live_execs WHERE live_execs.container_id = workspaces.container_id) \
         AND EXISTS (SELECT 1 FROM leadership WHERE id = 1 AND term = $3)",
    )
    .bind(id)
    .bind(idle_before)
    .bind(term)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM workspaces WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The workspace's container is now `container_id` (its old one was gone, and made again).
pub async fn set_container(db: &Db, id: &str, container_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE workspaces SET container_id = $2 WHERE id = $1")
        .bind(id)
        .bind(container_id)
        .execute(db)
        .await?;
    Ok(())
}
