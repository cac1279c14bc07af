//! The runs of a project: the listing, one run's page, and the statistics over a window.

use crate::cache::cache;
use crate::compare::{compared, counts_json, COMPARED_IN_PASSING};
use crate::pages::fill_page;
use crate::params::{limit, parse_time, Query, Window};
use crate::present::{page_json, run_header_json, run_json};
use crate::tallies::{ratio, total, window_start, window_tallies};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;
use verdict_http::present::{file_json, summary_json};
use verdict_http::{json, rfc3339, ApiError};
use verdict_model::Trigger;
use verdict_store::{now_ms, ProjectName, RunFilter, RunRef, RunStatus, Store};

/// `GET /v1/runs`: newest first, by branch, trigger and time.
pub(crate) async fn runs(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let trigger = q
        .get("trigger")
        .map(|t| {
            Trigger::parse(&t).ok_or_else(|| {
                ApiError::invalid(
                    "trigger",
                    "must be ci, local, schedule, install, update, manual or validation",
                )
            })
        })
        .transpose()?;
    let status = q
        .get("status")
        .map(|s| {
            RunStatus::parse(&s)
                .ok_or_else(|| ApiError::invalid("status", "must be passed, failed or pending"))
        })
        .transpose()?;
    let filter = &RunFilter {
        branch: q.get("branch"),
        trigger,
        since_ms: q
            .get("since")
            .map(|s| parse_time("since", &s))
            .transpose()?,
        before_ms: None,
        status,
    };
    let page = fill_page(limit(q)?, q.start()?, |start, remaining| async move {
        store
            .list_runs(project, filter, remaining, start.as_ref())
            .await
    })
    .await?;
    let items = page.items.iter().map(run_json).collect();
    Ok(cache(
        json(StatusCode::OK, &page_json(items, q.seal(page.next))),
        5,
    ))
}

/// `GET /v1/runs/{run}`: the run, its summary and its files.
pub(crate) async fn run_detail(store: &Store, run: &RunRef) -> Result<Response<Body>, ApiError> {
    let found = store
        .get_run(run)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {}", run.run_key)))?;
    let files = store.list_files(run).await?;
    // Against its default base, once every file settled (while files are still being ingested
    // the comparison would change with each); for large runs once `/compare` made it.
    let compared = match found.status() {
        RunStatus::Pending => None,
        _ => compared(store, &found, None, COMPARED_IN_PASSING).await?,
    };
    let body = json!({
        "run": run_header_json(&found),
        "summary": summary_json(&found.summary),
        "files": files.iter().map(file_json).collect::<Vec<_>>(),
        "compare": compared.as_ref().map(counts_json),
    });
    Ok(cache(json(StatusCode::OK, &body), 5))
}

/// `GET /v1/stats`: how the runs of a window went, from its rollups; the newest run from
/// the runs index.
pub(crate) async fn stats(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let window = Window::of(q)?;
    let branch = q.get("branch");
    let tallies = window_tallies(store, project, branch.as_deref(), window.since_ms);
    let filter = &RunFilter {
        branch: branch.clone(),
        since_ms: Some(window_start(window.since_ms)),
        ..RunFilter::default()
    };
    let last = store.list_runs(project, filter, 1, None);
    let (tallies, last) = futures_util::future::join(tallies, last).await;
    let sum = total(tallies?.iter().map(|(_, t)| t));
    let body = json!({
        "window_days": window.days(),
        "since": rfc3339(window_start(window.since_ms)),
        "runs": sum.runs,
        "passed_runs": sum.passed_runs,
        "failed_runs": sum.failed_runs,
        "pending_runs": sum.pending_runs,
        "pass_rate": ratio(sum.passed_runs, sum.passed_runs + sum.failed_runs),
        "mean_test_duration_ms": if sum.runs > 0 { sum.duration_ms / sum.runs } else { 0 },
        "mean_test_pass_rate": sum.mean_pass_rate(),
        "last_run": last?.items.first().map(run_json),
    });
    Ok(cache(json(StatusCode::OK, &body), 30))
}

/// `GET /v1/stats/passing`: whether the newest settled run of the last hours passed.
pub(crate) async fn passing(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let hours: u64 = match q.get("hours") {
        None => 24,
        Some(h) => h
            .parse()
            .ok()
            .filter(|h| (1..=24 * 90).contains(h))
            .ok_or_else(|| ApiError::invalid("hours", "must be 1 to 2160"))?,
    };
    let filter = &RunFilter {
        branch: q.get("branch"),
        since_ms: Some(now_ms().saturating_sub(hours * 3_600_000)),
        ..RunFilter::default()
    };
    let latest = store.newest_settled(project, filter).await?;
    let body = json!({
        "hours": hours,
        "passing": latest.as_ref().map(|r| r.status() == RunStatus::Passed),
        "run": latest.as_ref().map(run_json),
    });
    Ok(cache(json(StatusCode::OK, &body), 5))
}
