//! Common Test Report Format (CTRF) JSON: `results.tests[]`.
//!
//! Read leniently, as a consumer should: unknown properties are ignored (reporters add their
//! own), but what Verdict needs must be there and be right — `results.tests` an array, and per
//! test `name` (a string), `status` (one of `passed`, `failed`, `skipped`, `pending`, `other`)
//! and `duration` (milliseconds, a number). `pending` and `other` count as skipped.
//!
//! Attempts: `retryAttempts[]`, when given, are the earlier attempts, followed by the test's
//! own final result. Without them, `retries: N` on a test means N earlier failed attempts
//! (a retry only follows a failure).

use crate::input::Input;
use crate::json::{for_each_at, ms};
use crate::{Ctx, ParseError};
use serde::Deserialize;
use verdict_model::{Attempt, Status, TestCase};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CtrfTest {
    name: String,
    status: CtrfStatus,
    duration: f64,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    trace: Option<String>,
    #[serde(default)]
    suite: Option<SuitePath>,
    #[serde(default)]
    file_path: Option<String>,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    retries: Option<u32>,
    #[serde(default)]
    retry_attempts: Vec<CtrfAttempt>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    stdout: Vec<String>,
    #[serde(default)]
    stderr: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CtrfAttempt {
    status: CtrfStatus,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    trace: Option<String>,
    #[serde(default)]
    stdout: Vec<String>,
    #[serde(default)]
    stderr: Vec<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum CtrfStatus {
    Passed,
    Failed,
    Skipped,
    Pending,
    Other,
}

/// CTRF 0.x writes the suite as one string (`"a > b"`), 1.x as an array.
#[derive(Deserialize)]
#[serde(untagged)]
enum SuitePath {
    One(String),
    Many(Vec<String>),
}

impl CtrfStatus {
    fn status(self) -> Status {
        match self {
            CtrfStatus::Passed => Status::Passed,
            CtrfStatus::Failed => Status::Failed,
            CtrfStatus::Skipped | CtrfStatus::Pending | CtrfStatus::Other => Status::Skipped,
        }
    }
}

fn lines(v: &[String]) -> Option<String> {
    (!v.is_empty()).then(|| v.join("\n"))
}

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    for_each_at(input, "CTRF", &["results", "tests"], |t: CtrfTest| {
        let mut attempts: Vec<Attempt> = t
            .retry_attempts
            .into_iter()
            .map(|a| Attempt {
                message: a.message,
                details: a.trace,
                stdout: lines(&a.stdout),
                stderr: lines(&a.stderr),
                ..Attempt::new(a.status.status(), a.duration.map_or(0, ms))
            })
            .collect();
        if attempts.is_empty() {
            for _ in 0..t.retries.unwrap_or(0) {
                attempts.push(Attempt::new(Status::Failed, 0));
            }
        }
        attempts.push(Attempt {
            message: t.message,
            details: t.trace,
            stdout: lines(&t.stdout),
            stderr: lines(&t.stderr),
            ..Attempt::new(t.status.status(), ms(t.duration))
        });
        let suite = match t.suite {
            Some(SuitePath::One(s)) => s.split(" > ").map(str::to_string).collect(),
            Some(SuitePath::Many(v)) => v,
            None => Vec::new(),
        };
        ctx.emit(TestCase {
            suite,
            classname: String::new(),
            name: t.name,
            file: t.file_path,
            line: t.line,
            tags: t.tags,
            attempts,
            ..TestCase::default()
        });
        Ok(())
    })?;
    Ok(())
}
