//! One test across the runs of its project.

use crate::cache::cache;
use crate::pages::all_pages;
use crate::params::{limit, Query};
use crate::present::{history_json, page_json};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use verdict_http::{json, ApiError};
use verdict_store::{ProjectName, RunFilter, Store, TestRow};

/// `GET /v1/tests/{test_id}/history`: newest first, optionally of one branch; a page looks at
/// `limit` runs and lists those the test is in.
pub(crate) async fn history(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
    test_id: &str,
) -> Result<Response<Body>, ApiError> {
    let page = store
        .test_history(
            project,
            test_id,
            &RunFilter {
                branch: q.get("branch"),
                ..RunFilter::default()
            },
            limit(q)?,
            q.start()?.as_ref(),
        )
        .await?;
    let items = page.items.iter().map(history_json).collect();
    Ok(cache(
        json(StatusCode::OK, &page_json(items, q.seal(page.next))),
        5,
    ))
}

/// The newest runs a filter keeps, and some tests' results in them.
pub(crate) struct Recent {
    /// Whether older runs were left unread.
    pub(crate) more: bool,
    /// Each test's rows, newest first, in the order the tests were asked for.
    pub(crate) results: Vec<Vec<TestRow>>,
}

/// The newest `runs` runs `filter` keeps (pages of 100 of the runs index), and each of `tests`
/// in them ([`Store::results_in_runs`]).
pub(crate) async fn recent(
    store: &Store,
    project: &ProjectName,
    tests: &[String],
    filter: &RunFilter,
    runs: usize,
) -> Result<Recent, ApiError> {
    let (runs, more) = all_pages(runs, |start| async move {
        store.list_runs(project, filter, 100, start.as_ref()).await
    })
    .await?;
    let results = store.results_in_runs(project, &runs, tests).await?;
    Ok(Recent { more, results })
}
