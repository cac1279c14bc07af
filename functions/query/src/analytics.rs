//! The answers the insight endpoints compute from rows they read: failure groups, flaky
//! candidates, the slowest tests. Pure functions (rows in, answers out), so
//! they are tested without a table.

use std::collections::{HashMap, HashSet};
use verdict_store::{FailureCount, TestOverWindow};

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

/// A test one failure hit in a window, by the failure rollups.
#[derive(Debug, PartialEq)]
pub(crate) struct TestHit<'a> {
    pub(crate) test_id: &'a str,
    pub(crate) classname: &'a str,
    pub(crate) name: &'a str,
    /// Runs where it failed that way.
    pub(crate) occurrences: i64,
}

/// The tests of one failure's rollups (`counts`, of its fingerprint), those hit in the most
/// runs first (ties by test id), each named as its newest day's rollup names it.
pub(crate) fn tests_hit(counts: &[FailureCount]) -> Vec<TestHit<'_>> {
    let mut tests: HashMap<&str, (u64, TestHit<'_>)> = HashMap::new();
    for count in counts.iter().filter(|c| c.failed > 0) {
        let (day, hit) = tests.entry(&count.test_id).or_insert((
            count.day_ms,
            TestHit {
                test_id: &count.test_id,
                classname: &count.classname,
                name: &count.name,
                occurrences: 0,
            },
        ));
        hit.occurrences += count.failed;
        if count.day_ms > *day {
            *day = count.day_ms;
            (hit.classname, hit.name) = (&count.classname, &count.name);
        }
    }
    let mut tests: Vec<TestHit<'_>> = tests.into_values().map(|(_, hit)| hit).collect();
    tests.sort_by(|a, b| {
        b.occurrences
            .cmp(&a.occurrences)
            .then(a.test_id.cmp(b.test_id))
    });
    tests
}

/// A test that failed or passed only on a retry in a window, by the failure rollups.
#[derive(Debug, PartialEq)]
pub(crate) struct FlakyCandidate<'a> {
    pub(crate) test_id: &'a str,
    /// Its names, as its newest day's rollup names it.
    pub(crate) classname: &'a str,
    pub(crate) name: &'a str,
    /// Runs where it passed on a retry.
    pub(crate) retried: i64,
    /// Runs where it failed or errored.
    pub(crate) failed: i64,
}

/// Every test of the rollups with a failure or a retried pass, those retried in the most runs
/// first, then those failed in the most (ties by test id).
pub(crate) fn flaky_candidates(counts: &[FailureCount]) -> Vec<FlakyCandidate<'_>> {
    let mut tests: HashMap<&str, (u64, FlakyCandidate<'_>)> = HashMap::new();
    for count in counts {
        let (day, candidate) = tests.entry(&count.test_id).or_insert((
            count.day_ms,
            FlakyCandidate {
                test_id: &count.test_id,
                classname: &count.classname,
                name: &count.name,
                retried: 0,
                failed: 0,
            },
        ));
        candidate.retried += count.flaky;
        candidate.failed += count.failed;
        if count.day_ms > *day {
            *day = count.day_ms;
            (candidate.classname, candidate.name) = (&count.classname, &count.name);
        }
    }
    let mut candidates: Vec<FlakyCandidate<'_>> = tests.into_values().map(|(_, c)| c).collect();
    candidates
        .sort_by(|a, b| (b.retried, b.failed, a.test_id).cmp(&(a.retried, a.failed, b.test_id)));
    candidates
}

/// Tests slowest first: by median, then mean (tests whose medians fall in one histogram bucket
/// may tie), then test id.
/// Each test's quantile is worked out once, not at every comparison.
pub(crate) fn rank_slowest(mut tests: Vec<TestOverWindow>) -> Vec<TestOverWindow> {
    tests.sort_by_cached_key(|t| {
        let slowness = (t.tally.quantile_ms(0.5), t.tally.mean_ms());
        (std::cmp::Reverse(slowness), t.test_id.clone())
    });
    tests
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_store::{duration_bucket, Bucket, TestTally};

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
    fn a_failure_s_tests_most_hit_first_named_by_their_newest_day() {
        let renamed = FailureCount {
            day_ms: 86_400_000,
            name: "a, renamed".into(),
            ..count("a", Some("fp1"), 1, 0)
        };
        let counts = vec![
            count("b", Some("fp1"), 2, 0),
            renamed,
            count("a", Some("fp1"), 1, 0),
            // A retried pass is no occurrence.
            count("c", Some("fp1"), 0, 3),
        ];
        let hits: Vec<(&str, &str, i64)> = tests_hit(&counts)
            .iter()
            .map(|t| (t.test_id, t.name, t.occurrences))
            .collect();
        assert_eq!(hits, [("a", "a, renamed", 2), ("b", "b", 2)]);
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
    fn the_slowest_come_first_by_median_then_mean() {
        let test = |id: &str, ms: &[u64]| {
            let mut tally = TestTally::default();
            for ms in ms {
                tally.runs += 1;
                tally.total_ms += *ms as i64;
                let bucket = tally.buckets.entry(duration_bucket(*ms)).or_default();
                *bucket = Bucket(bucket.0 + 1, bucket.1 + *ms as i64);
            }
            TestOverWindow {
                test_id: id.into(),
                tally,
                newest_run: "r".into(),
                newest_created_ms: 0,
                flips: None,
            }
        };
        let ranked = rank_slowest(vec![
            test("fast", &[10, 10, 10]),
            test("steady", &[1_000, 1_000, 1_000]),
            // The same median as `steady`, a longer mean.
            test("spiky", &[1_000, 1_000, 5_000]),
            test("slow", &[3_000, 3_000, 3_000]),
        ]);
        let order: Vec<&str> = ranked.iter().map(|t| t.test_id.as_str()).collect();
        assert_eq!(order, ["slow", "spiky", "steady", "fast"]);
    }
}
