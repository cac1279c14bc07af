//! TestNG's `testng-results.xml`: `<suite>` → `<test>` → `<class name>` → `<test-method>`.
//!
//! - A test is the class and the method; a data-provider method's parameters (`<params>`)
//!   go into the name's brackets (`small[3]`), so each data row is a test of its own.
//! - `status`: `PASS`, `FAIL`, `SKIP`. The `<exception>` gives the failure type (`class`),
//!   message and stack trace (a `SkipException`'s message is the skip reason).
//! - Configuration methods (`is-config="true"`: `@BeforeClass`, `@AfterMethod`, …) are not
//!   tests. One that fails is an `error` result named `[setup] method` in its class, since it
//!   is why the class's tests were skipped; passing or skipped ones are left out.
//! - Retries (an `IRetryAnalyzer`): TestNG 7 writes each retried attempt as `status="SKIP"
//!   retried="true"` before the final attempt; those become failed attempts of the test that
//!   follows with the same class, name and parameters (a retry only follows a failure). A
//!   retried attempt with no final one after it is a failed result of its own.
//! - `<reporter-output>` lines (`Reporter.log`) are the test's stdout.

use crate::input::Input;
use crate::xml::{duration_attr, walk, Element, Handler};
use crate::{Ctx, ParseError};
use std::collections::HashMap;
use verdict_model::{Attempt, Status, TestCase};

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    walk(input, ctx, &mut Testng::default())
}

/// A test's place: its class and its name with parameters.
type Key = (String, String);

#[derive(Default)]
struct Testng {
    /// Retried attempts waiting for the final attempt of their test.
    retried: HashMap<Key, Vec<Attempt>>,
}

impl Handler for Testng {
    fn roots(&self) -> &'static [&'static str] {
        &["testng-results"]
    }

    fn capture(&self, name: &str) -> bool {
        name == "test-method"
    }

    fn on_element(
        &mut self,
        ancestors: &[Element],
        m: Element,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), ParseError> {
        let class = ancestors
            .iter()
            .rev()
            .find(|e| e.name == "class")
            .and_then(|c| c.attr("name"))
            .unwrap_or_default()
            .to_string();
        let suite: Vec<String> = ancestors
            .iter()
            .filter(|e| e.name == "suite" || e.name == "test")
            .filter_map(|e| e.attr("name"))
            .map(str::to_string)
            .collect();
        let status = match m.attr("status") {
            Some("PASS") => Status::Passed,
            Some("FAIL") => Status::Failed,
            _ => Status::Skipped,
        };
        let is_config = m.attr("is-config") == Some("true");
        let method = m.attr("name").unwrap_or_default();
        let name = if is_config {
            if status != Status::Failed {
                return Ok(());
            }
            format!("[setup] {method}")
        } else {
            with_params(method, &m)
        };
        let mut attempt = Attempt::new(
            if is_config { Status::Error } else { status },
            duration_attr(&m, "duration-ms", parse_ms, ctx),
        );
        if let Some(x) = m.child("exception") {
            attempt.failure_type = x.attr("class").map(str::to_string);
            attempt.message = x.child_text("message").map(|t| t.trim().to_string());
            attempt.details = x
                .child_text("full-stacktrace")
                .map(|t| t.trim().to_string());
        }
        attempt.stdout = m.child("reporter-output").and_then(|r| {
            let lines: Vec<String> = r
                .children("line")
                .filter_map(Element::text_opt)
                .map(|l| l.trim().to_string())
                .collect();
            (!lines.is_empty()).then(|| lines.join("\n"))
        });
        let key = (class, name);
        if m.attr("retried") == Some("true") {
            attempt.status = Status::Failed;
            self.retried.entry(key).or_default().push(attempt);
            return Ok(());
        }
        let mut attempts = self.retried.remove(&key).unwrap_or_default();
        attempts.push(attempt);
        let (classname, name) = key;
        ctx.emit(TestCase {
            suite,
            classname,
            name,
            attempts,
            ..TestCase::default()
        });
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
        let mut left: Vec<(Key, Vec<Attempt>)> = self.retried.drain().collect();
        left.sort_by(|a, b| a.0.cmp(&b.0));
        for ((classname, name), attempts) in left {
            ctx.emit(TestCase {
                classname,
                name,
                attempts,
                ..TestCase::default()
            });
        }
        Ok(())
    }
}

fn parse_ms(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// `method[p1, p2]` for a method with parameters, else `method`.
fn with_params(method: &str, m: &Element) -> String {
    let Some(params) = m.child("params") else {
        return method.to_string();
    };
    let values: Vec<String> = params
        .children("param")
        .map(|p| {
            p.child_text("value")
                .map_or_else(|| "null".to_string(), |v| v.trim().to_string())
        })
        .collect();
    if values.is_empty() {
        method.to_string()
    } else {
        format!("{method}[{}]", values.join(", "))
    }
}
