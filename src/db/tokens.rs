//! `revoked_tokens`: logged-out tokens, kept until they would have expired.

use super::Db;

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

pub async fn is_revoked(db: &Db, jti: &str) -> Result<bool, sqlx::Error> {
    let found: Option<String> = sqlx::query_scalar("SELECT jti FROM revoked_tokens WHERE jti = $1")
        .bind(jti)
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}

/// Forgets revocations of tokens expired before `now_s`.
pub async fn prune(db: &Db, now_s: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
        .bind(now_s)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
