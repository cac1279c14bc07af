use std::collections::HashMap;
use verdict_model::{Limits, TestCase, TestResult};

/// Merges the test cases of one report into results.
///
/// A case whose `test_id` was already seen in this report is a *rerun* (pytest-rerunfailures
/// writes one `<testcase>` per attempt, `go test -count=2` repeats a test) when the test seen so
/// far has a failed or errored attempt: a runner only reruns what failed. It then becomes an
/// attempt of that result. Otherwise it is a *repetition* of a name by a different test (TestNG
/// data providers, unnamed testcases, the same `it` text twice) and becomes a result of its own
/// named `name #k` for its k-th occurrence, so a failing repetition is never hidden behind a
/// passing one. Results keep the order in which each test was first seen.
#[derive(Debug, Default)]
pub struct Collector {
    limits: Limits,
    index: HashMap<String, usize>,
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
        let name = result.name.clone();
        let mut occurrence = 1;
        while let Some(&i) = self.index.get(&result.test_id) {
            if self.results[i]
                .attempts
                .iter()
                .any(|a| a.status.is_failure())
            {
                self.results[i].absorb(result);
                return;
            }
            occurrence += 1;
            result.rename(format!("{name} #{occurrence}"));
        }
        self.index
            .insert(result.test_id.clone(), self.results.len());
        self.results.push(result);
    }

    pub fn finish(self) -> Vec<TestResult> {
        self.results
    }
}
