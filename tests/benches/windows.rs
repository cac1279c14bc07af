//! Reads of the duration rollups over a long window at the reference team's size (`make
//! bench-windows`): a project whose every day of 90 holds 100,000 tests run 1,000 times (the
//! rollup objects put as those runs leave them, not ingested), read as the slowest tests and a
//! test's page and the flaky tests read them, cold (nothing kept yet), warm, and on the next day
//! (one more day, the window moved by one). One test in 100 fails in one run in ten. Baseline, in the same run: merging every object of the window, nothing
//! kept (what every cold read cost before blocks of days were kept). Each read is asked as the
//! query function serves it: cut after 25 s and asked again (the blocks it made are kept).
//! Writes a Markdown table to target/windows-bench.md. Not a test: nothing here asserts a time.

use std::time::Instant;
use verdict_query_fn::ANSWER_WITHIN;
use verdict_store::{now_ms, Granularity, ProjectName, Store, SEEDED_FAILING};
use verdict_tests::fresh_store;

const DAY_MS: u64 = 86_400_000;

/// One measured read: what, how long, how many tests it answered, in how many requests of the
/// query function, and the process's peak memory while it ran.
struct Read {
    what: &'static str,
    seconds: f64,
    tests: usize,
    requests: usize,
    peak_mb: f64,
}

/// The process's peak resident memory since it was last reset ([`reset_peak`]), in MB.
fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Resets the peak to the memory in use now (Linux: `5` to `clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// `read` timed as the query function serves it: a request cut after [`ANSWER_WITHIN`]
/// answers 503 `in_progress`, keeping what it made, and is asked again until answered.
async fn timed<F, Fut>(what: &'static str, read: F) -> Read
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    reset_peak();
    let start = Instant::now();
    let mut requests = 1;
    let tests = loop {
        match tokio::time::timeout(ANSWER_WITHIN, read()).await {
            Ok(tests) => break tests,
            Err(_) => requests += 1,
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    let peak_mb = peak_mb();
    eprintln!("{what}: {seconds:.2} s in {requests} requests, {tests} tests, peak {peak_mb:.0} MB");
    Read {
        what,
        seconds,
        tests,
        requests,
        peak_mb,
    }
}

async fn slowest(store: &Store, project: &ProjectName, first: u64, last: u64) -> usize {
    let tests = store.window_tallies(project, None, first, last).await;
    tests.expect("window tallies").len()
}

/// What `/v1/flaky` reads for a page of candidates: those tests over the window, with their flips.
async fn flaky_page(
    store: &Store,
    project: &ProjectName,
    candidates: &[String],
    first: u64,
    last: u64,
) -> usize {
    let tests = store.tests_over_window(project, None, candidates, first, last);
    let tests = tests.await.expect("tests over the window");
    tests.values().filter(|t| t.flips.is_some()).count()
}

async fn test_page(
    store: &Store,
    project: &ProjectName,
    test: &str,
    first: u64,
    last: u64,
) -> usize {
    let tally = store.test_tally(project, None, test, first, last).await;
    usize::from(tally.expect("test tally").is_some())
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes; nothing to list.
    }
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let tests = number("VERDICT_BENCH_TESTS", 100_000);
    let runs = number("VERDICT_BENCH_RUNS", 1_000);
    let days = number("VERDICT_BENCH_DAYS", 90) as u64;
    let store = fresh_store().await;
    let project = ProjectName::parse("wide").unwrap();
    let today = Granularity::Day.start(now_ms());
    let first = today - days * DAY_MS;
    let mut bytes = 0;
    for day in 0..=days + 2 {
        bytes += store
            .seed_duration_day(&project, first + day * DAY_MS, tests, runs)
            .await
            .expect("seed a day");
    }
    let objects = 16 * (days + 3);
    eprintln!("seeded {objects} objects, {:.0} MB", bytes as f64 / 1e6);
    // A test of shard 0 (the seeded ids are digests of their number).
    let test = (0..tests)
        .map(Store::seeded_test_id)
        .find(|id| id.starts_with('0'))
        .expect("a test in shard 0");

    let (next_first, tomorrow) = (first + DAY_MS, today + DAY_MS);
    let (later_first, day_after) = (first + 2 * DAY_MS, today + 2 * DAY_MS);
    // A page of `/v1/flaky` (50 candidates, of every shard): tests that fail now and then.
    let candidates: Vec<String> = (0..50)
        .map(|i| Store::seeded_test_id(i * SEEDED_FAILING))
        .collect();
    // Not a request: the whole merge, however long it takes.
    reset_peak();
    let start = Instant::now();
    let baseline_tests = store
        .window_tallies_unkept(&project, first, today)
        .await
        .unwrap();
    let baseline = (start.elapsed().as_secs_f64(), peak_mb());
    eprintln!("baseline: {:.2} s, peak {:.0} MB", baseline.0, baseline.1);
    let reads = vec![
        timed("a test's page, cold", || {
            test_page(&store, &project, &test, first, today)
        })
        .await,
        timed("a test's page, warm", || {
            test_page(&store, &project, &test, first, today)
        })
        .await,
        timed("slowest tests, cold but for the test's shard", || {
            slowest(&store, &project, first, today)
        })
        .await,
        timed("slowest tests, warm", || {
            slowest(&store, &project, first, today)
        })
        .await,
        timed("slowest tests, the next day's first", || {
            slowest(&store, &project, next_first, tomorrow)
        })
        .await,
        timed("slowest tests, the next day, warm", || {
            slowest(&store, &project, next_first, tomorrow)
        })
        .await,
        timed("a test's page, the next day, warm", || {
            test_page(&store, &project, &test, next_first, tomorrow)
        })
        .await,
        timed("flaky tests, a page of 50, a new day's first", || {
            flaky_page(&store, &project, &candidates, later_first, day_after)
        })
        .await,
        timed("flaky tests, a page of 50, warm", || {
            flaky_page(&store, &project, &candidates, later_first, day_after)
        })
        .await,
    ];
    let mut md = format!(
        "{} days of {} tests run {} times a day ({} rollup objects, {:.0} MB of JSON); baseline: {:.2} s for {} tests, peak RSS {:.0} MB.\n\n| read | seconds | against the baseline | requests of at most {} s | peak RSS MB (the bench process) |\n|---|---:|---:|---:|---:|\n",
        days + 1,
        tests,
        runs,
        objects,
        bytes as f64 / 1e6,
        baseline.0,
        baseline_tests,
        baseline.1,
        ANSWER_WITHIN.as_secs(),
    );
    for read in &reads {
        md.push_str(&format!(
            "| {} ({} tests) | {:.2} | {:.3} | {} | {:.0} |\n",
            read.what,
            read.tests,
            read.seconds,
            read.seconds / baseline.0,
            read.requests,
            read.peak_mb
        ));
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/windows-bench.md");
    std::fs::write(path, &md).expect("write target/windows-bench.md");
    print!("{md}");
}
