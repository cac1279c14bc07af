//! Mocha's `json` reporter: `{stats, tests, pending, failures, passes}`.
//!
//! Every test is in exactly one of `passes`, `failures` and `pending` (which `tests` repeats
//! without saying which), so those three arrays are read and `tests` is not. A failure whose
//! title names a hook (`"before all" hook for "x"`) is not a test: it becomes an `error` result
//! under that title, since the tests it guarded never ran and appear nowhere else.
//! `currentRetry` is how many times the test was retried (`this.retries(n)`): that many failed
//! attempts come before the final one. The name is `fullTitle` (the describe path and title,
//! joined with spaces, as Mocha writes it); colour codes in messages are removed.

use crate::input::Input;
use crate::json::{for_each_in, ms};
use crate::{ansi, Ctx, ParseError};
use serde::Deserialize;
use verdict_model::{Attempt, Status, TestCase};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MochaTest {
    title: String,
    #[serde(default)]
    full_title: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    current_retry: u32,
    #[serde(default)]
    err: Option<MochaError>,
}

#[derive(Deserialize, Default)]
struct MochaError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    stack: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// The arrays read, in the order of [`status_of`].
const ARRAYS: [&[&str]; 3] = [&["passes"], &["failures"], &["pending"]];

fn status_of(which: usize, t: &MochaTest) -> Status {
    match which {
        0 => Status::Passed,
        1 if is_hook(&t.title) => Status::Error,
        1 => Status::Failed,
        _ => Status::Skipped,
    }
}

fn is_hook(title: &str) -> bool {
    title.starts_with("\"before") || title.starts_with("\"after")
}

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    for_each_in(input, "Mocha JSON", &ARRAYS, |which, t: MochaTest| {
        let status = status_of(which, &t);
        let mut attempts: Vec<Attempt> = (0..t.current_retry)
            .map(|_| Attempt::new(Status::Failed, 0))
            .collect();
        let mut last = Attempt::new(status, t.duration.map_or(0, ms));
        if status.is_failure() {
            let err = t.err.unwrap_or_default();
            ansi::set_error(&mut last, err.message, err.stack);
            last.failure_type = err.name;
        }
        attempts.push(last);
        ctx.emit(TestCase {
            name: t.full_title.unwrap_or(t.title),
            file: t.file,
            attempts,
            ..TestCase::default()
        });
        Ok(())
    })?;
    Ok(())
}
