//! Ingest benchmark on the local stack (`make bench-ingest`): a generated JUnit file of
//! VERDICT_BENCH_TESTS tests (default 100,000) ingested into DynamoDB Local, in tests per second,
//! next to a raw BatchWriteItem loop writing copies of the same items (same size, same index
//! keys) against the same server in the same run, at the same concurrency. The file is ingested
//! as the first writer of its run (bulk writes), as a later file of a run whose other file
//! committed (alone too: each batch read, then merged in bulk), as a later file beside a writer
//! that failed (conditional writes), and as the first file of a project's next run (bulk, then
//! compared with the run before, which reads both runs whole). A file that settles its run also
//! folds it into its day's duration rollups. Ingestion runs in a child
//! process so its peak memory (VmHWM) is the parse function's alone. Writes a Markdown table to
//! target/ingest-bench.md; with VERDICT_BENCH_LIMITS=aws, ingestion and the raw loop both go
//! through the limits proxy (`verdict_tests::limits`) at AWS's limits per partition key, and the
//! table goes to target/ingest-bench-limits.md.

use std::io::Write;
use std::process::Command;
use std::time::Instant;
use verdict_parse_fn::ingest::{Ingest, Outcome, Settings};
use verdict_store::{
    mean_item_size, now_ms, raw_batch_write, Store, StoreConfig, DURATIONS_PREFIX,
};
use verdict_tests::fault_proxy::FaultProxy;
use verdict_tests::limits::Limits;
use verdict_tests::{fresh_config, fresh_store, run_ref, through_dynamodb, upload_at};

/// A JUnit report shaped like a real suite: mostly passing tests in classes of 20, every 50th
/// failing with a message and a short stack, every 40th skipped.
fn report(tests: usize) -> Vec<u8> {
    let mut xml = String::with_capacity(tests * 200);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for class in 0..tests.div_ceil(20) {
        xml.push_str(&format!(
            "<testsuite name=\"pkg.module{class}\" tests=\"20\">\n"
        ));
        for i in class * 20..((class + 1) * 20).min(tests) {
            let body = if i % 50 == 7 {
                format!("<failure message=\"expected {i} but was {}\" type=\"AssertionError\">AssertionError: expected {i}\n  at pkg/module{class}.py:{}\n  at pkg/runner.py:88</failure>", i + 1, i % 300)
            } else if i % 40 == 3 {
                "<skipped message=\"not on this platform\"/>".to_string()
            } else {
                String::new()
            };
            xml.push_str(&format!(
                "<testcase classname=\"pkg.module{class}.TestThings\" name=\"test_case_{i}[param-{}]\" time=\"0.{:03}\">{body}</testcase>\n",
                i % 7,
                i % 997
            ));
        }
        xml.push_str("</testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml.into_bytes()
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Child mode: `ingest TABLE BUCKET KEY CONCURRENCY` prints `seconds tests wcu vmhwm_kb`.
async fn child(args: &[String]) {
    let [table, bucket, key, concurrency] = args else {
        panic!("usage: ingest TABLE BUCKET KEY CONCURRENCY")
    };
    let (store, capacity) = Store::connect(&StoreConfig {
        table: table.clone(),
        bucket: bucket.clone(),
        dynamodb_endpoint: std::env::var("VERDICT_DYNAMODB_ENDPOINT").ok(),
        s3_endpoint: std::env::var("VERDICT_S3_ENDPOINT").ok(),
    })
    .await
    .counting_capacity();
    let ingest = Ingest::new(
        store.clone().serving("parse"),
        Settings {
            concurrency: concurrency.parse().unwrap(),
            ..Settings::default()
        },
    );
    let start = Instant::now();
    let outcome = ingest.ingest_key(key, "bench").await.expect("ingest");
    let seconds = start.elapsed().as_secs_f64();
    let Outcome::Done { counts, .. } = outcome else {
        panic!("not ingested: {outcome:?}")
    };
    println!(
        "{seconds} {} {} {}",
        counts.tests,
        capacity.units(),
        vm_hwm_kb()
    );
}

struct Measured {
    tests: usize,
    path: &'static str,
    concurrency: usize,
    ingest_per_s: f64,
    raw_per_s: f64,
    item_bytes: usize,
    wcu_per_test: f64,
    peak_mb: f64,
    file_mb: f64,
    /// The project's duration rollup objects once measured: how many, and their mean size.
    rollups: (usize, u64),
}

/// How the measured file meets its run.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    /// The run's first writer: bulk writes.
    Alone,
    /// A run where another file (20 of the same tests, a re-run) was ingested first: alone
    /// too, each batch read and merged into what is there, in bulk.
    AloneMerging,
    /// The same, and a file that began writing and failed: the run is shared, conditional
    /// writes.
    Shared,
    /// The first writer of the project's second run, after a run of the same tests: bulk
    /// writes, then the comparison with that run and first seen read both runs whole.
    NextRun,
}

/// Runs are created now, as a run being ingested is: the tests' fixed registration time is
/// past the runs' retention, and first seen says nothing of a run past it.
async fn measure(
    tests: usize,
    concurrency: usize,
    path: Path,
    proxy: Option<&FaultProxy>,
) -> Measured {
    let store = fresh_store().await;
    // What the measured ingest and the raw loop call DynamoDB at: the proxy when limited.
    let limited = proxy.map(|p| p.endpoint.clone());
    let run = run_ref("bench", "run-1");
    if path == Path::NextRun {
        let before = run_ref("bench", "run-0");
        let first = upload_at(&store, &before, 1, "report.xml", &report(tests), now_ms()).await;
        let outcome = Ingest::new(store.clone().serving("parse"), Settings::default())
            .ingest_key(&first.object_key(), "bench-first")
            .await
            .expect("ingest the run before");
        assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    }
    if matches!(path, Path::AloneMerging | Path::Shared) {
        let first = upload_at(&store, &run, 1, "rerun.xml", &report(20), now_ms()).await;
        let outcome = Ingest::new(store.clone().serving("parse"), Settings::default())
            .ingest_key(&first.object_key(), "bench-first")
            .await
            .expect("ingest the first file");
        assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    }
    if path == Path::Shared {
        // Registered alone, then released without a commit, as a lone writer that fails is.
        let failed = upload_at(&store, &run, 2, "failed.xml", &report(20), now_ms()).await;
        store
            .begin_writes(&failed)
            .await
            .expect("register a writer");
        store.release_writer(&failed).await.expect("release it");
    }
    let bytes = report(tests);
    let file_mb = bytes.len() as f64 / 1e6;
    let file = upload_at(&store, &run, 0, "report.xml", &bytes, now_ms()).await;
    drop(bytes);
    let mut child = Command::new(std::env::current_exe().unwrap());
    if let Some(endpoint) = &limited {
        child.env("VERDICT_DYNAMODB_ENDPOINT", endpoint);
    }
    let out = child
        .args([
            "ingest",
            store.table(),
            store.bucket(),
            &file.object_key(),
            &concurrency.to_string(),
        ])
        .output()
        .expect("run the ingest child");
    assert!(
        out.status.success(),
        "ingest child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<f64> = line
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    let [seconds, counted, wcu, hwm_kb] = fields[..] else {
        panic!("unexpected child output {line:?}")
    };
    assert_eq!(counted as usize, tests);
    let item_bytes = mean_item_size(&store, &run, 500).await.unwrap();
    let rollups = store.bucket_bytes(DURATIONS_PREFIX).await.unwrap();

    let raw_store = match &limited {
        Some(endpoint) => through_dynamodb(&store, endpoint).await,
        None => store.clone(),
    };
    let start = Instant::now();
    raw_batch_write(&raw_store, &run, "raw", tests, concurrency)
        .await
        .unwrap();
    let raw_seconds = start.elapsed().as_secs_f64();
    Measured {
        tests,
        path: match path {
            Path::Alone => "first writer of its run: bulk",
            Path::AloneMerging => "later file of a run, alone: read and merged in bulk",
            Path::Shared => "later file beside a failed writer: conditional",
            Path::NextRun => "first writer of the project's next run: bulk, then compared",
        },
        concurrency,
        ingest_per_s: tests as f64 / seconds,
        raw_per_s: tests as f64 / raw_seconds,
        item_bytes,
        wcu_per_test: wcu / tests as f64,
        peak_mb: hwm_kb / 1024.0,
        file_mb,
        rollups,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("ingest") {
        return child(&args[1..]).await;
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes; nothing to list.
    }
    let tests: usize = std::env::var("VERDICT_BENCH_TESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let concurrencies: Vec<usize> = std::env::var("VERDICT_BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "16,64".into())
        .split(',')
        .map(|c| {
            c.trim()
                .parse()
                .expect("VERDICT_BENCH_CONCURRENCY: numbers")
        })
        .collect();
    let mut runs = vec![(tests / 5, concurrencies[0], Path::Alone)];
    runs.extend(concurrencies.iter().map(|&c| (tests, c, Path::Alone)));
    runs.push((tests, concurrencies[0], Path::AloneMerging));
    runs.push((tests, concurrencies[0], Path::Shared));
    runs.push((tests, concurrencies[0], Path::NextRun));
    let proxy = match std::env::var("VERDICT_BENCH_LIMITS").as_deref() {
        Ok("aws") => {
            let upstream = fresh_config().dynamodb_endpoint.expect("the local stack");
            Some(
                FaultProxy::start_limited(&upstream, Limits::AWS, verdict_store::index_keys())
                    .await,
            )
        }
        Ok(other) => panic!("VERDICT_BENCH_LIMITS: `aws` or unset, not {other:?}"),
        Err(_) => None,
    };
    let mut rows = Vec::new();
    for (tests, concurrency, path) in runs {
        let m = measure(tests, concurrency, path, proxy.as_ref()).await;
        eprintln!(
            "{} tests, {}, concurrency {}: ingest {:.0}/s, raw {:.0}/s",
            m.tests, m.path, m.concurrency, m.ingest_per_s, m.raw_per_s
        );
        rows.push(m);
    }
    let mut md = String::from(
        "| tests | file MB | how the file meets its run | concurrency | ingest tests/s | raw BatchWriteItem items/s | ratio | item bytes | WCU/test (DynamoDB Local's count) | parse peak RSS MB | duration rollups: objects × mean KB |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in &rows {
        md.push_str(&format!(
            "| {} | {:.1} | {} | {} | {:.0} | {:.0} | {:.2} | {} | {:.2} | {:.1} | {} |\n",
            m.tests,
            m.file_mb,
            m.path,
            m.concurrency,
            m.ingest_per_s,
            m.raw_per_s,
            m.ingest_per_s / m.raw_per_s,
            m.item_bytes,
            m.wcu_per_test,
            m.peak_mb,
            match m.rollups {
                (0, _) => "none (run unsettled)".to_string(),
                (n, bytes) => format!("{n} × {:.1}", bytes as f64 / n as f64 / 1024.0),
            }
        ));
    }
    let path = match &proxy {
        Some(proxy) => {
            let report = proxy.limits_report();
            md.push_str(&format!(
                "\nUnder AWS's limits per partition key (1,000 WCU/s, 3,000 RCU/s): {} requests throttled, {} writes handed back unprocessed; the busiest partition took {:.0} WCU (`{}`).\n",
                report.throttled_requests, report.unprocessed_writes, report.hottest_wcu, report.hottest
            ));
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/ingest-bench-limits.md"
            )
        }
        None => concat!(env!("CARGO_MANIFEST_DIR"), "/../target/ingest-bench.md"),
    };
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(md.as_bytes()))
        .expect("write the table");
    print!("{md}");
}
