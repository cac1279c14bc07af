//! One test across the runs of its project.

use crate::cache::cache;
use crate::params::{limit, Query};
use crate::present::{history_json, page_json};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use verdict_http::{json, ApiError};
use verdict_store::{HistoryFilter, ProjectName, Store};

/// `GET /v1/tests/{test_id}/history`: newest first, optionally of one branch.
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
            &HistoryFilter {
                branch: q.get("branch"),
                ..HistoryFilter::default()
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
