//! Per-minute fetch budgets of the CIMD resolver (SPEC §8, §11): network fetches per host
//! (charged only once the host has resolved to addresses that may be fetched, so made-up names
//! cost nothing here) and fetches of unknown URLs per requesting address. Each table is bounded:
//! when it is full of this minute's entries, a new key is refused rather than remembered.

use std::collections::HashMap;
use std::sync::Mutex;

/// A budget of `limit` per key and minute, over at most `max_tracked` keys.
pub struct MinuteBudget {
    limit: u32,
    max_tracked: usize,
    /// key → (start of its minute, count in it).
    entries: Mutex<HashMap<String, (i64, u32)>>,
}

impl MinuteBudget {
    pub fn new(limit: u32, max_tracked: usize) -> MinuteBudget {
        MinuteBudget { limit, max_tracked, entries: Mutex::new(HashMap::new()) }
    }

    /// Count one for `key`; false when its minute's budget is spent (or the table is full of
    /// other keys' live entries).
    pub fn take(&self, key: &str, now: i64) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= self.max_tracked && !entries.contains_key(key) {
            entries.retain(|_, (start, _)| now - *start < 60);
            if entries.len() >= self.max_tracked {
                return false;
            }
        }
        let entry = entries.entry(key.to_string()).or_insert((now, 0));
        if now - entry.0 >= 60 {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= self.limit
    }

    /// Keys remembered now (for tests and diagnostics).
    pub fn tracked(&self) -> usize {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_limit_per_minute() {
        let budget = MinuteBudget::new(3, 100);
        assert!((0..3).all(|_| budget.take("a", 1000)));
        assert!(!budget.take("a", 1030));
        assert!(budget.take("b", 1030), "another key has its own");
        assert!(budget.take("a", 1060), "a new minute");
    }

    #[test]
    fn a_full_table_refuses_new_keys_until_entries_expire() {
        let budget = MinuteBudget::new(10, 2);
        assert!(budget.take("a", 1000) && budget.take("b", 1000));
        assert!(!budget.take("c", 1010));
        assert!(budget.take("a", 1010), "known keys still count");
        assert_eq!(budget.tracked(), 2);
        assert!(budget.take("c", 1060), "old entries make room");
    }
}
