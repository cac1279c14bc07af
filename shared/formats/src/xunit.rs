//! xUnit.net v1 (`<assembly>` → `<class>` → `<test>`) and v2 (`<assemblies>` → `<assembly>` →
//! `<collection>` → `<test>`) XML. `result` Pass/Fail/Skip/NotRun; `<traits>` become tags
//! (`name=value`), a trait named `Owner` the owner.

use crate::input::Input;
use crate::xml::{duration_attr, walk, Element, Handler};
use crate::{seconds_to_ms, Ctx, ParseError};
use verdict_model::{Attempt, Status, TestCase};

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    walk(input, ctx, &mut Xunit)
}

struct Xunit;

impl Handler for Xunit {
    fn roots(&self) -> &'static [&'static str] {
        &["assemblies", "assembly"]
    }

    fn capture(&self, name: &str) -> bool {
        name == "test"
    }

    fn on_element(
        &mut self,
        ancestors: &[Element],
        t: Element,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), ParseError> {
        let status = match t.attr("result").unwrap_or("") {
            "Pass" => Status::Passed,
            "Fail" => Status::Failed,
            "Skip" | "NotRun" => Status::Skipped,
            other => {
                ctx.warn(
                    t.position,
                    format!("unknown xUnit result {other:?}; counted as error"),
                );
                Status::Error
            }
        };
        let duration_ms = duration_attr(&t, "time", seconds_to_ms, ctx);
        let mut attempt = Attempt::new(status, duration_ms);
        if let Some(f) = t.child("failure") {
            attempt.failure_type = f.attr("exception-type").map(str::to_string);
            attempt.message = f.child_text("message");
            attempt.details = f.child_text("stack-trace");
        }
        if attempt.message.is_none() {
            attempt.message = t
                .child("reason")
                .and_then(|r| r.child_text("message").or_else(|| r.text_opt()));
        }
        attempt.stdout = t.child_text("output");
        let (mut tags, mut owner) = (Vec::new(), None);
        if let Some(traits) = t.child("traits") {
            for tr in traits.children("trait") {
                let (Some(k), Some(v)) = (tr.attr("name"), tr.attr("value")) else {
                    continue;
                };
                if k.eq_ignore_ascii_case("owner") {
                    owner = Some(v.to_string());
                } else {
                    tags.push(format!("{k}={v}"));
                }
            }
        }
        let class = ancestors
            .iter()
            .rev()
            .find(|a| a.name == "class")
            .and_then(|c| c.attr("name"));
        ctx.emit(TestCase {
            suite: ancestors
                .iter()
                .filter(|a| matches!(&*a.name, "assembly" | "collection" | "class"))
                .filter_map(|a| a.attr("name"))
                .map(str::to_string)
                .collect(),
            classname: t.attr("type").or(class).unwrap_or_default().to_string(),
            name: t.attr("name").unwrap_or_default().to_string(),
            tags,
            owner,
            attempts: vec![attempt],
            ..TestCase::default()
        });
        Ok(())
    }
}
