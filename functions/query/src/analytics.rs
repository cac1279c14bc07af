//! The answers the insight endpoints compute from rows they read: failure groups, duration
//! quantiles, slowest candidates. Pure functions (rows in, answers out), so
//! they are tested without a table.

use std::collections::{HashMap, HashSet};
use verdict_model::Status;
use verdict_store::{SlowTest, TestRow};

/// One failure (by fingerprint) across the rows of a window.
#[derive(Debug, PartialEq)]
pub(crate) struct FailureGroup<'a> {
    pub(crate) fingerprint: &'a str,
    /// Failed or errored results with this fingerprint.
    pub(crate) count: u64,
    /// Distinct tests among them.
    pub(crate) tests_affected: usize,
    /// The oldest and the newest of them.
    pub(crate) first: &'a TestRow,
    pub(crate) last: &'a TestRow,
}

/// The failed and errored rows grouped by fingerprint, most frequent first (ties by
/// fingerprint); rows without a fingerprint are left out.
pub(crate) fn failure_groups(rows: &[TestRow]) -> Vec<FailureGroup<'_>> {
    let mut groups: HashMap<&str, (FailureGroup<'_>, HashSet<&str>)> = HashMap::new();
    for row in rows.iter().filter(|r| r.status.is_failure()) {
        let Some(fp) = row.fingerprint.as_deref() else {
            continue;
        };
        let (group, tests) = groups.entry(fp).or_insert_with(|| {
            let group = FailureGroup {
                fingerprint: fp,
                count: 0,
                tests_affected: 0,
                first: row,
                last: row,
            };
            (group, HashSet::new())
        });
        group.count += 1;
        tests.insert(&row.test_id);
        group.tests_affected = tests.len();
        if row.created_ms < group.first.created_ms {
            group.first = row;
        }
        if row.created_ms > group.last.created_ms {
            group.last = row;
        }
    }
    let mut groups: Vec<FailureGroup<'_>> = groups.into_values().map(|(g, _)| g).collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.fingerprint.cmp(b.fingerprint)));
    groups
}

/// The value at quantile `q` (0..=1) of sorted values, nearest rank.
pub(crate) fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A test's durations over a window.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Durations {
    pub(crate) runs: usize,
    pub(crate) median_ms: u64,
    pub(crate) p95_ms: u64,
    pub(crate) max_ms: u64,
}

/// The durations of the runs of a history that ran the test (not skipped); `None` when none
/// did.
pub(crate) fn durations(history: &[TestRow]) -> Option<Durations> {
    let mut durations: Vec<u64> = history
        .iter()
        .filter(|r| r.status != Status::Skipped)
        .map(|r| r.duration_ms)
        .collect();
    durations.sort_unstable();
    Some(Durations {
        runs: durations.len(),
        median_ms: quantile(&durations, 0.5),
        p95_ms: quantile(&durations, 0.95),
        max_ms: *durations.last()?,
    })
}

/// The candidates of the slowest-tests answer: each test's name and its longest duration among
/// the slowest tests files recorded, slowest first (ties by test id).
pub(crate) fn slowest_candidates(slow: impl IntoIterator<Item = SlowTest>) -> Vec<SlowTest> {
    let mut longest: HashMap<String, SlowTest> = HashMap::new();
    for test in slow {
        let entry = longest
            .entry(test.test_id.clone())
            .or_insert_with(|| SlowTest {
                duration_ms: 0,
                ..test.clone()
            });
        entry.duration_ms = entry.duration_ms.max(test.duration_ms);
    }
    let mut ranked: Vec<SlowTest> = longest.into_values().collect();
    ranked.sort_by(|a, b| {
        b.duration_ms
            .cmp(&a.duration_ms)
            .then_with(|| a.test_id.cmp(&b.test_id))
    });
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_store::test_row;

    fn row(test: &str, status: Status, created_ms: u64) -> TestRow {
        TestRow {
            name: format!("name of {test}"),
            ..test_row(test, &format!("run-{created_ms}"), status, created_ms)
        }
    }

    fn failing(test: &str, fingerprint: &str, created_ms: u64) -> TestRow {
        TestRow {
            fingerprint: Some(fingerprint.into()),
            ..row(test, Status::Failed, created_ms)
        }
    }

    #[test]
    fn failures_group_by_fingerprint_most_frequent_first() {
        let rows = vec![
            failing("a", "fp1", 30),
            failing("b", "fp1", 10),
            failing("a", "fp1", 20),
            failing("c", "fp2", 40),
            // Not failures, or without a fingerprint: left out.
            TestRow {
                fingerprint: Some("fp3".into()),
                flaky: true,
                ..row("d", Status::Passed, 50)
            },
            row("e", Status::Error, 60),
        ];
        let groups = failure_groups(&rows);
        let summary: Vec<(&str, u64, usize, u64, u64)> = groups
            .iter()
            .map(|g| {
                let (first, last) = (g.first.created_ms, g.last.created_ms);
                (g.fingerprint, g.count, g.tests_affected, first, last)
            })
            .collect();
        assert_eq!(summary, [("fp1", 3, 2, 10, 30), ("fp2", 1, 1, 40, 40)]);
    }

    #[test]
    fn quantiles_are_by_nearest_rank() {
        assert_eq!(quantile(&[], 0.5), 0);
        assert_eq!(quantile(&[7], 0.95), 7);
        let values: Vec<u64> = (1..=20).collect();
        assert_eq!(quantile(&values, 0.5), 10);
        assert_eq!(quantile(&values, 0.95), 19);
        assert_eq!(quantile(&values, 1.0), 20);
        let history: Vec<TestRow> = [30, 10, 20]
            .into_iter()
            .map(|d| TestRow {
                duration_ms: d,
                ..row("t", Status::Passed, d)
            })
            .chain([TestRow {
                duration_ms: 999,
                ..row("t", Status::Skipped, 1)
            }])
            .collect();
        assert_eq!(
            durations(&history),
            Some(Durations {
                runs: 3,
                median_ms: 20,
                p95_ms: 30,
                max_ms: 30
            })
        );
        assert_eq!(durations(&history[3..]), None);
    }

    #[test]
    fn slowest_candidates_keep_each_test_s_longest_duration() {
        let slow = |id: &str, ms| SlowTest {
            test_id: id.into(),
            name: format!("n{id}"),
            duration_ms: ms,
        };
        let ranked = slowest_candidates([slow("a", 5), slow("b", 9), slow("a", 12), slow("c", 9)]);
        let ranked: Vec<(&str, u64)> = ranked
            .iter()
            .map(|s| (s.test_id.as_str(), s.duration_ms))
            .collect();
        assert_eq!(ranked, [("a", 12), ("b", 9), ("c", 9)]);
    }
}
