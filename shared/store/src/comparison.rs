//! A run against its base: what broke, what is still broken and since when, what was fixed,
//! what turned flaky, which tests came and went.
//!
//! A comparison reads both runs' outcomes once (one paginated Query of each run's `T#` items,
//! projecting the test id, status, flaky and contributors) and is kept in S3 beside the run's
//! sorted views, named after both runs' file counters, so a run that changes gets a new
//! comparison, never a stale one. The parse function makes the one with the default base when
//! a run settles ([`Store::make_comparison`]), with the streak of the first still-failing
//! tests, so that the run's page, `/compare` and `verdict upload --wait` read one object.

use crate::keys::view_key;
use crate::{ProjectName, Run, RunFilter, RunStatus, Store, StoreError, TestOutcome, TestRow};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use verdict_model::Status;

/// Tests a run (and its base) may have to be compared: both are read whole.
pub const MAX_COMPARED_TESTS: u64 = 250_000;
/// Still-failing tests whose streak a comparison keeps: the most one page lists.
pub const STREAKS_KEPT: usize = 200;
/// Tests of each change whose rows a comparison keeps: what a run's page and `/compare` list
/// first, so they read no test item.
pub const ROWS_KEPT: usize = 20;
/// Named in the hash of a kept comparison's key, so one of an older layout is never read.
const LAYOUT: &str = "rows";
/// Runs read at most for a still-failing test's streak (newest first).
const STREAK_RUNS: usize = 200;
/// Runs a page of that reading looks at: most streaks end within it.
const STREAK_PAGE: i32 = 20;
/// Runs looked through at most for the newest settled one.
const SETTLED_LOOKS_AT: usize = 100;
/// Runs a page of that look reads.
const SETTLED_PAGE: i32 = 20;

/// The kinds of change a comparison lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Failing here, passing, skipped or absent in the base.
    NewFailures,
    /// Failing here and in the base.
    StillFailing,
    /// Passing here (perhaps after a retry), failing in the base.
    Fixed,
    /// A flaky pass here, not one in the base.
    NewlyFlaky,
    /// Here, not in the base.
    NewTests,
    /// In the base, not here.
    RemovedTests,
}

impl Change {
    /// Every change, in the order the API lists them.
    pub const ALL: [Change; 6] = [
        Change::NewFailures,
        Change::StillFailing,
        Change::Fixed,
        Change::NewlyFlaky,
        Change::NewTests,
        Change::RemovedTests,
    ];

    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::NewFailures => "new_failures",
            Change::StillFailing => "still_failing",
            Change::Fixed => "fixed",
            Change::NewlyFlaky => "newly_flaky",
            Change::NewTests => "new_tests",
            Change::RemovedTests => "removed_tests",
        }
    }

    /// The change `name` ([`Change::as_str`]) names.
    pub fn parse(name: &str) -> Option<Change> {
        Change::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Whether the tests of this change are read from the base run (they are not in the run).
    pub fn in_base(self) -> bool {
        self == Change::RemovedTests
    }
}

/// The test ids of each change, each list in test-id order, and the streak of the first
/// still-failing ones.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Failing here, not in the base.
    pub new_failures: Vec<String>,
    /// Failing here and in the base.
    pub still_failing: Vec<String>,
    /// Passing here, failing in the base.
    pub fixed: Vec<String>,
    /// A flaky pass here, not one in the base.
    pub newly_flaky: Vec<String>,
    /// Here, not in the base.
    pub new_tests: Vec<String>,
    /// In the base, not here.
    pub removed_tests: Vec<String>,
    /// The streaks of the first [`STREAKS_KEPT`] still-failing tests by test id, as
    /// [`Store::failing_streaks`] answered when the comparison was made.
    pub streaks: BTreeMap<String, Option<Streak>>,
    /// The rows of the first [`ROWS_KEPT`] tests of each change as the run (the base, for
    /// removed tests) showed them when the comparison was made, which its name pins.
    pub rows: BTreeMap<Change, Vec<TestRow>>,
}

impl Comparison {
    /// The rows of `page`, tests `offset..` of `change`, when they are all among those kept.
    pub fn kept_rows(
        &self,
        change: Change,
        offset: usize,
        page: &[String],
    ) -> Option<Vec<TestRow>> {
        if offset + page.len() > ROWS_KEPT {
            return None;
        }
        let rows = self.rows.get(&change)?;
        Some(
            rows.iter()
                .filter(|row| page.contains(&row.test_id))
                .cloned()
                .collect(),
        )
    }

    /// The tests of one change.
    pub fn of(&self, change: Change) -> &[String] {
        match change {
            Change::NewFailures => &self.new_failures,
            Change::StillFailing => &self.still_failing,
            Change::Fixed => &self.fixed,
            Change::NewlyFlaky => &self.newly_flaky,
            Change::NewTests => &self.new_tests,
            Change::RemovedTests => &self.removed_tests,
        }
    }

    fn push(&mut self, change: Change, test_id: &str) {
        let list = match change {
            Change::NewFailures => &mut self.new_failures,
            Change::StillFailing => &mut self.still_failing,
            Change::Fixed => &mut self.fixed,
            Change::NewlyFlaky => &mut self.newly_flaky,
            Change::NewTests => &mut self.new_tests,
            Change::RemovedTests => &mut self.removed_tests,
        };
        list.push(test_id.to_string());
    }
}

/// Compares the outcomes of a run with those of its base (one pass over each).
pub fn compare(run: &[TestOutcome], base: &[TestOutcome]) -> Comparison {
    let in_base: HashMap<&str, &TestOutcome> =
        base.iter().map(|r| (r.test_id.as_str(), r)).collect();
    let mut here: Vec<&TestOutcome> = run.iter().collect();
    here.sort_by(|a, b| a.test_id.cmp(&b.test_id));
    let mut comparison = Comparison::default();
    for row in &here {
        let before = in_base.get(row.test_id.as_str());
        let failed_before = before.is_some_and(|b| b.status.is_failure());
        if before.is_none() {
            comparison.push(Change::NewTests, &row.test_id);
        }
        if row.status.is_failure() {
            let change = match failed_before {
                true => Change::StillFailing,
                false => Change::NewFailures,
            };
            comparison.push(change, &row.test_id);
        } else if failed_before && row.status == Status::Passed {
            comparison.push(Change::Fixed, &row.test_id);
        }
        if row.flaky && !before.is_some_and(|b| b.flaky) {
            comparison.push(Change::NewlyFlaky, &row.test_id);
        }
    }
    let run_ids: HashSet<&str> = here.iter().map(|r| r.test_id.as_str()).collect();
    let mut removed: Vec<&str> = base
        .iter()
        .map(|r| r.test_id.as_str())
        .filter(|id| !run_ids.contains(id))
        .collect();
    removed.sort_unstable();
    for id in removed {
        comparison.push(Change::RemovedTests, id);
    }
    comparison
}

/// How long a test has been failing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streak {
    /// The oldest run of the streak read.
    pub run_key: String,
    /// When that run was created.
    pub created_ms: u64,
    /// Consecutive failing runs, the newest row included.
    pub runs: usize,
    /// False when the history read ended while still failing (the streak may be longer).
    pub complete: bool,
}

/// The current failing streak of a history (newest first); `None` when its newest row passed.
/// Skipped runs neither break nor lengthen a streak.
pub fn streak(history: &[TestRow], read_all: bool) -> Option<Streak> {
    let mut first = None;
    let mut runs = 0;
    let mut complete = read_all;
    for row in history {
        if row.status == Status::Skipped {
            continue;
        }
        if !row.status.is_failure() {
            complete = true;
            break;
        }
        first = Some(row);
        runs += 1;
    }
    first.map(|first| Streak {
        run_key: first.run_key.clone(),
        created_ms: first.created_ms,
        runs,
        complete,
    })
}

/// Why a run is the base of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseReason {
    /// The request named it.
    Given,
    /// The newest settled run before it on its branch.
    PreviousOnBranch,
    /// The newest settled run before it of the branch its pull request merges into.
    BaseBranch,
    /// The newest settled run before it in the project (the run has no branch).
    Previous,
}

impl BaseReason {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            BaseReason::Given => "given",
            BaseReason::PreviousOnBranch => "previous_on_branch",
            BaseReason::BaseBranch => "base_branch",
            BaseReason::Previous => "previous",
        }
    }
}

/// Where the comparison of `run` with `base` is kept: named after what it is made from, both
/// runs and their files.
fn comparison_key(run: &Run, base: &Run) -> String {
    let counters = |r: &Run| {
        serde_json::json!([
            r.run.run_key.as_str(),
            r.files_registered,
            r.files_done,
            r.files_failed,
            r.files_duplicate
        ])
    };
    let made_of = serde_json::json!([LAYOUT, counters(run), counters(base)]).to_string();
    let hash = hex::encode(&Sha256::digest(made_of.as_bytes())[..8]);
    view_key(&run.run, &format!("compare-{}-{hash}", base.run.run_key))
}

impl Store {
    /// The newest settled run among those `filter` keeps, looking through at most 100 runs, as
    /// the runs indexes list it: without its writers, which no reader needs before it reads the
    /// run's results ([`Run::shows`] wants the run item read after them).
    pub async fn newest_settled(
        &self,
        project: &ProjectName,
        filter: &RunFilter,
    ) -> Result<Option<Run>, StoreError> {
        let mut start = None;
        let mut looked = 0;
        while looked < SETTLED_LOOKS_AT {
            let page = self
                .list_runs(project, filter, SETTLED_PAGE, start.as_ref())
                .await?;
            looked += page.items.len();
            if let Some(listed) = page
                .items
                .into_iter()
                .find(|r| r.status() != RunStatus::Pending)
            {
                return Ok(Some(listed));
            }
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        Ok(None)
    }

    /// The newest settled run created before `run`: on the branch its pull request merges into,
    /// else on its branch, else in its project.
    pub async fn default_base(&self, run: &Run) -> Result<Option<(Run, BaseReason)>, StoreError> {
        let (branch, reason) = match (&run.metadata.base_branch, &run.metadata.branch) {
            (Some(base), _) => (Some(base.clone()), BaseReason::BaseBranch),
            (None, Some(branch)) => (Some(branch.clone()), BaseReason::PreviousOnBranch),
            (None, None) => (None, BaseReason::Previous),
        };
        let filter = RunFilter {
            branch,
            before_ms: Some(run.created_ms),
            ..RunFilter::default()
        };
        let base = self.newest_settled(&run.run.project, &filter).await?;
        Ok(base.map(|base| (base, reason)))
    }

    /// The comparison of `run` with `base` kept in S3; `None` when none was made (yet).
    pub async fn kept_comparison(
        &self,
        run: &Run,
        base: &Run,
    ) -> Result<Option<Comparison>, StoreError> {
        let kept = self.read_derived(&comparison_key(run, base)).await?;
        Ok(kept.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Compares `run` with `base` (both of at most [`MAX_COMPARED_TESTS`] tests), reads the
    /// streak of the first [`STREAKS_KEPT`] still-failing tests, and keeps it all in S3.
    pub async fn make_comparison(&self, run: &Run, base: &Run) -> Result<Comparison, StoreError> {
        let ((run, here), (base, there)) =
            tokio::try_join!(self.settled_outcomes(run), self.settled_outcomes(base))?;
        self.keep_comparison(&run, &here, &base, &there).await
    }

    /// [`Store::make_comparison`] of a run whose outcomes were read already, as `shown` judged
    /// them ([`Store::run_outcomes`]).
    pub async fn make_comparison_from(
        &self,
        shown: &Run,
        here: &[TestOutcome],
        base: &Run,
    ) -> Result<Comparison, StoreError> {
        let (base, there) = self.settled_outcomes(base).await?;
        self.keep_comparison(shown, here, &base, &there).await
    }

    /// Compares two runs' outcomes, reads the first still-failing tests' streaks and keeps it.
    async fn keep_comparison(
        &self,
        run: &Run,
        here: &[TestOutcome],
        base: &Run,
        there: &[TestOutcome],
    ) -> Result<Comparison, StoreError> {
        let mut comparison = compare(here, there);
        let streaking: Vec<String> = comparison
            .still_failing
            .iter()
            .take(STREAKS_KEPT)
            .cloned()
            .collect();
        comparison.streaks = self.failing_streaks(run, base, &streaking).await?;
        comparison.rows = self.first_rows(&comparison, run, base).await?;
        let bytes = serde_json::to_vec(&comparison)
            .map_err(|e| StoreError::permanent("comparison", e.to_string()))?;
        self.put_derived(&comparison_key(run, base), bytes).await?;
        Ok(comparison)
    }

    /// The rows of the first [`ROWS_KEPT`] tests of each change, as `run` and `base` show them
    /// (a result a file not yet `done` touched is left out, as on every page of a run).
    async fn first_rows(
        &self,
        comparison: &Comparison,
        run: &Run,
        base: &Run,
    ) -> Result<BTreeMap<Change, Vec<TestRow>>, StoreError> {
        let from = |change: Change| if change.in_base() { base } else { run };
        let read = Change::ALL.map(|change| {
            let ids = comparison.of(change);
            self.get_results(&from(change).run, &ids[..ids.len().min(ROWS_KEPT)])
        });
        let rows = futures_util::future::try_join_all(read).await?;
        Ok(Change::ALL
            .into_iter()
            .zip(rows)
            .map(|(change, mut rows)| {
                rows.retain(|row| from(change).shows_row(row));
                // Judged already: whose files touched them is not kept.
                rows.iter_mut().for_each(|row| row.contributors.clear());
                (change, rows)
            })
            .collect())
    }

    /// The outcomes of a run's results whose files are all `done`, with the run item they were
    /// judged by, which names what they were made from.
    async fn settled_outcomes(&self, run: &Run) -> Result<(Run, Vec<TestOutcome>), StoreError> {
        self.run_outcomes(&run.run).await?.ok_or_else(|| {
            StoreError::permanent("comparison", format!("run {} is gone", run.run.run_key))
        })
    }

    /// Since when each of `test_ids`, all failing in `run`, has been failing on `base`'s
    /// branch: `run` itself when it is of that branch, then the branch's runs before it, newest
    /// first, a page of [`STREAK_PAGE`] runs at a time ([`Store::results_in_runs`]), each page
    /// read only for the tests whose streak has not ended yet; at most [`STREAK_RUNS`] runs.
    pub async fn failing_streaks(
        &self,
        run: &Run,
        base: &Run,
        test_ids: &[String],
    ) -> Result<BTreeMap<String, Option<Streak>>, StoreError> {
        let branch = base.metadata.branch.clone();
        let own = branch.is_none() || branch == run.metadata.branch;
        let before = RunFilter {
            branch,
            before_ms: Some(run.created_ms),
            ..RunFilter::default()
        };
        let mut histories: Vec<Vec<TestRow>> = test_ids
            .iter()
            .map(|id| match own {
                true => vec![own_failing_row(run, id)],
                false => Vec::new(),
            })
            .collect();
        let mut running: Vec<usize> = (0..test_ids.len()).collect();
        let (mut start, mut looked, mut read_all) = (None, 0, false);
        while !running.is_empty() && looked < STREAK_RUNS {
            let page = self
                .list_runs(&run.run.project, &before, STREAK_PAGE, start.as_ref())
                .await?;
            looked += page.items.len();
            let ids: Vec<String> = running.iter().map(|&i| test_ids[i].clone()).collect();
            let rows = self
                .results_in_runs(&run.run.project, &page.items, &ids)
                .await?;
            for (&i, rows) in running.iter().zip(rows) {
                histories[i].extend(rows);
            }
            running.retain(|&i| still_failing(&histories[i]));
            match page.next {
                Some(next) => start = Some(next),
                None => {
                    read_all = true;
                    break;
                }
            }
        }
        Ok(test_ids
            .iter()
            .zip(&histories)
            .map(|(id, history)| (id.clone(), streak(history, read_all)))
            .collect())
    }
}

/// Whether no run of a history (newest first) has passed: its streak, if any, goes on.
fn still_failing(history: &[TestRow]) -> bool {
    history
        .iter()
        .all(|row| row.status == Status::Skipped || row.status.is_failure())
}

/// `run`'s failing result of `test_id`, as its history row would show it.
fn own_failing_row(run: &Run, test_id: &str) -> TestRow {
    TestRow::bare(
        test_id,
        run.run.run_key.as_str(),
        Status::Failed,
        run.created_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, status: Status, flaky: bool) -> TestOutcome {
        TestOutcome {
            test_id: id.into(),
            status,
            flaky,
            duration_ms: 0,
        }
    }

    #[test]
    fn every_change_between_two_runs_is_named_once() {
        use Status::{Error, Failed, Passed, Skipped};
        let base = [
            row("a", Passed, false),
            row("b", Failed, false),
            row("c", Failed, false),
            row("d", Passed, false),
            row("e", Passed, true),
            row("f", Failed, false),
            row("g", Error, false),
        ];
        let run = [
            row("a", Failed, false),  // new failure
            row("b", Error, false),   // still failing
            row("c", Passed, true),   // fixed, by a retry: and newly flaky
            row("d", Passed, false),  // unchanged
            row("e", Passed, true),   // flaky before too
            row("g", Skipped, false), // not run: not fixed
            row("h", Failed, false),  // new test, new failure
        ];
        let c = compare(&run, &base);
        assert_eq!(c.new_failures, ["a", "h"]);
        assert_eq!(c.still_failing, ["b"]);
        assert_eq!(c.fixed, ["c"]);
        assert_eq!(c.newly_flaky, ["c"]);
        assert_eq!(c.new_tests, ["h"]);
        assert_eq!(c.removed_tests, ["f"]);
        assert_eq!(compare(&run, &[]).new_tests.len(), run.len());
        for change in Change::ALL {
            assert_eq!(Change::parse(change.as_str()), Some(change));
        }
    }

    #[test]
    fn a_streak_runs_back_to_the_last_pass_through_skips() {
        use Status::{Error, Failed, Passed, Skipped};
        let at = |status, t: u64| TestRow::bare("t", &format!("r{t}"), status, t);
        let history = [
            at(Failed, 5),
            at(Skipped, 4),
            at(Error, 3),
            at(Passed, 2),
            at(Failed, 1),
        ];
        let s = streak(&history, false).unwrap();
        assert_eq!(
            (s.run_key.as_str(), s.created_ms, s.runs, s.complete),
            ("r3", 3, 2, true)
        );
        let s = streak(&history[..3], false).unwrap();
        assert_eq!((s.created_ms, s.complete), (3, false));
        assert!(streak(&history[..3], true).unwrap().complete);
        assert_eq!(streak(&history[3..], true), None);
    }
}
