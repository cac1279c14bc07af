use std::collections::HashMap;
use verdict_model::{Limits, Status, Summary, TestCase, TestResult};

/// The rerun-or-repetition decision for the cases of one report, holding only ids, so a
/// streaming consumer can make it without keeping results (about 32 bytes per distinct test).
///
/// A case whose `test_id` was already seen in this report is a *rerun* (pytest-rerunfailures
/// writes one `<testcase>` per attempt, `go test -count=2` repeats a test) when the test seen so
/// far has a failed or errored attempt: a runner only reruns what failed. It then becomes an
/// attempt of that result. Otherwise it is a *repetition* of a name by a different test (TestNG
/// data providers, unnamed testcases, the same `it` text twice) and becomes a result of its own
/// named `name #k` for its k-th occurrence, so a failing repetition is never hidden behind a
/// passing one.
#[derive(Debug, Default)]
pub struct Identities {
    seen: HashMap<u128, Seen>,
}

#[derive(Debug)]
struct Seen {
    has_failure: bool,
    cases: u32,
}

/// A test id (64 hex digits) folded to its first 128 bits: collisions need 2^64 tests.
fn short(test_id: &str) -> u128 {
    u128::from_str_radix(test_id.get(..32).unwrap_or(test_id), 16).unwrap_or_else(|_| {
        // Not hex (never from the model): hash the text instead.
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        test_id.hash(&mut h);
        u128::from(h.finish())
    })
}

impl Identities {
    /// Settles the identity of `result`, renaming it when it repeats a name; returns true when
    /// it is a rerun of a test already seen (and must be merged into it).
    pub fn place(&mut self, result: &mut TestResult) -> bool {
        use std::collections::hash_map::Entry;
        let has_failure = result.attempts.iter().any(|a| a.status.is_failure());
        // The original name, kept only once a repetition needs it.
        let mut base: Option<String> = None;
        let mut occurrence = 1;
        loop {
            match self.seen.entry(short(&result.test_id)) {
                Entry::Vacant(slot) => {
                    slot.insert(Seen {
                        has_failure,
                        cases: 1,
                    });
                    return false;
                }
                Entry::Occupied(mut seen) if seen.get().has_failure => {
                    seen.get_mut().cases += 1;
                    return true;
                }
                Entry::Occupied(_) => {
                    occurrence += 1;
                    let name = base.get_or_insert_with(|| result.name.clone());
                    result.rename(format!("{name} #{occurrence}"));
                }
            }
        }
    }

    /// How many cases were merged into the test `test_id` (0 when never seen).
    pub fn cases(&self, test_id: &str) -> u32 {
        self.seen.get(&short(test_id)).map_or(0, |s| s.cases)
    }
}

/// Merges the test cases of one report into results, by the rule of [`Identities`]. Results
/// keep the order in which each test was first seen.
#[derive(Debug, Default)]
pub struct Collector {
    limits: Limits,
    identities: Identities,
    /// Position of each test's result, by its folded id.
    index: HashMap<u128, usize>,
    results: Vec<TestResult>,
}

impl Collector {
    pub fn new(limits: Limits) -> Self {
        Collector {
            limits,
            ..Collector::default()
        }
    }

    pub fn add(&mut self, case: TestCase) {
        let Some(mut result) = TestResult::from_case(case, &self.limits) else {
            return;
        };
        if self.identities.place(&mut result) {
            self.results[self.index[&short(&result.test_id)]].absorb(result);
        } else {
            self.index
                .insert(short(&result.test_id), self.results.len());
            self.results.push(result);
        }
    }

    pub fn finish(self) -> Vec<TestResult> {
        self.results
    }
}

/// The summary of one report, merged by the same rule as [`Collector`], holding per test only
/// its folded id and its merged outcome (about 50 bytes with the [`Identities`]), never its
/// results: `verdict parse --summary` streams any report through it.
#[derive(Debug, Default)]
pub struct Tally {
    limits: Limits,
    identities: Identities,
    outcomes: HashMap<u128, (Status, bool)>,
    summary: Summary,
}

impl Tally {
    pub fn new(limits: Limits) -> Self {
        Tally {
            limits,
            ..Tally::default()
        }
    }

    pub fn add(&mut self, case: TestCase) {
        let Some(mut result) = TestResult::from_case(case, &self.limits) else {
            return;
        };
        let outcome = (result.status, result.flaky);
        if self.identities.place(&mut result) {
            let seen = self
                .outcomes
                .get_mut(&short(&result.test_id))
                .expect("a rerun is of a test already placed");
            let merged = merge(*seen, outcome);
            self.summary.recount(*seen, merged, result.duration_ms);
            *seen = merged;
        } else {
            self.outcomes.insert(short(&result.test_id), outcome);
            self.summary.count(outcome.0, outcome.1, result.duration_ms);
        }
    }

    pub fn summary(&self) -> Summary {
        self.summary
    }
}

/// The outcome of a test whose attempts are those of two merged outcomes, by the rule of
/// [`Status::merge`]: a status is `passed` exactly when some attempt passed, and otherwise is
/// the worst attempt; flaky when some attempt passed and another failed.
fn merge(a: (Status, bool), b: (Status, bool)) -> (Status, bool) {
    let passed = a.0 == Status::Passed || b.0 == Status::Passed;
    let failure = a.1 || b.1 || a.0.is_failure() || b.0.is_failure();
    if passed {
        (Status::Passed, failure)
    } else if a.0.severity() >= b.0.severity() {
        (a.0, false)
    } else {
        (b.0, false)
    }
}
