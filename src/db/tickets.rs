//! `ws_tickets`: single-use WebSocket tickets, by their hash.

use super::Db;

/// What a ticket stands for.
#[derive(sqlx::FromRow)]
pub struct Ticket {
    pub user_id: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub expires_ms: i64,
    /// A relay's ticket (made by a replica for its relay to another): the resume token hash the
    /// session it opens parks under.
    pub resume_as: Option<String>,
}

/// Stores a ticket unless its user holds `max` live ones already (expired ones of theirs are
/// forgotten first): whether it was stored. Their lock makes the count and the insert one step.
pub async fn issue(
    db: &Db,
    ticket_hash: &str,
    ticket: &Ticket,
    max: i64,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    super::hold(&mut tx, &format!("tickets:{}", ticket.user_id)).await?;
    sqlx::query("DELETE FROM ws_tickets WHERE user_id = $1 AND expires_ms <= $2")
        .bind(&ticket.user_id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query(
        "INSERT INTO ws_tickets (ticket_hash, user_id, jti, iat, exp, expires_ms, resume_as) \
         SELECT $1, $2, $3, $4, $5, $6, $8 \
         WHERE (SELECT COUNT(*) FROM ws_tickets WHERE user_id = $2) < $7",
    )
    .bind(ticket_hash)
    .bind(&ticket.user_id)
    .bind(&ticket.jti)
    .bind(ticket.iat)
    .bind(ticket.exp)
    .bind(ticket.expires_ms)
    .bind(max)
    .bind(&ticket.resume_as)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Takes a ticket out, in one statement: of two replicas redeeming it at once, one gets it.
pub async fn redeem(db: &Db, ticket_hash: &str) -> Result<Option<Ticket>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM ws_tickets WHERE ticket_hash = $1 \
         RETURNING user_id, jti, iat, exp, expires_ms, resume_as",
    )
    .bind(ticket_hash)
    .fetch_optional(db)
    .await
}

/// Forgets the tickets of a revoked token.
pub async fn forget_token(db: &Db, jti: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM ws_tickets WHERE jti = $1")
        .bind(jti)
        .execute(db)
        .await?;
    Ok(())
}

/// Forgets every ticket expired by `now_ms`.
pub async fn prune(db: &Db, now_ms: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM ws_tickets WHERE expires_ms <= $1")
        .bind(now_ms)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
