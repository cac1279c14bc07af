//! Jest `--json` and Vitest `--reporter=json`: `testResults[]` (one per test file), each with
//! `assertionResults[]` (one per test).
//!
//! - A test is the file (`testResults[].name`) and its describe path and title; the name is
//!   `ancestorTitles` and `title` joined with ` › `, as the runners print it.
//! - Statuses: `passed`, `failed`; `pending`, `skipped`, `disabled` and `todo` are skipped
//!   (`todo` with the message "todo"); anything else is skipped with a warning.
//! - Retries (`jest.retryTimes`, Vitest's `retry`): Jest writes `invocations`, the number of
//!   attempts, and `retryReasons`, the earlier failures' messages; Vitest writes no count, but
//!   a passing test's `failureMessages` are its failed attempts. So with `invocations` the test
//!   made that many attempts, all failed but the last unless it failed too; without it (Vitest)
//!   a passing test with messages was flaky, and a failing test is one failed attempt (Vitest's
//!   report cannot say how often a failing test was retried).
//! - A test file that failed to run (a syntax error, a missing import) has no assertion
//!   results, a `failed` status and a `message`: it becomes one `error` result named
//!   `[test file]`, so the failure is never silent.
//! - Colour codes in messages are removed.

use crate::input::Input;
use crate::json::for_each_at;
use crate::{ansi, first_line, Ctx, ParseError};
use serde::Deserialize;
use verdict_model::{Attempt, Status, TestCase};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestFile {
    name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    assertion_results: Vec<Assertion>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Assertion {
    #[serde(default)]
    ancestor_titles: Vec<String>,
    title: String,
    status: String,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    failure_messages: Vec<String>,
    #[serde(default)]
    invocations: Option<u32>,
    #[serde(default)]
    retry_reasons: Vec<String>,
    #[serde(default)]
    location: Option<Location>,
}

#[derive(Deserialize)]
struct Location {
    line: Option<u32>,
}

/// The name of the result a test file that failed to run becomes.
const FILE_FAILED: &str = "[test file]";

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    for_each_at(
        input,
        "Jest/Vitest JSON",
        &["testResults"],
        |file: TestFile| {
            if file.assertion_results.is_empty() {
                let message = file
                    .message
                    .map(ansi::strip)
                    .filter(|m| !m.trim().is_empty());
                if file.status.as_deref() == Some("failed") || message.is_some() {
                    ctx.emit(file_failure(&file.name, message));
                }
                return Ok(());
            }
            for a in file.assertion_results {
                let case = test_case(&file.name, a, ctx);
                ctx.emit(case);
            }
            Ok(())
        },
    )?;
    Ok(())
}

fn test_case(file: &str, a: Assertion, ctx: &mut Ctx<'_>) -> TestCase {
    let (status, todo) = match a.status.as_str() {
        "passed" => (Status::Passed, false),
        "failed" => (Status::Failed, false),
        "pending" | "skipped" | "disabled" => (Status::Skipped, false),
        "todo" => (Status::Skipped, true),
        other => {
            ctx.warn(
                None,
                format!(
                    "test {:?} has status {other:?}, counted as skipped",
                    a.title
                ),
            );
            (Status::Skipped, false)
        }
    };
    let messages: Vec<String> = a.failure_messages.into_iter().map(ansi::strip).collect();
    let mut attempts = Vec::new();
    let final_messages = match a.invocations {
        Some(n) => {
            let reasons: Vec<String> = a.retry_reasons.into_iter().map(ansi::strip).collect();
            for i in 0..n.saturating_sub(1) as usize {
                attempts.push(failed_attempt(reasons.get(i..=i).unwrap_or_default()));
            }
            messages
        }
        None if status == Status::Passed => {
            attempts.extend(messages.chunks(1).map(failed_attempt));
            Vec::new()
        }
        None => messages,
    };
    let mut last = with_messages(
        Attempt::new(status, a.duration.map_or(0, crate::json::ms)),
        &final_messages,
    );
    if todo {
        last.message = Some("todo".to_string());
    }
    attempts.push(last);
    let mut path = a.ancestor_titles;
    path.push(a.title);
    TestCase {
        name: path.join(" › "),
        suite: path[..path.len() - 1].to_vec(),
        file: Some(file.to_string()),
        line: a.location.and_then(|l| l.line),
        attempts,
        ..TestCase::default()
    }
}

fn failed_attempt(messages: &[String]) -> Attempt {
    with_messages(Attempt::new(Status::Failed, 0), messages)
}

/// The first line of the first message says what failed; all of them are the details.
fn with_messages(mut attempt: Attempt, messages: &[String]) -> Attempt {
    if messages.is_empty() {
        return attempt;
    }
    attempt.message = first_line(&messages[0]);
    attempt.details = Some(messages.join("\n\n"));
    attempt
}

fn file_failure(file: &str, message: Option<String>) -> TestCase {
    let mut attempt = Attempt::new(Status::Error, 0);
    if let Some(m) = message {
        // Jest heads the text with "● Test suite failed to run"; the line after says why.
        attempt.message = m
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.contains("Test suite failed to run"))
            .map(str::to_string)
            .next();
        attempt.details = Some(m);
    }
    TestCase {
        name: FILE_FAILED.to_string(),
        file: Some(file.to_string()),
        attempts: vec![attempt],
        ..TestCase::default()
    }
}
