//! `dart test --reporter json` and `flutter test --machine`: one JSON event per line.
//!
//! - `suite` events name the test files; `testStart` starts a test (its `name` already holds
//!   the group names), `print` and `error` events belong to a running test, and `testDone`
//!   ends it with `result` `success`, `failure` (an expectation failed) or `error` (it
//!   threw), and `skipped`.
//! - Hidden tests (`hidden: true`: the "loading file" pseudo-tests Dart runs before a suite) are
//!   left out when they succeed; a hidden test that fails (the file does not compile) is an
//!   `error` result, so the failure is never silent.
//! - A test that starts and never ends (the process died) is an error.
//! - Only the tests running at once are held, so memory is bounded by the concurrency, not by
//!   the report. Lines that are not JSON events are skipped (Flutter mixes in build output).

use crate::input::Input;
use crate::{first_line, Ctx, ErrorKind, ParseError, Position};
use serde::Deserialize;
use std::collections::HashMap;
use verdict_model::{Attempt, Status, TestCase};

/// Output kept per running test; the model caps what it stores further.
const OUTPUT_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    suite: Option<SuiteInfo>,
    #[serde(default)]
    test: Option<TestInfo>,
    #[serde(default, rename = "testID")]
    test_id: Option<u64>,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    skipped: bool,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "stackTrace")]
    stack_trace: Option<String>,
    #[serde(default)]
    time: Option<f64>,
}

#[derive(Deserialize)]
struct SuiteInfo {
    id: u64,
    #[serde(default)]
    path: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestInfo {
    id: u64,
    name: String,
    #[serde(default, rename = "suiteID")]
    suite_id: Option<u64>,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    skip_reason: Option<String>,
}

struct Running {
    name: String,
    file: Option<String>,
    line: Option<u32>,
    skip_reason: Option<String>,
    started_ms: f64,
    output: String,
    errors: Vec<(String, Option<String>)>,
}

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    let mut suites: HashMap<u64, String> = HashMap::new();
    let mut running: HashMap<u64, Running> = HashMap::new();
    let mut events = 0u64;
    for line in input.lines() {
        let (number, line) = line?;
        let l = line.trim();
        if !l.starts_with('{') {
            continue;
        }
        let Ok(ev) = serde_json::from_str::<Event>(l) else {
            ctx.warn(
                Some(Position::line(number)),
                "not a Dart test event; skipped",
            );
            continue;
        };
        events += 1;
        match ev.kind.as_str() {
            "suite" => {
                if let Some(s) = ev.suite {
                    suites.insert(s.id, s.path.unwrap_or_default());
                }
            }
            "testStart" => {
                if let Some(t) = ev.test {
                    running.insert(
                        t.id,
                        Running {
                            file: t.suite_id.and_then(|id| suites.get(&id).cloned()),
                            name: t.name,
                            line: t.line,
                            skip_reason: t.metadata.and_then(|m| m.skip_reason),
                            started_ms: ev.time.unwrap_or(0.0),
                            output: String::new(),
                            errors: Vec::new(),
                        },
                    );
                }
            }
            "print" => {
                if let (Some(t), Some(m)) =
                    (ev.test_id.and_then(|id| running.get_mut(&id)), ev.message)
                {
                    if t.output.len() < OUTPUT_BYTES {
                        t.output.push_str(&m);
                        t.output.push('\n');
                    }
                }
            }
            "error" => {
                if let Some(t) = ev.test_id.and_then(|id| running.get_mut(&id)) {
                    t.errors
                        .push((ev.error.unwrap_or_default(), ev.stack_trace));
                }
            }
            "testDone" => {
                let Some(t) = ev.test_id.and_then(|id| running.remove(&id)) else {
                    continue;
                };
                let status = match (ev.result.as_deref(), ev.skipped) {
                    (Some("success"), true) => Status::Skipped,
                    (Some("success"), false) => Status::Passed,
                    (Some("failure"), _) => Status::Failed,
                    _ => Status::Error,
                };
                if ev.hidden && status == Status::Passed {
                    continue;
                }
                let duration = (ev.time.unwrap_or(t.started_ms) - t.started_ms).max(0.0);
                ctx.emit(finished(t, status, duration.round() as u64));
            }
            _ => {}
        }
    }
    if events == 0 {
        return Err(ParseError::new(
            ErrorKind::Malformed,
            None,
            "no Dart test events found",
        ));
    }
    let mut unfinished: Vec<(u64, Running)> = running.into_iter().collect();
    unfinished.sort_by_key(|(id, _)| *id);
    for (_, mut t) in unfinished {
        t.errors.push((
            "the test started and never reported a result".to_string(),
            None,
        ));
        ctx.emit(finished(t, Status::Error, 0));
    }
    Ok(())
}

fn finished(t: Running, status: Status, duration_ms: u64) -> TestCase {
    let mut attempt = Attempt::new(status, duration_ms);
    if let Some((error, stack)) = t.errors.first() {
        attempt.message = first_line(error);
        attempt.details = Some(match stack {
            Some(s) => format!("{error}\n{s}"),
            None => error.clone(),
        });
    } else if status == Status::Skipped {
        attempt.message = t.skip_reason;
    }
    attempt.stdout = (!t.output.is_empty()).then_some(t.output);
    TestCase {
        name: t.name,
        file: t.file,
        line: t.line,
        attempts: vec![attempt],
        ..TestCase::default()
    }
}
