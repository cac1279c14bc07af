//! Visual Studio TRX (VSTest, MSTest).
//!
//! `<UnitTestResult>` elements are the tests; a data-driven result's `<InnerResults>` rows are
//! tests of their own (their parent is not counted). Class names come from the
//! `<TestDefinitions>`, which VSTest writes *after* the results: results whose definition is not
//! yet known are held until the end of the file (the one place a parser holds more than one
//! test; TRX files are written by one test host and stay small).

use crate::input::Input;
use crate::xml::{duration_attr, walk, Element, Handler};
use crate::{Ctx, ParseError};
use std::collections::HashMap;
use verdict_model::{Attempt, Status, TestCase};

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    walk(input, ctx, &mut Trx::default())
}

#[derive(Default)]
struct Trx {
    /// testId → (class name, storage/file).
    definitions: HashMap<String, (String, Option<String>)>,
    pending: Vec<Element>,
}

impl Handler for Trx {
    fn roots(&self) -> &'static [&'static str] {
        &["TestRun"]
    }

    fn capture(&self, name: &str) -> bool {
        is_result(name) || name == "UnitTest"
    }

    fn on_element(
        &mut self,
        _: &[Element],
        el: Element,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), ParseError> {
        if el.name == "UnitTest" {
            if let Some(id) = el.attr("id") {
                let class = el
                    .child("TestMethod")
                    .and_then(|m| m.attr("className"))
                    .map(strip_assembly)
                    .unwrap_or_default();
                self.definitions.insert(
                    id.to_string(),
                    (class, el.attr("storage").map(str::to_string)),
                );
            }
            return Ok(());
        }
        let known = el
            .attr("testId")
            .is_some_and(|id| self.definitions.contains_key(id));
        if known {
            self.emit(&el, None, ctx);
        } else {
            self.pending.push(el);
        }
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
        for el in std::mem::take(&mut self.pending) {
            self.emit(&el, None, ctx);
        }
        Ok(())
    }
}

impl Trx {
    fn emit(&self, el: &Element, parent: Option<&Element>, ctx: &mut Ctx<'_>) {
        let inner: Vec<&Element> = el
            .child("InnerResults")
            .map(|i| i.children.iter().filter(|c| is_result(&c.name)).collect())
            .unwrap_or_default();
        if !inner.is_empty() {
            for row in inner {
                self.emit(row, Some(el), ctx);
            }
            return;
        }
        let test_id = el
            .attr("testId")
            .or_else(|| parent.and_then(|p| p.attr("testId")));
        let (classname, file) = test_id
            .and_then(|id| self.definitions.get(id))
            .cloned()
            .unwrap_or_default();
        let outcome = el.attr("outcome").unwrap_or("");
        let status = match outcome {
            "Passed" | "PassedButRunAborted" | "Completed" | "Warning" => Status::Passed,
            "Failed" => Status::Failed,
            "Error" | "Timeout" | "Aborted" | "Disconnected" => Status::Error,
            "NotExecuted" | "NotRunnable" | "Inconclusive" | "Pending" | "InProgress" => {
                Status::Skipped
            }
            other => {
                ctx.warn(
                    el.position,
                    format!("unknown TRX outcome {other:?}; counted as error"),
                );
                Status::Error
            }
        };
        let duration_ms = duration_attr(el, "duration", timespan_ms, ctx);
        let mut attempt = Attempt::new(status, duration_ms);
        if let Some(output) = el.child("Output") {
            attempt.stdout = output.child_text("StdOut");
            attempt.stderr = output.child_text("StdErr");
            if let Some(info) = output.child("ErrorInfo") {
                attempt.message = info.child_text("Message");
                attempt.details = info.child_text("StackTrace");
            }
            if attempt.message.is_none() && status == Status::Skipped {
                attempt.message = output
                    .child("TextMessages")
                    .and_then(|t| t.child_text("Message"));
            }
        }
        ctx.emit(TestCase {
            suite: Vec::new(),
            classname,
            name: el.attr("testName").unwrap_or_default().to_string(),
            file,
            attempts: vec![attempt],
            ..TestCase::default()
        });
    }
}

/// `UnitTestResult`, `WebTestResult`, `ManualTestResult`, `GenericTestResult`,
/// `TestResultAggregation` (ordered tests, whose inner results are the tests).
fn is_result(name: &str) -> bool {
    name.ends_with("TestResult") || name == "TestResultAggregation"
}

/// `Ns.Class, Assembly, Version=...` → `Ns.Class`.
fn strip_assembly(class: &str) -> String {
    class.split(',').next().unwrap_or(class).trim().to_string()
}

/// `[d.]hh:mm:ss[.fffffff]` → milliseconds.
fn timespan_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let (days, rest) = match s.split_once('.') {
        Some((d, r)) if !d.contains(':') => (d.parse::<u64>().ok()?, r),
        _ => (0, s),
    };
    let mut parts = rest.split(':');
    let h: u64 = parts.next()?.parse().ok()?;
    let m: u64 = parts.next()?.parse().ok()?;
    let sec: f64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !sec.is_finite() || sec < 0.0 {
        return None;
    }
    Some(((days * 24 + h) * 3600 + m * 60) * 1000 + (sec * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timespan_should_parse() {
        assert_eq!(super::timespan_ms("00:00:01.5000000"), Some(1500));
        assert_eq!(super::timespan_ms("1.01:00:00"), Some(25 * 3600 * 1000));
        assert_eq!(super::timespan_ms("abc"), None);
    }
}
