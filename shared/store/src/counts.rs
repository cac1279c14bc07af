//! Signed changes to a run's counters. Each file's contribution to its run is a [`Delta`]: the
//! sum over its tests of "summary after this file touched the test" minus "summary before".
//! Deltas telescope, so the sum of every file's delta is the summary of the final results,
//! whatever the order in which files arrived.

use crate::attrs::{get_n, n, Item};
use aws_sdk_dynamodb::types::AttributeValue;
use verdict_model::{Status, Summary, TestResult};

/// Counter names, as attributes of the run and file items and as `verdict parse` summary keys.
pub const COUNTERS: [&str; 9] = [
    "tests",
    "passed",
    "failed",
    "errors",
    "skipped",
    "xfailed",
    "xpassed",
    "flaky",
    "duration_ms",
];

/// What a write changed in a run's counters, one signed number per counter of [`COUNTERS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delta(pub [i64; 9]);

fn values(s: &Summary) -> [u64; 9] {
    [
        s.tests,
        s.passed,
        s.failed,
        s.errors,
        s.skipped,
        s.xfailed,
        s.xpassed,
        s.flaky,
        s.duration_ms,
    ]
}

pub(crate) fn summary_from(values: [u64; 9]) -> Summary {
    let [tests, passed, failed, errors, skipped, xfailed, xpassed, flaky, duration_ms] = values;
    Summary {
        tests,
        passed,
        failed,
        errors,
        skipped,
        xfailed,
        xpassed,
        flaky,
        duration_ms,
    }
}

impl Delta {
    /// The counters of `summary`.
    pub fn of(summary: &Summary) -> Delta {
        Delta(values(summary).map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
    }

    /// The counters of one test with this outcome.
    pub(crate) fn alone(status: Status, flaky: bool, duration_ms: u64) -> Delta {
        let mut summary = Summary::default();
        summary.count(status, flaky, duration_ms);
        Delta::of(&summary)
    }

    /// What replacing `before` (absent for a new test) by `after` does to the run's counters.
    pub fn between(before: Option<&TestResult>, after: &TestResult) -> Delta {
        let of = |r: &TestResult| Delta::alone(r.status, r.flaky, r.duration_ms);
        match before {
            Some(b) => of(after).minus(of(b)),
            None => of(after),
        }
    }

    /// Both changes together.
    pub fn plus(self, other: Delta) -> Delta {
        Delta(std::array::from_fn(|i| {
            self.0[i].saturating_add(other.0[i])
        }))
    }

    fn minus(self, other: Delta) -> Delta {
        Delta(std::array::from_fn(|i| {
            self.0[i].saturating_sub(other.0[i])
        }))
    }

    /// Whether nothing changed.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&v| v == 0)
    }

    /// Non-zero counters only, so an item records no noise.
    pub(crate) fn to_attr(self) -> AttributeValue {
        AttributeValue::M(
            COUNTERS
                .iter()
                .zip(self.0)
                .filter(|(_, v)| *v != 0)
                .map(|(k, v)| (k.to_string(), n(v)))
                .collect(),
        )
    }

    pub(crate) fn from_item(item: &Item) -> Delta {
        Delta(COUNTERS.map(|k| get_n(item, k).unwrap_or(0)))
    }

    /// Tests the change added to the run (its `tests` counter; a file never removes one).
    pub fn tests_added(self) -> u64 {
        u64::try_from(self.0[0]).unwrap_or(0)
    }

    /// A delta that is a whole summary (never negative) as a summary.
    pub fn to_summary(self) -> Summary {
        summary_from(self.0.map(|v| u64::try_from(v).unwrap_or(0)))
    }
}
