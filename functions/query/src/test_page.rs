//! One test of a project, as its page shows it: identity, owner and tags from its newest
//! result, when it was first seen, its last status, since when it fails, its flake rate.

use crate::cache::cache;
use crate::compare::streak_json;
use crate::history::{recent, Recent};
use crate::params::{Query, Window};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;
use verdict_http::{json, rfc3339, ApiError};
use verdict_model::Status;
use verdict_store::{streak, ProjectName, RunFilter, RunKey, RunRef, Store, TestRow};

/// The newest runs read for the test's recent results: its last status, streak and flake rate.
const RECENT_RUNS: usize = 500;

/// `GET /v1/tests/{test_id}?branch=&window=`: the newest [`RECENT_RUNS`] runs (of the branch),
/// the test's result in each ([`Store::results_in_runs`]), one GetItem of its newest result and
/// one of where it was first seen. A test in none of those runs is not found.
pub(crate) async fn test_page(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
    test_id: &str,
) -> Result<Response<Body>, ApiError> {
    let window = Window::of(q)?;
    let filter = RunFilter {
        branch: q.get("branch"),
        ..RunFilter::default()
    };
    let Recent {
        runs,
        more,
        results,
    } = recent(store, project, &[test_id.to_string()], &filter, RECENT_RUNS).await?;
    let recent = results.into_iter().next().unwrap_or_default();
    let not_found = || ApiError::not_found(format!("test {test_id}"));
    let newest = recent.first().ok_or_else(not_found)?;
    let first = store.first_seen(project, test_id).await?;
    let run = RunRef {
        project: project.clone(),
        run_key: RunKey::parse(&newest.run_key).map_err(|e| ApiError::invalid("run_key", e))?,
    };
    let result = store
        .get_result(&run, test_id)
        .await?
        .map(|(result, _)| result)
        .ok_or_else(not_found)?;
    let window_complete = !more || runs.last().is_some_and(|r| r.created_ms < window.since_ms);
    let windowed: Vec<&TestRow> = recent
        .iter()
        .filter(|r| r.created_ms >= window.since_ms)
        .collect();
    let since = streak(&recent, !more).map(|s| streak_json(&s));
    let ran: Vec<_> = windowed
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
        "first_seen": first.as_ref().map(|f| rfc3339(f.created_ms)),
        "first_run_id": first.as_ref().map(|f| f.run_key.as_str()),
        "last_run_id": newest.run_key,
        "last_seen": rfc3339(newest.created_ms),
        "last_status": newest.status.as_str(),
        "last_message": result.message,
        "failing_since": since,
        "window_days": window.days(),
        "window_runs": ran.len(),
        "window_flaky_runs": flaky,
        "flake_rate": flake_rate,
        "window_complete": window_complete,
    });
    Ok(cache(json(StatusCode::OK, &body), 30))
}
