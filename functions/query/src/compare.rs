//! A run against its base: what broke, what is still broken and since when, what was fixed,
//! what turned flaky, which tests came and went.
//!
//! The comparison reads both runs' outcomes once (one paginated Query of each run's `T#` items,
//! projecting the test id, status, flaky and contributors) and keeps the test ids of each change
//! in S3 beside the run's sorted views, named after both runs' file counters: every later
//! request (paging, the run's page, `verdict upload --wait`) reads that one object, and a run
//! that changes gets a new comparison, never a stale one.

use crate::cache::cache;
use crate::diff::{compare, streak, Change, Comparison};
use crate::params::Query;
use crate::present::row_json;
use crate::runs::newest_settled;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use verdict_http::present::run_ref;
use verdict_http::{json, rfc3339, ApiError};
use verdict_store::{view_key, HistoryFilter, Run, RunFilter, RunRef, Store, StoreError, TestRow};

/// Tests a run (and its base) may have to be compared: both are read whole.
const MAX_COMPARED_TESTS: u64 = 250_000;
/// History rows read at most per still-failing test for its streak (newest first).
const STREAK_ROWS: i32 = 200;
/// Still-failing tests whose history is read at once.
const STREAK_READS_IN_FLIGHT: usize = 16;
/// Tests listed per change unless `limit=` says otherwise.
const LISTED: usize = 20;
/// Tests listed per change at most.
const MAX_LISTED: usize = 200;

/// Why a run is the base of another.
#[derive(Debug, Clone, Copy)]
enum BaseReason {
    /// `base=` named it.
    Given,
    /// The newest settled run before it on its branch.
    PreviousOnBranch,
    /// The newest settled run before it of the branch its pull request merges into.
    BaseBranch,
    /// The newest settled run before it in the project (the run has no branch).
    Previous,
}

impl BaseReason {
    fn as_str(self) -> &'static str {
        match self {
            BaseReason::Given => "given",
            BaseReason::PreviousOnBranch => "previous_on_branch",
            BaseReason::BaseBranch => "base_branch",
            BaseReason::Previous => "previous",
        }
    }
}

/// A run compared with its base.
pub(crate) struct Compared {
    base: Run,
    reason: BaseReason,
    comparison: Comparison,
}

impl Compared {
    /// The run compared with.
    pub(crate) fn base(&self) -> &Run {
        &self.base
    }

    /// What changed.
    pub(crate) fn comparison(&self) -> &Comparison {
        &self.comparison
    }
}

/// The newest settled run created before `run`: on the branch its pull request merges into, else
/// on its branch, else in its project.
async fn default_base(store: &Store, run: &Run) -> Result<Option<(Run, BaseReason)>, ApiError> {
    let (branch, reason) = match (&run.metadata.base_branch, &run.metadata.branch) {
        (Some(base), _) => (Some(base.clone()), BaseReason::BaseBranch),
        (None, Some(branch)) => (Some(branch.clone()), BaseReason::PreviousOnBranch),
        (None, None) => (None, BaseReason::Previous),
    };
    let filter = RunFilter {
        branch,
        before_ms: Some(run.created_ms),
        ..RunFilter::default()
    };
    let base = newest_settled(store, &run.run.project, &filter).await?;
    Ok(base.map(|base| (base, reason)))
}

/// What the comparison of `run` with `base` is made from: both runs and their files.
fn comparison_key(run: &Run, base: &Run) -> String {
    let counters = |r: &Run| {
        json!([
            r.run.run_key.as_str(),
            r.files_registered,
            r.files_done,
            r.files_failed,
            r.files_duplicate
        ])
    };
    let made_of = json!([counters(run), counters(base)]).to_string();
    let hash = hex::encode(&Sha256::digest(made_of.as_bytes())[..8]);
    view_key(&run.run, &format!("compare-{}-{hash}", base.run.run_key))
}

/// The outcomes of a run's results whose files are all `done`.
async fn settled_outcomes(store: &Store, run: &Run) -> Result<Vec<TestRow>, StoreError> {
    let mut rows = store.run_outcomes(&run.run).await?;
    rows.retain(|r| run.shows(&r.contributors));
    Ok(rows)
}

/// The largest runs a comparison is made of within any request; a run's page makes no larger
/// one (reading 100,000 tests' outcomes took 78 s on DynamoDB Local, near API Gateway's 30 s
/// on AWS too as runs grow): it shows it once `/compare` made it.
pub(crate) const COMPARED_IN_PASSING: u64 = 20_000;

/// `run` compared with `base` (or its default base); `None` when it has none, or when the
/// comparison is not made yet and one of the runs has more than `make_up_to` tests.
pub(crate) async fn compared(
    store: &Store,
    run: &Run,
    base: Option<&str>,
    make_up_to: u64,
) -> Result<Option<Compared>, ApiError> {
    let (base, reason) = match base {
        Some(key) => {
            let base_ref = run_ref(&run.run.project, key)?;
            let base = store
                .get_run(&base_ref)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("base run {key}")))?;
            (base, BaseReason::Given)
        }
        None => match default_base(store, run).await? {
            Some(found) => found,
            None => return Ok(None),
        },
    };
    if run.summary.tests.max(base.summary.tests) > MAX_COMPARED_TESTS {
        return Err(ApiError::invalid(
            "base",
            format!("comparing needs runs of at most {MAX_COMPARED_TESTS} tests"),
        ));
    }
    let key = comparison_key(run, &base);
    let cached = store.read_derived(&key).await?;
    let comparison = match cached.and_then(|bytes| serde_json::from_slice(&bytes).ok()) {
        Some(comparison) => comparison,
        None if run.summary.tests.max(base.summary.tests) > make_up_to => return Ok(None),
        None => {
            let (here, there) =
                tokio::try_join!(settled_outcomes(store, run), settled_outcomes(store, &base))?;
            let comparison = compare(&here, &there);
            let bytes = serde_json::to_vec(&comparison)
                .map_err(|e| StoreError::permanent("comparison", e.to_string()))?;
            store.put_derived(&key, bytes).await?;
            comparison
        }
    };
    Ok(Some(Compared {
        base,
        reason,
        comparison,
    }))
}

/// The number of tests of each change.
pub(crate) fn counts_json(compared: &Compared) -> Value {
    let counts: serde_json::Map<String, Value> = Change::ALL
        .iter()
        .map(|c| {
            (
                c.as_str().to_string(),
                compared.comparison.of(*c).len().into(),
            )
        })
        .collect();
    json!({
        "base": base_json(compared),
        "counts": counts,
    })
}

fn base_json(compared: &Compared) -> Value {
    let base = &compared.base;
    json!({
        "run_id": base.run.run_key.as_str(),
        "created_at": rfc3339(base.created_ms),
        "status": base.status().as_str(),
        "branch": base.metadata.branch,
        "commit_sha": base.metadata.commit_sha,
        "reason": compared.reason.as_str(),
    })
}

/// The listed tests of one change, from the run (or, for removed tests, the base), the
/// still-failing ones with their streak.
async fn rows_json(
    store: &Store,
    run: &Run,
    compared: &Compared,
    change: Change,
    ids: &[String],
) -> Result<Vec<Value>, ApiError> {
    let from = if change.in_base() {
        &compared.base
    } else {
        run
    };
    let rows = store.get_results(&from.run, ids).await?;
    if change != Change::StillFailing {
        return Ok(rows.iter().map(row_json).collect());
    }
    // The streak is the base branch's: a pull request's test that still fails has failed there
    // since its first failing run of the base branch.
    let history = HistoryFilter {
        branch: compared.base.metadata.branch.clone(),
        since_ms: None,
        until_ms: Some(run.created_ms),
        ..HistoryFilter::default()
    };
    let history = &history;
    stream::iter(rows)
        .map(|row| async move {
            let page = store
                .test_history(&run.run.project, &row.test_id, history, STREAK_ROWS, None)
                .await?;
            let since = streak(&page.items, page.next.is_none()).map(|s| {
                json!({
                    "run_id": s.first.run_key,
                    "created_at": rfc3339(s.first.created_ms),
                    "runs": s.runs,
                    "complete": s.complete,
                })
            });
            let mut value = row_json(&row);
            value["failing_since"] = since.unwrap_or(Value::Null);
            Ok::<Value, StoreError>(value)
        })
        .buffered(STREAK_READS_IN_FLIGHT)
        .try_collect()
        .await
        .map_err(ApiError::from)
}

/// Where the next page of one change's tests starts.
#[derive(Debug, Serialize, Deserialize)]
struct ChangeCursor {
    offset: usize,
}

/// `GET /v1/runs/{run}/compare?base=&change=&limit=`: without `change`, the counts and the first
/// tests of every change; with it, that change's tests page by page.
pub(crate) async fn compare_run(
    store: &Store,
    q: &Query<'_>,
    run: &RunRef,
) -> Result<Response<Body>, ApiError> {
    let found = store
        .get_run(run)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {}", run.run_key)))?;
    let change = q
        .get("change")
        .map(|c| {
            Change::parse(&c).ok_or_else(|| {
                ApiError::invalid(
                    "change",
                    "must be new_failures, still_failing, fixed, newly_flaky, new_tests or removed_tests",
                )
            })
        })
        .transpose()?;
    let limit = match q.get("limit") {
        None => LISTED,
        Some(l) => l
            .parse()
            .ok()
            .filter(|l| (1..=MAX_LISTED).contains(l))
            .ok_or_else(|| ApiError::invalid("limit", format!("must be 1 to {MAX_LISTED}")))?,
    };
    let Some(compared) =
        compared(store, &found, q.get("base").as_deref(), MAX_COMPARED_TESTS).await?
    else {
        let body = json!({"run_id": run.run_key.as_str(), "base": null, "counts": null});
        return Ok(cache(json(StatusCode::OK, &body), 5));
    };
    let mut body = counts_json(&compared);
    body["run_id"] = run.run_key.as_str().into();
    match change {
        Some(change) => {
            let offset = q.start::<ChangeCursor>()?.map_or(0, |c| c.offset);
            let ids = compared.comparison.of(change);
            let page: Vec<String> = ids.iter().skip(offset).take(limit).cloned().collect();
            let next = (offset + limit < ids.len()).then_some(ChangeCursor {
                offset: offset + limit,
            });
            body["change"] = change.as_str().into();
            body["items"] = rows_json(store, &found, &compared, change, &page)
                .await?
                .into();
            body["next_cursor"] = q.seal(next).into();
        }
        None => {
            for change in Change::ALL {
                let ids = compared.comparison.of(change);
                let first = &ids[..ids.len().min(limit)];
                body[change.as_str()] = rows_json(store, &found, &compared, change, first)
                    .await?
                    .into();
            }
        }
    }
    Ok(cache(json(StatusCode::OK, &body), 5))
}
