//! Ingestion at scale under AWS's per-partition limits (`make bench-scale`): the local stack
//! behind the limits proxy (`verdict_tests::limits`) at VERDICT_SCALE_WCU write units per second
//! per partition key value (default 50, a twentieth of AWS's 1,000: a run's results spread over
//! 16 partitions, and at AWS's rate this machine, not the limits, would be the bottleneck; so a
//! scenario here stands for one 20 times its size on AWS, in the same time), each scenario
//! against its floor measured in the same run: the time the limits allow for the write units
//! the busiest partition was charged. An invocation writes for 3 s before it checkpoints
//! (13 minutes on AWS), so every large file is written by several invocations.
//!
//! 1. one file of VERDICT_SCALE_TESTS passing tests (default 50,000: the 1M at this
//!    scale): completes, counted once, continuations, ingest time against its floor;
//! 2. a red build: VERDICT_SCALE_RED tests (default 5,000: the 100k), every one failing
//!    with a 20-line trace and captured output: write units per failing test, the item's size;
//! 3. VERDICT_SCALE_SHARDS shard files (default 500) of VERDICT_SCALE_SHARD_TESTS tests each
//!    (default 200: the issue's own figures, a run 20 times larger on AWS), uploaded at once: the
//!    longest a file settled after the one before it, and the run item's size at the end.
//!
//! Then what a passing and a failing result cost (from scenarios 1 and 2: the write units the
//! limits charged, the table's footprint after, the raw bytes) and the reference team's month
//! on AWS's prices (`verdict_tests::cost`). Each scenario is its project's first run, created at
//! the tests' fixed time, past its retention, so it records no first-seen item (a project's
//! first run created now puts one, for the whole run).
//!
//! Writes Markdown tables to target/scale-bench.md and target/cost-bench.md. Not a test:
//! nothing here asserts a time.

use std::fmt::Write as _;
use std::time::Duration;
use verdict_parse_fn::ingest::{Outcome, Settings};
use verdict_store::FileState;
use verdict_store::{mean_item_size, red_build_failure};
use verdict_tests::cost::{Bill, PerResult, REFERENCE_TEAM};
use verdict_tests::limits::Limits;
use verdict_tests::reports::junit;
use verdict_tests::under_limits::{ingest_at_once, Ingested};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An invocation at the bench's scale: 3 s of taking results, then up to 17 s for the writes
/// in flight to land (a throttled batch backs off for seconds; the SDK's backoff is not
/// scaled down with the limits).
fn settings() -> Settings {
    Settings {
        lease_ms: 25_000,
        work_ms: 20_000,
        checkpoint_ms: 3_000,
        ..Settings::default()
    }
}

/// `tests` passing tests in classes of 20.
fn passing(tests: usize) -> Vec<u8> {
    let names: Vec<String> = (0..tests)
        .map(|i| format!("pkg.module{}.Things.test_case_{i}", i / 20))
        .collect();
    let cases: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "passed")).collect();
    junit(&cases)
}

/// `tests` tests, each failing with a 20-line trace and 20 lines of captured output.
fn red(tests: usize) -> Vec<u8> {
    let failure = red_build_failure();
    let mut xml = String::from("<testsuite name=\"s\">");
    for i in 0..tests {
        write!(
            xml,
            "<testcase classname=\"com.example.Suite{}\" name=\"test_{i}\" time=\"1.5\">\
             <failure message=\"{}\" type=\"{}\">{}</failure>\
             <system-out>{}</system-out></testcase>",
            i / 50,
            failure.message,
            failure.failure_type,
            failure.details,
            failure.stdout,
        )
        .unwrap();
    }
    xml.push_str("</testsuite>");
    xml.into_bytes()
}

/// What became of the files: "completed" or how many failed.
fn completion(ingested: &Ingested) -> String {
    let done = ingested
        .outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                Outcome::Done { .. } | Outcome::AlreadySettled(FileState::Done)
            )
        })
        .count();
    let retried: Vec<String> = ingested
        .retries
        .iter()
        .map(|(why, n)| format!("{why} {n}"))
        .collect();
    let retried = match retried.is_empty() {
        true => String::new(),
        false => format!(" (deliveries asked to retry: {})", retried.join(", ")),
    };
    match ingested.outcomes.len() - done {
        0 => format!("completed, counted once{retried}"),
        n => format!(
            "**{n} of {} files failed** (given up){retried}",
            ingested.outcomes.len()
        ),
    }
}

/// The floor: seconds the busiest partition's write units take at `wcu_per_s`.
fn floor_s(ingested: &Ingested, wcu_per_s: f64) -> f64 {
    ingested.report.hottest_wcu / wcu_per_s
}

#[tokio::main]
async fn main() {
    let wcu = env("VERDICT_SCALE_WCU", 50) as f64;
    let limits = Limits {
        wcu_per_s: wcu,
        rcu_per_s: 3.0 * wcu,
        burst_s: 1.0,
    };
    let mut table = String::from(
        "| scenario | result | figure | floor (same run) | ratio floor / time | target |\n\
         |---|---|---:|---:|---:|---|\n",
    );

    // 1. One large file.
    let tests = env("VERDICT_SCALE_TESTS", 50_000);
    let files = vec![("large.xml".to_string(), passing(tests))];
    let large_raw = files[0].1.len();
    let large = ingest_at_once(&files, Some(limits), settings()).await;
    let summary = large
        .store
        .get_run(&large.run)
        .await
        .unwrap()
        .unwrap()
        .summary;
    if large.all_done() {
        assert_eq!(summary.tests, tests as u64, "every test counted once");
        assert_eq!(summary, large.store.recount(&large.run).await.unwrap());
    }
    let floor = floor_s(&large, wcu);
    let secs = large.elapsed.as_secs_f64();
    writeln!(
        table,
        "| 1. one file of {tests} passing tests | {}, {} continuations | {secs:.1} s | {floor:.1} s ({:.0} WCU on `{}`) | {:.2} | ≥ 0.50, ≥ 3 continuations |",
        completion(&large),
        large.continued,
        large.report.hottest_wcu,
        large.report.hottest,
        floor / secs,
    )
    .unwrap();
    eprintln!("large: {:?}, retries {:?}", large.report, large.retries);

    // 2. A red build.
    let failing = env("VERDICT_SCALE_RED", 5_000);
    let files = vec![("red.xml".to_string(), red(failing))];
    let red_raw = files[0].1.len();
    let red_build = ingest_at_once(&files, Some(limits), settings()).await;
    let summary = red_build
        .store
        .get_run(&red_build.run)
        .await
        .unwrap()
        .unwrap()
        .summary;
    if red_build.all_done() {
        assert_eq!(summary.failed, failing as u64, "every failure counted once");
    }
    let per_test = red_build.report.wcu / failing as f64;
    let item_bytes = mean_item_size(&red_build.store, &red_build.run, 200)
        .await
        .unwrap();
    let floor = floor_s(&red_build, wcu);
    let secs = red_build.elapsed.as_secs_f64();
    writeln!(
        table,
        "| 2. a red build: {failing} tests failing with 20-line traces and output | {}, {} continuations; test item {item_bytes} B | {per_test:.1} WRU per failing test; {secs:.1} s | {floor:.1} s ({:.0} WCU on `{}`) | {:.2} | ≤ 5 WRU per failing test |",
        completion(&red_build),
        red_build.continued,
        red_build.report.hottest_wcu,
        red_build.report.hottest,
        floor / secs,
    )
    .unwrap();
    eprintln!(
        "red: {:?}, retries {:?}",
        red_build.report, red_build.retries
    );
    let passing_result = per_result(&large, tests, large_raw).await;
    let failing_result = per_result(&red_build, failing, red_raw).await;

    // 3. Many shards at once.
    let shards = env("VERDICT_SCALE_SHARDS", 500);
    let shard_tests = env("VERDICT_SCALE_SHARD_TESTS", 200);
    let files: Vec<(String, Vec<u8>)> = (0..shards)
        .map(|s| {
            let names: Vec<String> = (0..shard_tests)
                .map(|t| format!("shard{s}.Case.test_{t}"))
                .collect();
            let cases: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "passed")).collect();
            (format!("shard-{s}.xml"), junit(&cases))
        })
        .collect();
    let many = ingest_at_once(&files, Some(limits), settings()).await;
    let summary = many
        .store
        .get_run(&many.run)
        .await
        .unwrap()
        .unwrap()
        .summary;
    if many.all_done() {
        assert_eq!(
            summary.tests,
            (shards * shard_tests) as u64,
            "every test counted once"
        );
    }
    let mut settled = many.settled_after.clone();
    settled.sort();
    let longest_gap = settled
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or(Duration::ZERO);
    let run_item = many.store.run_item_size(&many.run).await.unwrap();
    let floor = floor_s(&many, wcu);
    let secs = many.elapsed.as_secs_f64();
    writeln!(
        table,
        "| 3. {shards} shard files of {shard_tests} tests uploaded at once | {}; run item {run_item} B | {secs:.1} s; the longest a file settled after the one before: {:.1} s | {floor:.1} s ({:.0} WCU on `{}`) | {:.2} | no file a minute behind another; run item ≤ 64 KB |",
        completion(&many),
        longest_gap.as_secs_f64(),
        many.report.hottest_wcu,
        many.report.hottest,
        floor / secs,
    )
    .unwrap();
    eprintln!("shards: {:?}, retries {:?}", many.report, many.retries);

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/scale-bench.md");
    std::fs::write(path, &table).expect("write target/scale-bench.md");
    println!("{table}");

    let costs = cost_tables(&passing_result, &failing_result);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/cost-bench.md");
    std::fs::write(path, &costs).expect("write target/cost-bench.md");
    println!("{costs}");
}

/// What one result of a scenario cost, from what the limits charged for its ingest, what the
/// table holds after it and the `raw_bytes` uploaded (the run's and file's items share in it).
async fn per_result(ingested: &Ingested, results: usize, raw_bytes: usize) -> PerResult {
    let footprint = ingested.store.footprint().await.unwrap();
    let n = results as f64;
    PerResult {
        write_units: ingested.report.wcu / n,
        delete_units: footprint.delete_units as f64 / n,
        table_bytes: footprint.table_bytes as f64 / n,
        index_bytes: footprint.index_bytes as f64 / n,
        raw_bytes: raw_bytes as f64 / n,
    }
}

/// Issue 16's estimate of the reference team's bill before it (from the code, not measured).
const BEFORE: Bill = Bill {
    writes: 3_900.0,
    deletes: 3_900.0,
    storage: 3_400.0,
    pitr: 1_500.0,
    raw: 0.0,
};

/// The measured costs per result, and the reference team's month on them.
fn cost_tables(passing: &PerResult, failing: &PerResult) -> String {
    let team = REFERENCE_TEAM;
    let mut out = String::from(
        "| per result | passing | failing (20-line trace, captured output) |\n|---|---:|---:|\n",
    );
    let rows = [
        (
            "write units to ingest",
            passing.write_units,
            failing.write_units,
            1,
        ),
        (
            "write units to delete (retention)",
            passing.delete_units,
            failing.delete_units,
            1,
        ),
        (
            "bytes on the table",
            passing.table_bytes,
            failing.table_bytes,
            0,
        ),
        (
            "bytes in the indexes",
            passing.index_bytes,
            failing.index_bytes,
            0,
        ),
        (
            "bytes of raw report in S3",
            passing.raw_bytes,
            failing.raw_bytes,
            0,
        ),
    ];
    for (name, passing, failing, decimals) in rows {
        writeln!(
            out,
            "| {name} | {passing:.decimals$} | {failing:.decimals$} |"
        )
        .unwrap();
    }
    let off = team.monthly_bill(passing, failing, false);
    let on = team.monthly_bill(passing, failing, true);
    write!(
        out,
        "\n| a month of {} tests a run, {} runs a day, kept {} days, {}% failing | before (issue 16's estimate) | measured, PITR off (the default) | measured, PITR on |\n|---|---:|---:|---:|\n",
        team.tests_per_run,
        team.runs_per_day,
        team.retention_days,
        team.failing * 100.0
    )
    .unwrap();
    let bills = [
        ("writes", BEFORE.writes, off.writes, on.writes),
        (
            "retention's deletes",
            BEFORE.deletes,
            off.deletes,
            on.deletes,
        ),
        (
            "table and index storage",
            BEFORE.storage,
            off.storage,
            on.storage,
        ),
        ("point-in-time recovery", BEFORE.pitr, off.pitr, on.pitr),
        ("raw reports in S3", BEFORE.raw, off.raw, on.raw),
        ("**total**", BEFORE.total(), off.total(), on.total()),
    ];
    for (name, before, off, on) in bills {
        writeln!(out, "| {name} | ${before:.0} | ${off:.0} | ${on:.0} |").unwrap();
    }
    writeln!(
        out,
        "| per million results kept {} days | ${:.2} | ${:.2} | ${:.2} |",
        team.retention_days,
        team.per_million_results(&BEFORE),
        team.per_million_results(&off),
        team.per_million_results(&on)
    )
    .unwrap();
    out
}
