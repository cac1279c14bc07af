//! One test of a project, as its page shows it: identity, owner and tags from its newest
//! result, when it was first seen, its last status, since when it fails, its flake rate and
//! why it is flaky.

use crate::cache::cache;
use crate::compare::streak_json;
use crate::flakiness::{reasons, Reason};
use crate::history::{recent, Recent};
use crate::params::{Query, Window};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json, Value};
use verdict_http::{json, rfc3339, ApiError};
use verdict_store::{now_ms, streak, Granularity, ProjectName, RunFilter, RunKey, RunRef, Store};

/// The newest runs read for the test's recent results: its last status and streak.
const RECENT_RUNS: usize = 500;

/// `GET /v1/tests/{test_id}?branch=&window=`: the newest [`RECENT_RUNS`] runs (of the branch)
/// and the test's result in each ([`Store::results_in_runs`]), for its last status and streak;
/// its duration rollups over the window's days, for its runs and flake rate there, exact at any
/// number of runs; one GetItem of its newest result and one of where it was first seen. A test
/// in none of those runs is named by the newest run of the window that ran it (and has no
/// streak); one in neither is not found.
pub(crate) async fn test_page(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
    test_id: &str,
) -> Result<Response<Body>, ApiError> {
    let window = Window::of(q)?;
    let since = Granularity::Day.start(window.since_ms);
    let branch = q.get("branch");
    let filter = RunFilter {
        branch: branch.clone(),
        ..RunFilter::default()
    };
    let ids = [test_id.to_string()];
    let (recent, tally) =
        tokio::try_join!(recent(store, project, &ids, &filter, RECENT_RUNS), async {
            let tally = store.test_tally(project, branch.as_deref(), test_id, since, now_ms());
            tally.await.map_err(ApiError::from)
        },)?;
    let Recent { more, results, .. } = recent;
    let recent = results.into_iter().next().unwrap_or_default();
    let not_found = || ApiError::not_found(format!("test {test_id}"));
    let (last_run, last_seen) = match (recent.first(), &tally) {
        (Some(row), _) => (row.run_key.clone(), row.created_ms),
        (None, Some(tally)) => (tally.newest_run.clone(), tally.newest_created_ms),
        (None, None) => return Err(not_found()),
    };
    let first = store.first_seen(project, test_id).await?;
    let run = RunRef {
        project: project.clone(),
        run_key: RunKey::parse(&last_run).map_err(|e| ApiError::invalid("run_key", e))?,
    };
    let result = store
        .get_result(&run, test_id)
        .await?
        .map(|(result, _)| result)
        .ok_or_else(not_found)?;
    let since_streak = streak(&recent, !more).map(|s| streak_json(&s));
    let flaky_reasons: Vec<Value> = tally
        .as_ref()
        .map(|t| reasons(t).iter().map(Reason::to_json).collect())
        .unwrap_or_default();
    let flip_rate = tally
        .as_ref()
        .and_then(|t| t.flips.as_ref())
        .map(|f| f.flip_rate());
    let tally = tally.map(|t| t.tally).unwrap_or_default();
    let flake_rate = (tally.runs > 0)
        .then(|| (tally.flaky_runs as f64 * 1000.0 / tally.runs as f64).round() / 1000.0);
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
        "last_run_id": last_run,
        "last_seen": rfc3339(last_seen),
        "last_status": result.status.as_str(),
        "last_message": result.message,
        "failing_since": since_streak,
        "window_days": window.days(),
        "window_since": rfc3339(since),
        "window_runs": tally.runs,
        "window_flaky_runs": tally.flaky_runs,
        "flake_rate": flake_rate,
        "flip_rate": flip_rate.unwrap_or(0.0),
        "flaky_reasons": flaky_reasons,
    });
    Ok(cache(json(StatusCode::OK, &body), 30))
}
