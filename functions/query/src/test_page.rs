//! One test of a project, as its page shows it: identity, owner and tags from its newest
//! result, when it was first seen, its last status, since when it fails, its flake rate.

use crate::cache::cache;
use crate::compare::streak_json;
use crate::params::{Query, Window};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;
use verdict_http::{json, rfc3339, ApiError};
use verdict_model::Status;
use verdict_store::{streak, HistoryFilter, ProjectName, RunKey, RunRef, Store};

/// History rows read at most for the streak and for the flake rate.
const HISTORY_ROWS: i32 = 500;

/// `GET /v1/tests/{test_id}?branch=&window=`: three Queries of the test's history (newest
/// rows, the oldest row, the window's rows, each at most [`HISTORY_ROWS`]) and one GetItem of
/// its newest result.
pub(crate) async fn test_page(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
    test_id: &str,
) -> Result<Response<Body>, ApiError> {
    let window = Window::of(q)?;
    let branch = q.get("branch");
    let newest_first = HistoryFilter {
        branch: branch.clone(),
        ..HistoryFilter::default()
    };
    let recent = store
        .test_history(project, test_id, &newest_first, HISTORY_ROWS, None)
        .await?;
    let not_found = || ApiError::not_found(format!("test {test_id}"));
    let newest = recent.items.first().ok_or_else(not_found)?;
    let oldest_first = HistoryFilter {
        oldest_first: true,
        ..newest_first.clone()
    };
    let first = store
        .test_history(project, test_id, &oldest_first, 1, None)
        .await?;
    let in_window = HistoryFilter {
        since_ms: Some(window.since_ms),
        ..newest_first
    };
    let windowed = store
        .test_history(project, test_id, &in_window, HISTORY_ROWS, None)
        .await?;
    let run = RunRef {
        project: project.clone(),
        run_key: RunKey::parse(&newest.run_key).map_err(|e| ApiError::invalid("run_key", e))?,
    };
    let result = store
        .get_result(&run, test_id)
        .await?
        .map(|(result, _)| result)
        .ok_or_else(not_found)?;
    let since = streak(&recent.items, recent.next.is_none()).map(|s| streak_json(&s));
    let ran: Vec<_> = windowed
        .items
        .iter()
        .filter(|r| r.status != Status::Skipped)
        .collect();
    let flaky = ran.iter().filter(|r| r.flaky).count();
    let flake_rate =
        (!ran.is_empty()).then(|| (flaky as f64 * 1000.0 / ran.len() as f64).round() / 1000.0);
    let body = json!({
        "test_id": test_id,
        "suite": result.suite,
        "classname": result.classname,
        "name": result.name,
        "file": result.file,
        "line": result.line,
        "owner": result.owner,
        "tags": result.tags,
        "first_seen": first.items.first().map(|r| rfc3339(r.created_ms)),
        "first_run_id": first.items.first().map(|r| r.run_key.as_str()),
        "last_run_id": newest.run_key,
        "last_seen": rfc3339(newest.created_ms),
        "last_status": newest.status.as_str(),
        "last_message": result.message,
        "failing_since": since,
        "window_days": window.days(),
        "window_runs": ran.len(),
        "window_flaky_runs": flaky,
        "flake_rate": flake_rate,
        "window_complete": windowed.next.is_none(),
    });
    Ok(cache(json(StatusCode::OK, &body), 30))
}
