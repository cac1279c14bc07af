//! A run's test results: pages in test-id order, sorted views, and one result in full.

use crate::cache::cache;
use crate::pages::fill_page;
use crate::params::{flag, limit, status_list, Query};
use crate::present::{page_json, row_json};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use verdict_http::{json, ApiError};
use verdict_store::{FileId, Order, ResultFilter, RunRef, Store, ViewSpec, MAX_SORTED_TESTS};

/// Where the next page of a sorted view starts.
#[derive(Debug, Serialize, Deserialize)]
struct ViewCursor {
    offset: u64,
}

/// `GET /v1/runs/{run}/tests`. Without `order`, pages follow test-id order (one Query each).
/// With `order=name|duration|status`, pages come from a sorted view in S3 (one ranged GetObject
/// of the view and one BatchGetItem of its results): the unfiltered views are made when the run
/// settles, any other by the first request of its ordering and filter, which reads the whole
/// run. Runs of more than [`MAX_SORTED_TESTS`] tests answer 400 rather than a partial order.
pub(crate) async fn run_tests(
    store: &Store,
    q: &Query<'_>,
    run: &RunRef,
) -> Result<Response<Body>, ApiError> {
    let filter = ResultFilter {
        statuses: status_list(q.get("status").as_deref())?,
        flaky_only: flag(q, "flaky")?,
        name_contains: q.get("q"),
        file: q
            .get("file")
            .map(|f| FileId::parse(&f).map_err(|e| ApiError::invalid("file", e)))
            .transpose()?,
    };
    let order = q
        .get("order")
        .map(|o| {
            Order::parse(&o)
                .ok_or_else(|| ApiError::invalid("order", "must be name, duration or status"))
        })
        .transpose()?;
    let descending = match q.get("dir").as_deref() {
        None => None,
        Some("asc") => Some(false),
        Some("desc") => Some(true),
        Some(_) => return Err(ApiError::invalid("dir", "must be asc or desc")),
    };
    let not_found = || ApiError::not_found(format!("run {}", run.run_key));
    let limit = limit(q)?;
    let Some(order) = order else {
        if descending.is_some() {
            return Err(ApiError::invalid("dir", "needs order="));
        }
        let filter = &filter;
        let page = fill_page(limit, q.start()?, |start, remaining| async move {
            store
                .list_results(run, filter, remaining, start.as_ref())
                .await
        })
        .await?;
        // The run item read after the page judges it, and tells a run that does not exist.
        let (found, shown) = store.shown_rows(run, page.items).await?;
        found.ok_or_else(not_found)?;
        let items = shown.iter().map(row_json).collect();
        return Ok(cache(
            json(StatusCode::OK, &page_json(items, q.seal(page.next))),
            5,
        ));
    };
    let found = store.get_run(run).await?.ok_or_else(not_found)?;
    if found.summary.tests > MAX_SORTED_TESTS {
        return Err(ApiError::invalid(
            "order",
            format!(
                "sorting needs a run of at most {MAX_SORTED_TESTS} tests (this one has {}); \
                 page in test-id order without order=",
                found.summary.tests
            ),
        ));
    }
    let descending = descending.unwrap_or_else(|| order.descending_by_default());
    let offset = q.start::<ViewCursor>()?.map_or(0, |c| c.offset);
    let limit = u64::try_from(limit).unwrap_or(0);
    let spec = ViewSpec {
        order,
        descending,
        filter: &filter,
    };
    // One more than a page tells whether another follows.
    let ids = store.sorted_ids(&found, &spec, offset, limit + 1).await?;
    let more = ids.len() as u64 > limit;
    let page_ids = &ids[..ids.len().min(limit as usize)];
    // A file that began merging into a result since the view was made: left out.
    let (_, shown) = store
        .shown_rows(run, store.get_results(run, page_ids).await?)
        .await?;
    let items = shown.iter().map(row_json).collect();
    let next = more.then_some(ViewCursor {
        offset: offset + limit,
    });
    Ok(cache(
        json(StatusCode::OK, &page_json(items, q.seal(next))),
        5,
    ))
}

/// `GET /v1/runs/{run}/tests/{test_id}`: one result in full, attempts and all.
pub(crate) async fn test_detail(
    store: &Store,
    run: &RunRef,
    test_id: &str,
) -> Result<Response<Body>, ApiError> {
    let not_found = || ApiError::not_found(format!("test {test_id} in run {}", run.run_key));
    let result = store.get_result(run, test_id).await?;
    // The rule of every other read: a result a file still being ingested touched waits. The
    // run is read after the result, as `Run::shows` needs.
    let found = store.get_run(run).await?.ok_or_else(not_found)?;
    let result = result
        .filter(|(_, by)| found.shows(by.created_ms, &by.contributors))
        .map(|(result, _)| result)
        .ok_or_else(not_found)?;
    Ok(cache(json(StatusCode::OK, &result), 30))
}
