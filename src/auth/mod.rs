//! Who is calling: tokens, revocation, WebSocket tickets and login throttling. The extractors
//! protected handlers take are in `routes::extract`.

pub mod throttle;
pub mod token;

use std::net::IpAddr;
use std::time::Duration;

use actix_web::HttpRequest;
use sha2::{Digest, Sha256};

use crate::config::LoginLimits;
use crate::db::{self, Db};
use crate::error::{ApiError, ErrorCode};
use crate::users::{self, User};
pub use token::{Claims, TokenKeys};

/// A signed-in caller's bearer token.
#[derive(Debug, serde::Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct LoggedIn {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

/// Live tickets one user may hold (each opens one session, within seconds).
pub const MAX_TICKETS_PER_USER: usize = 16;

/// Signing keys, and the rules for tickets and login failures. Revoked tokens, live tickets and
/// recent failures are rows, so that every replica on one database sees the same.
pub struct AuthState {
    pub keys: TokenKeys,
    pub ticket_ttl: Duration,
    pub logins: throttle::LoginThrottle,
    /// Proxies whose forwarding headers say who the client is (`trusted_proxies`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl AuthState {
    pub fn new(
        keys: TokenKeys,
        ticket_ttl: Duration,
        login_limits: LoginLimits,
        trusted_proxies: Vec<ipnet::IpNet>,
    ) -> Self {
        AuthState {
            keys,
            ticket_ttl,
            logins: throttle::LoginThrottle::new(login_limits),
            trusted_proxies,
        }
    }

    /// A new bearer token for `user_id`, who has just proved who they are.
    pub fn sign_in(&self, user_id: &str) -> Result<LoggedIn, ApiError> {
        let (access_token, _) = self
            .keys
            .issue(user_id)
            .map_err(|e| ApiError::internal(&e))?;
        Ok(LoggedIn {
            access_token,
            token_type: "Bearer",
            expires_in: self.keys.ttl_s,
        })
    }

    pub async fn is_revoked(&self, db: &Db, jti: &str) -> Result<bool, sqlx::Error> {
        db::tokens::is_revoked(db, jti).await
    }

    /// Revokes a token (until it would have expired) and forgets its unused tickets.
    pub async fn revoke(&self, db: &Db, claims: &Claims) -> Result<(), sqlx::Error> {
        db::tokens::revoke(db, &claims.jti, claims.exp).await?;
        db::tickets::forget_token(db, &claims.jti).await
    }

    /// Checks a bearer token: signature, expiry and revocation.
    pub async fn check_token(&self, db: &Db, token: &str) -> Result<Option<Claims>, sqlx::Error> {
        match self.keys.decode(token) {
            Some(claims) if !self.is_revoked(db, &claims.jti).await? => Ok(Some(claims)),
            _ => Ok(None),
        }
    }

    /// A ticket standing for `claims` (the token of `user_id`) for one WebSocket upgrade; at
    /// most [`MAX_TICKETS_PER_USER`] live at once for one user.
    pub async fn issue_ticket(
        &self,
        db: &Db,
        user_id: &str,
        claims: &Claims,
    ) -> Result<String, ApiError> {
        self.issue(db, user_id, claims, None).await
    }

    /// A ticket for a replica's relay to another, for the session of `claims` there: that
    /// session parks its streams under `resume_as` (the relaying session's resume token hash).
    pub async fn issue_relay_ticket(
        &self,
        db: &Db,
        claims: &Claims,
        resume_as: &str,
    ) -> Result<String, ApiError> {
        self.issue(db, &claims.sub, claims, Some(resume_as.to_string()))
            .await
    }

    async fn issue(
        &self,
        db: &Db,
        user_id: &str,
        claims: &Claims,
        resume_as: Option<String>,
    ) -> Result<String, ApiError> {
        let ticket = token::random_token();
        let now = crate::clock::now_ms();
        let row = db::tickets::Ticket {
            user_id: user_id.to_string(),
            jti: claims.jti.clone(),
            iat: claims.iat,
            exp: claims.exp,
            expires_ms: now + self.ticket_ttl.as_millis() as i64,
            resume_as,
        };
        let max = MAX_TICKETS_PER_USER as i64;
        if !db::tickets::issue(db, &ticket_hash(&ticket), &row, max, now).await? {
            return Err(ApiError::new(
                ErrorCode::TooMany,
                format!("at most {MAX_TICKETS_PER_USER} unused tickets at once"),
            ));
        }
        Ok(ticket)
    }

    /// Takes a ticket out: it works once, within its lifetime, while its token is not revoked.
    /// The claims of the token it stands for.
    /// A relay's ticket works only as one (see [`Self::redeem_relay_ticket`]).
    pub async fn redeem_ticket(
        &self,
        db: &Db,
        ticket: &str,
    ) -> Result<Option<Claims>, sqlx::Error> {
        Ok(match self.redeem(db, ticket).await? {
            Some((claims, None)) => Some(claims),
            _ => None,
        })
    }

    /// Takes a relay's ticket out: the claims it stands for and the resume token hash its
    /// session parks under. A browser's ticket does not work here.
    pub async fn redeem_relay_ticket(
        &self,
        db: &Db,
        ticket: &str,
    ) -> Result<Option<(Claims, String)>, sqlx::Error> {
        Ok(match self.redeem(db, ticket).await? {
            Some((claims, Some(resume_as))) => Some((claims, resume_as)),
            _ => None,
        })
    }

    async fn redeem(
        &self,
        db: &Db,
        ticket: &str,
    ) -> Result<Option<(Claims, Option<String>)>, sqlx::Error> {
        let Some(row) = db::tickets::redeem(db, &ticket_hash(ticket)).await? else {
            return Ok(None);
        };
        if row.expires_ms <= crate::clock::now_ms() || self.is_revoked(db, &row.jti).await? {
            return Ok(None);
        }
        let claims = Claims {
            sub: row.user_id,
            jti: row.jti,
            iat: row.iat,
            exp: row.exp,
        };
        Ok(Some((claims, row.resume_as)))
    }

    /// Forgets revocations of expired tokens and expired tickets.
    pub async fn prune(&self, db: &Db) -> Result<(), sqlx::Error> {
        db::tokens::prune(db, crate::clock::now_s()).await?;
        db::tickets::prune(db, crate::clock::now_ms()).await?;
        self.logins.prune(db).await
    }
}

/// What a ticket is stored as: a copy of the database holds no ticket that works.
fn ticket_hash(ticket: &str) -> String {
    format!("{:x}", Sha256::digest(ticket.as_bytes()))
}

/// Who is calling: the user of the bearer `token`, or (for the WebSocket upgrade, where a
/// browser cannot set a header) of a single-use `ticket`. The account must still exist: it may
/// have been deleted since the token was issued.
pub async fn caller(
    auth: &AuthState,
    db: &Db,
    token: Option<&str>,
    ticket: Option<&str>,
) -> Result<(User, Claims), ApiError> {
    let claims = match (token, ticket) {
        (Some(token), _) => auth.check_token(db, token).await?,
        (None, Some(ticket)) => auth.redeem_ticket(db, ticket).await?,
        (None, None) => None,
    }
    .ok_or_else(ApiError::unauthorized)?;
    let user = users::find_by_id(db, &claims.sub)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok((user, claims))
}

/// Who a replica's relay ticket stands for, and the resume token hash its session parks under.
pub async fn relayed_caller(
    auth: &AuthState,
    db: &Db,
    ticket: &str,
) -> Result<(User, Claims, String), ApiError> {
    let (claims, resume_as) = auth
        .redeem_relay_ticket(db, ticket)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let user = users::find_by_id(db, &claims.sub)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok((user, claims, resume_as))
}

/// The address a request comes from: the peer's, or, when the peer is one of the `trusted`
/// proxies, the nearest hop of `Forwarded`/`X-Forwarded-For` that is not (so a client cannot
/// pick the address it is throttled by).
pub fn client_address(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let headers = req.headers();
    let forwarded: Vec<String> = headers
        .get_all("forwarded")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.eq_ignore_ascii_case("for")
                    .then(|| value.trim_matches('"').to_string())
            })
        })
        .collect();
    let hops: Vec<String> = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| hop.trim().to_string())
            .collect()
    } else {
        forwarded
    };
    // From the nearest hop outwards; anything that does not parse ends the trust.
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(&ip) => client = ip,
            Some(ip) => return Some(ip),
            None => break,
        }
    }
    Some(client)
}

/// An address as proxies write it: `203.0.113.5`, `203.0.113.5:4711`, `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}

/// Reads `Authorization: Bearer <token>`.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}
