//! `go test -json` (test2json) streams.
//!
//! Each `(Package, Test)` is a test; subtests (`TestA/case`) are tests of their own, as go's
//! own tools count them. Lines that are not JSON (build output mixed into the stream) are
//! skipped. Output lines become the test's stdout; the lines that are not `=== RUN`-style
//! framing become the failure or skip message. A test that starts and never reports a result
//! (the binary crashed or timed out) is an error; so is a package that fails with no failing
//! test (a build failure, a panic in `TestMain`), named `[package]`, so no failure is silent.

use crate::input::Input;
use crate::{Ctx, ParseError, Position};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use verdict_model::{Attempt, Status, TestCase};

/// Output kept per running test or package; the model caps what it stores further.
const OUTPUT_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Event {
    action: String,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    import_path: Option<String>,
    #[serde(default)]
    test: Option<String>,
    #[serde(default)]
    elapsed: Option<f64>,
    #[serde(default)]
    output: Option<String>,
}

#[derive(Default)]
struct Running {
    output: String,
}

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    let mut running: HashMap<(String, String), Running> = HashMap::new();
    let mut package_output: HashMap<String, String> = HashMap::new();
    let mut failed_packages_with_failed_test: HashSet<String> = HashSet::new();
    let mut events = 0u64;
    let mut bad_lines = 0u64;

    for line in input.lines() {
        let (number, line) = line?;
        let l = line.trim();
        if !l.starts_with('{') {
            continue;
        }
        let ev: Event = match serde_json::from_str(l) {
            Ok(ev) => ev,
            Err(e) => {
                bad_lines += 1;
                ctx.warn(
                    Some(Position::line(number)),
                    format!("not a test2json event: {e}"),
                );
                continue;
            }
        };
        events += 1;
        let package = ev.package.or(ev.import_path).unwrap_or_default();
        match (ev.action.as_str(), ev.test) {
            ("run", Some(test)) => {
                running.entry((package, test)).or_default();
            }
            ("output", Some(test)) => {
                let out = &mut running.entry((package, test)).or_default().output;
                append(out, ev.output.as_deref().unwrap_or(""));
            }
            ("output" | "build-output", None) => {
                append(
                    package_output.entry(package).or_default(),
                    ev.output.as_deref().unwrap_or(""),
                );
            }
            (result @ ("pass" | "fail" | "skip"), Some(test)) => {
                let r = running
                    .remove(&(package.clone(), test.clone()))
                    .unwrap_or_default();
                let status = match result {
                    "pass" => Status::Passed,
                    "fail" => Status::Failed,
                    _ => Status::Skipped,
                };
                if status == Status::Failed {
                    failed_packages_with_failed_test.insert(package.clone());
                }
                emit(ctx, package, test, status, ev.elapsed, r.output);
            }
            ("fail" | "build-fail", None)
                if !failed_packages_with_failed_test.contains(&package) =>
            {
                let out = package_output.remove(&package).unwrap_or_default();
                emit(
                    ctx,
                    package.clone(),
                    "[package]".to_string(),
                    Status::Error,
                    ev.elapsed,
                    out,
                );
                failed_packages_with_failed_test.insert(package);
            }
            ("pass" | "skip", None) => {
                package_output.remove(&package);
            }
            _ => {}
        }
    }
    if events == 0 {
        return Err(ParseError::new(
            crate::ErrorKind::Malformed,
            None,
            format!("no test2json events found ({bad_lines} lines looked like JSON but were not events)"),
        ));
    }
    let mut unfinished: Vec<_> = running.into_iter().collect();
    unfinished.sort_by(|a, b| a.0.cmp(&b.0));
    for ((package, test), r) in unfinished {
        let mut output = r.output;
        output.push_str("\n[verdict] the test started but reported no result: the test binary crashed, timed out or the stream was cut");
        emit(ctx, package, test, Status::Error, None, output);
    }
    Ok(())
}

fn append(dst: &mut String, s: &str) {
    if dst.len() < OUTPUT_BYTES {
        dst.push_str(s);
    }
}

fn emit(
    ctx: &mut Ctx<'_>,
    package: String,
    test: String,
    status: Status,
    elapsed: Option<f64>,
    output: String,
) {
    let duration_ms = elapsed
        .filter(|e| e.is_finite() && *e > 0.0)
        .map_or(0, |e| (e * 1000.0).round() as u64);
    let mut attempt = Attempt::new(status, duration_ms);
    if status != Status::Passed {
        let message: Vec<&str> = output
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                !(t.starts_with("=== ") || t.starts_with("--- ") || t.is_empty())
            })
            .collect();
        attempt.message = (!message.is_empty()).then(|| message.join("\n").trim().to_string());
    }
    attempt.stdout = (!output.is_empty()).then_some(output);
    ctx.emit(TestCase {
        classname: package,
        name: test,
        attempts: vec![attempt],
        ..TestCase::default()
    });
}
