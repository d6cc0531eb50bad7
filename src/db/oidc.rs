//! `oidc_flows` and `oidc_handoffs`: OpenID Connect sign-ins between the browser's leaving for
//! the provider and its page taking the outcome, kept here so that each step may reach any
//! replica. Both are keyed by the SHA-256 of the id the browser holds in a cookie, and both are
//! taken out by one `DELETE … RETURNING`, so a flow is finished (and an outcome taken) once.

use super::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlowRow {
    pub state: String,
    pub nonce: String,
    pub sealed_verifier: String,
    pub expires_ms: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HandoffRow {
    pub user_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub expires_ms: i64,
}

/// Records a flow unless `max` flows are in flight at `now_ms` already: whether it was.
pub async fn begin(
    db: &Db,
    id_hash: &str,
    flow: &FlowRow,
    now_ms: i64,
    max: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO oidc_flows (id_hash, state, nonce, sealed_verifier, expires_ms) \
         SELECT $1, $2, $3, $4, $5 \
         WHERE (SELECT COUNT(*) FROM oidc_flows WHERE expires_ms > $6) < $7",
    )
    .bind(id_hash)
    .bind(&flow.state)
    .bind(&flow.nonce)
    .bind(&flow.sealed_verifier)
    .bind(flow.expires_ms)
    .bind(now_ms)
    .bind(max)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes a flow out (expired or not: the caller says which is which).
pub async fn end(db: &Db, id_hash: &str) -> Result<Option<FlowRow>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM oidc_flows WHERE id_hash = $1 \
         RETURNING state, nonce, sealed_verifier, expires_ms",
    )
    .bind(id_hash)
    .fetch_optional(db)
    .await
}

pub async fn hand_off(db: &Db, id_hash: &str, handoff: &HandoffRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oidc_handoffs (id_hash, user_id, error_code, error_message, expires_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id_hash)
    .bind(&handoff.user_id)
    .bind(&handoff.error_code)
    .bind(&handoff.error_message)
    .bind(handoff.expires_ms)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn take(db: &Db, id_hash: &str) -> Result<Option<HandoffRow>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM oidc_handoffs WHERE id_hash = $1 \
         RETURNING user_id, error_code, error_message, expires_ms",
    )
    .bind(id_hash)
    .fetch_optional(db)
    .await
}

/// Forgets the flows and outcomes nobody came back for.
pub async fn prune(db: &Db, now_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM oidc_flows WHERE expires_ms <= $1")
        .bind(now_ms)
        .execute(db)
        .await?;
    sqlx::query("DELETE FROM oidc_handoffs WHERE expires_ms <= $1")
        .bind(now_ms)
        .execute(db)
        .await?;
    Ok(())
}
