//! `hosts`: the Docker hosts admins added (`local` comes from the settings, not from here).

use super::Db;

#[derive(sqlx::FromRow)]
pub struct HostRow {
    pub id: String,
    pub name: String,
    pub url: String,
    /// The TLS material, sealed with the secret key.
    pub tls_sealed: Option<String>,
}

/// Every stored host, by name.
pub async fn all(db: &Db) -> Result<Vec<HostRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, url, tls_sealed FROM hosts ORDER BY name")
        .fetch_all(db)
        .await
}

/// Fails with a unique violation when the name is taken.
pub async fn insert(db: &Db, host: &HostRow, created_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO hosts (id, name, url, tls_sealed, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&host.id)
    .bind(&host.name)
    .bind(&host.url)
    .bind(&host.tls_sealed)
    .bind(created_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Whether a host was deleted.
pub async fn delete(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM hosts WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(deleted.rows_affected() > 0)
}
