//! `GET /v1/runs/{run}/compare`: a run against its base ([`verdict_store::Comparison`]), read
//! from the comparison the parse function kept when the run settled, or made here when there is
//! none for this base and these files.

use crate::cache::cache;
use crate::params::Query;
use crate::present::row_json;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use verdict_http::present::run_ref;
use verdict_http::{json, rfc3339, ApiError};
use verdict_store::{
    BaseReason, Change, Comparison, Run, RunRef, Store, StoreError, Streak, TestRow,
    MAX_COMPARED_TESTS,
};

/// Tests listed per change unless `limit=` says otherwise: those whose rows the comparison keeps.
const LISTED: usize = verdict_store::ROWS_KEPT;
/// Tests listed per change at most.
const MAX_LISTED: usize = verdict_store::STREAKS_KEPT;

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

/// The largest runs a comparison is made of within any request but `/compare`; a run's page
/// makes no larger one (reading 100,000 tests' outcomes took 78 s on DynamoDB Local, near API
/// Gateway's 30 s on AWS too as runs grow). The parse function made the default base's when
/// the run settled; a page shows any other once `/compare` made it.
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
        None => match store.default_base(run).await? {
            Some(found) => found,
            None => return Ok(None),
        },
    };
    let largest = run.summary.tests.max(base.summary.tests);
    if largest > MAX_COMPARED_TESTS {
        return Err(ApiError::invalid(
            "base",
            format!("comparing needs runs of at most {MAX_COMPARED_TESTS} tests"),
        ));
    }
    let comparison = match store.kept_comparison(run, &base).await? {
        Some(comparison) => comparison,
        None if largest > make_up_to => return Ok(None),
        None => store.make_comparison(run, &base).await?,
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

/// One change's page of tests: tests `offset..` of it.
struct Page<'a> {
    change: Change,
    offset: usize,
    ids: &'a [String],
}

/// The rows of each page, from the run (or, for removed tests, the base), as each shows them:
/// those the comparison kept, else read (the rows first, then the run and the base once each,
/// after them: a file that began merging into a listed result since the comparison was made
/// is left out, as on every other page of the run).
async fn listed_rows(
    store: &Store,
    run: &Run,
    compared: &Compared,
    pages: &[Page<'_>],
) -> Result<Vec<Vec<TestRow>>, ApiError> {
    let kept: Vec<Option<Vec<TestRow>>> = pages
        .iter()
        .map(|p| compared.comparison.kept_rows(p.change, p.offset, p.ids))
        .collect();
    let from = |change: Change| {
        if change.in_base() {
            &compared.base.run
        } else {
            &run.run
        }
    };
    // Only the pages not kept are read: none, for the first page of every change.
    let unkept = || pages.iter().zip(&kept).filter(|(_, k)| k.is_none());
    let read = futures_util::future::try_join_all(
        unkept().map(|(page, _)| store.get_results(from(page.change), page.ids)),
    )
    .await?;
    // Each run read again only when a page of its tests was read.
    let reading = |in_base: bool| {
        unkept().any(|(page, _)| page.change.in_base() == in_base && !page.ids.is_empty())
    };
    let (run_now, base_now) = futures_util::future::try_join(
        run_if(store, reading(false), &run.run),
        run_if(store, reading(true), &compared.base.run),
    )
    .await?;
    let mut read = read.into_iter();
    Ok(pages
        .iter()
        .zip(kept)
        .map(|(page, kept)| {
            kept.unwrap_or_else(|| {
                let now = match page.change.in_base() {
                    true => &base_now,
                    false => &run_now,
                };
                let mut rows = read.next().unwrap_or_default();
                rows.retain(|r| now.as_ref().is_some_and(|found| found.shows_row(r)));
                rows
            })
        })
        .collect())
}

/// The run item of `run` when `wanted`.
async fn run_if(store: &Store, wanted: bool, run: &RunRef) -> Result<Option<Run>, StoreError> {
    match wanted {
        true => store.get_run(run).await,
        false => Ok(None),
    }
}

/// The listed tests of one change, the still-failing ones with their streak.
async fn rows_json(
    store: &Store,
    run: &Run,
    compared: &Compared,
    change: Change,
    rows: Vec<TestRow>,
) -> Result<Vec<Value>, ApiError> {
    if change != Change::StillFailing {
        return Ok(rows.iter().map(row_json).collect());
    }
    // The streak is the base branch's: a pull request's test that still fails has failed there
    // since its first failing run of the base branch.
    let kept = &compared.comparison.streaks;
    let unkept: Vec<String> = rows
        .iter()
        .filter(|row| !kept.contains_key(&row.test_id))
        .map(|row| row.test_id.clone())
        .collect();
    let read = match unkept.is_empty() {
        true => BTreeMap::new(),
        false => store.failing_streaks(run, &compared.base, &unkept).await?,
    };
    Ok(rows
        .iter()
        .map(|row| {
            let streak = kept.get(&row.test_id).or_else(|| read.get(&row.test_id));
            let mut value = row_json(row);
            value["failing_since"] = streak
                .and_then(Option::as_ref)
                .map_or(Value::Null, streak_json);
            value
        })
        .collect())
}

/// Since when a test fails, as the API says it.
pub(crate) fn streak_json(streak: &Streak) -> Value {
    json!({
        "run_id": streak.run_key,
        "created_at": rfc3339(streak.created_ms),
        "runs": streak.runs,
        "complete": streak.complete,
    })
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
            let page = Page {
                change,
                offset,
                ids: &page,
            };
            let rows = listed_rows(store, &found, &compared, &[page])
                .await?
                .pop()
                .unwrap_or_default();
            body["items"] = rows_json(store, &found, &compared, change, rows)
                .await?
                .into();
            body["next_cursor"] = q.seal(next).into();
        }
        None => {
            // Each change's first tests: kept with the comparison, unless `limit` asks for more.
            let firsts: Vec<Page> = Change::ALL
                .iter()
                .map(|&change| {
                    let ids = compared.comparison.of(change);
                    Page {
                        change,
                        offset: 0,
                        ids: &ids[..ids.len().min(limit)],
                    }
                })
                .collect();
            let rows = listed_rows(store, &found, &compared, &firsts).await?;
            let lists = futures_util::future::try_join_all(
                Change::ALL
                    .into_iter()
                    .zip(rows)
                    .map(|(change, rows)| rows_json(store, &found, &compared, change, rows)),
            )
            .await?;
            for (change, rows) in Change::ALL.into_iter().zip(lists) {
                body[change.as_str()] = rows.into();
            }
        }
    }
    Ok(cache(json(StatusCode::OK, &body), 5))
}
