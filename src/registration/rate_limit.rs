//! Fixed rate-limit windows (SPEC §4.3): the arithmetic, free of storage.

/// The window `now` falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub length: i64,
}

impl Window {
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
