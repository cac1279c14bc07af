use std::collections::HashMap;
use verdict_model::{Limits, TestCase, TestResult};

/// Merges test cases into results: cases with the same `test_id` (reruns written as separate
/// `<testcase>`s, the same test in two shards) become one result with all their attempts.
/// Results keep the order in which each test was first seen.
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
        if let Some(result) = TestResult::from_case(case, &self.limits) {
            self.add_result(result);
        }
    }

    pub fn add_result(&mut self, result: TestResult) {
        match self.index.get(&result.test_id) {
            Some(&i) => self.results[i].absorb(result),
            None => {
                self.index.insert(result.test_id.clone(), self.results.len());
                self.results.push(result);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.results.len()
    }

    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    pub fn finish(self) -> Vec<TestResult> {
        self.results
    }
}
