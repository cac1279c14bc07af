//! `GET /v1/trends`: how a branch's runs went, bucket by bucket: what a dashboard's charts draw.

use crate::analytics::quantile;
use crate::cache::cache;
use crate::params::{Query, Window};
use crate::runs::runs_in_window;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json, Value};
use verdict_http::{json, rfc3339, ApiError};
use verdict_store::{ProjectName, Run, RunStatus, Store};

const DAY_MS: u64 = 86_400_000;
/// 1970-01-05, the first Monday of the epoch: weeks start on Mondays (ISO 8601), in UTC.
const FIRST_MONDAY_MS: u64 = 4 * DAY_MS;

/// How long a bucket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bucket {
    Day,
    Week,
}

impl Bucket {
    fn parse(text: Option<&str>) -> Result<Bucket, ApiError> {
        match text {
            None | Some("day") => Ok(Bucket::Day),
            Some("week") => Ok(Bucket::Week),
            Some(_) => Err(ApiError::invalid("bucket", "must be day or week")),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
        }
    }

    /// The start of the bucket holding `ms` (UTC midnight, or the Monday of its week).
    fn start(self, ms: u64) -> u64 {
        match self {
            Bucket::Day => ms - ms % DAY_MS,
            Bucket::Week => {
                let since = ms.saturating_sub(FIRST_MONDAY_MS);
                FIRST_MONDAY_MS + since - since % (7 * DAY_MS)
            }
        }
    }

    fn len_ms(self) -> u64 {
        match self {
            Bucket::Day => DAY_MS,
            Bucket::Week => 7 * DAY_MS,
        }
    }
}

/// One bucket of a trend.
#[derive(Debug, PartialEq)]
pub(crate) struct TrendBucket {
    pub(crate) start_ms: u64,
    pub(crate) runs: u64,
    pub(crate) passed_runs: u64,
    pub(crate) failed_runs: u64,
    /// The mean of the settled runs' test pass rates (`None`: no settled run with a rate).
    pub(crate) pass_rate: Option<f64>,
    pub(crate) failed_tests: u64,
    pub(crate) flaky_tests: u64,
    /// The largest test count of a run in the bucket.
    pub(crate) tests: u64,
    /// Nearest-rank median and 95th percentile of the runs' summed test durations.
    pub(crate) duration_p50_ms: Option<u64>,
    pub(crate) duration_p95_ms: Option<u64>,
}

/// Every bucket from the one holding `since_ms` to the one holding `until_ms`, oldest first,
/// empty ones included (a chart's x axis has no gaps). Pending runs count as runs but add no
/// pass rate; their tests so far are counted.
pub(crate) fn trend(
    runs: &[Run],
    bucket: Bucket,
    since_ms: u64,
    until_ms: u64,
) -> Vec<TrendBucket> {
    let first = bucket.start(since_ms);
    let count = (bucket.start(until_ms) - first) / bucket.len_ms() + 1;
    let mut members: Vec<Vec<&Run>> = (0..count).map(|_| Vec::new()).collect();
    for run in runs {
        if run.created_ms < first || run.created_ms > until_ms {
            continue;
        }
        let index = ((bucket.start(run.created_ms) - first) / bucket.len_ms()) as usize;
        members[index].push(run);
    }
    members
        .iter()
        .enumerate()
        .map(|(i, runs)| {
            let status = |s| runs.iter().filter(|r| r.status() == s).count() as u64;
            let rates: Vec<f64> = runs
                .iter()
                .filter(|r| r.status() != RunStatus::Pending)
                .filter_map(|r| r.summary.pass_rate())
                .collect();
            let mut durations: Vec<u64> = runs.iter().map(|r| r.summary.duration_ms).collect();
            durations.sort_unstable();
            let nonempty = !durations.is_empty();
            TrendBucket {
                start_ms: first + i as u64 * bucket.len_ms(),
                runs: runs.len() as u64,
                passed_runs: status(RunStatus::Passed),
                failed_runs: status(RunStatus::Failed),
                pass_rate: (!rates.is_empty()).then(|| {
                    (rates.iter().sum::<f64>() / rates.len() as f64 * 1000.0).round() / 1000.0
                }),
                failed_tests: runs
                    .iter()
                    .map(|r| r.summary.failed + r.summary.errors)
                    .sum(),
                flaky_tests: runs.iter().map(|r| r.summary.flaky).sum(),
                tests: runs.iter().map(|r| r.summary.tests).max().unwrap_or(0),
                duration_p50_ms: nonempty.then(|| quantile(&durations, 0.5)),
                duration_p95_ms: nonempty.then(|| quantile(&durations, 0.95)),
            }
        })
        .collect()
}

fn bucket_json(b: &TrendBucket) -> Value {
    json!({
        "start": rfc3339(b.start_ms),
        "runs": b.runs,
        "passed_runs": b.passed_runs,
        "failed_runs": b.failed_runs,
        "pass_rate": b.pass_rate,
        "failed_tests": b.failed_tests,
        "flaky_tests": b.flaky_tests,
        "tests": b.tests,
        "duration_p50_ms": b.duration_p50_ms,
        "duration_p95_ms": b.duration_p95_ms,
    })
}

/// `GET /v1/trends?branch=&window=&bucket=day|week`: the runs of the window (as `/v1/stats`
/// reads them), bucketed.
pub(crate) async fn trends(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let window = Window::of(q)?;
    let bucket = Bucket::parse(q.get("bucket").as_deref())?;
    let (runs, truncated) =
        runs_in_window(store, project, window.since_ms, q.get("branch")).await?;
    let buckets = trend(&runs, bucket, window.since_ms, window.since_ms + window.ms);
    let body = json!({
        "window_days": window.days(),
        "bucket": bucket.as_str(),
        "items": buckets.iter().map(bucket_json).collect::<Vec<_>>(),
        "truncated": truncated,
    });
    Ok(cache(json(StatusCode::OK, &body), 30))
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_model::Summary;
    use verdict_store::settled_run;

    fn run(key: &str, created_ms: u64, passed: u64, failed: u64, duration_ms: u64) -> Run {
        settled_run(
            key,
            created_ms,
            Summary {
                tests: passed + failed,
                passed,
                failed,
                duration_ms,
                ..Summary::default()
            },
        )
    }

    #[test]
    fn weeks_start_on_monday_and_days_at_midnight_utc() {
        // 2026-12-02T15:00Z is a Wednesday; its week began on Monday 2026-11-30.
        let wednesday = 1_796_223_600_000;
        assert_eq!(
            rfc3339(Bucket::Week.start(wednesday)),
            "2026-11-30T00:00:00Z"
        );
        assert_eq!(
            rfc3339(Bucket::Day.start(wednesday)),
            "2026-12-02T00:00:00Z"
        );
        let monday = 1_795_996_800_000;
        assert_eq!(Bucket::Week.start(monday), monday);
    }

    #[test]
    fn buckets_cover_the_window_without_gaps_and_count_each_run_once() {
        let day0 = 20 * DAY_MS;
        let runs = [
            run("a", day0 + 1_000, 9, 1, 100),
            run("b", day0 + 2_000, 10, 0, 300),
            run("c", day0 + 2 * DAY_MS + 5, 0, 4, 50),
            // Before the window: left out.
            run("old", day0 - 5, 1, 0, 1),
        ];
        let buckets = trend(&runs, Bucket::Day, day0 + 10, day0 + 2 * DAY_MS + 10);
        assert_eq!(buckets.len(), 3);
        assert_eq!(buckets[0].runs, 2);
        assert_eq!((buckets[0].passed_runs, buckets[0].failed_runs), (1, 1));
        assert_eq!(buckets[0].pass_rate, Some(0.95));
        assert_eq!(buckets[0].failed_tests, 1);
        assert_eq!(buckets[0].tests, 10);
        assert_eq!(
            (buckets[0].duration_p50_ms, buckets[0].duration_p95_ms),
            (Some(100), Some(300))
        );
        assert_eq!(buckets[1].runs, 0);
        assert_eq!(
            (buckets[1].pass_rate, buckets[1].duration_p50_ms),
            (None, None)
        );
        assert_eq!((buckets[2].runs, buckets[2].pass_rate), (1, Some(0.0)));
        assert_eq!(buckets[2].start_ms, day0 + 2 * DAY_MS);
    }
}
