//! Upload health across the project: the files in one state (by default those that failed,
//! each with its error and position), newest first.

use crate::cache::cache;
use crate::params::{limit, parse_time, window_ms, Query};
use crate::present::page_json;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use verdict_http::present::file_json;
use verdict_http::{json, ApiError};
use verdict_store::{now_ms, FileState, ProjectName, Store};

/// `GET /v1/uploads?state=&since=`: one Query of the `uploads` index per page.
pub(crate) async fn uploads(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let state = match q.get("state") {
        None => FileState::Failed,
        Some(s) => FileState::parse(&s).ok_or_else(|| {
            ApiError::invalid(
                "state",
                "must be pending, processing, done, failed or duplicate",
            )
        })?,
    };
    let since = match q.get("since") {
        Some(s) => parse_time("since", &s)?,
        None => now_ms().saturating_sub(window_ms(None)?),
    };
    let page = store
        .list_uploads(project, state, since, limit(q)?, q.start()?.as_ref())
        .await?;
    let items = page.items.iter().map(file_json).collect();
    Ok(cache(
        json(StatusCode::OK, &page_json(items, q.seal(page.next))),
        5,
    ))
}
