//! `revoked_tokens`: logged-out tokens, kept until they would have expired.

use super::Db;

/// Forgets revocations of tokens expired before `now_s`, and returns the rest as (jti, expiry).
pub async fn live_revocations(db: &Db, now_s: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
        .bind(now_s)
        .execute(db)
        .await?;
    sqlx::query_as("SELECT jti, expires_at FROM revoked_tokens")
        .fetch_all(db)
        .await
}

pub async fn revoke(db: &Db, jti: &str, expires_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
    )
    .bind(jti)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}
