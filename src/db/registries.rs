//! `registries`: private registries and their sealed passwords.

use super::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegistryRow {
    pub id: String,
    pub name: String,
    pub server: String,
    pub username: String,
    pub password_enc: String,
    /// None: shared with everyone.
    pub owner_id: Option<String>,
    /// Added by an admin.
    #[sqlx(try_from = "super::Flag")]
    pub trusted: bool,
}

/// The registries a user may use: their own and the shared ones, by name.
pub async fn visible_to(db: &Db, user_id: &str) -> Result<Vec<RegistryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, server, username, password_enc, owner_id, \
         CASE WHEN trusted THEN 1 ELSE 0 END AS trusted FROM registries \
         WHERE owner_id IS NULL OR owner_id = $1 ORDER BY name",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Every stored registry, whoever's.
pub async fn all(db: &Db) -> Result<Vec<RegistryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, server, username, password_enc, owner_id, \
         CASE WHEN trusted THEN 1 ELSE 0 END AS trusted FROM registries",
    )
    .fetch_all(db)
    .await
}

/// Fails with a unique violation when the owner (or the shared ones) has one of that name.
pub async fn insert(db: &Db, row: &RegistryRow, created_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO registries \
         (id, name, server, username, password_enc, owner_id, trusted, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.server)
    .bind(&row.username)
    .bind(&row.password_enc)
    .bind(&row.owner_id)
    .bind(row.trusted)
    .bind(created_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM registries WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}
