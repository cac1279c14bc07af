//! Whether a test is flaky over its history in a window, and why. Pure: history rows in, the
//! verdict and its evidence out.

use std::collections::{BTreeSet, HashSet};
use verdict_model::Status;
use verdict_store::{Run, TestRow};

/// A run where at least this share of its tests failed broke as a whole (infrastructure, a
/// broken build): its failures say nothing about one test, so they are not flips.
const INFRA_FAILED_SHARE: f64 = 0.8;
/// ...counted for runs of at least this many tests (a one-test run that fails is that test).
const INFRA_MIN_TESTS: u64 = 10;
/// A test whose outcome changes between this share of its consecutive runs or more...
pub(crate) const FLIP_RATE_FLAKY: f64 = 0.3;
/// ...over at least this many runs where it ran, is flaky by its flip rate alone.
pub(crate) const FLIP_MIN_RUNS: usize = 10;

/// Whether `run` failed as a whole (see [`INFRA_FAILED_SHARE`]).
pub(crate) fn is_infra_failure(run: &Run) -> bool {
    let s = &run.summary;
    s.tests >= INFRA_MIN_TESTS
        && (s.failed + s.errors) as f64 >= INFRA_FAILED_SHARE * s.tests as f64
}

/// How flaky one test was over its history in a window, with the evidence for each reason.
#[derive(Debug, PartialEq)]
pub(crate) struct Flakiness<'a> {
    /// Runs in the history.
    pub(crate) runs: usize,
    /// Runs whose failure of this test was left out: runs that failed as a whole.
    pub(crate) infra_runs: usize,
    /// Runs that show it flaky, newest first.
    pub(crate) showing: Vec<&'a TestRow>,
    /// Runs where it passed after a failed attempt.
    pub(crate) retried_runs: usize,
    /// Commits on which it both passed and failed, in different runs.
    pub(crate) flipped_commits: BTreeSet<String>,
    /// Changes between passing and failing over consecutive runs where it ran, per change
    /// possible, to three decimals.
    pub(crate) flip_rate: f64,
    /// Runs where it ran (not skipped), after leaving out infrastructure failures.
    pub(crate) ran: usize,
}

impl<'a> Flakiness<'a> {
    /// Whether a run shows it flaky.
    pub(crate) fn is_flaky(&self) -> bool {
        !self.showing.is_empty()
    }

    /// Flaky by its flip rate: often enough, over enough runs.
    pub(crate) fn by_flip_rate(&self) -> bool {
        self.ran >= FLIP_MIN_RUNS && self.flip_rate >= FLIP_RATE_FLAKY
    }

    /// Adds the retried passes the history did not reach: `retried`, the runs of the window
    /// where it passed after a failed attempt (the failure rollups' exact count), and `older`,
    /// its rows in runs older than the history's, of which those retried show it flaky too.
    pub(crate) fn with_retries(mut self, retried: usize, older: &'a [TestRow]) -> Flakiness<'a> {
        self.retried_runs = self.retried_runs.max(retried);
        let shown: HashSet<&str> = self.showing.iter().map(|r| r.run_key.as_str()).collect();
        let found: Vec<&TestRow> = older
            .iter()
            .filter(|r| r.flaky && !shown.contains(r.run_key.as_str()))
            .collect();
        self.showing.extend(found);
        self.showing
            .sort_by(|a, b| (b.created_ms, &b.run_key).cmp(&(a.created_ms, &a.run_key)));
        self
    }
}

/// How flaky a test is in its `history` (newest first): flaky ([`Flakiness::is_flaky`]) when a
/// run shows it passing after a failed attempt, when it both passed and failed (or errored) on
/// one commit in different runs, or when its flip rate is at least [`FLIP_RATE_FLAKY`] over
/// [`FLIP_MIN_RUNS`] runs. Its failures in `infra_runs` (runs that failed as a whole) are left
/// out of all three.
pub(crate) fn flakiness<'a>(history: &'a [TestRow], infra_runs: &HashSet<&str>) -> Flakiness<'a> {
    let infra = |r: &TestRow| r.status.is_failure() && infra_runs.contains(r.run_key.as_str());
    let considered: Vec<&TestRow> = history.iter().filter(|r| !infra(r)).collect();
    let commit = |r: &TestRow| r.commit_sha.clone().unwrap_or_default();
    let (mut passed_on, mut failed_on) = (HashSet::new(), HashSet::new());
    for r in &considered {
        if r.status == Status::Passed {
            passed_on.insert(commit(r));
        } else if r.status.is_failure() {
            failed_on.insert(commit(r));
        }
    }
    let flipped_commits: BTreeSet<String> = passed_on
        .intersection(&failed_on)
        .filter(|c| !c.is_empty())
        .cloned()
        .collect();
    // Oldest first, where it ran: each outcome against the one before.
    let ran: Vec<&&TestRow> = considered
        .iter()
        .rev()
        .filter(|r| r.status != Status::Skipped)
        .collect();
    let flipped_at: HashSet<&str> = ran
        .windows(2)
        .filter(|w| (w[0].status == Status::Passed) != (w[1].status == Status::Passed))
        .map(|w| w[1].run_key.as_str())
        .collect();
    let flip_rate = if ran.len() > 1 {
        ((flipped_at.len() as f64 / (ran.len() - 1) as f64) * 1000.0).round() / 1000.0
    } else {
        0.0
    };
    let mut found = Flakiness {
        runs: history.len(),
        infra_runs: history.iter().filter(|r| infra(r)).count(),
        showing: Vec::new(),
        retried_runs: considered.iter().filter(|r| r.flaky).count(),
        flipped_commits,
        flip_rate,
        ran: ran.len(),
    };
    let by_flip_rate = found.by_flip_rate();
    found.showing = considered
        .iter()
        .filter(|r| {
            r.flaky
                || found.flipped_commits.contains(&commit(r))
                || (by_flip_rate && flipped_at.contains(r.run_key.as_str()))
        })
        .copied()
        .collect();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_store::settled_run;

    /// [`flakiness`], when flaky.
    fn flaky_in<'a>(history: &'a [TestRow], infra: &HashSet<&str>) -> Option<Flakiness<'a>> {
        Some(flakiness(history, infra)).filter(Flakiness::is_flaky)
    }

    fn on(status: Status, commit: &str, run: &str, created_ms: u64) -> TestRow {
        TestRow {
            commit_sha: Some(commit.into()),
            ..TestRow::bare("t", run, status, created_ms)
        }
    }

    #[test]
    fn retries_older_than_the_history_count_and_date_it() {
        let history = vec![
            on(Status::Passed, "c3", "r3", 30),
            on(Status::Passed, "c2", "r2", 20),
        ];
        assert_eq!(flaky_in(&history, &HashSet::new()), None);
        let older = vec![
            TestRow {
                flaky: true,
                ..on(Status::Passed, "c1", "r1", 10)
            },
            on(Status::Passed, "c0", "r0", 5),
        ];
        let flaky = flakiness(&history, &HashSet::new()).with_retries(3, &older);
        assert_eq!(flaky.retried_runs, 3, "the rollups' count, not the rows'");
        let showing: Vec<&str> = flaky.showing.iter().map(|r| r.run_key.as_str()).collect();
        assert_eq!(showing, ["r1"]);
        assert_eq!(flaky.runs, 2, "runs of the history read");
    }

    #[test]
    fn flaky_by_retry_or_by_both_outcomes_on_one_commit() {
        // Newest first: failed and passed on commit c2, a retried pass on c1.
        let history = vec![
            on(Status::Failed, "c2", "r4", 40),
            on(Status::Passed, "c2", "r3", 30),
            TestRow {
                flaky: true,
                ..on(Status::Passed, "c1", "r2", 20)
            },
            on(Status::Skipped, "c0", "r1", 10),
        ];
        let flaky = flaky_in(&history, &HashSet::new()).expect("flaky");
        assert_eq!(
            (flaky.runs, flaky.showing.len(), flaky.retried_runs),
            (4, 3, 1)
        );
        assert_eq!(flaky.showing[0].run_key, "r4");
        assert_eq!(flaky.flipped_commits, BTreeSet::from(["c2".to_string()]));
        // Where it ran, oldest first: pass, pass, fail: one flip in two changes.
        assert_eq!(flaky.flip_rate, 0.5);
        assert!(
            !flaky.by_flip_rate(),
            "three runs are too few to judge by flips"
        );

        let steady = vec![
            on(Status::Failed, "c1", "r2", 20),
            on(Status::Passed, "c0", "r1", 10),
        ];
        assert_eq!(
            flaky_in(&steady, &HashSet::new()),
            None,
            "failing on a new commit is not flaky"
        );
    }

    #[test]
    fn a_run_that_failed_as_a_whole_is_no_flip() {
        // Passed on c1, then failed on c1 in a run where the whole build broke.
        let history = vec![
            on(Status::Failed, "c1", "broken", 20),
            on(Status::Passed, "c1", "ok", 10),
        ];
        assert!(flaky_in(&history, &HashSet::new()).is_some());
        let infra = HashSet::from(["broken"]);
        assert_eq!(flaky_in(&history, &infra), None);
    }

    #[test]
    fn flaky_by_flip_rate_over_enough_runs_on_new_commits() {
        // A new commit each run, alternating: no retry, no commit seen twice, flip rate 1.
        let history: Vec<TestRow> = (0..12u64)
            .rev()
            .map(|i| {
                let status = if i % 2 == 0 {
                    Status::Passed
                } else {
                    Status::Failed
                };
                on(status, &format!("c{i}"), &format!("r{i}"), i)
            })
            .collect();
        let flaky = flaky_in(&history, &HashSet::new()).expect("flaky by flips");
        assert!(flaky.by_flip_rate());
        assert_eq!(flaky.flip_rate, 1.0);
        assert_eq!(
            flaky.showing.len(),
            11,
            "every run but the first changed its outcome"
        );
        assert!(flaky.flipped_commits.is_empty());
        assert_eq!(
            flaky_in(&history[..8], &HashSet::new()),
            None,
            "8 runs are too few"
        );
    }

    #[test]
    fn a_run_is_an_infrastructure_failure_when_most_of_a_large_run_failed() {
        let run = |tests, failed| {
            settled_run(
                "r",
                0,
                verdict_model::Summary {
                    tests,
                    failed,
                    ..verdict_model::Summary::default()
                },
            )
        };
        assert!(is_infra_failure(&run(100, 80)));
        assert!(!is_infra_failure(&run(100, 79)));
        assert!(!is_infra_failure(&run(5, 5)), "too small a run to say");
    }
}
