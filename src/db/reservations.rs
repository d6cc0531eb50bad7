//! `reservations`: what each user's containers and workspaces take of their quota.

use super::Db;

/// A reservation to take.
pub struct Reservation<'a> {
    pub id: &'a str,
    pub owner_id: &'a str,
    /// `container` or `workspace`.
    pub kind: &'a str,
    pub memory_mb: i64,
}

/// Takes a reservation only if the owner's reservations, plus `untracked_mb` held outside
/// them, stay within `max_memory_mb` and (for a workspace) their workspaces below
/// `max_workspaces`: one statement, in a transaction holding the owner's quota, so two
/// parallel takers cannot both pass. Whether it was taken.
pub async fn take(
    db: &Db,
    r: &Reservation<'_>,
    untracked_mb: i64,
    max_memory_mb: i64,
    max_workspaces: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    super::hold(&mut tx, &format!("quota:{}", r.owner_id)).await?;
    let done = sqlx::query(
        "INSERT INTO reservations (id, owner_id, kind, memory_mb, created_at) \
         SELECT $1, $2, $3, $4, $5 WHERE \
           (SELECT COALESCE(SUM(memory_mb), 0) FROM reservations WHERE owner_id = $2) \
             + $4 + $6 <= $7 \
           AND ($3 <> 'workspace' OR (SELECT COUNT(*) FROM reservations \
             WHERE owner_id = $2 AND kind = 'workspace') < $8)",
    )
    .bind(r.id)
    .bind(r.owner_id)
    .bind(r.kind)
    .bind(r.memory_mb)
    .bind(now)
    .bind(untracked_mb)
    .bind(max_memory_mb)
    .bind(max_workspaces)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// (workspaces, memory in MiB) the owner's reservations hold.
pub async fn held_by(db: &Db, owner_id: &str) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'workspace' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(memory_mb), 0) AS BIGINT) FROM reservations WHERE owner_id = $1",
    )
    .bind(owner_id)
    .fetch_one(db)
    .await
}

/// Ids of the owner's reservations taken before `before`.
pub async fn older_than(db: &Db, owner_id: &str, before: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM reservations WHERE owner_id = $1 AND created_at < $2")
        .bind(owner_id)
        .bind(before)
        .fetch_all(db)
        .await
}

pub async fn release(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM reservations WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}
