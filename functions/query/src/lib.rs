//! The query function: every read a dashboard makes, with a read token; the project comes from
//! the token. Each endpoint's DynamoDB cost per page is documented in `docs/data-model.md`; the
//! API is described by `openapi.json` beside this crate (served at `/v1/openapi.json`).

mod cursor;
mod export;
mod params;

pub use cursor::CursorKey;

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use params::{limit, parse_time, status_list, window_ms, Query};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use verdict_http::{authenticate, json, respond, rfc3339, ApiError};
use verdict_model::Summary;
use verdict_store::{
    now_ms, FileItem, ProjectName, Run, RunFilter, RunKey, RunRef, Scope, Store, TestRow,
};

pub struct App {
    pub store: Store,
    pub cursor_key: CursorKey,
}

/// Method and path pattern of every route this function serves (checked against the router by a
/// unit test and against `infra/template.yaml` and `openapi.json` by the checks).
pub const ROUTES: [(&str, &str); 12] = [
    ("GET", "/v1/runs"),
    ("GET", "/v1/runs/{run_key}"),
    ("GET", "/v1/runs/{run_key}/tests"),
    ("GET", "/v1/runs/{run_key}/tests/{test_id}"),
    ("GET", "/v1/runs/{run_key}/export"),
    ("GET", "/v1/tests/{test_id}/history"),
    ("GET", "/v1/tests/slowest"),
    ("GET", "/v1/flaky"),
    ("GET", "/v1/failures"),
    ("GET", "/v1/stats"),
    ("GET", "/v1/stats/passing"),
    ("GET", "/v1/openapi.json"),
];

/// The OpenAPI 3.1 description of the whole API (upload endpoints included).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Entries read at most by an endpoint that aggregates over a time window.
const MAX_WINDOW_ENTRIES: usize = 5_000;
/// Tests whose history the flaky endpoint reads at most.
const MAX_FLAKY_CANDIDATES: usize = 100;
/// Newest runs whose files name the slowest-test candidates.
const SLOWEST_RUNS: i32 = 50;
/// Candidates whose history the slowest endpoint reads at most.
const SLOWEST_CANDIDATES: usize = 100;
/// Runs the stats endpoint reads at most.
const MAX_STATS_RUNS: usize = 10_000;

/// Handles one HTTP request.
pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let if_none_match = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let response = respond(route(app, &request).await);
    with_etag(response, if_none_match.as_deref())
}

/// Successful GETs carry an `ETag` (a hash of the body) and answer 304 to a matching
/// `If-None-Match`.
fn with_etag(mut response: Response<Body>, if_none_match: Option<&str>) -> Response<Body> {
    if response.status() != StatusCode::OK {
        return response;
    }
    let bytes: &[u8] = match response.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => return response,
    };
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(bytes)[..12]));
    if if_none_match == Some(etag.as_str()) {
        let mut not_modified = Response::new(Body::Empty);
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        not_modified
            .headers_mut()
            .insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex"));
        return not_modified;
    }
    response
        .headers_mut()
        .insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex"));
    response
}

fn cache(mut response: Response<Body>, seconds: u32) -> Response<Body> {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("private, max-age={seconds}")).expect("ascii"),
    );
    response
}

async fn route(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let path: Vec<&str> = request.uri().path().trim_matches('/').split('/').collect();
    if request.method() != Method::GET {
        return match known(request.uri().path()) {
            true => Err(ApiError::method_not_allowed()),
            false => Err(ApiError::not_found(format!(
                "path {}",
                request.uri().path()
            ))),
        };
    }
    if path == ["v1", "openapi.json"] {
        let mut response = Response::new(Body::Text(OPENAPI.to_string()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(cache(response, 3600));
    }
    if !known(request.uri().path()) {
        return Err(ApiError::not_found(format!(
            "path {}",
            request.uri().path()
        )));
    }
    // A CI job holds an upload token: it may read the outcome of runs (`verdict upload --wait`),
    // nothing across runs.
    let run_scoped = matches!(
        path.as_slice(),
        ["v1", "runs", _] | ["v1", "runs", _, "tests"]
    );
    let scopes: &[Scope] = if run_scoped {
        &[Scope::Read, Scope::Upload]
    } else {
        &[Scope::Read]
    };
    let token = authenticate(&app.store, request, scopes).await?;
    let q = Query::new(app, request, &token.project);
    let project = &token.project;
    match path.as_slice() {
        ["v1", "runs"] => runs(app, &q, project).await,
        ["v1", "runs", run] => run_detail(app, &run_ref(project, run)?).await,
        ["v1", "runs", run, "tests"] => run_tests(app, &q, &run_ref(project, run)?).await,
        ["v1", "runs", run, "tests", test_id] => {
            test_detail(app, &run_ref(project, run)?, test_id).await
        }
        ["v1", "runs", run, "export"] => export::export(app, &q, &run_ref(project, run)?).await,
        ["v1", "tests", test_id, "history"] => history(app, &q, project, test_id).await,
        ["v1", "tests", "slowest"] => slowest(app, &q, project).await,
        ["v1", "flaky"] => flaky(app, &q, project).await,
        ["v1", "failures"] => failures(app, &q, project).await,
        ["v1", "stats"] => stats(app, &q, project).await,
        ["v1", "stats", "passing"] => passing(app, &q, project).await,
        _ => Err(ApiError::not_found(format!(
            "path {}",
            request.uri().path()
        ))),
    }
}

/// Whether a path is one of [`ROUTES`].
fn known(path: &str) -> bool {
    ROUTES
        .iter()
        .any(|(_, pattern)| verdict_http::path_matches(pattern, path))
}

fn run_ref(project: &ProjectName, run_key: &str) -> Result<RunRef, ApiError> {
    Ok(RunRef {
        project: project.clone(),
        run_key: RunKey::parse(run_key)
            .map_err(|_| ApiError::not_found(format!("run {run_key}")))?,
    })
}

fn summary_json(summary: &Summary) -> Value {
    serde_json::to_value(summary).unwrap_or_default()
}

/// `passed`, `failed`, or `pending` while files are still being ingested.
fn run_status(run: &Run) -> &'static str {
    let settled = run.files_done + run.files_failed + run.files_duplicate;
    if settled < run.files_registered {
        "pending"
    } else if run.summary.failed + run.summary.errors > 0 || run.files_failed > 0 {
        "failed"
    } else {
        "passed"
    }
}

fn run_json(run: &Run) -> Value {
    let mut metadata = serde_json::to_value(&run.metadata).unwrap_or_default();
    if let Some(m) = metadata.as_object_mut() {
        m.remove("run_key");
        m.remove("project");
    }
    json!({
        "run_id": run.run.run_key.as_str(),
        "created_at": rfc3339(run.created_ms),
        "status": run_status(run),
        "metadata": metadata,
        "summary": summary_json(&run.summary),
        "files": {
            "registered": run.files_registered,
            "done": run.files_done,
            "failed": run.files_failed,
            "duplicate": run.files_duplicate,
        },
    })
}

fn page_json(items: Vec<Value>, next_cursor: Option<String>) -> Value {
    json!({ "items": items, "next_cursor": next_cursor })
}

async fn runs(app: &App, q: &Query<'_>, project: &ProjectName) -> Result<Response<Body>, ApiError> {
    let filter = RunFilter {
        branch: q.get("branch"),
        trigger: q.get("trigger"),
        since_ms: q
            .get("since")
            .map(|s| parse_time("since", &s))
            .transpose()?,
        until_ms: None,
    };
    let page = app
        .store
        .list_runs(project, &filter, limit(q)?, q.start()?.as_ref())
        .await?;
    let items = page.items.iter().map(run_json).collect();
    Ok(cache(
        json(StatusCode::OK, &page_json(items, q.seal(page.next))),
        5,
    ))
}

fn file_json(file: &FileItem) -> Value {
    json!({
        "file_id": file.file.file_id.as_str(),
        "name": file.name,
        "format": file.format,
        "state": file.state.as_str(),
        "counts": file.counts.as_ref().map(summary_json),
        "error": file.error.as_ref().map(|e| json!({"kind": e.kind, "message": e.message, "line": e.line, "column": e.column})),
    })
}

async fn run_detail(app: &App, run: &RunRef) -> Result<Response<Body>, ApiError> {
    let found = app
        .store
        .get_run(run)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {}", run.run_key)))?;
    let files = app.store.list_files(run).await?;
    let document = run_json(&found);
    let body = json!({
        "run": {
            "run_id": document["run_id"],
            "created_at": document["created_at"],
            "status": document["status"],
            "metadata": document["metadata"],
        },
        "summary": document["summary"],
        "files": files.iter().map(file_json).collect::<Vec<_>>(),
    });
    Ok(cache(json(StatusCode::OK, &body), 5))
}

fn row_json(row: &TestRow) -> Value {
    json!({
        "test_id": row.test_id,
        "suite": row.suite,
        "classname": row.classname,
        "name": row.name,
        "status": row.status,
        "flaky": row.flaky,
        "duration_ms": row.duration_ms,
        "attempts": row.attempts,
        "message": row.message,
        "failure_type": row.failure_type,
        "fingerprint": row.fingerprint,
    })
}

/// Tests a run may have for `order=` to sort them. The first request of an ordering reads the
/// whole run (1,000 results per Query): about 190 MB of items and 250 sequential Queries at
/// this bound, which should fit the function's 512 MB and 29 s (estimated, not measured on
/// AWS; the integration test sorts 6,000 tests on DynamoDB Local).
const MAX_SORTED_TESTS: u64 = 250_000;

/// A run's results. Without `order`, pages follow test-id order (one Query each). With
/// `order=name|duration|status`, the first request of an ordering (and filter) reads the whole
/// run, sorts it and keeps the sorted test ids as a view in S3; every page is then one ranged
/// GetObject of the view and one BatchGetItem of its results. Runs of more than
/// [`MAX_SORTED_TESTS`] tests answer 400 rather than a partial order.
async fn run_tests(app: &App, q: &Query<'_>, run: &RunRef) -> Result<Response<Body>, ApiError> {
    let statuses = status_list(q.get("status").as_deref())?;
    let order = q.get("order");
    if order
        .as_deref()
        .is_some_and(|o| !matches!(o, "name" | "duration" | "status"))
    {
        return Err(ApiError::invalid(
            "order",
            "must be name, duration or status",
        ));
    }
    let search = q.get("q");
    let found = app
        .store
        .get_run(run)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {}", run.run_key)))?;
    let settled = |r: &TestRow| found.shows(&r.contributors);
    let limit = limit(q)?;
    let Some(order) = order else {
        let page = app
            .store
            .list_results(
                run,
                &statuses,
                search.as_deref(),
                limit,
                q.start()?.as_ref(),
            )
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
    let offset = match q.start()? {
        Some(start) => start["offset"]
            .as_u64()
            .ok_or_else(|| ApiError::invalid("cursor", "not a cursor of this query"))?,
        None => 0,
    };
    let limit = u64::try_from(limit).unwrap_or(0);
    // Everything the view's content depends on names it: the ordering, the filters, and the
    // run's files (a file that settles changes which results are whole).
    let view = verdict_store::view_key(
        run,
        &format!(
            "{order}-{}",
            short_hash(&json!([
                statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                search,
                found.files_registered,
                found.files_done,
                found.files_failed,
                found.files_duplicate,
            ]))
        ),
    );
    // One more than a page tells whether another follows.
    let ids = match app.store.read_view(&view, offset, limit + 1).await? {
        Some(ids) => ids,
        None => {
            let (mut rows, _) = all_pages(MAX_SORTED_TESTS as usize, |start| {
                let (statuses, search) = (&statuses, search.as_deref());
                async move {
                    app.store
                        .list_results(run, statuses, search, 1000, start.as_ref())
                        .await
                }
            })
            .await?;
            rows.retain(|r| settled(r));
            sort_rows(&mut rows, &order);
            let ids: Vec<&str> = rows.iter().map(|r| r.test_id.as_str()).collect();
            app.store.put_view(&view, &ids).await?;
            ids.iter()
                .skip(offset as usize)
                .take(limit as usize + 1)
                .map(|id| id.to_string())
                .collect()
        }
    };
    let more = ids.len() as u64 > limit;
    let page_ids = &ids[..ids.len().min(limit as usize)];
    let items = app
        .store
        .get_results(run, page_ids)
        .await?
        .iter()
        // A file that began merging into a result since the view was made: left out.
        .filter(|r| settled(r))
        .map(row_json)
        .collect();
    let next = more.then(|| json!({ "offset": offset + limit }));
    Ok(cache(
        json(StatusCode::OK, &page_json(items, q.seal(next))),
        5,
    ))
}

/// Sorts results by `order`: `duration` slowest first, `status` worst first then by name,
/// else by name; ties by test id, so an ordering is the same on every read.
fn sort_rows(rows: &mut [TestRow], order: &str) {
    match order {
        "duration" => rows.sort_by(|a, b| {
            b.duration_ms
                .cmp(&a.duration_ms)
                .then_with(|| a.test_id.cmp(&b.test_id))
        }),
        "status" => rows.sort_by_key(|r| {
            (
                std::cmp::Reverse(
                    verdict_model::Status::parse(&r.status).map_or(0, |s| s.severity()),
                ),
                r.name.clone(),
                r.test_id.clone(),
            )
        }),
        _ => rows.sort_by(|a, b| (&a.name, &a.test_id).cmp(&(&b.name, &b.test_id))),
    }
}

/// 16 hex digits of SHA-256 of a JSON value: a short name for what a view depends on.
fn short_hash(value: &Value) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(value.to_string().as_bytes())[..8])
}

async fn test_detail(app: &App, run: &RunRef, test_id: &str) -> Result<Response<Body>, ApiError> {
    let not_found = || ApiError::not_found(format!("test {test_id} in run {}", run.run_key));
    let found = app.store.get_run(run).await?.ok_or_else(not_found)?;
    // The rule of every other read: a result a file still being ingested touched waits.
    let result = app
        .store
        .get_result(run, test_id)
        .await?
        .filter(|(_, contributors)| found.shows(contributors))
        .map(|(result, _)| result)
        .ok_or_else(not_found)?;
    Ok(cache(json(StatusCode::OK, &result), 30))
}

fn history_json(row: &TestRow) -> Value {
    json!({
        "run_id": row.run_key,
        "created_at": rfc3339(row.created_ms),
        "branch": row.branch,
        "commit_sha": row.commit_sha,
        "status": row.status,
        "flaky": row.flaky,
        "duration_ms": row.duration_ms,
        "fingerprint": row.fingerprint,
    })
}

async fn history(
    app: &App,
    q: &Query<'_>,
    project: &ProjectName,
    test_id: &str,
) -> Result<Response<Body>, ApiError> {
    let page = app
        .store
        .test_history(
            project,
            test_id,
            q.get("branch").as_deref(),
            None,
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

/// Every page of a listing, following its continuation, up to `max` items; true when there
/// were more.
async fn all_pages<T, F, Fut>(max: usize, mut page: F) -> Result<(Vec<T>, bool), ApiError>
where
    F: FnMut(Option<Value>) -> Fut,
    Fut: std::future::Future<Output = Result<verdict_store::Page<T>, verdict_store::StoreError>>,
{
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let next = page(start).await?;
        items.extend(next.items);
        if items.len() >= max {
            items.truncate(max);
            return Ok((items, true));
        }
        match next.next {
            Some(n) => start = Some(n),
            None => return Ok((items, false)),
        }
    }
}

/// Every entry of the `issues` index since `since_ms` (newest first), at most
/// [`MAX_WINDOW_ENTRIES`]; true when there were more.
async fn issues_in_window(
    app: &App,
    project: &ProjectName,
    since_ms: u64,
    branch: Option<&str>,
) -> Result<(Vec<TestRow>, bool), ApiError> {
    let (rows, truncated) = all_pages(MAX_WINDOW_ENTRIES, |start| async move {
        app.store
            .issues_since(project, since_ms, 1000, start.as_ref())
            .await
    })
    .await?;
    let rows = rows
        .into_iter()
        .filter(|r| branch.is_none() || r.branch.as_deref() == branch)
        .collect();
    Ok((rows, truncated))
}

async fn failures(
    app: &App,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let since = match q.get("since") {
        Some(s) => parse_time("since", &s)?,
        None => now_ms().saturating_sub(window_ms(None)?),
    };
    let branch = q.get("branch");
    let (rows, truncated) = issues_in_window(app, project, since, branch.as_deref()).await?;
    struct Group<'a> {
        count: u64,
        tests: HashSet<&'a str>,
        first: &'a TestRow,
        last: &'a TestRow,
    }
    let mut groups: HashMap<&str, Group> = HashMap::new();
    for row in rows
        .iter()
        .filter(|r| r.status == "failed" || r.status == "error")
    {
        let Some(fp) = row.fingerprint.as_deref() else {
            continue;
        };
        let group = groups.entry(fp).or_insert(Group {
            count: 0,
            tests: HashSet::new(),
            first: row,
            last: row,
        });
        group.count += 1;
        group.tests.insert(&row.test_id);
        if row.created_ms < group.first.created_ms {
            group.first = row;
        }
        if row.created_ms > group.last.created_ms {
            group.last = row;
        }
    }
    let mut items: Vec<(&str, Group)> = groups.into_iter().collect();
    items.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    let items: Vec<Value> = items
        .iter()
        .map(|(fp, g)| {
            json!({
                "fingerprint": fp,
                "count": g.count,
                "tests_affected": g.tests.len(),
                "first_seen": rfc3339(g.first.created_ms),
                "first_run_id": g.first.run_key,
                "last_seen": rfc3339(g.last.created_ms),
                "last_run_id": g.last.run_key,
                "sample_message": g.last.message,
                "sample_test": g.last.name,
            })
        })
        .collect();
    let body = json!({"items": items, "next_cursor": null, "truncated": truncated});
    Ok(cache(json(StatusCode::OK, &body), 30))
}

/// A test is flaky in the window when a run shows it passing after a failed attempt (`flaky`),
/// or when it both passed and failed (or errored) on the same commit in different runs.
async fn flaky(
    app: &App,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let window = window_ms(q.get("window").as_deref())?;
    let since = now_ms().saturating_sub(window);
    let branch = q.get("branch");
    let (rows, mut truncated) = issues_in_window(app, project, since, branch.as_deref()).await?;
    // Candidates: tests with a flaky pass or a failure in the window, most recent first.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut candidates: Vec<&TestRow> = rows
        .iter()
        .filter(|row| seen.insert(&row.test_id))
        .collect();
    if candidates.len() > MAX_FLAKY_CANDIDATES {
        candidates.truncate(MAX_FLAKY_CANDIDATES);
        truncated = true;
    }
    let mut items = Vec::new();
    for candidate in candidates {
        let test_id = candidate.test_id.as_str();
        let history = app
            .store
            .test_history(project, test_id, branch.as_deref(), Some(since), 500, None)
            .await?;
        let runs = &history.items; // newest first
        let mut passed_on: HashSet<&str> = HashSet::new();
        let mut failed_on: HashSet<&str> = HashSet::new();
        for r in runs {
            let commit = r.commit_sha.as_deref().unwrap_or("");
            if r.status == "passed" {
                passed_on.insert(commit);
            } else if r.status == "failed" || r.status == "error" {
                failed_on.insert(commit);
            }
        }
        let flaky_runs: Vec<&TestRow> = runs
            .iter()
            .filter(|r| {
                let commit = r.commit_sha.as_deref().unwrap_or("");
                r.flaky
                    || (!commit.is_empty()
                        && passed_on.contains(commit)
                        && failed_on.contains(commit))
            })
            .collect();
        let Some(last) = flaky_runs.first() else {
            continue;
        };
        let outcomes: Vec<bool> = runs
            .iter()
            .rev()
            .filter(|r| r.status != "skipped")
            .map(|r| r.status == "passed")
            .collect();
        let flips = outcomes.windows(2).filter(|w| w[0] != w[1]).count();
        let flip_rate = if outcomes.len() > 1 {
            flips as f64 / (outcomes.len() - 1) as f64
        } else {
            0.0
        };
        items.push(json!({
            "test_id": test_id,
            "name": candidate.name,
            "runs": runs.len(),
            "flaky_runs": flaky_runs.len(),
            "retry_flaky_runs": flaky_runs.iter().filter(|r| r.flaky).count(),
            "last_flaky_run_id": last.run_key,
            "last_flaky_at": rfc3339(last.created_ms),
            "flip_rate": (flip_rate * 1000.0).round() / 1000.0,
        }));
    }
    items.sort_by(|a, b| b["flaky_runs"].as_u64().cmp(&a["flaky_runs"].as_u64()));
    let body = json!({"items": items, "next_cursor": null, "truncated": truncated, "window_days": window / 86_400_000});
    Ok(cache(json(StatusCode::OK, &body), 30))
}

async fn runs_in_window(
    app: &App,
    project: &ProjectName,
    since_ms: u64,
    branch: Option<String>,
) -> Result<(Vec<Run>, bool), ApiError> {
    let filter = &RunFilter {
        branch,
        since_ms: Some(since_ms),
        ..RunFilter::default()
    };
    all_pages(MAX_STATS_RUNS, |start| async move {
        app.store
            .list_runs(project, filter, 500, start.as_ref())
            .await
    })
    .await
}

async fn stats(
    app: &App,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let window = window_ms(q.get("window").as_deref())?;
    let (runs, truncated) = runs_in_window(
        app,
        project,
        now_ms().saturating_sub(window),
        q.get("branch"),
    )
    .await?;
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    for run in &runs {
        *by_status.entry(run_status(run)).or_default() += 1;
    }
    let passed = by_status.get("passed").copied().unwrap_or(0);
    let failed = by_status.get("failed").copied().unwrap_or(0);
    let mean = if runs.is_empty() {
        0
    } else {
        runs.iter().map(|r| r.summary.duration_ms).sum::<u64>() / runs.len() as u64
    };
    let body = json!({
        "window_days": window / 86_400_000,
        "runs": runs.len(),
        "passed_runs": passed,
        "failed_runs": failed,
        "pending_runs": by_status.get("pending").copied().unwrap_or(0),
        "pass_rate": if passed + failed > 0 { ((passed as f64 / (passed + failed) as f64) * 1000.0).round() / 1000.0 } else { 0.0 },
        "mean_test_duration_ms": mean,
        "last_run": runs.first().map(run_json),
        "truncated": truncated,
    });
    Ok(cache(json(StatusCode::OK, &body), 30))
}

async fn passing(
    app: &App,
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
    let filter = RunFilter {
        branch: q.get("branch"),
        since_ms: Some(now_ms().saturating_sub(hours * 3_600_000)),
        ..RunFilter::default()
    };
    // Newest settled run: pending runs are skipped, a few pages at most.
    let mut start = None;
    let mut latest = None;
    for _ in 0..5 {
        let page = app
            .store
            .list_runs(project, &filter, 20, start.as_ref())
            .await?;
        latest = page.items.into_iter().find(|r| run_status(r) != "pending");
        if latest.is_some() || page.next.is_none() {
            break;
        }
        start = page.next;
    }
    let body = json!({
        "hours": hours,
        "passing": latest.as_ref().map(|r| run_status(r) == "passed"),
        "run": latest.as_ref().map(run_json),
    });
    Ok(cache(json(StatusCode::OK, &body), 5))
}

/// The value at quantile `q` (0..=1) of sorted values, nearest rank.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Slowest tests by median and p95 duration over the window. Candidates are the slowest tests
/// each file recorded at ingest (20 per file) in the newest 50 runs of the window; their
/// durations come from their history in the window.
async fn slowest(
    app: &App,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let window = window_ms(q.get("window").as_deref())?;
    let since = now_ms().saturating_sub(window);
    let branch = q.get("branch");
    let filter = RunFilter {
        branch: branch.clone(),
        since_ms: Some(since),
        ..RunFilter::default()
    };
    let runs = app
        .store
        .list_runs(project, &filter, SLOWEST_RUNS, None)
        .await?;
    let mut candidates: HashMap<String, (String, u64)> = HashMap::new();
    for run in &runs.items {
        for file in app.store.list_files(&run.run).await? {
            for slow in file.slowest {
                let entry = candidates.entry(slow.test_id).or_insert((slow.name, 0));
                entry.1 = entry.1.max(slow.duration_ms);
            }
        }
    }
    let mut ranked: Vec<(String, (String, u64))> = candidates.into_iter().collect();
    ranked.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(&b.0)));
    let truncated = ranked.len() > SLOWEST_CANDIDATES;
    ranked.truncate(SLOWEST_CANDIDATES);
    let mut items = Vec::new();
    for (test_id, (name, _)) in ranked {
        let history = app
            .store
            .test_history(project, &test_id, branch.as_deref(), Some(since), 500, None)
            .await?;
        let mut durations: Vec<u64> = history
            .items
            .iter()
            .filter(|r| r.status != "skipped")
            .map(|r| r.duration_ms)
            .collect();
        durations.sort_unstable();
        if durations.is_empty() {
            continue;
        }
        items.push(json!({
            "test_id": test_id,
            "name": name,
            "runs": durations.len(),
            "median_ms": quantile(&durations, 0.5),
            "p95_ms": quantile(&durations, 0.95),
            "max_ms": durations.last(),
        }));
    }
    items.sort_by(|a, b| b["median_ms"].as_u64().cmp(&a["median_ms"].as_u64()));
    items.truncate(usize::try_from(limit(q)?).unwrap_or(50));
    let body = json!({"items": items, "next_cursor": null, "truncated": truncated, "window_days": window / 86_400_000});
    Ok(cache(json(StatusCode::OK, &body), 30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn routes_is_exactly_what_the_router_serves() {
        let app = App {
            // Never reached: every request below stops before the store.
            store: Store::unreachable().await,
            cursor_key: CursorKey::new([1; 32]),
        };
        let request = |method: &str, path: &str| {
            lambda_http::http::Request::builder()
                .method(method)
                .uri(path)
                .body(Body::Empty)
                .unwrap()
        };
        for (method, pattern) in ROUTES {
            let path = pattern
                .replace("{run_key}", "build-1")
                .replace("{test_id}", &"a".repeat(64));
            let expected = if path == "/v1/openapi.json" { 200 } else { 401 };
            assert_eq!(
                handle(&app, request(method, &path)).await.status(),
                expected,
                "{path}"
            );
            assert_eq!(
                handle(&app, request("POST", &path)).await.status(),
                405,
                "{path}"
            );
        }
        for path in ["/v1/run", "/v1/runs/a/b/c/d", "/v1/tests/x", "/"] {
            assert_eq!(
                handle(&app, request("GET", path)).await.status(),
                404,
                "{path}"
            );
        }
    }
}
