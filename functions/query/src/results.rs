//! A run's test results: pages in test-id order, sorted views, and one result in full.

use crate::analytics::{sort_rows, Order};
use crate::cache::cache;
use crate::pages::{all_pages, fill_page};
use crate::params::{flag, limit, status_list, Query};
use crate::present::{page_json, row_json};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use verdict_http::{json, ApiError};
use verdict_store::{FileId, ResultFilter, RunRef, Store, TestRow};

/// Tests a run may have for `order=` to sort them. The first request of an ordering reads the
/// whole run (1,000 results per Query): about 190 MB of items and 250 sequential Queries at
/// this bound, which should fit the function's 512 MB and 29 s (estimated, not measured on
/// AWS; the integration test sorts 6,000 tests on DynamoDB Local).
const MAX_SORTED_TESTS: u64 = 250_000;

/// Where the next page of a sorted view starts.
#[derive(Debug, Serialize, Deserialize)]
struct ViewCursor {
    offset: u64,
}

/// `GET /v1/runs/{run}/tests`. Without `order`, pages follow test-id order (one Query each).
/// With `order=name|duration|status`, the first request of an ordering (and filter) reads the
/// whole run, sorts it and keeps the sorted test ids as a view in S3; every page is then one
/// ranged GetObject of the view and one BatchGetItem of its results. Runs of more than
/// [`MAX_SORTED_TESTS`] tests answer 400 rather than a partial order.
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
    let found = store
        .get_run(run)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {}", run.run_key)))?;
    let settled = |r: &TestRow| found.shows(&r.contributors);
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
        let items = page
            .items
            .iter()
            .filter(|r| settled(r))
            .map(row_json)
            .collect();
        return Ok(cache(
            json(StatusCode::OK, &page_json(items, q.seal(page.next))),
            5,
        ));
    };
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
    // Everything the view's content depends on names it: the ordering, the filters, and the
    // run's files (a file that settles changes which results are whole).
    let view = verdict_store::view_key(
        run,
        &format!(
            "{}-{}-{}",
            order.as_str(),
            if descending { "desc" } else { "asc" },
            short_hash(&json!([
                filter
                    .statuses
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>(),
                filter.flaky_only,
                filter.name_contains,
                filter.file.as_ref().map(FileId::as_str),
                found.files_registered,
                found.files_done,
                found.files_failed,
                found.files_duplicate,
            ]))
        ),
    );
    // One more than a page tells whether another follows.
    let ids = match store.read_view(&view, offset, limit + 1).await? {
        Some(ids) => ids,
        None => {
            let filter = &filter;
            let (mut rows, _) = all_pages(MAX_SORTED_TESTS as usize, |start| async move {
                store.list_results(run, filter, 1000, start.as_ref()).await
            })
            .await?;
            rows.retain(|r| settled(r));
            sort_rows(&mut rows, order, descending);
            let ids: Vec<&str> = rows.iter().map(|r| r.test_id.as_str()).collect();
            store.put_view(&view, &ids).await?;
            ids.iter()
                .skip(offset as usize)
                .take(limit as usize + 1)
                .map(|id| id.to_string())
                .collect()
        }
    };
    let more = ids.len() as u64 > limit;
    let page_ids = &ids[..ids.len().min(limit as usize)];
    let items = store
        .get_results(run, page_ids)
        .await?
        .iter()
        // A file that began merging into a result since the view was made: left out.
        .filter(|r| settled(r))
        .map(row_json)
        .collect();
    let next = more.then_some(ViewCursor {
        offset: offset + limit,
    });
    Ok(cache(
        json(StatusCode::OK, &page_json(items, q.seal(next))),
        5,
    ))
}

/// 16 hex digits of SHA-256 of a JSON value: a short name for what a view depends on.
fn short_hash(value: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(value.to_string().as_bytes())[..8])
}

/// `GET /v1/runs/{run}/tests/{test_id}`: one result in full, attempts and all.
pub(crate) async fn test_detail(
    store: &Store,
    run: &RunRef,
    test_id: &str,
) -> Result<Response<Body>, ApiError> {
    let not_found = || ApiError::not_found(format!("test {test_id} in run {}", run.run_key));
    let found = store.get_run(run).await?.ok_or_else(not_found)?;
    // The rule of every other read: a result a file still being ingested touched waits.
    let result = store
        .get_result(run, test_id)
        .await?
        .filter(|(_, contributors)| found.shows(contributors))
        .map(|(result, _)| result)
        .ok_or_else(not_found)?;
    Ok(cache(json(StatusCode::OK, &result), 30))
}
