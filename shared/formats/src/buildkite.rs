//! Buildkite Test Engine JSON: an array of tests (or `{"data": [...]}`) with `scope`, `name`,
//! `location`, `file_name`, `result`, `failure_reason`, `failure_expanded` and `history`.
//! `history` spans are kept whole on the result; its `duration` (seconds) is the duration.

use crate::input::Input;
use crate::json::for_each_at;
use crate::{Ctx, ParseError};
use serde::Deserialize;
use verdict_model::{Attempt, Status, TestCase};

#[derive(Deserialize)]
struct BuildkiteTest {
    #[serde(default)]
    scope: Option<String>,
    name: String,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    file_name: Option<String>,
    result: String,
    #[serde(default)]
    failure_reason: Option<String>,
    #[serde(default)]
    failure_expanded: Vec<Expanded>,
    #[serde(default)]
    history: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Expanded {
    #[serde(default)]
    expanded: Vec<String>,
    #[serde(default)]
    backtrace: Vec<String>,
}

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    let root_is_array = input.prefix().iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let path: &[&str] = if root_is_array { &[] } else { &["data"] };
    for_each_at(input, "Buildkite JSON", path, |t: BuildkiteTest| {
        let status = match t.result.as_str() {
            "passed" => Status::Passed,
            "failed" => Status::Failed,
            "skipped" | "pending" => Status::Skipped,
            other => return Err(format!("unknown Buildkite result {other:?}")),
        };
        let duration_ms = t
            .history
            .as_ref()
            .and_then(|h| h.get("duration"))
            .and_then(serde_json::Value::as_f64)
            .filter(|d| d.is_finite() && *d > 0.0)
            .map_or(0, |d| (d * 1000.0).round() as u64);
        let details: Vec<String> = t
            .failure_expanded
            .into_iter()
            .flat_map(|e| e.expanded.into_iter().chain(e.backtrace))
            .collect();
        let (loc_file, line) = match t.location.as_deref().and_then(|l| l.rsplit_once(':')) {
            Some((f, l)) => (Some(f.to_string()), l.parse().ok()),
            None => (t.location.clone(), None),
        };
        ctx.emit(TestCase {
            suite: Vec::new(),
            classname: t.scope.unwrap_or_default(),
            name: t.name,
            file: t.file_name.or(loc_file),
            line,
            spans: t.history,
            attempts: vec![Attempt {
                message: t.failure_reason,
                details: (!details.is_empty()).then(|| details.join("\n")),
                ..Attempt::new(status, duration_ms)
            }],
            ..TestCase::default()
        });
        Ok(())
    })?;
    Ok(())
}
