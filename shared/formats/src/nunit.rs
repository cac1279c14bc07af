//! NUnit 2 (`<test-results>`) and NUnit 3 (`<test-run>`) XML.
//!
//! Every `<test-case>` is a test; the enclosing `<test-suite>` names are the suite path.
//! NUnit 3: `result` Passed/Failed/Skipped/Inconclusive/Warning with `label` (Error, Invalid,
//! Cancelled → error; Ignored, Explicit → skipped). NUnit 2: `result` Success/Failure/Error/
//! Ignored/Skipped/NotRunnable/Inconclusive/Cancelled, `executed="False"` → skipped.

use crate::input::Input;
use crate::xml::{duration_attr, walk, Element, Handler};
use crate::{seconds_to_ms, Ctx, ParseError};
use verdict_model::{Attempt, Status, TestCase};

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    walk(input, ctx, &mut Nunit)
}

struct Nunit;

impl Handler for Nunit {
    fn roots(&self) -> &'static [&'static str] {
        &["test-run", "test-results", "test-suite"]
    }

    fn capture(&self, name: &str) -> bool {
        name == "test-case"
    }

    fn on_element(
        &mut self,
        ancestors: &[Element],
        tc: Element,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), ParseError> {
        let result = tc.attr("result").unwrap_or("");
        let label = tc.attr("label").unwrap_or("");
        let status = match (result, label) {
            ("Passed" | "Success" | "Warning", _) => Status::Passed,
            ("Failed", "Error" | "Invalid" | "Cancelled") => Status::Error,
            ("Failed" | "Failure", _) => Status::Failed,
            ("Error" | "NotRunnable" | "Cancelled", _) => Status::Error,
            ("Skipped" | "Ignored" | "Inconclusive", _) => Status::Skipped,
            ("", _)
                if tc
                    .attr("executed")
                    .is_some_and(|e| e.eq_ignore_ascii_case("false")) =>
            {
                Status::Skipped
            }
            // NUnit 2.0–2.2 write no `result`, only `success` (in any case, sometimes
            // misspelt): failed when it says false or a `<failure>` is there.
            ("", _)
                if tc.child("failure").is_some()
                    || tc
                        .attr("success")
                        .is_some_and(|s| s.eq_ignore_ascii_case("false")) =>
            {
                Status::Failed
            }
            ("", _) if tc.attr("success").is_some() => Status::Passed,
            (other, _) => {
                ctx.warn(
                    tc.position,
                    format!("unknown NUnit result {other:?}; counted as error"),
                );
                Status::Error
            }
        };
        let not_executed = tc
            .attr("executed")
            .is_some_and(|e| e.eq_ignore_ascii_case("false"));
        let status = if not_executed && status == Status::Passed {
            Status::Skipped
        } else {
            status
        };
        let attr = if tc.attr("duration").is_some() {
            "duration"
        } else {
            "time"
        };
        let duration_ms = duration_attr(&tc, attr, seconds_to_ms, ctx);
        let mut attempt = Attempt::new(status, duration_ms);
        if let Some(f) = tc.child("failure") {
            attempt.message = f.child_text("message");
            attempt.details = f.child_text("stack-trace");
        }
        if attempt.message.is_none() {
            attempt.message = tc.child("reason").and_then(|r| r.child_text("message"));
        }
        attempt.stdout = tc.child_text("output");

        let name = tc.attr("name").unwrap_or_default().to_string();
        let fullname = tc.attr("fullname").unwrap_or(&name);
        let classname = tc
            .attr("classname")
            .map_or_else(|| class_of(fullname, &name), str::to_string);
        let tags = tc
            .child("properties")
            .map(|p| {
                p.children("property")
                    .filter(|p| p.attr("name") == Some("Category"))
                    .filter_map(|p| p.attr("value").map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        ctx.emit(TestCase {
            suite: ancestors
                .iter()
                .filter(|a| a.name == "test-suite")
                .filter_map(|a| a.attr("name"))
                .map(str::to_string)
                .collect(),
            classname,
            name,
            tags,
            attempts: vec![attempt],
            ..TestCase::default()
        });
        Ok(())
    }
}

/// The class part of an NUnit full name: `Ns.Class.Method(1,2)` → `Ns.Class`; the method name
/// itself is cut off (`name` is `Method(1,2)` in NUnit 3, the full name in NUnit 2).
fn class_of(fullname: &str, name: &str) -> String {
    let head = match fullname.find('(') {
        Some(i) => &fullname[..i],
        None => fullname,
    };
    match head.rfind('.') {
        Some(i) if fullname != name || i > 0 => head[..i].to_string(),
        _ => String::new(),
    }
}
