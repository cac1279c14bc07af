use crate::{Status, TestResult};
use serde::{Deserialize, Serialize};

/// Counts of a set of test results (a file, a run): one per final status, plus flaky tests and
/// the summed duration. `tests` is the number of distinct tests after attempts are merged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Tests counted.
    pub tests: u64,
    /// Passed (flaky passes included).
    pub passed: u64,
    /// Failed.
    pub failed: u64,
    /// Errored.
    pub errors: u64,
    /// Skipped.
    pub skipped: u64,
    /// Failed as expected.
    pub xfailed: u64,
    /// Passed though expected to fail.
    pub xpassed: u64,
    /// Passed after a failed attempt.
    pub flaky: u64,
    /// Sum of the tests' durations.
    pub duration_ms: u64,
}

impl Summary {
    /// Passed tests among those that passed, failed or errored (skipped and expected outcomes
    /// left out), to three decimals; `None` when no test did any of those.
    pub fn pass_rate(&self) -> Option<f64> {
        let decided = self.passed + self.failed + self.errors;
        (decided > 0).then(|| (self.passed as f64 * 1000.0 / decided as f64).round() / 1000.0)
    }

    /// Counts `result`.
    pub fn add(&mut self, result: &TestResult) {
        self.count(result.status, result.flaky, result.duration_ms);
    }

    /// Counts one test from its final status, flakiness and duration.
    pub fn count(&mut self, status: Status, flaky: bool, duration_ms: u64) {
        self.tests += 1;
        *self.count_mut(status) += 1;
        self.flaky += u64::from(flaky);
        // A report may claim any duration (`time="1e200"` reads as u64::MAX): never overflow.
        self.duration_ms = self.duration_ms.saturating_add(duration_ms);
    }

    /// Moves one counted test from the outcome `from` to `to` (status, flaky), as when a rerun
    /// of it is merged in, and adds the rerun's duration.
    pub fn recount(&mut self, from: (Status, bool), to: (Status, bool), duration_ms: u64) {
        *self.count_mut(from.0) -= 1;
        self.flaky -= u64::from(from.1);
        *self.count_mut(to.0) += 1;
        self.flaky += u64::from(to.1);
        self.duration_ms = self.duration_ms.saturating_add(duration_ms);
    }

    fn count_mut(&mut self, status: Status) -> &mut u64 {
        match status {
            Status::Passed => &mut self.passed,
            Status::Failed => &mut self.failed,
            Status::Error => &mut self.errors,
            Status::Skipped => &mut self.skipped,
            Status::Xfailed => &mut self.xfailed,
            Status::Xpassed => &mut self.xpassed,
        }
    }
}

impl<'a> FromIterator<&'a TestResult> for Summary {
    fn from_iter<I: IntoIterator<Item = &'a TestResult>>(iter: I) -> Self {
        let mut s = Summary::default();
        iter.into_iter().for_each(|r| s.add(r));
        s
    }
}
