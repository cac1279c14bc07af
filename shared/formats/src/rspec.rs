//! RSpec `--format json`: `examples[]`.
//!
//! - A test is `file_path` and `full_description` (the example group descriptions and the
//!   example's own, joined with spaces, as RSpec prints them); `id` (`./spec/x_spec.rb[1:2]`)
//!   is not used, since it changes when an example is added above.
//! - `passed`, `failed`; `pending` is skipped (`skip`, `xit`, and `pending` whose body failed
//!   as expected), with `pending_message` as the message. RSpec reports a `pending` example
//!   whose body passed as `failed` ("Expected example to fail since it is pending, but it
//!   passed."), which stays failed.
//! - `exception`: `class` is the failure type, `message` the message, `backtrace` the details.
//! - `run_time` is seconds.

use crate::input::Input;
use crate::json::{for_each_at, seconds};
use crate::{first_line, Ctx, ParseError};
use serde::Deserialize;
use verdict_model::{Attempt, Status, TestCase};

#[derive(Deserialize)]
struct Example {
    #[serde(default)]
    description: String,
    #[serde(default)]
    full_description: Option<String>,
    status: String,
    #[serde(default)]
    file_path: Option<String>,
    #[serde(default)]
    line_number: Option<u32>,
    #[serde(default)]
    run_time: Option<f64>,
    #[serde(default)]
    pending_message: Option<String>,
    #[serde(default)]
    exception: Option<Exception>,
}

#[derive(Deserialize)]
struct Exception {
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    backtrace: Option<Vec<String>>,
}

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    for_each_at(input, "RSpec JSON", &["examples"], |e: Example| {
        let status = match e.status.as_str() {
            "passed" => Status::Passed,
            "failed" => Status::Failed,
            "pending" => Status::Skipped,
            other => {
                ctx.warn(
                    None,
                    format!(
                        "example {:?} has status {other:?}, counted as skipped",
                        e.description
                    ),
                );
                Status::Skipped
            }
        };
        let mut attempt = Attempt::new(status, e.run_time.map_or(0, seconds));
        if let Some(x) = e.exception.filter(|_| status.is_failure()) {
            attempt.failure_type = x.class;
            attempt.message = x.message.as_deref().and_then(first_line);
            let backtrace = x.backtrace.unwrap_or_default().join("\n");
            attempt.details = match (x.message, backtrace.is_empty()) {
                (Some(m), false) => Some(format!("{}\n{backtrace}", m.trim())),
                (Some(m), true) => Some(m),
                (None, false) => Some(backtrace),
                (None, true) => None,
            };
        } else if status == Status::Skipped {
            attempt.message = e.pending_message;
        }
        ctx.emit(TestCase {
            name: e.full_description.unwrap_or(e.description),
            file: e.file_path,
            line: e.line_number,
            attempts: vec![attempt],
            ..TestCase::default()
        });
        Ok(())
    })?;
    Ok(())
}
