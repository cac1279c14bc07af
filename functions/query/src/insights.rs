//! Answers over a window of a project's history: failure groups, flaky tests, slowest tests.
//! Each reads bounded pages and hands the rows to [`crate::analytics`].

use crate::analytics::{failure_groups, flaky_candidates, rank_slowest, tests_hit, FlakyCandidate};
use crate::cache::cache;
use crate::flakiness::{reasons, Reason};
use crate::pages::read_pages;
use crate::params::{limit, since_day, window_ms, Query, Window, MAX_WINDOW_MS};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use verdict_http::{json, rfc3339, ApiError};
use verdict_store::{
    now_ms, Flips, Granularity, OccurrenceFilter, ProjectName, RunAt, Store, TestOverWindow,
    TestRow,
};

/// Index entries a page reads when looking for a group's first or newest occurrence: two in
/// each of the failure's 16 partitions.
const OCCURRENCE_PAGE: i32 = 16;

/// Where the next page of a ranked list (failure groups, flaky candidates) starts.
#[derive(Debug, Serialize, Deserialize)]
struct RankCursor {
    offset: usize,
}

/// The oldest (or newest) occurrence of a failure in the window and branch of `filter`:
/// Queries of the `fingerprint` index until one shows. `None` when none does (its runs are
/// gone, or being ingested again).
async fn occurrence(
    store: &Store,
    project: &ProjectName,
    fingerprint: &str,
    filter: &OccurrenceFilter,
) -> Result<Option<TestRow>, ApiError> {
    let (rows, _) = read_pages(
        1,
        |rows| !rows.is_empty(),
        |start| async move {
            store
                .fingerprint_occurrences(
                    project,
                    fingerprint,
                    filter,
                    OCCURRENCE_PAGE,
                    start.as_ref(),
                )
                .await
        },
    )
    .await?;
    Ok(rows.into_iter().next())
}

/// `GET /v1/failures`: failures grouped by fingerprint, most frequent first, paged. Counts
/// come from the failure rollups of the days from the one holding `since` to today (one
/// Query), so they are exact for any number of runs, and each listed group's runs from its
/// own rollups (one Query each); its first and newest occurrence in the window come from the
/// `fingerprint` index.
pub(crate) async fn failures(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let now = now_ms();
    let since = since_day(q, window_ms(None)?)?;
    let branch = q.get("branch");
    let limit = usize::try_from(limit(q)?).unwrap_or(0);
    let offset = q.start::<RankCursor>()?.map_or(0, |c| c.offset);
    let counts = store
        .failure_counts(project, branch.as_deref(), since, now)
        .await?;
    let groups = failure_groups(&counts);
    let mut items = Vec::new();
    for group in groups.iter().skip(offset).take(limit) {
        let window = |oldest_first| OccurrenceFilter {
            branch: branch.clone(),
            since_ms: Some(since),
            until_ms: None,
            oldest_first,
        };
        let first = occurrence(store, project, group.fingerprint, &window(true)).await?;
        let last = occurrence(store, project, group.fingerprint, &window(false)).await?;
        let (Some(first), Some(last)) = (first, last) else {
            continue;
        };
        let runs = store
            .failure_runs(project, group.fingerprint, branch.as_deref(), since, now)
            .await?;
        items.push(json!({
            "fingerprint": group.fingerprint,
            "count": group.count,
            "runs": runs,
            "tests_affected": group.tests_affected,
            "first_seen": rfc3339(first.created_ms),
            "first_run_id": first.run_key,
            "last_seen": rfc3339(last.created_ms),
            "last_run_id": last.run_key,
            "sample_message": last.message,
            "sample_test": last.name,
        }));
    }
    let next = (offset + limit < groups.len()).then_some(RankCursor {
        offset: offset + limit,
    });
    let body = json!({
        "items": items,
        "next_cursor": q.seal(next),
        "groups": groups.len(),
        "since": rfc3339(since),
    });
    Ok(cache(json(StatusCode::OK, &body), 30))
}

fn flaky_json(
    candidate: &FlakyCandidate<'_>,
    test: &TestOverWindow,
    flips: &Flips,
    reasons: &[Reason<'_>],
) -> Value {
    let reasons: Vec<Value> = reasons.iter().map(Reason::to_json).collect();
    let at = |run: Option<&RunAt>| run.map(|r| (r.run.clone(), rfc3339(r.created_ms)));
    let (since_run, since) = at(flips.oldest_shown.as_ref()).unzip();
    let (last_run, last_at) = at(flips.shown.first()).unzip();
    json!({
        "test_id": candidate.test_id,
        "name": candidate.name,
        "classname": candidate.classname,
        "runs": test.tally.runs,
        "flaky_runs": flips.shown_runs,
        "retry_flaky_runs": test.tally.flaky_runs,
        "reasons": reasons,
        "since": since,
        "since_run_id": since_run,
        "last_flaky_run_id": last_run,
        "last_flaky_at": last_at,
        "flaky_run_ids": flips.shown.iter().map(|r| &r.run).collect::<Vec<_>>(),
        "flip_rate": flips.flip_rate(),
        "infra_runs_excluded": flips.infra,
    })
}

/// `GET /v1/flaky`: tests flaky in the window ([`reasons`]), paged over the candidates (every
/// test with a retried pass or a failure in the window's days, most retried first, then most
/// failed, by the failure rollups), each judged by its duration rollups over those days
/// ([`Store::tests_over_window`]: its runs and [`Flips`]), so every answer is exact at any
/// number of runs. A candidate that is not flaky is left out, so a page may hold fewer than
/// `limit` while `next_cursor` says more follow.
pub(crate) async fn flaky(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let window = Window::of(q)?;
    let since = Granularity::Day.start(window.since_ms);
    let branch = q.get("branch");
    let now = now_ms();
    let counts = store
        .failure_counts(project, branch.as_deref(), since, now)
        .await?;
    let candidates = flaky_candidates(&counts);
    let limit = usize::try_from(limit(q)?).unwrap_or(0);
    let offset = q.start::<RankCursor>()?.map_or(0, |c| c.offset);
    let page: Vec<&FlakyCandidate<'_>> = candidates.iter().skip(offset).take(limit).collect();
    let ids: Vec<String> = page.iter().map(|c| c.test_id.to_string()).collect();
    let tests = store
        .tests_over_window(project, branch.as_deref(), &ids, since, now)
        .await?;
    let items: Vec<Value> = page
        .iter()
        .filter_map(|candidate| {
            let test = tests.get(candidate.test_id)?;
            let reasons = reasons(test);
            let flips = test.flips.as_ref().filter(|_| !reasons.is_empty())?;
            Some(flaky_json(candidate, test, flips, &reasons))
        })
        .collect();
    let next = (offset + limit < candidates.len()).then_some(RankCursor {
        offset: offset + limit,
    });
    let body = json!({
        "items": items,
        "next_cursor": q.seal(next),
        "candidates": candidates.len(),
        "window_days": window.days(),
        "since": rfc3339(since),
    });
    Ok(cache(json(StatusCode::OK, &body), 30))
}

/// `GET /v1/tests/slowest`: the slowest tests by median duration over the days from the one
/// holding now − `window` to today, paged. Durations come from the duration rollups of those
/// days ([`Store::window_tallies`]), so they are exact for any number of runs, to a histogram
/// bucket (12.5%) for the quantiles; each listed test is named by its result in the newest run
/// that ran it (one BatchGetItem per run named).
pub(crate) async fn slowest(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let window = Window::of(q)?;
    let since = Granularity::Day.start(window.since_ms);
    let branch = q.get("branch");
    let limit = usize::try_from(limit(q)?).unwrap_or(0);
    let offset = q.start::<RankCursor>()?.map_or(0, |c| c.offset);
    let tests = store
        .window_tallies(project, branch.as_deref(), since, now_ms())
        .await?;
    let ranked = rank_slowest(tests);
    let page = ranked.get(offset..).unwrap_or_default();
    let page = &page[..limit.min(page.len())];
    let mut names: HashMap<String, String> = HashMap::new();
    let mut by_run: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for test in page {
        by_run
            .entry(&test.newest_run)
            .or_default()
            .push(test.test_id.clone());
    }
    for (run_key, ids) in by_run {
        let run = verdict_http::present::run_ref(project, run_key)?;
        for row in store.get_results(&run, &ids).await? {
            names.insert(row.test_id, row.name);
        }
    }
    let items: Vec<Value> = page
        .iter()
        .map(|test| {
            let d = &test.tally;
            json!({
                "test_id": test.test_id,
                "name": names.get(&test.test_id),
                "runs": d.runs,
                "median_ms": d.quantile_ms(0.5),
                "p95_ms": d.quantile_ms(0.95),
                "max_ms": d.max_ms(),
                "mean_ms": d.mean_ms(),
                "last_run_id": test.newest_run,
            })
        })
        .collect();
    let next = (offset + limit < ranked.len()).then_some(RankCursor {
        offset: offset + limit,
    });
    let body = json!({
        "items": items,
        "next_cursor": q.seal(next),
        "tests": ranked.len(),
        "since": rfc3339(since),
        "window_days": window.days(),
    });
    Ok(cache(json(StatusCode::OK, &body), 30))
}

/// `GET /v1/failures/{fingerprint}`: one failure across the project, over the days from the
/// one holding `since` (default: 90 days ago, the longest window) to today. Its occurrences, the
/// tests it hit (paged, most hit first) and its runs come from the failure rollups of those days
/// ([`Store::fingerprint_counts`], [`Store::failure_runs`]), exact at any number of runs; its
/// first and newest occurrence from the `fingerprint` index; the message and stack of each
/// attempt of the newest from one GetItem of its result.
pub(crate) async fn failure_group(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
    fingerprint: &str,
) -> Result<Response<Body>, ApiError> {
    let now = now_ms();
    let since = since_day(q, MAX_WINDOW_MS)?;
    let limit = usize::try_from(limit(q)?).unwrap_or(0);
    let offset = q.start::<RankCursor>()?.map_or(0, |c| c.offset);
    let window = |oldest_first| OccurrenceFilter {
        since_ms: Some(since),
        oldest_first,
        ..OccurrenceFilter::default()
    };
    let not_found = || ApiError::not_found(format!("failure {fingerprint}"));
    let newest = occurrence(store, project, fingerprint, &window(false))
        .await?
        .ok_or_else(not_found)?;
    let first = occurrence(store, project, fingerprint, &window(true)).await?;
    let first = first.as_ref().unwrap_or(&newest);
    let counts = store
        .fingerprint_counts(project, fingerprint, since, now)
        .await?;
    let runs = store
        .failure_runs(project, fingerprint, None, since, now)
        .await?;
    let tests = tests_hit(&counts);
    let run = verdict_http::present::run_ref(project, &newest.run_key)?;
    let result = store
        .get_result(&run, &newest.test_id)
        .await?
        .map(|(result, _)| result);
    let attempts: Vec<Value> = result
        .iter()
        .flat_map(|r| &r.attempts)
        .filter(|a| a.status.is_failure())
        .map(|a| {
            json!({
                "status": a.status.as_str(),
                "message": a.message,
                "failure_type": a.failure_type,
                "details": a.details,
                "stdout": a.stdout,
                "stderr": a.stderr,
            })
        })
        .collect();
    let next = (offset + limit < tests.len()).then_some(RankCursor {
        offset: offset + limit,
    });
    let body = json!({
        "fingerprint": fingerprint,
        "since": rfc3339(since),
        "occurrences": tests.iter().map(|t| t.occurrences).sum::<i64>(),
        "runs": runs,
        "tests_affected": tests.len(),
        "tests": tests.iter().skip(offset).take(limit).map(|t| json!({
            "test_id": t.test_id,
            "classname": t.classname,
            "name": t.name,
            "occurrences": t.occurrences,
        })).collect::<Vec<_>>(),
        "next_cursor": q.seal(next),
        "first_seen": rfc3339(first.created_ms),
        "first_run_id": first.run_key,
        "last_seen": rfc3339(newest.created_ms),
        "last_run_id": newest.run_key,
        "newest": {
            "test_id": newest.test_id,
            "name": newest.name,
            "classname": newest.classname,
            "run_id": newest.run_key,
            "message": result.as_ref().and_then(|r| r.message.clone()),
            "attempts": attempts,
        },
    });
    Ok(cache(json(StatusCode::OK, &body), 30))
}
