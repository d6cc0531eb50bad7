//! `users`.

use super::Db;

/// A user as stored; `role` is checked by `users::Role::parse`.
#[derive(sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub role: String,
}

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, username, role FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The id and password hash of the account named `username`.
pub async fn credentials(db: &Db, username: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(db)
        .await
}

/// Fails with a unique violation when the username is taken.
pub async fn insert(
    db: &Db,
    id: &str,
    username: &str,
    password_hash: &str,
    role: &str,
    created_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(username)
    .bind(password_hash)
    .bind(role)
    .bind(created_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}
