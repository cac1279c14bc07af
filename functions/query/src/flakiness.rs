//! Whether a test is flaky over a window, and why. Pure: the test over the window's days as
//! its duration rollups hold it (runs, retried runs, and its [`verdict_store::Flips`]) in, the
//! reasons out.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use verdict_store::TestOverWindow;

/// A test whose outcome changes between this share of its consecutive runs or more...
pub(crate) const FLIP_RATE_FLAKY: f64 = 0.3;
/// ...over at least this many runs where it ran, is flaky by its flip rate alone.
pub(crate) const FLIP_MIN_RUNS: u64 = 10;

/// Why a test is flaky.
#[derive(Debug, PartialEq)]
pub(crate) enum Reason<'a> {
    /// It passed after a failed attempt in `runs` runs.
    Retried { runs: i64 },
    /// It failed and did not fail on each of `commits`, in different runs of one day.
    SameCommit { commits: &'a BTreeSet<String> },
    /// Its outcome changed between `flip_rate` of its `runs` consecutive runs.
    FlipRate { flip_rate: f64, runs: u64 },
}

impl Reason<'_> {
    /// As the API gives it (`FlakyReason` in `openapi.json`).
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Reason::Retried { runs } => json!({"kind": "retried", "runs": runs}),
            Reason::SameCommit { commits } => json!({
                "kind": "same_commit",
                "commits": commits.iter().take(5).collect::<Vec<_>>(),
                "count": commits.len(),
            }),
            Reason::FlipRate { flip_rate, runs } => {
                json!({"kind": "flip_rate", "flip_rate": flip_rate, "runs": runs})
            }
        }
    }
}

/// Why `test` is flaky over the window (none: it is not): it passed after a failed attempt,
/// it both failed and did not fail on one commit, or its flip rate is at least
/// [`FLIP_RATE_FLAKY`] over [`FLIP_MIN_RUNS`] runs; and a run of the window shows it (it
/// failed or passed only on a retry there). Its failures in runs that failed as a whole are
/// left out of all but the first (its flips leave them out).
pub(crate) fn reasons(test: &TestOverWindow) -> Vec<Reason<'_>> {
    let Some(flips) = test.flips.as_ref().filter(|f| !f.shown.is_empty()) else {
        // It failed nowhere and passed on a retry nowhere in the window.
        return Vec::new();
    };
    let mut reasons = Vec::new();
    if test.tally.flaky_runs > 0 {
        reasons.push(Reason::Retried {
            runs: test.tally.flaky_runs,
        });
    }
    if !flips.same_commit.is_empty() {
        reasons.push(Reason::SameCommit {
            commits: &flips.same_commit,
        });
    }
    if flips.ran >= FLIP_MIN_RUNS && flips.flip_rate() >= FLIP_RATE_FLAKY {
        reasons.push(Reason::FlipRate {
            flip_rate: flips.flip_rate(),
            runs: flips.ran,
        });
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_store::{Flips, TestTally};

    fn test(runs: i64, retried: i64, flips: Option<Flips>) -> TestOverWindow {
        TestOverWindow {
            test_id: "t".into(),
            tally: TestTally {
                runs,
                flaky_runs: retried,
                ..TestTally::default()
            },
            newest_run: "r".into(),
            newest_created_ms: 0,
            flips,
        }
    }

    /// `n` runs, failing in every `every`th.
    fn failing_every(n: u64, every: u64) -> Flips {
        (0..n)
            .map(|i| Flips {
                ran: 1,
                first_failed: i % every == 0,
                last_failed: i % every == 0,
                ..Flips::default()
            })
            .fold(Flips::default(), Flips::then)
    }

    #[test]
    fn a_test_that_passed_everywhere_or_failed_on_new_commits_is_not_flaky() {
        assert_eq!(reasons(&test(50, 0, None)), []);
        let same_commit_before_the_window = Flips {
            same_commit: BTreeSet::from(["c".to_string()]),
            ..Flips::passes(5)
        };
        assert_eq!(
            reasons(&test(5, 0, Some(same_commit_before_the_window))),
            [],
            "no run of the window shows it"
        );
        // Failed in the first 2 runs of 12, then passed: one change.
        let steady = Flips::passes(0)
            .then(failing_every(2, 1))
            .then(Flips::passes(10));
        assert_eq!(steady.flips, 1);
        assert_eq!(reasons(&test(12, 0, Some(steady))), []);
    }

    #[test]
    fn flaky_by_retry_by_one_commit_or_by_flip_rate_over_enough_runs() {
        let shown = |flips: Flips| Flips {
            shown_runs: 1,
            shown: vec![verdict_store::RunAt {
                created_ms: 0,
                run: "r".into(),
            }],
            ..flips
        };
        let retried = shown(Flips::passes(5));
        assert_eq!(
            reasons(&test(5, 1, Some(retried))),
            [Reason::Retried { runs: 1 }]
        );
        let commits = BTreeSet::from(["c2".to_string()]);
        let same = shown(Flips {
            same_commit: commits.clone(),
            ..failing_every(3, 2)
        });
        assert_eq!(
            reasons(&test(3, 0, Some(same))),
            [Reason::SameCommit { commits: &commits }]
        );
        // Failing every third run of 12: 7 changes in 11.
        let flipping = failing_every(12, 3);
        assert_eq!(flipping.flip_rate(), 0.636);
        assert_eq!(
            reasons(&test(12, 0, Some(shown(flipping)))),
            [Reason::FlipRate {
                flip_rate: 0.636,
                runs: 12
            }]
        );
        assert_eq!(
            reasons(&test(9, 0, Some(shown(failing_every(9, 3))))),
            [],
            "9 runs are too few to judge by flips"
        );
    }
}
