//! Playwright Test's JSON reporter: `suites[]` (one per spec file), nested `suites[]` for
//! `describe` blocks, `specs[]` (one per test in the source), each with `tests[]` (one per
//! project it ran in) and their `results[]` (one per attempt).
//!
//! - A test is a spec in a project: the name is the describe path and the title joined with
//!   ` › `, as Playwright prints it, followed by ` [project]` when the project has a name, so
//!   the same spec in two projects is two tests (the brackets make the project the test's
//!   parameters).
//! - Each result is an attempt: `passed`; `failed` and `timedOut` fail; `skipped`;
//!   `interrupted` (the run was stopped) is an error. A test that expects to fail
//!   (`test.fail()`, `expectedStatus: "failed"`) is xfailed when it fails and xpassed when it
//!   passes. Retries give several results: a failure, then a pass, is flaky.
//! - Errors outside any test (top-level `errors[]`: a spec file that does not load) become
//!   `error` results named `[load error]` in the file they point at.
//! - Colour codes in messages are removed.

use crate::input::Input;
use crate::json::{for_each_in, ms};
use crate::{ansi, Ctx, ParseError};
use serde::Deserialize;
use verdict_model::{Attempt, Status, TestCase};

/// A suite, or (in `errors[]`) an error: both read as this one shape.
#[derive(Deserialize, Default)]
struct Node {
    #[serde(default)]
    title: String,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    specs: Vec<Spec>,
    #[serde(default)]
    suites: Vec<Node>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    stack: Option<String>,
    #[serde(default)]
    location: Option<Location>,
}

#[derive(Deserialize)]
struct Location {
    file: Option<String>,
    line: Option<u32>,
}

#[derive(Deserialize)]
struct Spec {
    title: String,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    tests: Vec<PwTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PwTest {
    #[serde(default)]
    expected_status: Option<String>,
    #[serde(default)]
    project_name: Option<String>,
    #[serde(default)]
    results: Vec<PwResult>,
}

#[derive(Deserialize)]
struct PwResult {
    status: String,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    error: Option<PwError>,
    #[serde(default)]
    stdout: Vec<Output>,
    #[serde(default)]
    stderr: Vec<Output>,
}

#[derive(Deserialize)]
struct PwError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    stack: Option<String>,
}

/// Captured output: `{"text": …}`, or `{"buffer": base64}` for binary output (not kept).
#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    text: Option<String>,
}

const LOAD_ERROR: &str = "[load error]";

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    for_each_in(
        input,
        "Playwright JSON",
        &[&["suites"], &["errors"]],
        |which, node: Node| {
            if which == 0 {
                suite(&node, &mut Vec::new(), ctx);
            } else {
                ctx.emit(load_error(node));
            }
            Ok(())
        },
    )?;
    Ok(())
}

/// Emits the tests of `node` and of the suites inside it. `path` holds the describe titles
/// above it (the outermost suite is the file, whose title is not part of the name).
fn suite<'a>(node: &'a Node, path: &mut Vec<&'a str>, ctx: &mut Ctx<'_>) {
    for spec in &node.specs {
        for test in &spec.tests {
            let case = test_case(node, spec, test, path, ctx);
            ctx.emit(case);
        }
    }
    for child in &node.suites {
        path.push(&child.title);
        suite(child, path, ctx);
        path.pop();
    }
}

fn test_case(
    node: &Node,
    spec: &Spec,
    test: &PwTest,
    path: &[&str],
    ctx: &mut Ctx<'_>,
) -> TestCase {
    let expects_failure = test.expected_status.as_deref() == Some("failed");
    let attempts = test
        .results
        .iter()
        .map(|r| attempt(r, expects_failure, ctx))
        .collect();
    let mut name: Vec<&str> = path.to_vec();
    name.push(&spec.title);
    let mut name = name.join(" › ");
    if let Some(project) = test.project_name.as_deref().filter(|p| !p.is_empty()) {
        name = format!("{name} [{project}]");
    }
    TestCase {
        suite: path.iter().map(|s| s.to_string()).collect(),
        name,
        file: spec.file.clone().or_else(|| node.file.clone()),
        line: spec.line,
        tags: spec
            .tags
            .iter()
            .map(|t| t.trim_start_matches('@').to_string())
            .collect(),
        attempts,
        ..TestCase::default()
    }
}

fn attempt(r: &PwResult, expects_failure: bool, ctx: &mut Ctx<'_>) -> Attempt {
    let status = match (r.status.as_str(), expects_failure) {
        ("passed", false) => Status::Passed,
        ("passed", true) => Status::Xpassed,
        ("failed" | "timedOut", false) => Status::Failed,
        ("failed" | "timedOut", true) => Status::Xfailed,
        ("skipped", _) => Status::Skipped,
        ("interrupted", _) => Status::Error,
        (other, _) => {
            ctx.warn(
                None,
                format!("a result has status {other:?}, counted as an error"),
            );
            Status::Error
        }
    };
    let mut a = Attempt::new(status, r.duration.map_or(0, ms));
    if let Some(e) = &r.error {
        ansi::set_error(&mut a, e.message.clone(), e.stack.clone());
    }
    if r.status == "timedOut" && a.message.is_none() {
        a.message = Some("timed out".to_string());
    }
    a.stdout = joined(&r.stdout);
    a.stderr = joined(&r.stderr);
    a
}

fn joined(output: &[Output]) -> Option<String> {
    let text: String = output.iter().filter_map(|o| o.text.as_deref()).collect();
    (!text.is_empty()).then(|| ansi::strip(text))
}

fn load_error(e: Node) -> TestCase {
    let mut a = Attempt::new(Status::Error, 0);
    ansi::set_error(&mut a, e.message, e.stack);
    let (file, line) = e.location.map_or((None, None), |l| (l.file, l.line));
    TestCase {
        name: LOAD_ERROR.to_string(),
        file,
        line,
        attempts: vec![a],
        ..TestCase::default()
    }
}
