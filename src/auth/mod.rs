//! Who is calling: tokens, revocation, WebSocket tickets, login throttling, and the extractors
//! protected handlers take ([`extract`]).

pub mod extract;
pub mod token;

use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use dashmap::DashMap;

use crate::config::LoginLimits;
use crate::db::{self, Db};
use crate::error::{ApiError, ErrorCode};
pub use token::{Claims, TokenKeys};

/// Signing keys, revoked tokens, live WebSocket tickets and recent login failures.
pub struct AuthState {
    pub keys: TokenKeys,
    /// Revoked token ids and when the token would have expired (mirrors `revoked_tokens`).
    revoked: DashMap<String, i64>,
    tickets: DashMap<String, Ticket>,
    pub ticket_ttl: Duration,
    login_failures: DashMap<String, (u32, Instant)>,
    login_limits: LoginLimits,
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
    ) -> Result<Self, sqlx::Error> {
        let rows = db::tokens::live_revocations(db, crate::clock::now_s()).await?;
        Ok(AuthState {
            keys,
            revoked: rows.into_iter().collect(),
            tickets: DashMap::new(),
            ticket_ttl,
            login_failures: DashMap::new(),
            login_limits,
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

    /// A ticket standing for `claims` (the token of `user_id`) for one WebSocket upgrade.
    pub fn issue_ticket(&self, user_id: &str, claims: &Claims) -> String {
        let now = Instant::now();
        if self.tickets.len() > 1024 {
            self.tickets.retain(|_, t| t.expires > now);
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
        ticket
    }

    /// Takes a ticket out: it works once, within its lifetime, while its token is not revoked.
    pub fn redeem_ticket(&self, ticket: &str) -> Option<Ticket> {
        let (_, entry) = self.tickets.remove(ticket)?;
        (entry.expires > Instant::now() && !self.is_revoked(&entry.claims.jti)).then_some(entry)
    }

    /// Refuses a login attempt when the username or the address failed too often lately.
    pub fn check_login_allowed(&self, username: &str, ip: &str) -> Result<(), ApiError> {
        let window = Duration::from_secs(self.login_limits.window_s);
        let over = |key: String, max: u32| {
            self.login_failures
                .get(&key)
                .is_some_and(|entry| entry.1.elapsed() < window && entry.0 >= max)
        };
        if over(
            format!("user:{username}"),
            self.login_limits.max_failures_per_user,
        ) || over(format!("ip:{ip}"), self.login_limits.max_failures_per_ip)
        {
            return Err(ApiError::new(
                ErrorCode::TooMany,
                "too many failed logins; try again later",
            ));
        }
        Ok(())
    }

    pub fn record_login_failure(&self, username: &str, ip: &str) {
        let window = Duration::from_secs(self.login_limits.window_s);
        for key in [format!("user:{username}"), format!("ip:{ip}")] {
            let mut entry = self
                .login_failures
                .entry(key)
                .or_insert((0, Instant::now()));
            if entry.1.elapsed() >= window {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }

    pub fn record_login_success(&self, username: &str) {
        self.login_failures.remove(&format!("user:{username}"));
    }
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
