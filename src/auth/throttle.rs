//! Login throttling that an attacker cannot turn against the account's owner: failures count
//! per account *and* client address (five wrong passwords from one address lock that address
//! out of that account, not the teacher at their own desk), and per address over all accounts
//! (so one address cannot spray passwords). The counts are rows, so they hold on every replica
//! of one database; each is kept for its window and then pruned.

use std::net::IpAddr;

use crate::clock::now_ms;
use crate::config::LoginLimits;
use crate::db::{self, Db};
use crate::error::{ApiError, ErrorCode};

/// What a count is of.
enum Key<'a> {
    /// One account, from one address.
    AccountFrom(&'a str, IpAddr),
    /// One address, whatever the account.
    From(IpAddr),
}

impl Key<'_> {
    fn text(&self) -> String {
        match self {
            Key::AccountFrom(username, client) => format!("login:{client}:{username}"),
            Key::From(client) => format!("login:{client}"),
        }
    }
}

pub struct LoginThrottle {
    limits: LoginLimits,
}

impl LoginThrottle {
    pub fn new(limits: LoginLimits) -> Self {
        LoginThrottle { limits }
    }

    /// When the counts that matter now began, at the earliest.
    fn window_start(&self) -> i64 {
        now_ms() - self.limits.window_s as i64 * 1000
    }

    /// Refuses an attempt when this address failed too often lately, for this account or all.
    pub async fn check(&self, db: &Db, username: &str, client: IpAddr) -> Result<(), ApiError> {
        let start = self.window_start();
        let account = Key::AccountFrom(username, client).text();
        let address = Key::From(client).text();
        if db::throttle::failures(db, &account, start).await?
            >= self.limits.max_failures_per_user as i64
            || db::throttle::failures(db, &address, start).await?
                >= self.limits.max_failures_per_ip as i64
        {
            return Err(ApiError::new(
                ErrorCode::TooMany,
                "too many failed logins from here; try again later",
            ));
        }
        Ok(())
    }

    pub async fn failed(&self, db: &Db, username: &str, client: IpAddr) -> Result<(), ApiError> {
        let (now, start) = (now_ms(), self.window_start());
        for key in [Key::AccountFrom(username, client), Key::From(client)] {
            db::throttle::fail(db, &key.text(), now, start).await?;
        }
        Ok(())
    }

    pub async fn succeeded(&self, db: &Db, username: &str, client: IpAddr) -> Result<(), ApiError> {
        db::throttle::clear(db, &Key::AccountFrom(username, client).text()).await?;
        Ok(())
    }

    /// Forgets counts older than the window (wrong check-in codes' included: theirs is shorter).
    pub async fn prune(&self, db: &Db) -> Result<(), sqlx::Error> {
        db::throttle::prune(db, self.window_start().min(now_ms() - 60_000)).await?;
        Ok(())
    }
}
