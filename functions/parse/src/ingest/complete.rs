//! Pass 2 hands a test on to be written once it is complete: a test with several cases in the
//! file (reruns) waits until pass 1's count of its cases has been seen, merged into one result.

use std::collections::HashMap;
use verdict_formats::Identities;
use verdict_model::TestResult;

/// The tests of a file still waiting for some of their cases.
pub(super) struct Completion {
    /// How many cases each test has (pass 1).
    expected: Identities,
    /// Identities as pass 2 sees them, case by case.
    seen: Identities,
    /// Each incomplete test's merged result so far, and how many of its cases were seen.
    waiting: HashMap<String, (TestResult, u32)>,
}

impl Completion {
    pub(super) fn new(expected: Identities) -> Completion {
        Completion {
            expected,
            seen: Identities::default(),
            waiting: HashMap::new(),
        }
    }

    /// Takes the next case's result; `Some` when it completes its test (a test of one case is
    /// complete at once).
    pub(super) fn add(&mut self, mut result: TestResult) -> Option<TestResult> {
        let rerun = self.seen.place(&mut result);
        let total = self.expected.cases(&result.test_id);
        if total <= 1 {
            return Some(result);
        }
        let id = result.test_id.clone();
        let done = match self.waiting.get_mut(&id) {
            Some((merged, seen)) if rerun => {
                merged.extend(result);
                *seen += 1;
                *seen >= total
            }
            _ => {
                self.waiting.insert(id.clone(), (result, 1));
                false
            }
        };
        if !done {
            return None;
        }
        let (mut merged, _) = self.waiting.remove(&id)?;
        merged.derive();
        Some(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_model::{Attempt, Status};

    fn case(name: &str, status: Status) -> TestResult {
        let mut result = TestResult::named(
            verdict_model::test_id(&verdict_model::TestIdentity {
                suite: "s",
                classname: "c",
                file: None,
                name,
            }),
            "s".into(),
            "c".into(),
            name.into(),
        );
        result.attempts.push(Attempt::new(status, 10));
        result.derive();
        result
    }

    #[test]
    fn a_rerun_test_is_handed_on_once_with_every_attempt() {
        let cases = [
            case("retried", Status::Failed),
            case("once", Status::Passed),
            case("retried", Status::Passed),
        ];
        let mut expected = Identities::default();
        for c in &cases {
            expected.place(&mut c.clone());
        }
        let mut completion = Completion::new(expected);
        let handed: Vec<Option<TestResult>> =
            cases.into_iter().map(|c| completion.add(c)).collect();
        assert!(handed[0].is_none(), "the first of two cases waits");
        assert_eq!(handed[1].as_ref().map(|r| r.name.as_str()), Some("once"));
        let merged = handed[2].as_ref().expect("the second case completes it");
        assert_eq!(merged.attempts.len(), 2);
        assert!(merged.flaky, "failed then passed: {merged:?}");
    }
}
