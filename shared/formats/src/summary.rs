//! The plain summary some runners print instead of a report:
//!
//! ```text
//! Total Tests: 12
//!      Passed: 10
//!      Failed: 1
//!     Skipped: 1
//! ```
//!
//! (also `Failed!  - Failed: 1, Passed: 10, Skipped: 1, Total: 12` on one line). It names no
//! tests, so each counted test becomes a result named `passed #1`, `failed #1`, … in the class
//! `(summary)`: the counts add up everywhere else in Verdict, and nobody mistakes them for real
//! test names. A total larger than the counts is a warning; no counts at all is an error.

use crate::input::Input;
use crate::{Ctx, ErrorKind, ParseError, Position};
use verdict_model::{Attempt, Status, TestCase};

/// Whether a line carries the total this format starts from.
pub(crate) fn is_total_line(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.starts_with("total tests:") || lower.contains(", total:") || lower.starts_with("total:")
}

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    let mut total: Option<(u64, u64)> = None;
    let mut counts: Vec<(Status, u64)> = Vec::new();
    for line in input.lines() {
        let (number, line) = line?;
        for part in line.split(',') {
            let part = part.rsplit(" - ").next().unwrap_or(part);
            let Some((key, value)) = part.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let Ok(n) = value.split_whitespace().next().unwrap_or("").parse::<u64>() else {
                continue;
            };
            let status = match key.as_str() {
                "total tests" | "total" => {
                    total = Some((n, number));
                    continue;
                }
                "passed" => Status::Passed,
                "failed" => Status::Failed,
                "errors" | "error" => Status::Error,
                "skipped" | "ignored" | "not executed" => Status::Skipped,
                _ => continue,
            };
            counts.push((status, n));
        }
    }
    if counts.is_empty() {
        return Err(ParseError::new(
            ErrorKind::Malformed,
            None,
            "a summary without any `Passed:`, `Failed:` or `Skipped:` count",
        ));
    }
    let counted: u64 = counts.iter().map(|(_, n)| n).sum();
    if let Some((total, line)) = total {
        if total != counted {
            ctx.warn(
                Some(Position::line(line)),
                format!("the total says {total} tests but the counts add up to {counted}"),
            );
        }
    }
    for (status, n) in counts {
        for i in 1..=n {
            ctx.emit(TestCase {
                classname: "(summary)".to_string(),
                name: format!("{status} #{i}"),
                attempts: vec![Attempt::new(status, 0)],
                ..TestCase::default()
            });
        }
    }
    Ok(())
}
