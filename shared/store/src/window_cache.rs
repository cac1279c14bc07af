//! Duration rollups as parsed, kept in memory between the requests one process serves (a warm
//! query function, which turns it on: [`crate::Store::keeping_windows`]), so a dashboard's
//! window read again does not fetch and parse its objects again. An entry never goes stale: a
//! kept merge is named by the hash of the object versions it merges, and a day's object is
//! keyed by the ETag its listing gave. The least recently used entries go once their objects'
//! bytes pass a budget. The parse function, which reads a window only to prepare its kept
//! merges in S3, keeps nothing.

use crate::duration_rollups::TestOverWindow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Tests of a shard, as merged or as read.
pub(crate) type Tests = Arc<HashMap<String, TestOverWindow>>;

/// Bytes of the objects whose parsed tests are kept, at most. A window of 100,000 tests is
/// about 25 MB of them (its kept merges and today's objects hold each test once, 100 to 150
/// bytes of JSON), parsed a few times that; the query function has 512 MB, and a cold read of
/// such a window peaked at 239 MB in `make bench-windows`.
const BUDGET_BYTES: usize = 32 << 20;

/// The parsed objects kept, if any are (`None`: off); clones share them.
#[derive(Clone, Default)]
pub(crate) struct WindowCache(Option<Arc<Mutex<Entries>>>);

impl std::fmt::Debug for WindowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(entries) = &self.0 else {
            return f.write_str("WindowCache(off)");
        };
        let entries = entries.lock().expect("not poisoned");
        f.debug_struct("WindowCache")
            .field("objects", &entries.map.len())
            .field("bytes", &entries.bytes)
            .finish()
    }
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, Entry>,
    bytes: usize,
    clock: u64,
}

struct Entry {
    tests: Tests,
    bytes: usize,
    used: u64,
}

impl WindowCache {
    /// An empty cache that keeps what is put.
    pub(crate) fn on() -> WindowCache {
        WindowCache(Some(Arc::default()))
    }

    /// The tests kept under `key`, if they are.
    pub(crate) fn get(&self, key: &str) -> Option<Tests> {
        let mut entries = self.0.as_ref()?.lock().expect("not poisoned");
        entries.clock += 1;
        let now = entries.clock;
        let entry = entries.map.get_mut(key)?;
        entry.used = now;
        Some(entry.tests.clone())
    }

    /// Keeps `tests`, parsed from (or put as) an object of `bytes` bytes, under `key`, and lets
    /// the least recently used go past the budget. An object larger than the whole budget is
    /// not kept.
    pub(crate) fn put(&self, key: String, tests: Tests, bytes: usize) {
        let Some(entries) = &self.0 else {
            return;
        };
        if bytes > BUDGET_BYTES {
            return;
        }
        let mut entries = entries.lock().expect("not poisoned");
        entries.clock += 1;
        let used = entries.clock;
        if let Some(old) = entries.map.insert(key, Entry { tests, bytes, used }) {
            entries.bytes -= old.bytes;
        }
        entries.bytes += bytes;
        while entries.bytes > BUDGET_BYTES {
            let Some(oldest) = entries
                .map
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(gone) = entries.map.remove(&oldest) {
                entries.bytes -= gone.bytes;
            }
        }
    }

    /// Forgets everything, as a new process starts.
    #[cfg(feature = "test-support")]
    pub(crate) fn clear(&self) {
        if let Some(entries) = &self.0 {
            *entries.lock().expect("not poisoned") = Entries::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tests(n: usize) -> Tests {
        Arc::new(
            (0..n)
                .map(|i| {
                    let id = format!("t{i}");
                    let test = TestOverWindow {
                        test_id: id.clone(),
                        tally: Default::default(),
                        newest_run: "r".into(),
                        newest_created_ms: 0,
                        flips: None,
                    };
                    (id, test)
                })
                .collect(),
        )
    }

    #[test]
    fn the_least_recently_used_go_past_the_budget() {
        let cache = WindowCache::on();
        let third = BUDGET_BYTES / 3;
        cache.put("a".into(), tests(1), third);
        cache.put("b".into(), tests(2), third);
        cache.put("c".into(), tests(3), third);
        assert!(
            cache.get("a").is_some(),
            "a is used again: b is now the oldest"
        );
        cache.put("d".into(), tests(4), third);
        assert!(cache.get("b").is_none());
        assert_eq!(cache.get("a").map(|t| t.len()), Some(1));
        assert_eq!(cache.get("c").map(|t| t.len()), Some(3));
        assert_eq!(cache.get("d").map(|t| t.len()), Some(4));
        cache.put("huge".into(), tests(1), BUDGET_BYTES + 1);
        assert!(
            cache.get("huge").is_none(),
            "larger than the budget: not kept"
        );
        assert!(cache.get("d").is_some(), "and nothing let go for it");
    }

    #[test]
    fn a_key_put_again_replaces_its_entry_and_its_bytes() {
        let cache = WindowCache::on();
        cache.put("a".into(), tests(1), BUDGET_BYTES / 2);
        cache.put("a".into(), tests(2), BUDGET_BYTES / 2);
        cache.put("b".into(), tests(3), BUDGET_BYTES / 2);
        assert_eq!(cache.get("a").map(|t| t.len()), Some(2));
        assert_eq!(cache.get("b").map(|t| t.len()), Some(3));
    }

    #[test]
    fn a_cache_that_is_off_keeps_nothing() {
        let cache = WindowCache::default();
        cache.put("a".into(), tests(1), 1);
        assert!(cache.get("a").is_none());
    }
}
