//! `GET /v1/trends`: how a branch's runs went, bucket by bucket: what a dashboard's charts draw.

use crate::cache::cache;
use crate::params::{Query, Window};
use crate::tallies::{window_start, window_tallies};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::{json, Value};
use verdict_http::{json, rfc3339, ApiError};
use verdict_store::{ProjectName, Store, Tally};

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

/// Every bucket from the one holding `start_ms` to the one holding `until_ms`, oldest first,
/// empty ones included (a chart's x axis has no gaps), each the sum of the `tallies` whose
/// period starts in it.
pub(crate) fn trend(
    tallies: &[(u64, Tally)],
    bucket: Bucket,
    start_ms: u64,
    until_ms: u64,
) -> Vec<(u64, Tally)> {
    let first = bucket.start(start_ms);
    let count = (bucket.start(until_ms) - first) / bucket.len_ms() + 1;
    let mut buckets: Vec<(u64, Tally)> = (0..count)
        .map(|i| (first + i * bucket.len_ms(), Tally::default()))
        .collect();
    for (period_ms, tally) in tallies {
        if *period_ms < first || *period_ms > until_ms {
            continue;
        }
        let index = ((bucket.start(*period_ms) - first) / bucket.len_ms()) as usize;
        buckets[index].1.add(tally, 1);
    }
    buckets
}

fn bucket_json(start_ms: u64, b: &Tally) -> Value {
    json!({
        "start": rfc3339(start_ms),
        "runs": b.runs,
        "passed_runs": b.passed_runs,
        "failed_runs": b.failed_runs,
        "pending_runs": b.pending_runs,
        "pass_rate": b.mean_pass_rate(),
        "failed_tests": b.failed_tests,
        "flaky_tests": b.flaky_tests,
        "tests": if b.runs > 0 { (2 * b.tests + b.runs) / (2 * b.runs) } else { 0 },
        "duration_p50_ms": b.duration_quantile(0.5),
        "duration_p95_ms": b.duration_quantile(0.95),
    })
}

/// `GET /v1/trends?branch=&window=&bucket=day|week`: the rollups of the window (as `/v1/stats`
/// reads them), bucketed.
pub(crate) async fn trends(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let window = Window::of(q)?;
    let bucket = Bucket::parse(q.get("bucket").as_deref())?;
    let tallies =
        window_tallies(store, project, q.get("branch").as_deref(), window.since_ms).await?;
    let start = window_start(window.since_ms);
    let buckets = trend(&tallies, bucket, start, window.since_ms + window.ms);
    let body = json!({
        "window_days": window.days(),
        "since": rfc3339(start),
        "bucket": bucket.as_str(),
        "items": buckets.iter().map(|(start, b)| bucket_json(*start, b)).collect::<Vec<_>>(),
    });
    Ok(cache(json(StatusCode::OK, &body), 30))
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_model::Summary;
    use verdict_store::settled_run;

    fn run(key: &str, created_ms: u64, passed: u64, failed: u64, duration_ms: u64) -> (u64, Tally) {
        let summary = Summary {
            tests: passed + failed,
            passed,
            failed,
            duration_ms,
            ..Summary::default()
        };
        (
            created_ms,
            Tally::of_run(&settled_run(key, created_ms, summary)),
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
        let tallies = [
            run("a", day0 + 1_000, 9, 1, 100),
            run("b", day0 + 2_000, 10, 0, 300),
            run("c", day0 + 2 * DAY_MS + 5, 0, 4, 50),
            // Before the window: left out.
            run("old", day0 - 5, 1, 0, 1),
        ];
        let buckets = trend(&tallies, Bucket::Day, day0, day0 + 2 * DAY_MS + 10);
        assert_eq!(buckets.len(), 3);
        let (start, first) = &buckets[0];
        assert_eq!(*start, day0);
        assert_eq!(first.runs, 2);
        assert_eq!((first.passed_runs, first.failed_runs), (1, 1));
        assert_eq!(first.mean_pass_rate(), Some(0.95));
        assert_eq!(first.failed_tests, 1);
        assert_eq!(first.tests, 20);
        let top = |ms| {
            Some(verdict_store::duration_bucket_top(
                verdict_store::duration_bucket(ms),
            ))
        };
        assert_eq!(
            (first.duration_quantile(0.5), first.duration_quantile(0.95)),
            (top(100), top(300))
        );
        assert_eq!(buckets[1].1, Tally::default());
        assert_eq!(
            (buckets[2].1.runs, buckets[2].1.mean_pass_rate()),
            (1, Some(0.0))
        );
        assert_eq!(buckets[2].0, day0 + 2 * DAY_MS);
        let json = bucket_json(buckets[0].0, &buckets[0].1);
        assert_eq!(
            (json["tests"].as_i64(), json["pass_rate"].as_f64()),
            (Some(10), Some(0.95))
        );
    }
}
