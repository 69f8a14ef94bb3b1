//! Time: the current time, injectable (the server uses the system clock, tests a clock they
//! move), RFC 3339 display, and the fixed windows that rate limits count in.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl SystemClock {
    /// The current time without going through the trait object.
    pub fn now_secs(&self) -> i64 {
        Clock::now(self)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(now: i64) -> Self {
        ManualClock(AtomicI64::new(now))
    }

    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339 (UTC) for an epoch-seconds timestamp, as the CLI and admin API print times.
pub fn rfc3339(epoch_secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch_secs)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| epoch_secs.to_string())
}

/// Fixed rate-limit windows (SPEC §4.3, §11): the arithmetic, free of storage; used for
/// registrations, sign-in attempts and admin authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub length: i64,
}

impl Window {
    /// The window `now` falls in.
    pub fn containing(now: i64, length_secs: u64) -> Window {
        let length = length_secs.max(1) as i64;
        Window { start: now - now.rem_euclid(length), length }
    }

    /// Seconds until the next window opens (at least 1, for `Retry-After`).
    pub fn seconds_left(&self, now: i64) -> i64 {
        (self.start + self.length - now).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_roll_over() {
        let w = Window::containing(1_000_059, 60);
        assert_eq!(w.start, 1_000_020);
        assert_eq!(w.seconds_left(1_000_059), 21);
        let next = Window::containing(1_000_080, 60);
        assert_eq!(next.start, 1_000_080);
        assert_eq!(next.seconds_left(1_000_080), 60);
        assert_eq!(w.seconds_left(1_000_080), 1, "never 0");
    }
}
