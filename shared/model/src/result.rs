use crate::identity::{split_params, test_id, TestIdentity};
use crate::kept_text::KeptText;
use crate::text::{cap_text, Limits};
use crate::{failure_fingerprint, Status};
use serde::{Deserialize, Serialize};

/// The longest duration an attempt keeps, about 35 years: any sum of a run's durations stays
/// far inside the counters' range.
pub const MAX_DURATION_MS: u64 = 1 << 40;

/// One execution of a test: a `<testcase>`, a Surefire `<rerunFailure>`, a CTRF retry, a TAP line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// This execution's outcome.
    pub status: Status,
    /// How long it took.
    pub duration_ms: u64,
    /// The failure's message (its first line when the report has no message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The failure's type (an exception class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_type: Option<String>,
    /// The failure's details (a stack trace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// What the test wrote to stdout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// What the test wrote to stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// Where its whole text is kept when the fields above hold only an excerpt of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<KeptText>,
}

impl Attempt {
    /// An attempt with this outcome and nothing else.
    pub fn new(status: Status, duration_ms: u64) -> Self {
        Attempt {
            status,
            duration_ms,
            message: None,
            failure_type: None,
            details: None,
            stdout: None,
            stderr: None,
            kept: None,
        }
    }

    /// Cuts every free-text field to its cap (see [`Limits`]); empty text becomes `None`; a
    /// duration past [`MAX_DURATION_MS`] is that (a report may claim `time="1e200"`).
    pub fn capped(self, limits: &Limits) -> Self {
        let cap =
            |t: Option<String>, max| t.filter(|s| !s.trim().is_empty()).map(|s| cap_text(s, max));
        Attempt {
            status: self.status,
            duration_ms: self.duration_ms.min(MAX_DURATION_MS),
            message: cap(self.message, limits.message),
            failure_type: cap(self.failure_type, limits.failure_type),
            details: cap(self.details, limits.details),
            stdout: cap(self.stdout, limits.output),
            stderr: cap(self.stderr, limits.output),
            kept: self.kept,
        }
    }
}

/// What a parser knows of one test when it reads it: where it lives and its executions.
#[derive(Debug, Clone, Default)]
pub struct TestCase {
    /// Enclosing suites, outermost first.
    pub suite: Vec<String>,
    /// The class (or module) the report names.
    pub classname: String,
    /// The test's name, parameters included.
    pub name: String,
    /// The source file.
    pub file: Option<String>,
    /// The line in the source file.
    pub line: Option<u32>,
    /// Tags the report (or a sidecar) gives.
    pub tags: Vec<String>,
    /// The owner the report (or a sidecar) gives.
    pub owner: Option<String>,
    /// Buildkite `history` spans, kept as given.
    pub spans: Option<serde_json::Value>,
    /// Its executions in the report, in order.
    pub attempts: Vec<Attempt>,
}

/// A test's result in a run: every attempt of the same test (same `test_id`) merged into one.
///
/// `status`, `flaky`, `duration_ms` and the failure fields are derived from `attempts` by
/// [`TestResult::absorb`] and the constructor, never set by hand, so they cannot disagree with
/// the attempts:
/// - `status`/`flaky`: [`Status::merge`] (passed if any attempt passed, flaky when another
///   failed or errored; otherwise the worst attempt), whatever the order of attempts;
/// - `duration_ms`: the sum over attempts (the time the test cost the run);
/// - `message`, `failure_type`, `details`, `stdout`, `stderr`: those of the representative
///   attempt, the first of the most severe non-passing attempts that says why (a message or
///   details), else the first of them (so a flaky pass shows why it failed, and an attempt a
///   report only counts, such as a bare rerun, never hides the one that explains), or the first
///   attempt when all passed;
/// - `fingerprint`: [`failure_fingerprint`] of the representative attempt when it failed or
///   errored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    /// The test's id: 64 hex digits of SHA-256 of its identity.
    pub test_id: String,
    /// The suite path.
    pub suite: String,
    /// The class (or module).
    pub classname: String,
    /// The full name, parameters included.
    pub name: String,
    /// The name without its parameters.
    pub base_name: String,
    /// The parameters, when the name has them.
    pub params: Option<String>,
    /// The source file.
    pub file: Option<String>,
    /// The line in the source file.
    pub line: Option<u32>,
    /// The merged status of its attempts.
    pub status: Status,
    /// The duration of its last attempt.
    pub duration_ms: u64,
    /// Whether it passed after a failed attempt.
    pub flaky: bool,
    /// The deciding attempt's message.
    pub message: Option<String>,
    /// The deciding attempt's failure type.
    pub failure_type: Option<String>,
    /// The deciding attempt's details.
    pub details: Option<String>,
    /// The deciding attempt's stdout.
    pub stdout: Option<String>,
    /// The deciding attempt's stderr.
    pub stderr: Option<String>,
    /// The failure's fingerprint: the same failure has the same one across runs.
    pub fingerprint: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Buildkite `history` spans, kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spans: Option<serde_json::Value>,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
}

/// How suite paths are joined into `TestResult::suite`.
pub const SUITE_SEPARATOR: &str = " / ";

impl TestCase {
    /// The test id of this case under the name `name` (its own, or a repetition's `name #k`),
    /// with `suite` its suite path joined by [`SUITE_SEPARATOR`].
    pub fn test_id_in(&self, suite: &str, name: &str) -> String {
        test_id(&TestIdentity {
            suite,
            classname: &self.classname,
            file: self.file.as_deref(),
            name,
        })
    }
}

impl TestResult {
    /// Builds the result of a test case, capping its text. `None` when the case has no attempt.
    pub fn from_case(case: TestCase, limits: &Limits) -> Option<TestResult> {
        if case.attempts.is_empty() {
            return None;
        }
        let suite = case.suite.join(SUITE_SEPARATOR);
        let id = case.test_id_in(&suite, &case.name);
        let name = |text: String| cap_text(text, limits.name);
        let mut result = TestResult::named(id, name(suite), name(case.classname), name(case.name));
        result.file = case.file.filter(|f| !f.is_empty()).map(name);
        result.line = case.line;
        result.tags = case.tags.into_iter().map(name).collect();
        result.owner = case.owner.map(name);
        result.spans = case.spans;
        result.attempts = case
            .attempts
            .into_iter()
            .map(|a| a.capped(limits))
            .collect();
        result.derive();
        Some(result)
    }

    /// A result of this identity with no attempts yet; base name and parameters are split from
    /// the name.
    pub fn named(test_id: String, suite: String, classname: String, name: String) -> TestResult {
        let (base, params) = split_params(&name);
        let (base_name, params) = (base.to_string(), params.map(str::to_string));
        TestResult {
            test_id,
            suite,
            classname,
            name,
            base_name,
            params,
            file: None,
            line: None,
            status: Status::Passed,
            duration_ms: 0,
            flaky: false,
            message: None,
            failure_type: None,
            details: None,
            stdout: None,
            stderr: None,
            fingerprint: None,
            tags: Vec::new(),
            owner: None,
            spans: None,
            attempts: Vec::new(),
        }
    }

    /// Gives the result another name, and with it another `test_id`, base name and parameters.
    pub fn rename(&mut self, name: String) {
        self.test_id = test_id(&TestIdentity {
            suite: &self.suite,
            classname: &self.classname,
            file: self.file.as_deref(),
            name: &name,
        });
        let (base, params) = split_params(&name);
        self.base_name = base.to_string();
        self.params = params.map(str::to_string);
        self.name = name;
    }

    /// Merges another result of the same test (same `test_id`) into this one: its attempts are
    /// appended and everything derived from attempts is recomputed.
    pub fn absorb(&mut self, other: TestResult) {
        self.extend(other);
        self.derive();
    }

    /// [`TestResult::absorb`] without recomputing what derives from the attempts: a reader
    /// merging many reruns of one test (a report may hold 100,000) extends, then derives once.
    pub fn extend(&mut self, other: TestResult) {
        debug_assert_eq!(self.test_id, other.test_id);
        self.attempts.extend(other.attempts);
        for tag in other.tags {
            if !self.tags.contains(&tag) {
                self.tags.push(tag);
            }
        }
        self.owner = self.owner.take().or(other.owner);
        self.file = self.file.take().or(other.file);
        self.line = self.line.or(other.line);
        self.spans = self.spans.take().or(other.spans);
    }

    /// Recomputes status, flakiness, duration, failure fields and fingerprint from `attempts`.
    pub fn derive(&mut self) {
        let (status, flaky) = Status::merge(self.attempts.iter().map(|a| a.status))
            .unwrap_or((Status::Passed, false));
        self.status = status;
        self.flaky = flaky;
        self.duration_ms = self
            .attempts
            .iter()
            .fold(0, |sum: u64, a| sum.saturating_add(a.duration_ms));
        let rep = self.representative().cloned();
        if let Some(rep) = rep {
            self.fingerprint = match (&rep.kept, rep.status.is_failure()) {
                (_, false) => None,
                // An excerpt would fingerprint differently from the text it was cut from.
                (Some(kept), true) => kept.fingerprint.clone(),
                (None, true) => failure_fingerprint(
                    rep.failure_type.as_deref(),
                    rep.message.as_deref(),
                    rep.details.as_deref(),
                ),
            };
            self.message = rep.message;
            self.failure_type = rep.failure_type;
            self.details = rep.details;
            self.stdout = rep.stdout;
            self.stderr = rep.stderr;
        }
    }

    fn representative(&self) -> Option<&Attempt> {
        let rank = |a: &Attempt| {
            (
                a.status.severity(),
                a.message.is_some() || a.details.is_some(),
            )
        };
        let mut best: Option<&Attempt> = None;
        for a in self.attempts.iter().filter(|a| a.status != Status::Passed) {
            if best.is_none_or(|b| rank(a) > rank(b)) {
                best = Some(a);
            }
        }
        best.or(self.attempts.first())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, attempts: Vec<Attempt>) -> TestCase {
        TestCase {
            suite: vec!["s".into()],
            classname: "C".into(),
            name: name.into(),
            attempts,
            ..TestCase::default()
        }
    }

    fn failed(msg: &str) -> Attempt {
        Attempt {
            message: Some(msg.into()),
            ..Attempt::new(Status::Failed, 5)
        }
    }

    #[test]
    fn when_attempts_fail_then_pass_should_be_flaky_pass_with_failure_message() {
        let r = TestResult::from_case(
            case(
                "t[1]",
                vec![failed("boom"), Attempt::new(Status::Passed, 3)],
            ),
            &Limits::DEFAULT,
        )
        .unwrap();
        assert_eq!(
            (r.status, r.flaky, r.duration_ms),
            (Status::Passed, true, 8)
        );
        assert_eq!(r.message.as_deref(), Some("boom"));
        assert_eq!(
            (r.base_name.as_str(), r.params.as_deref()),
            ("t", Some("1"))
        );
        assert!(
            r.fingerprint.is_some(),
            "a flaky pass keeps the fingerprint of its failure"
        );
    }

    #[test]
    fn absorb_should_give_same_result_in_any_order() {
        let a = || TestResult::from_case(case("t", vec![failed("x")]), &Limits::DEFAULT).unwrap();
        let b = || {
            TestResult::from_case(
                case("t", vec![Attempt::new(Status::Passed, 1)]),
                &Limits::DEFAULT,
            )
            .unwrap()
        };
        let mut ab = a();
        ab.absorb(b());
        let mut ba = b();
        ba.absorb(a());
        assert_eq!(
            (ab.status, ab.flaky, &ab.message),
            (ba.status, ba.flaky, &ba.message)
        );
        assert!(ab.flaky);
    }

    #[test]
    fn failure_should_carry_fingerprint_and_capped_text() {
        let mut long = failed(&"x".repeat(20_000));
        long.status = Status::Error;
        let r = TestResult::from_case(case("t", vec![long]), &Limits::DEFAULT).unwrap();
        assert_eq!(r.status, Status::Error);
        assert!(r.fingerprint.is_some());
        let m = r.message.unwrap();
        assert!(
            m.len() < 8300 && m.contains(crate::TRUNCATION_MARKER),
            "{}",
            m.len()
        );
    }

    #[test]
    fn case_without_attempts_should_give_no_result() {
        assert!(TestResult::from_case(case("t", vec![]), &Limits::DEFAULT).is_none());
    }
}
