//! Check-in codes: six digits from an HMAC of the attendance session's secret and the time step,
//! as TOTP does (RFC 6238 dynamic truncation). Nothing has to run to rotate them.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The step a moment falls in: steps start at `opens_at_ms` and last `period_ms`.
pub fn step(now_ms: i64, opens_at_ms: i64, period_ms: i64) -> i64 {
    (now_ms - opens_at_ms).max(0) / period_ms
}

/// When a step ends.
pub fn step_end(step: i64, opens_at_ms: i64, period_ms: i64) -> i64 {
    opens_at_ms + (step + 1) * period_ms
}

pub fn code(secret: &[u8], step: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any size");
    mac.update(&step.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[hash.len() - 1] & 0x0f) as usize;
    let value = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    format!("{:06}", value % 1_000_000)
}

/// A code is good during its own step and the one before, so a student typing as the code
/// turns is not refused.
pub fn accepts(secret: &[u8], now_step: i64, typed: &str) -> bool {
    let typed = typed.trim();
    typed == code(secret, now_step) || (now_step > 0 && typed == code(secret, now_step - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_change_with_the_step() {
        let secret = b"a secret";
        let codes: Vec<String> = (0..50).map(|s| code(secret, s)).collect();
        assert!(codes
            .iter()
            .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())));
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert!(distinct.len() >= 49, "codes repeat too often");
        assert_ne!(code(b"another secret", 3), code(secret, 3));
    }

    #[test]
    fn the_current_and_previous_step_are_accepted_older_are_not() {
        let secret = b"s";
        assert!(accepts(secret, 10, &code(secret, 10)));
        assert!(accepts(secret, 10, &code(secret, 9)));
        assert!(!accepts(secret, 10, &code(secret, 8)));
        assert!(!accepts(secret, 10, &code(secret, 11)));
        assert!(!accepts(secret, 0, ""));
    }

    #[test]
    fn steps_follow_the_period() {
        assert_eq!(step(1_000, 1_000, 5_000), 0);
        assert_eq!(step(5_999, 1_000, 5_000), 0);
        assert_eq!(step(6_000, 1_000, 5_000), 1);
        assert_eq!(step_end(1, 1_000, 5_000), 11_000);
    }
}
