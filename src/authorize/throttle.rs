//! Sign-in throttling (SPEC §11), free of storage: what counts against whom, and how long a
//! browser must wait. A browser holding a device cookie for the account (it signed in to it
//! before) is never delayed by anyone else's failures. Failures from browsers without one arm a
//! growing delay for browsers without one, counted per account and source network and, at a
//! higher threshold, per account across all networks; the per-address window counts failures
//! only. So a stranger can slow down new browsers' sign-ins to one account, never the browsers
//! its owner already uses, and never lock anyone out for longer than a minute per attempt.

use crate::secrets;

/// Failures per account and network before each further attempt from it must wait.
pub const FREE_NETWORK_FAILURES: i32 = 3;
/// Failures per account, from all networks, before every browser without a device cookie waits.
pub const FREE_ACCOUNT_FAILURES: i32 = 20;
/// The longest wait, per attempt.
pub const MAX_DELAY_SECS: i64 = 60;
/// A counter whose last failure is older than this starts over.
pub const FAILURE_MEMORY_SECS: i64 = 900;
/// Failed sign-ins allowed per address and window (any account), before "slow down".
pub const ADDRESS_FAILURES_PER_WINDOW: i32 = 30;
pub const ADDRESS_WINDOW_SECS: u64 = 600;
/// How long a device cookie lasts.
pub const DEVICE_COOKIE_TTL_SECS: i64 = 90 * 86_400;

/// The growing delay after `failures` failures: nothing for the first `free`, then 2, 4, 8 …
/// seconds, at most `MAX_DELAY_SECS`.
pub fn delay_secs(failures: i32, free: i32) -> i64 {
    if failures < free {
        0
    } else {
        let exponent = (failures - free + 1).min(10) as u32;
        (1i64 << exponent).min(MAX_DELAY_SECS)
    }
}

/// Seconds still to wait under one counter (`(failures, last_failed_at)`), 0 when none.
pub fn wait_secs(counter: Option<(i32, i64)>, free: i32, now: i64) -> i64 {
    match counter {
        Some((failures, last)) if now - last < FAILURE_MEMORY_SECS => (last + delay_secs(failures, free) - now).max(0),
        _ => 0,
    }
}

/// The counter key of an account (the digest of its lower-cased email, known or not, so the
/// counters reveal nothing about which emails exist).
pub fn account_key(email: &str) -> String {
    secrets::digest(&format!("login:{}", email.trim().to_lowercase()))
}

/// The counter key of an account and a source network.
pub fn account_network_key(email: &str, network: &str) -> String {
    secrets::digest(&format!("login:{}|net:{network}", email.trim().to_lowercase()))
}

/// The per-address window's key.
pub fn address_key(rate_limit_key: &str) -> String {
    format!("login:{rate_limit_key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_and_is_capped() {
        assert_eq!(delay_secs(0, 3), 0);
        assert_eq!(delay_secs(2, 3), 0);
        assert_eq!(delay_secs(3, 3), 2);
        assert_eq!(delay_secs(4, 3), 4);
        assert_eq!(delay_secs(5, 3), 8);
        assert_eq!(delay_secs(50, 3), 60);
        assert_eq!(delay_secs(19, FREE_ACCOUNT_FAILURES), 0);
        assert_eq!(delay_secs(20, FREE_ACCOUNT_FAILURES), 2);
    }

    #[test]
    fn waits_count_from_the_last_failure_and_are_forgotten() {
        assert_eq!(wait_secs(None, 3, 1_000), 0);
        assert_eq!(wait_secs(Some((4, 1_000)), 3, 1_001), 3);
        assert_eq!(wait_secs(Some((4, 1_000)), 3, 1_010), 0);
        assert_eq!(wait_secs(Some((50, 1_000)), 3, 1_000 + FAILURE_MEMORY_SECS), 0, "an old counter starts over");
    }

    #[test]
    fn keys_separate_accounts_and_networks() {
        assert_eq!(account_key(" Alice@Example.com "), account_key("alice@example.com"));
        assert_ne!(account_network_key("a@x.io", "192.0.2.0/24"), account_network_key("a@x.io", "198.51.100.0/24"));
        assert_ne!(account_network_key("a@x.io", "192.0.2.0/24"), account_key("a@x.io"));
    }
}
