//! Login throttling that an attacker cannot turn against the account's owner: failures count
//! per account *and* client address (five wrong passwords from one address lock that address
//! out of that account, not the teacher at their own desk), and per address over all accounts
//! (so one address cannot spray passwords). The map of recent failures is bounded.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::config::LoginLimits;
use crate::error::{ApiError, ErrorCode};

/// Failure records kept at most; past it, stale ones go first, then any.
const MAX_RECORDS: usize = 100_000;

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    /// One account, from one address.
    AccountFrom(String, IpAddr),
    /// One address, whatever the account.
    From(IpAddr),
}

pub struct LoginThrottle {
    failures: DashMap<Key, (u32, Instant)>,
    limits: LoginLimits,
}

impl LoginThrottle {
    pub fn new(limits: LoginLimits) -> Self {
        LoginThrottle {
            failures: DashMap::new(),
            limits,
        }
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.limits.window_s)
    }

    /// Refuses an attempt when this address failed too often lately, for this account or all.
    pub fn check(&self, username: &str, client: IpAddr) -> Result<(), ApiError> {
        let over = |key: Key, max: u32| {
            self.failures
                .get(&key)
                .is_some_and(|entry| entry.1.elapsed() < self.window() && entry.0 >= max)
        };
        let account = Key::AccountFrom(username.to_string(), client);
        if over(account, self.limits.max_failures_per_user)
            || over(Key::From(client), self.limits.max_failures_per_ip)
        {
            return Err(ApiError::new(
                ErrorCode::TooMany,
                "too many failed logins from here; try again later",
            ));
        }
        Ok(())
    }

    pub fn failed(&self, username: &str, client: IpAddr) {
        if self.failures.len() >= MAX_RECORDS {
            self.make_room();
        }
        for key in [
            Key::AccountFrom(username.to_string(), client),
            Key::From(client),
        ] {
            let mut entry = self.failures.entry(key).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= self.window() {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }

    pub fn succeeded(&self, username: &str, client: IpAddr) {
        self.failures
            .remove(&Key::AccountFrom(username.to_string(), client));
    }

    /// Drops stale records, and if that is not enough, a quarter of the rest.
    fn make_room(&self) {
        let window = self.window();
        self.failures.retain(|_, entry| entry.1.elapsed() < window);
        if self.failures.len() >= MAX_RECORDS {
            let mut n = 0usize;
            self.failures.retain(|_, _| {
                n += 1;
                !n.is_multiple_of(4)
            });
        }
    }

    pub fn records(&self) -> usize {
        self.failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(LoginLimits {
            window_s: 300,
            max_failures_per_user: 5,
            max_failures_per_ip: 20,
        })
    }

    #[test]
    fn an_attacker_locks_only_their_own_address_out() {
        let t = throttle();
        let attacker: IpAddr = "203.0.113.5".parse().unwrap();
        let teacher: IpAddr = "198.51.100.7".parse().unwrap();
        for _ in 0..5 {
            t.check("teacher", attacker).unwrap();
            t.failed("teacher", attacker);
        }
        assert!(t.check("teacher", attacker).is_err());
        assert!(t.check("teacher", teacher).is_ok());
        // Spraying other accounts from one address stops at the address limit.
        for n in 0..15 {
            t.failed(&format!("u{n}"), attacker);
        }
        assert!(t.check("someone-else", attacker).is_err());
    }

    #[test]
    fn the_record_of_failures_stays_bounded() {
        let t = throttle();
        for n in 0..(MAX_RECORDS as u32) {
            let ip = IpAddr::from(n.to_be_bytes());
            t.failed("x", ip);
        }
        assert!(t.records() <= MAX_RECORDS + 2, "{}", t.records());
    }
}
