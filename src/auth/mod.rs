//! Who is calling: tokens, revocation, WebSocket tickets and login throttling. The extractors
//! protected handlers take are in `routes::extract`.

pub mod throttle;
pub mod token;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use dashmap::DashMap;

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

/// Signing keys, revoked tokens, live WebSocket tickets and recent login failures.
pub struct AuthState {
    pub keys: TokenKeys,
    /// Revoked token ids and when the token would have expired (mirrors `revoked_tokens`).
    revoked: DashMap<String, i64>,
    tickets: DashMap<String, Ticket>,
    pub ticket_ttl: Duration,
    pub logins: throttle::LoginThrottle,
    /// Proxies whose forwarding headers say who the client is (`trusted_proxies`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// A single-use pass for one WebSocket upgrade, standing for the token that asked for it.
#[derive(Clone)]
pub struct Ticket {
    pub user_id: String,
    pub claims: Claims,
    expires: Instant,
}

impl AuthState {
    pub async fn load(
        db: &Db,
        keys: TokenKeys,
        ticket_ttl: Duration,
        login_limits: LoginLimits,
        trusted_proxies: Vec<ipnet::IpNet>,
    ) -> Result<Self, sqlx::Error> {
        let rows = db::tokens::live_revocations(db, crate::clock::now_s()).await?;
        Ok(AuthState {
            keys,
            revoked: rows.into_iter().collect(),
            tickets: DashMap::new(),
            ticket_ttl,
            logins: throttle::LoginThrottle::new(login_limits),
            trusted_proxies,
        })
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

    pub fn is_revoked(&self, jti: &str) -> bool {
        self.revoked.contains_key(jti)
    }

    pub async fn revoke(&self, db: &Db, claims: &Claims) -> Result<(), sqlx::Error> {
        db::tokens::revoke(db, &claims.jti, claims.exp).await?;
        self.revoked.insert(claims.jti.clone(), claims.exp);
        self.tickets.retain(|_, t| t.claims.jti != claims.jti);
        Ok(())
    }

    /// Checks a bearer token: signature, expiry and revocation.
    pub fn check_token(&self, token: &str) -> Option<Claims> {
        self.keys
            .decode(token)
            .filter(|claims| !self.is_revoked(&claims.jti))
    }

    /// A ticket standing for `claims` (the token of `user_id`) for one WebSocket upgrade; at
    /// most [`MAX_TICKETS_PER_USER`] live at once for one user.
    pub fn issue_ticket(&self, user_id: &str, claims: &Claims) -> Result<String, ApiError> {
        let now = Instant::now();
        if self.tickets.len() > 1024 {
            self.tickets.retain(|_, t| t.expires > now);
        }
        let held = self
            .tickets
            .iter()
            .filter(|t| t.user_id == user_id && t.expires > now)
            .count();
        if held >= MAX_TICKETS_PER_USER {
            return Err(ApiError::new(
                ErrorCode::TooMany,
                format!("at most {MAX_TICKETS_PER_USER} unused tickets at once"),
            ));
        }
        let ticket = token::random_token();
        self.tickets.insert(
            ticket.clone(),
            Ticket {
                user_id: user_id.to_string(),
                claims: claims.clone(),
                expires: now + self.ticket_ttl,
            },
        );
        Ok(ticket)
    }

    /// Takes a ticket out: it works once, within its lifetime, while its token is not revoked.
    pub fn redeem_ticket(&self, ticket: &str) -> Option<Ticket> {
        let (_, entry) = self.tickets.remove(ticket)?;
        (entry.expires > Instant::now() && !self.is_revoked(&entry.claims.jti)).then_some(entry)
    }
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
        (Some(token), _) => auth.check_token(token),
        (None, Some(ticket)) => auth.redeem_ticket(ticket).map(|t| t.claims),
        (None, None) => None,
    }
    .ok_or_else(ApiError::unauthorized)?;
    let user = users::find_by_id(db, &claims.sub)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok((user, claims))
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
