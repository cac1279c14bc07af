//! What a run changed against its base: pure, over the two runs' outcomes.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use verdict_store::TestRow;

/// The kinds of change a comparison lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
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
    pub(crate) const ALL: [Change; 6] = [
        Change::NewFailures,
        Change::StillFailing,
        Change::Fixed,
        Change::NewlyFlaky,
        Change::NewTests,
        Change::RemovedTests,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Change::NewFailures => "new_failures",
            Change::StillFailing => "still_failing",
            Change::Fixed => "fixed",
            Change::NewlyFlaky => "newly_flaky",
            Change::NewTests => "new_tests",
            Change::RemovedTests => "removed_tests",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Change> {
        Change::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Whether the tests of this change are read from the base run (they are not in the run).
    pub(crate) fn in_base(self) -> bool {
        self == Change::RemovedTests
    }
}

/// The test ids of each change, each list in test-id order.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Comparison {
    pub(crate) new_failures: Vec<String>,
    pub(crate) still_failing: Vec<String>,
    pub(crate) fixed: Vec<String>,
    pub(crate) newly_flaky: Vec<String>,
    pub(crate) new_tests: Vec<String>,
    pub(crate) removed_tests: Vec<String>,
}

impl Comparison {
    pub(crate) fn of(&self, change: Change) -> &[String] {
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
pub(crate) fn compare(run: &[TestRow], base: &[TestRow]) -> Comparison {
    let in_base: HashMap<&str, &TestRow> = base.iter().map(|r| (r.test_id.as_str(), r)).collect();
    let mut here: Vec<&TestRow> = run.iter().collect();
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
        } else if failed_before && row.status == verdict_model::Status::Passed {
            comparison.push(Change::Fixed, &row.test_id);
        }
        if row.flaky && !before.is_some_and(|b| b.flaky) {
            comparison.push(Change::NewlyFlaky, &row.test_id);
        }
    }
    let run_ids: std::collections::HashSet<&str> =
        here.iter().map(|r| r.test_id.as_str()).collect();
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

/// How long a test has been failing, from its history newest first (the run itself first).
#[derive(Debug, PartialEq)]
pub(crate) struct Streak<'a> {
    /// The oldest run of the streak read.
    pub(crate) first: &'a TestRow,
    /// Consecutive failing runs, the run itself included.
    pub(crate) runs: usize,
    /// False when the history read ended while still failing (the streak may be longer).
    pub(crate) complete: bool,
}

/// The current failing streak of a history (newest first); `None` when its newest row passed.
/// Skipped runs neither break nor lengthen a streak.
pub(crate) fn streak(history: &[TestRow], read_all: bool) -> Option<Streak<'_>> {
    let mut first = None;
    let mut runs = 0;
    for row in history {
        if row.status == verdict_model::Status::Skipped {
            continue;
        }
        if !row.status.is_failure() {
            return first.map(|first| Streak {
                first,
                runs,
                complete: true,
            });
        }
        first = Some(row);
        runs += 1;
    }
    first.map(|first| Streak {
        first,
        runs,
        complete: read_all,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_model::Status;
    use verdict_store::test_row;

    fn row(id: &str, status: Status, flaky: bool) -> TestRow {
        TestRow {
            flaky,
            ..test_row(id, "", status, 0)
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
        let at = |status, t: u64| TestRow {
            created_ms: t,
            ..row("t", status, false)
        };
        let history = [
            at(Failed, 5),
            at(Skipped, 4),
            at(Error, 3),
            at(Passed, 2),
            at(Failed, 1),
        ];
        let s = streak(&history, false).unwrap();
        assert_eq!((s.first.created_ms, s.runs, s.complete), (3, 2, true));
        let s = streak(&history[..3], false).unwrap();
        assert_eq!((s.first.created_ms, s.complete), (3, false));
        assert!(streak(&history[..3], true).unwrap().complete);
        assert_eq!(streak(&history[3..], true), None);
    }
}
