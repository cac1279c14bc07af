//! `/v1/stats` and `/v1/trends` over a seeded history (runs over 100 days, made directly
//! through the store: registered, claimed, settled and rolled up as the functions do, some
//! rolled many times at once): every answer equals a brute-force recount of the run items,
//! and rolling every run again changes nothing. 3,000 runs by default, to keep `make test`
//! short; `VERDICT_SEEDED_RUNS=12000` crosses the 10,000 runs `/v1/stats` once read at most
//! (7.5 minutes here).

use futures_util::StreamExt;
use serde_json::Value;
use std::collections::BTreeMap;
use verdict_model::{RunMetadata, Summary};
use verdict_store::{
    duration_bucket, duration_bucket_top, now_ms, Claim, Delta, FileCommit, FileError,
    FileErrorKind, Run, RunRef, RunStatus, Store,
};
use verdict_tests::{register_at, run_ref, LocalApi};
use verdict_upload_fn::Limits;

/// Runs seeded: `VERDICT_SEEDED_RUNS`, or 3,000.
fn runs_seeded() -> usize {
    std::env::var("VERDICT_SEEDED_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3_000)
}
const DAY_MS: u64 = 86_400_000;
const HOUR_MS: u64 = 3_600_000;

/// A small deterministic generator (64-bit LCG), so a failure reproduces.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// One seeded run: when, on which branch, and what its files do.
struct Seed {
    /// Its place among the seeds (file ids are unique across runs).
    index: usize,
    run: RunRef,
    created_ms: u64,
    branch: Option<&'static str>,
    summary: Summary,
    /// A second file that fails to parse.
    failed_file: bool,
    /// A second file registered and never settled: the run stays pending.
    pending_file: bool,
    /// Rolled up this many times at once after its settle.
    concurrent_rolls: usize,
}

fn seeds(now: u64) -> Vec<Seed> {
    let mut rng = Lcg(0x5eed);
    (0..runs_seeded())
        .map(|i| {
            let tests = 20 + rng.next(200);
            let failed = if rng.next(4) == 0 { rng.next(5) } else { 0 };
            let errors = if rng.next(10) == 0 { 1 } else { 0 };
            let skipped = rng.next(3);
            let passed = tests - failed - errors - skipped;
            Seed {
                index: i,
                run: run_ref("acme", &format!("r{i:05}")),
                // Over 100 days back from an hour ago, so every window is covered and some runs
                // are older than the longest.
                created_ms: now - HOUR_MS - rng.next(100 * DAY_MS),
                branch: match rng.next(10) {
                    0..=5 => Some("main"),
                    6..=8 => Some("feature-x"),
                    _ => None,
                },
                summary: Summary {
                    tests,
                    passed,
                    failed,
                    errors,
                    skipped,
                    flaky: u64::from(rng.next(8) == 0),
                    duration_ms: rng.next(20 * 60_000),
                    ..Summary::default()
                },
                failed_file: rng.next(20) == 0,
                pending_file: rng.next(33) == 0,
                concurrent_rolls: if rng.next(10) == 0 { 3 } else { 1 },
            }
        })
        .collect()
}

/// Makes one run as the functions would: registered (and rolled up, as the upload function
/// does), its file claimed and committed, a second file failed or left registered, each step
/// rolled up as the parse function does.
async fn seed(store: &Store, seed: &Seed) {
    let metadata = RunMetadata {
        branch: seed.branch.map(str::to_string),
        ..RunMetadata::default()
    };
    let roll = || async { store.roll_run(&seed.run).await.expect("roll") };
    let first = register_at(
        store,
        &seed.run,
        2 * seed.index,
        "a.xml",
        10,
        seed.created_ms,
        metadata.clone(),
    )
    .await;
    roll().await;
    assert!(matches!(
        store
            .claim_file(&first, "seed", seed.created_ms, 60_000)
            .await
            .unwrap(),
        Claim::Claimed(_)
    ));
    let commit = FileCommit {
        format: "junit".into(),
        sha256: "0".repeat(64),
        counts: seed.summary,
        contribution: Delta::of(&seed.summary),
        warnings: Vec::new(),
    };
    assert!(store
        .commit_file(&first, "seed", &commit, seed.created_ms)
        .await
        .unwrap());
    futures_util::future::join_all((0..seed.concurrent_rolls).map(|_| roll())).await;
    if seed.failed_file || seed.pending_file {
        let second = register_at(
            store,
            &seed.run,
            2 * seed.index + 1,
            "b.xml",
            10,
            seed.created_ms,
            metadata,
        )
        .await;
        roll().await;
        if seed.failed_file {
            store
                .claim_file(&second, "seed", seed.created_ms, 60_000)
                .await
                .unwrap();
            let error = FileError::of_file(FileErrorKind::Malformed, "not XML");
            assert!(store
                .fail_file(&second, "seed", &error, seed.created_ms)
                .await
                .unwrap());
            roll().await;
        }
    }
}

/// What the rollups must say of `runs`: recounted here from the run items, one by one.
#[derive(Debug, Default, PartialEq)]
struct Recount {
    runs: i64,
    passed_runs: i64,
    failed_runs: i64,
    pending_runs: i64,
    failed_tests: i64,
    flaky_tests: i64,
    tests: i64,
    duration_ms: i64,
    rates_milli: Vec<i64>,
    durations: Vec<u64>,
}

impl Recount {
    fn of<'a>(runs: impl IntoIterator<Item = &'a Run>) -> Recount {
        let mut r = Recount::default();
        for run in runs {
            r.runs += 1;
            match run.status() {
                RunStatus::Passed => r.passed_runs += 1,
                RunStatus::Failed => r.failed_runs += 1,
                RunStatus::Pending => r.pending_runs += 1,
            }
            if run.status() != RunStatus::Pending {
                if let Some(rate) = run.summary.pass_rate() {
                    r.rates_milli.push((rate * 1000.0).round() as i64);
                }
            }
            r.failed_tests += (run.summary.failed + run.summary.errors) as i64;
            r.flaky_tests += run.summary.flaky as i64;
            r.tests += run.summary.tests as i64;
            r.duration_ms += run.summary.duration_ms as i64;
            r.durations.push(run.summary.duration_ms);
        }
        r.durations.sort_unstable();
        r
    }

    fn mean_rate(&self) -> Value {
        let n = self.rates_milli.len() as i64;
        if n == 0 {
            return Value::Null;
        }
        let sum: i64 = self.rates_milli.iter().sum();
        // Half up, as the API rounds.
        serde_json::json!(((2 * sum + n) / (2 * n)) as f64 / 1000.0)
    }

    /// The top of the histogram bucket of the nearest-rank quantile.
    fn quantile(&self, q: f64) -> Value {
        if self.durations.is_empty() {
            return Value::Null;
        }
        let rank =
            ((q * self.durations.len() as f64).ceil() as usize).clamp(1, self.durations.len());
        serde_json::json!(duration_bucket_top(duration_bucket(
            self.durations[rank - 1]
        )))
    }
}

/// An answer's `2026-12-03T14:00:00Z` as epoch milliseconds (days from the civil date).
fn time_ms(v: &Value) -> u64 {
    let text = v.as_str().expect("a time");
    let (date, time) = text.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let t: Vec<i64> = time.split(':').map(|p| p.parse().unwrap()).collect();
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) * 1000) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stats_and_trends_over_thousands_of_runs_equal_a_recount_of_the_runs() {
    let api = LocalApi::start(Limits::default()).await;
    let store = api.store.clone();
    let now = now_ms();
    let seeds = seeds(now);
    futures_util::stream::iter(&seeds)
        .for_each_concurrent(32, |s| seed(&store, s))
        .await;
    let runs: Vec<Run> = store
        .get_runs(
            &seeds[0].run.project,
            seeds.iter().map(|s| s.run.run_key.clone()),
        )
        .await
        .unwrap();
    assert_eq!(runs.len(), seeds.len());
    let branch_of = |run: &Run| run.metadata.branch.clone();

    for (window, branch) in [
        ("90d", None),
        ("30d", None),
        ("7d", Some("main")),
        ("36h", None),
        ("90d", Some("feature-x")),
    ] {
        let query = match branch {
            Some(b) => format!("window={window}&branch={b}"),
            None => format!("window={window}"),
        };
        let (status, stats) = api
            .get(&api.read_token, &format!("/v1/stats?{query}"))
            .await;
        assert_eq!(status, 200, "{stats}");
        let since = time_ms(&stats["since"]);
        assert_eq!(since % HOUR_MS, 0, "windows start at the top of an hour");
        let in_window: Vec<&Run> = runs
            .iter()
            .filter(|r| r.created_ms >= since)
            .filter(|r| branch.is_none() || branch_of(r).as_deref() == branch)
            .collect();
        assert!(in_window.len() > 20, "{query}: a window worth checking");
        let expected = Recount::of(in_window.iter().copied());
        let settled = expected.passed_runs + expected.failed_runs;
        let pass_rate = (expected.passed_runs as f64 / settled as f64 * 1000.0).round() / 1000.0;
        assert_eq!(stats["runs"], expected.runs, "{query}");
        assert_eq!(stats["passed_runs"], expected.passed_runs, "{query}");
        assert_eq!(stats["failed_runs"], expected.failed_runs, "{query}");
        assert_eq!(stats["pending_runs"], expected.pending_runs, "{query}");
        assert_eq!(stats["pass_rate"], pass_rate, "{query}");
        assert_eq!(
            stats["mean_test_duration_ms"],
            expected.duration_ms / expected.runs,
            "{query}"
        );
        assert_eq!(
            stats["mean_test_pass_rate"],
            expected.mean_rate(),
            "{query}"
        );
        let newest = in_window.iter().max_by_key(|r| r.created_ms).unwrap();
        assert_eq!(
            stats["last_run"]["run_id"],
            newest.run.run_key.as_str(),
            "{query}"
        );
        assert!(
            stats.get("truncated").is_none(),
            "{query}: exact, never cut"
        );

        for bucket in ["day", "week"] {
            let (status, trend) = api
                .get(
                    &api.read_token,
                    &format!("/v1/trends?{query}&bucket={bucket}"),
                )
                .await;
            assert_eq!(status, 200, "{trend}");
            let items = trend["items"].as_array().unwrap();
            let len = if bucket == "day" { DAY_MS } else { 7 * DAY_MS };
            let starts: Vec<u64> = items.iter().map(|i| time_ms(&i["start"])).collect();
            let mut members: BTreeMap<u64, Vec<&Run>> =
                starts.iter().map(|s| (*s, Vec::new())).collect();
            for run in &in_window {
                let start = *starts.iter().rev().find(|s| **s <= run.created_ms).unwrap();
                assert!(run.created_ms < start + len);
                members.get_mut(&start).unwrap().push(run);
            }
            for (item, (start, runs)) in items.iter().zip(&members) {
                let e = Recount::of(runs.iter().copied());
                let at = format!("{query} {bucket} {}", item["start"]);
                assert_eq!(time_ms(&item["start"]), *start);
                assert_eq!(item["runs"], e.runs, "{at}");
                assert_eq!(item["passed_runs"], e.passed_runs, "{at}");
                assert_eq!(item["failed_runs"], e.failed_runs, "{at}");
                assert_eq!(item["pending_runs"], e.pending_runs, "{at}");
                assert_eq!(item["failed_tests"], e.failed_tests, "{at}");
                assert_eq!(item["flaky_tests"], e.flaky_tests, "{at}");
                let tests = if e.runs > 0 {
                    (2 * e.tests + e.runs) / (2 * e.runs)
                } else {
                    0
                };
                assert_eq!(item["tests"], tests, "{at}");
                assert_eq!(item["pass_rate"], e.mean_rate(), "{at}");
                assert_eq!(item["duration_p50_ms"], e.quantile(0.5), "{at}");
                assert_eq!(item["duration_p95_ms"], e.quantile(0.95), "{at}");
            }
            let counted: i64 = items.iter().map(|i| i["runs"].as_i64().unwrap()).sum();
            assert_eq!(
                counted, expected.runs,
                "{query} {bucket}: every run in one bucket"
            );
        }
    }

    // Rolling every run again, many at once, changes nothing.
    let before = verdict_tests::dump(&store).await;
    futures_util::stream::iter(&seeds)
        .for_each_concurrent(32, |s| {
            let store = &store;
            async move { store.roll_run(&s.run).await.unwrap() }
        })
        .await;
    verdict_tests::assert_same_dump(&verdict_tests::dump(&store).await, &before, "rolled again");
}
