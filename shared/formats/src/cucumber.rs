//! Cucumber JSON (cucumber-js `--format json`, cucumber-jvm's `json` plugin, cucumber-ruby):
//! an array of features, each with `elements[]` (scenarios and backgrounds) holding `steps[]`.
//!
//! - A scenario is a test: classname the feature's name, name the scenario's name (an outline
//!   writes one element per example row; rows of the same name are told apart by the
//!   repetition rule, `name #2`), file the feature's `uri`, line the scenario's.
//! - A `background` element (cucumber-jvm writes one before each scenario) gives its steps to
//!   the scenario that follows it.
//! - The status is the worst of the steps and hooks (`before`/`after`): `failed` fails;
//!   `ambiguous` (two step definitions match) and `undefined` (no step definition) are
//!   errors, since the scenario cannot run as written; `pending` (a step marked unfinished)
//!   and `skipped` make a skipped scenario when nothing failed. A scenario with no step is
//!   passed. The message is the first line of the failing step's `error_message`, prefixed
//!   with the step (`When it breaks: …`).
//! - Durations are nanoseconds (all three implementations write nanoseconds).
//! - Tags (`@wip`) are the test's tags, without the `@`.

use crate::input::Input;
use crate::json::for_each_at;
use crate::{first_line, Ctx, ParseError};
use serde::Deserialize;
use verdict_model::{Attempt, Status, TestCase};

#[derive(Deserialize)]
struct Feature {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    elements: Vec<Element>,
}

#[derive(Deserialize)]
struct Element {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    steps: Vec<Step>,
    #[serde(default)]
    before: Vec<Step>,
    #[serde(default)]
    after: Vec<Step>,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
}

#[derive(Deserialize)]
struct Step {
    #[serde(default)]
    keyword: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    result: Option<StepResult>,
}

#[derive(Deserialize)]
struct StepResult {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    error_message: Option<String>,
}

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    for_each_at(input, "Cucumber JSON", &[], |feature: Feature| {
        let mut background: Vec<Step> = Vec::new();
        for el in feature.elements {
            if el.kind.as_deref() == Some("background") {
                background = el.steps;
                continue;
            }
            let steps = std::mem::take(&mut background);
            let case = scenario(&feature.name, feature.uri.as_deref(), el, &steps);
            ctx.emit(case);
        }
        Ok(())
    })?;
    Ok(())
}

/// How a step's status weighs: the worst one decides the scenario.
fn step_status(status: &str) -> Status {
    match status {
        "passed" => Status::Passed,
        "failed" => Status::Failed,
        "ambiguous" | "undefined" => Status::Error,
        // `pending`, `skipped`, and anything newer.
        _ => Status::Skipped,
    }
}

fn scenario(feature: &str, uri: Option<&str>, el: Element, background: &[Step]) -> TestCase {
    let steps = el
        .before
        .iter()
        .chain(background.iter())
        .chain(el.steps.iter())
        .chain(el.after.iter());
    let (mut status, mut nanos, mut worst): (Status, f64, Option<&Step>) =
        (Status::Passed, 0.0, None);
    for step in steps {
        let Some(result) = &step.result else { continue };
        nanos += result
            .duration
            .filter(|d| d.is_finite() && *d > 0.0)
            .unwrap_or(0.0);
        let s = step_status(result.status.as_deref().unwrap_or("skipped"));
        if s.severity() > status.severity() {
            status = s;
            worst = Some(step);
        }
    }
    let mut attempt = Attempt::new(status, (nanos / 1_000_000.0).round() as u64);
    if let Some(step) = worst {
        let result = step.result.as_ref();
        let what = format!(
            "{}{}",
            step.keyword.as_deref().unwrap_or(""),
            step.name.as_deref().unwrap_or("")
        );
        let status_word = result
            .and_then(|r| r.status.as_deref())
            .unwrap_or("skipped");
        let error = result.and_then(|r| r.error_message.clone());
        let why = error
            .as_deref()
            .and_then(first_line)
            .unwrap_or_else(|| format!("step {status_word}"));
        attempt.message = Some(format!("{}: {why}", what.trim()));
        attempt.failure_type = Some(status_word.to_string());
        attempt.details = error;
    }
    TestCase {
        classname: feature.to_string(),
        name: el.name,
        file: uri.map(str::to_string),
        line: el.line,
        tags: el
            .tags
            .into_iter()
            .map(|t| t.name.trim_start_matches('@').to_string())
            .collect(),
        attempts: vec![attempt],
        ..TestCase::default()
    }
}
