use std::collections::HashMap;
use verdict_model::{Limits, Status, Summary, TestCase, TestResult, SUITE_SEPARATOR};

/// The rerun-or-repetition decision for the cases of one report, holding only ids, so a
/// streaming consumer can make it without keeping results (17 bytes a slot, about 20 to 30
/// bytes per distinct test with the table's spare room).
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
    seen: HashMap<u64, Seen>,
}

#[derive(Debug)]
struct Seen {
    has_failure: bool,
    cases: u32,
    /// The merged outcome of the cases so far (status, flaky), for the streaming [`Tally`].
    outcome: (Status, bool),
}

/// What [`Identities::settle`] decided for a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A test not seen before in this report (perhaps renamed `name #k`).
    New,
    /// A rerun of a test already seen: its merged outcome before and after this case.
    Rerun {
        /// (status, flaky) before this case.
        before: (Status, bool),
        /// (status, flaky) with it.
        after: (Status, bool),
    },
}

/// What the rerun-or-repetition rule needs of a test.
pub trait Placeable {
    /// The test's id.
    fn test_id(&self) -> &str;
    /// The test's name.
    fn name(&self) -> &str;
    /// Takes the name of the k-th occurrence, and the test id that name gives.
    fn rename(&mut self, name: String);
    /// The outcome of its own attempts: (status, flaky).
    fn outcome(&self) -> (Status, bool);
    /// Whether any of its attempts failed or errored.
    fn has_failure(&self) -> bool;
}

impl Placeable for TestResult {
    fn test_id(&self) -> &str {
        &self.test_id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn rename(&mut self, name: String) {
        TestResult::rename(self, name);
    }
    fn outcome(&self) -> (Status, bool) {
        (self.status, self.flaky)
    }
    fn has_failure(&self) -> bool {
        self.attempts.iter().any(|a| a.status.is_failure())
    }
}

/// A test id (64 hex digits) folded to its first 64 bits: two tests of one report collide with
/// odds of about n²/2^65 (3 in 100 million for a million tests).
fn short(test_id: &str) -> u64 {
    u64::from_str_radix(test_id.get(..16).unwrap_or(test_id), 16).unwrap_or_else(|_| {
        // Not hex (never from the model): hash the text instead.
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        test_id.hash(&mut h);
        h.finish()
    })
}

impl Identities {
    /// Settles the identity of `test`, renaming it when it repeats a name; returns true when
    /// it is a rerun of a test already seen (and must be merged into it).
    pub fn place(&mut self, test: &mut impl Placeable) -> bool {
        self.settle(test) != Placement::New
    }

    /// As [`Identities::place`], saying how a rerun changed the test's merged outcome.
    pub fn settle(&mut self, test: &mut impl Placeable) -> Placement {
        use std::collections::hash_map::Entry;
        let has_failure = test.has_failure();
        let outcome = test.outcome();
        // The original name, kept only once a repetition needs it.
        let mut base: Option<String> = None;
        let mut occurrence = 1;
        loop {
            match self.seen.entry(short(test.test_id())) {
                Entry::Vacant(slot) => {
                    slot.insert(Seen {
                        has_failure,
                        cases: 1,
                        outcome,
                    });
                    return Placement::New;
                }
                Entry::Occupied(mut seen) if seen.get().has_failure => {
                    let seen = seen.get_mut();
                    seen.cases += 1;
                    let before = seen.outcome;
                    seen.outcome = merge(before, outcome);
                    return Placement::Rerun {
                        before,
                        after: seen.outcome,
                    };
                }
                Entry::Occupied(_) => {
                    occurrence += 1;
                    let name = base.get_or_insert_with(|| test.name().to_string());
                    test.rename(format!("{name} #{occurrence}"));
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
    index: HashMap<u64, usize>,
    results: Vec<TestResult>,
}

impl Collector {
    /// A collector whose results keep text within `limits`.
    pub fn new(limits: Limits) -> Self {
        Collector {
            limits,
            ..Collector::default()
        }
    }

    /// Adds the next case of the report.
    pub fn add(&mut self, case: TestCase) {
        let Some(mut result) = TestResult::from_case(case, &self.limits) else {
            return;
        };
        if self.identities.place(&mut result) {
            self.results[self.index[&short(&result.test_id)]].extend(result);
        } else {
            self.index
                .insert(short(&result.test_id), self.results.len());
            self.results.push(result);
        }
    }

    /// The merged results, in the order each test was first seen.
    pub fn finish(mut self) -> Vec<TestResult> {
        // Reruns were merged without deriving: derive each result once, whatever its reruns.
        for result in &mut self.results {
            result.derive();
        }
        self.results
    }
}

/// The summary of one report, merged by the same rule as [`Collector`], holding per test only
/// what [`Identities`] holds, never its results: `verdict parse --summary` streams any report
/// through it. A case is reduced to what the rule needs (its identity, the outcome of its
/// attempts, their duration): no fingerprint, no capped text.
#[derive(Debug, Default)]
pub struct Tally {
    identities: Identities,
    summary: Summary,
}

impl Tally {
    /// Counts the next case of the report.
    pub fn add(&mut self, case: TestCase) {
        let Some(mut counted) = Counted::from_case(case) else {
            return;
        };
        match self.identities.settle(&mut counted) {
            Placement::New => {
                self.summary
                    .count(counted.outcome.0, counted.outcome.1, counted.duration_ms);
            }
            Placement::Rerun { before, after } => {
                self.summary.recount(before, after, counted.duration_ms);
            }
        }
    }

    /// The counts so far.
    pub fn summary(&self) -> Summary {
        self.summary
    }
}

/// A case as the tally needs it.
struct Counted {
    case: TestCase,
    suite: String,
    test_id: String,
    outcome: (Status, bool),
    duration_ms: u64,
}

impl Counted {
    fn from_case(case: TestCase) -> Option<Counted> {
        let outcome = Status::merge(case.attempts.iter().map(|a| a.status))?;
        let duration_ms = case
            .attempts
            .iter()
            .fold(0u64, |sum, a| sum.saturating_add(a.duration_ms));
        let suite = case.suite.join(SUITE_SEPARATOR);
        let test_id = case.test_id_in(&suite, &case.name);
        Some(Counted {
            case,
            suite,
            test_id,
            outcome,
            duration_ms,
        })
    }
}

impl Placeable for Counted {
    fn test_id(&self) -> &str {
        &self.test_id
    }
    fn name(&self) -> &str {
        &self.case.name
    }
    fn rename(&mut self, name: String) {
        self.test_id = self.case.test_id_in(&self.suite, &name);
        self.case.name = name;
    }
    fn outcome(&self) -> (Status, bool) {
        self.outcome
    }
    fn has_failure(&self) -> bool {
        self.case.attempts.iter().any(|a| a.status.is_failure())
    }
}

/// The outcome of a test whose attempts are those of two merged outcomes, by [`Status::merge`]
/// itself: an outcome stands for its status's attempt, and a flaky one also for the failure
/// that made it flaky, which is all the rule reads of the attempts.
fn merge(a: (Status, bool), b: (Status, bool)) -> (Status, bool) {
    let attempts =
        |(status, flaky): (Status, bool)| [Some(status), flaky.then_some(Status::Failed)];
    // Two outcomes are at least two attempts: `merge` always has an answer.
    Status::merge(attempts(a).into_iter().chain(attempts(b)).flatten()).unwrap_or(a)
}
