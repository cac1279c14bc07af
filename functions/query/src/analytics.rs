//! The answers the insight endpoints compute from rows they read: failure groups, duration
//! quantiles, slowest candidates. Pure functions (rows in, answers out), so
//! they are tested without a table.

use std::collections::{HashMap, HashSet};
use verdict_model::Status;
use verdict_store::{FailureCount, TestRow};

/// One failure (by fingerprint) across the failure rollups of a window.
#[derive(Debug, PartialEq)]
pub(crate) struct FailureGroup<'a> {
    pub(crate) fingerprint: &'a str,
    /// Failed or errored results with this fingerprint.
    pub(crate) count: i64,
    /// Distinct tests among them.
    pub(crate) tests_affected: usize,
}

/// The failed and errored results of the rollups grouped by fingerprint, most frequent first
/// (ties by fingerprint); failures without a fingerprint are left out.
pub(crate) fn failure_groups(counts: &[FailureCount]) -> Vec<FailureGroup<'_>> {
    let mut groups: HashMap<&str, (i64, HashSet<&str>)> = HashMap::new();
    for count in counts.iter().filter(|c| c.failed > 0) {
        let Some(fp) = count.fingerprint.as_deref() else {
            continue;
        };
        let (total, tests) = groups.entry(fp).or_default();
        *total += count.failed;
        tests.insert(&count.test_id);
    }
    let mut groups: Vec<FailureGroup<'_>> = groups
        .into_iter()
        .map(|(fingerprint, (count, tests))| FailureGroup {
            fingerprint,
            count,
            tests_affected: tests.len(),
        })
        .collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.fingerprint.cmp(b.fingerprint)));
    groups
}

/// A test that failed or passed only on a retry in a window, by the failure rollups.
#[derive(Debug, PartialEq)]
pub(crate) struct FlakyCandidate<'a> {
    pub(crate) test_id: &'a str,
    /// Runs where it passed on a retry.
    pub(crate) retried: i64,
    /// Runs where it failed or errored.
    pub(crate) failed: i64,
}

/// Every test of the rollups with a failure or a retried pass, those retried in the most runs
/// first, then those failed in the most (ties by test id).
pub(crate) fn flaky_candidates(counts: &[FailureCount]) -> Vec<FlakyCandidate<'_>> {
    let mut tests: HashMap<&str, (i64, i64)> = HashMap::new();
    for count in counts {
        let (retried, failed) = tests.entry(&count.test_id).or_default();
        *retried += count.flaky;
        *failed += count.failed;
    }
    let mut candidates: Vec<FlakyCandidate<'_>> = tests
        .into_iter()
        .map(|(test_id, (retried, failed))| FlakyCandidate {
            test_id,
            retried,
            failed,
        })
        .collect();
    candidates
        .sort_by(|a, b| (b.retried, b.failed, a.test_id).cmp(&(a.retried, a.failed, b.test_id)));
    candidates
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(test: &str, status: Status, created_ms: u64) -> TestRow {
        TestRow {
            name: format!("name of {test}"),
            ..TestRow::bare(test, &format!("run-{created_ms}"), status, created_ms)
        }
    }

    fn count(test: &str, fingerprint: Option<&str>, failed: i64, flaky: i64) -> FailureCount {
        FailureCount {
            day_ms: 0,
            test_id: test.into(),
            fingerprint: fingerprint.map(str::to_string),
            classname: "C".into(),
            name: test.into(),
            failed,
            flaky,
        }
    }

    #[test]
    fn failures_group_by_fingerprint_most_frequent_first() {
        let counts = vec![
            count("a", Some("fp1"), 2, 0),
            count("b", Some("fp1"), 1, 0),
            // The same test on another day: one test affected, counted again.
            count("a", Some("fp1"), 4, 0),
            count("c", Some("fp2"), 1, 0),
            // A retried pass, or a failure without a fingerprint: no group.
            count("d", Some("fp3"), 0, 5),
            count("e", None, 3, 0),
        ];
        let groups: Vec<(&str, i64, usize)> = failure_groups(&counts)
            .iter()
            .map(|g| (g.fingerprint, g.count, g.tests_affected))
            .collect();
        assert_eq!(groups, [("fp1", 7, 2), ("fp2", 1, 1)]);
    }

    #[test]
    fn flaky_candidates_put_the_most_retried_first_then_the_most_failed() {
        let counts = vec![
            count("a", Some("fp1"), 9, 0),
            count("b", None, 0, 1),
            count("c", Some("fp2"), 1, 0),
            count("b", Some("fp2"), 2, 0),
            count("d", None, 0, 1),
        ];
        let order: Vec<(&str, i64, i64)> = flaky_candidates(&counts)
            .iter()
            .map(|c| (c.test_id, c.retried, c.failed))
            .collect();
        assert_eq!(order, [("b", 1, 2), ("d", 1, 0), ("a", 0, 9), ("c", 0, 1)]);
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
}
