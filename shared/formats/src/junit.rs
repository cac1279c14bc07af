//! JUnit XML and its dialects.
//!
//! Counts come from the `<testcase>` elements, never from suite attributes (which are often
//! wrong). Dialect rules:
//! - `<failure>` → failed, `<error>` → error, `<skipped>` → skipped; pytest's
//!   `<skipped type="pytest.xfail">` → xfailed; a `[XPASS(strict)]` failure stays failed.
//! - Surefire/Failsafe and nextest reruns: each `<flakyFailure>`/`<flakyError>` is an earlier
//!   failed attempt of a test that finally passed; each `<rerunFailure>`/`<rerunError>` is a
//!   further failed attempt after the first `<failure>`/`<error>`.
//! - pytest-rerunfailures writes each rerun as a `<testcase>` of its own, the earlier ones with
//!   no outcome child at all. In a pytest suite (`<testsuite name="pytest">`, pytest's default)
//!   a node id never repeats otherwise, so adjacent `<testcase>`s of the same name are the
//!   attempts of one test, and each earlier attempt without an outcome is a failed one (a rerun
//!   only follows a failure): a rerun then a pass is flaky. Elsewhere, repeated `<testcase>`s
//!   are told apart by the collector (a rerun after a failure, else a repetition).
//! - Catch2: a test tagged `[!mayfail]` or `[!shouldfail]` that fails carries
//!   `<skipped message="TEST_CASE tagged with !mayfail"/>` beside its `<failure>`: xfailed.
//!   (Catch2 2.x writes such a test that passes as a plain pass, so it cannot be xpassed here.)
//! - unittest through xmlrunner: `<skipped type="XFAIL">` (an expected failure) is xfailed and
//!   `<error type="UnexpectedSuccess">` is xpassed.
//! - ctest's `status="notrun"`/`"disabled"` with no child → skipped.
//! - `file`/`line` from the testcase, else `file` from the nearest enclosing suite.
//! - `<property name="owner">` and `<property name="tag"|"tags">` inside a testcase give the
//!   owner and tags.

use crate::input::Input;
use crate::xml::{duration_attr, walk, Element, Handler};
use crate::{first_line, seconds_to_ms, Ctx, ParseError};
use verdict_model::{Attempt, Status, TestCase};

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    walk(input, ctx, &mut Junit::default())
}

#[derive(Default)]
struct Junit {
    /// The last case of a pytest suite, held back until the next one shows whether it was
    /// rerun.
    pytest_held: Option<TestCase>,
}

impl Junit {
    fn flush(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(case) = self.pytest_held.take() {
            ctx.emit(case);
        }
    }

    /// Takes a case of a pytest suite: a rerun of the held case joins it as a later attempt.
    fn pytest_case(&mut self, case: TestCase, ctx: &mut Ctx<'_>) {
        match &mut self.pytest_held {
            Some(held)
                if held.name == case.name
                    && held.classname == case.classname
                    && held.suite == case.suite =>
            {
                for earlier in &mut held.attempts {
                    if earlier.status == Status::Passed {
                        earlier.status = Status::Failed;
                    }
                }
                held.attempts.extend(case.attempts);
            }
            _ => {
                self.flush(ctx);
                self.pytest_held = Some(case);
            }
        }
    }
}

impl Handler for Junit {
    fn roots(&self) -> &'static [&'static str] {
        &["testsuites", "testsuite", "testcase"]
    }

    fn capture(&self, name: &str) -> bool {
        name == "testcase"
    }

    fn on_element(
        &mut self,
        ancestors: &[Element],
        tc: Element,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), ParseError> {
        let suites: Vec<&Element> = ancestors.iter().filter(|e| e.name == "testsuite").collect();
        let duration_ms = duration(&tc, ctx);
        let mut main = Attempt::new(Status::Passed, duration_ms);
        main.stdout = tc.child_text("system-out");
        main.stderr = tc.child_text("system-err");

        let skipped = tc.child("skipped");
        if let Some(f) = tc
            .children
            .iter()
            .find(|c| c.name == "error" || c.name == "failure")
        {
            let may_fail = skipped
                .and_then(|s| s.attr("message"))
                .is_some_and(|m| m.contains("!mayfail") || m.contains("!shouldfail"));
            main.status = if may_fail {
                Status::Xfailed
            } else if f.name == "error" && f.attr("type") == Some("UnexpectedSuccess") {
                Status::Xpassed
            } else if f.name == "error" {
                Status::Error
            } else {
                Status::Failed
            };
            fill_failure(&mut main, f);
        } else if let Some(s) = skipped {
            main.status = if matches!(s.attr("type"), Some("pytest.xfail" | "XFAIL")) {
                Status::Xfailed
            } else {
                Status::Skipped
            };
            main.message = s
                .attr("message")
                .map(str::to_string)
                .or_else(|| s.text_opt());
        } else if matches!(tc.attr("status"), Some("notrun" | "disabled" | "skipped")) {
            main.status = Status::Skipped;
        }

        let mut attempts = Vec::new();
        let flaky: Vec<&Element> = tc
            .children
            .iter()
            .filter(|c| c.name == "flakyFailure" || c.name == "flakyError")
            .collect();
        let reruns: Vec<&Element> = tc
            .children
            .iter()
            .filter(|c| c.name == "rerunFailure" || c.name == "rerunError")
            .collect();
        for f in &flaky {
            attempts.push(rerun_attempt(f, ctx));
        }
        attempts.push(main);
        for r in &reruns {
            attempts.push(rerun_attempt(r, ctx));
        }

        let (mut tags, mut owner) = (Vec::new(), None);
        if let Some(props) = tc.child("properties") {
            for p in props.children("property") {
                let value = p.attr("value").map(str::to_string).or_else(|| p.text_opt());
                match (p.attr("name"), value) {
                    (Some("owner"), Some(v)) => owner = Some(v),
                    (Some("tag" | "tags"), Some(v)) => tags.extend(
                        v.split(',')
                            .map(|t| t.trim().to_string())
                            .filter(|t| !t.is_empty()),
                    ),
                    _ => {}
                }
            }
        }

        let in_pytest = suites.last().and_then(|s| s.attr("name")) == Some("pytest");
        let case = TestCase {
            suite: suites
                .iter()
                .filter_map(|s| s.attr("name"))
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect(),
            classname: tc.attr("classname").unwrap_or_default().to_string(),
            name: tc.attr("name").unwrap_or_default().to_string(),
            file: tc
                .attr("file")
                .or_else(|| suites.iter().rev().find_map(|s| s.attr("file")))
                .map(str::to_string),
            line: tc.attr("line").and_then(|l| l.trim().parse().ok()),
            tags,
            owner,
            spans: None,
            attempts,
        };
        if in_pytest {
            self.pytest_case(case, ctx);
        } else {
            self.flush(ctx);
            ctx.emit(case);
        }
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
        self.flush(ctx);
        Ok(())
    }
}

fn duration(el: &Element, ctx: &mut Ctx<'_>) -> u64 {
    duration_attr(el, "time", seconds_to_ms, ctx)
}

fn fill_failure(attempt: &mut Attempt, f: &Element) {
    let body = f.text_opt();
    attempt.failure_type = f.attr("type").map(str::to_string);
    attempt.message = f
        .attr("message")
        .filter(|m| !m.trim().is_empty())
        .map(str::to_string)
        .or_else(|| body.as_deref().and_then(first_line));
    attempt.details = body.or_else(|| f.child_text("stackTrace"));
}

fn rerun_attempt(el: &Element, ctx: &mut Ctx<'_>) -> Attempt {
    let status = if el.name.ends_with("Error") {
        Status::Error
    } else {
        Status::Failed
    };
    let mut a = Attempt::new(status, duration(el, ctx));
    a.failure_type = el.attr("type").map(str::to_string);
    a.message = el.attr("message").map(str::to_string);
    a.details = el.child_text("stackTrace").or_else(|| el.text_opt());
    a.stdout = el.child_text("system-out");
    a.stderr = el.child_text("system-err");
    a
}
