//! `installation`: the one name this berth gives itself on its Docker engines.

use super::Db;

/// The installation's name: the stored one, else `made` (stored now, by whichever replica
/// starts first).
pub async fn name(db: &Db, made: &str) -> Result<String, sqlx::Error> {
    sqlx::query("INSERT INTO installation (id, value) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
        .bind(made)
        .execute(db)
        .await?;
    sqlx::query_scalar("SELECT value FROM installation WHERE id = 1")
        .fetch_one(db)
        .await
}
