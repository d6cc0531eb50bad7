//! `users`.

use super::Db;

/// A user as stored; `role` is checked by `users::Role::parse`.
#[derive(sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub role: String,
}

/// Every account, by username.
pub async fn all(db: &Db) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, username, role FROM users ORDER BY username")
        .fetch_all(db)
        .await
}

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, username, role FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// How the account named `username` signs in.
#[derive(sqlx::FromRow)]
pub struct Credentials {
    pub id: String,
    pub password_hash: String,
    /// `local`, `ldap` or `oidc`.
    pub source: String,
}

pub async fn credentials(db: &Db, username: &str) -> Result<Option<Credentials>, sqlx::Error> {
    sqlx::query_as("SELECT id, password_hash, source FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(db)
        .await
}

/// The account a directory or identity provider knows as `external_id`.
pub async fn find_external(
    db: &Db,
    source: &str,
    external_id: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, username, role FROM users WHERE source = $1 AND external_id = $2")
        .bind(source)
        .bind(external_id)
        .fetch_optional(db)
        .await
}

/// An account of a directory or identity provider, with no password of berth's. Fails with a
/// unique violation when the username (or the external id) is taken.
pub async fn insert_external(
    db: &Db,
    row: &UserRow,
    source: &str,
    external_id: &str,
    created_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, created_at, source, external_id) \
         VALUES ($1, $2, '', $3, $4, $5, $6)",
    )
    .bind(&row.id)
    .bind(&row.username)
    .bind(&row.role)
    .bind(created_at)
    .bind(source)
    .bind(external_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Sets the username and role an account's directory gave at this sign-in. Fails with a unique
/// violation when the new username is another account's.
pub async fn update_identity(
    db: &Db,
    id: &str,
    username: &str,
    role: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET username = $2, role = $3 WHERE id = $1")
        .bind(id)
        .bind(username)
        .bind(role)
        .execute(db)
        .await?;
    Ok(())
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
