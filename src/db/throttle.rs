//! `throttle`: recent failures per key. A key is stored as its SHA-256: the names people type
//! (sometimes a password, in the wrong field) are not kept, and every key is of one size.

use sha2::{Digest, Sha256};

use super::Db;

fn hashed(key: &str) -> String {
    format!("{:x}", Sha256::digest(key.as_bytes()))
}

/// Failures of `key` since `window_start_ms` (0 when its count is older).
pub async fn failures(db: &Db, key: &str, window_start_ms: i64) -> Result<i64, sqlx::Error> {
    let failures: Option<i64> =
        sqlx::query_scalar("SELECT failures FROM throttle WHERE key_hash = $1 AND since_ms > $2")
            .bind(hashed(key))
            .bind(window_start_ms)
            .fetch_optional(db)
            .await?;
    Ok(failures.unwrap_or(0))
}

/// Counts one failure of `key` at `now_ms`; a count begun before `window_start_ms` starts
/// again. One statement, so replicas counting at once lose no failure.
pub async fn fail(
    db: &Db,
    key: &str,
    now_ms: i64,
    window_start_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO throttle (key_hash, failures, since_ms) VALUES ($1, 1, $2) \
         ON CONFLICT (key_hash) DO UPDATE SET \
           failures = CASE WHEN throttle.since_ms > $3 THEN throttle.failures + 1 ELSE 1 END, \
           since_ms = CASE WHEN throttle.since_ms > $3 THEN throttle.since_ms ELSE $2 END",
    )
    .bind(hashed(key))
    .bind(now_ms)
    .bind(window_start_ms)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn clear(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM throttle WHERE key_hash = $1")
        .bind(hashed(key))
        .execute(db)
        .await?;
    Ok(())
}

/// Forgets counts begun before `before_ms`.
pub async fn prune(db: &Db, before_ms: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM throttle WHERE since_ms <= $1")
        .bind(before_ms)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
