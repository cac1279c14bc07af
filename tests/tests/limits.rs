//! Ingestion under AWS's per-partition limits (the limits mode of `verdict_tests::fault_proxy`),
//! at a small scale: 300 WCU/s and 900 RCU/s per partition key value instead of 1,000 and
//! 3,000, so what takes minutes at 1M tests takes seconds here. A large file, a red build whose
//! every test fails with a long trace, and many shard files of one run uploaded at once each
//! complete, are counted once, and leave the table as an ingest with no limits does; the large
//! file is written by several invocations, each continuing where the last stopped. The limits
//! are shown to bite: each scenario gets refusals. Nothing here asserts a time.

use futures_util::future::join_all;
use verdict_parse_fn::ingest::{Ingest, Outcome, Retry, Settings};
use verdict_parse_fn::{created_event, handle, Event};
use verdict_store::{FileRef, FileState, Store, StoreConfig};
use verdict_tests::fault_proxy::FaultProxy;
use verdict_tests::limits::{IndexKey, Limits, LimitsReport};
use verdict_tests::reports::{junit, many_tests};
use verdict_tests::{
    assert_same_dump, dump_without, fresh_config, fresh_store, run_ref, upload, Dump,
    ORDER_BOOKKEEPING,
};

const LIMITS: Limits = Limits {
    wcu_per_s: 300.0,
    rcu_per_s: 900.0,
    burst_s: 1.0,
};

/// Delivers `file` until it is settled, retrying whatever asks for a retry, as Lambda's retries
/// and the sweep would; with how many deliveries continued where the one before stopped.
async fn deliver(ingest: &Ingest, file: &FileRef) -> (Outcome, u64) {
    let mut continued = 0;
    for attempt in 0..1000 {
        let event = Event::S3(created_event(ingest.store().bucket(), &[file.object_key()]));
        match handle(ingest, event, &format!("req-{}-{attempt}", file.file_id)).await {
            Ok(mut outcomes) => {
                return (outcomes.pop().expect("one record, one outcome"), continued);
            }
            Err(Retry::Continue { .. }) => continued += 1,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    panic!("file {} never settled", file.file_id)
}

/// What an ingest under limits did: what the proxy refused and charged, and how many
/// deliveries continued a file another had stopped.
#[derive(Debug)]
struct Limited {
    report: LimitsReport,
    continued: u64,
}

/// Uploads `files` into one run of a fresh table and delivers them all at once, with no proxy
/// or through one in limits mode; the table afterwards, and what the limits did.
async fn ingest(files: &[(String, Vec<u8>)], limited: bool) -> (Dump, Limited) {
    let direct = fresh_store().await;
    let proxy = match limited {
        true => {
            let upstream = fresh_config().dynamodb_endpoint.unwrap();
            Some(FaultProxy::start_limited(&upstream, LIMITS, IndexKey::of_table()).await)
        }
        false => None,
    };
    let store = match &proxy {
        Some(proxy) => Store::connect(&StoreConfig {
            table: direct.table().to_string(),
            bucket: direct.bucket().to_string(),
            dynamodb_endpoint: Some(proxy.endpoint.clone()),
            s3_endpoint: fresh_config().s3_endpoint,
        })
        .await
        .serving("parse"),
        None => direct.clone(),
    };
    let run = run_ref("acme", "build-1");
    let mut uploaded = Vec::new();
    for (i, (name, bytes)) in files.iter().enumerate() {
        uploaded.push(upload(&direct, &run, i, name, bytes).await);
    }
    // An invocation's time at the test's scale: 2 s of writing, then it lets the writes in
    // flight land (8 batches of 25: under a second at 300 WCU/s, as 32 batches are at 1,000 on
    // AWS), records how far it got, and the next delivery continues; a lease of seconds, so
    // one that gave up on a throttled file (the SDK's retries spent) is taken over soon.
    let settings = Settings {
        lease_ms: 7_000,
        work_ms: 6_000,
        checkpoint_ms: 2_000,
        concurrency: 8,
        ..Settings::default()
    };
    let ingest = Ingest::new(store, settings);
    let delivered = join_all(uploaded.iter().map(|f| deliver(&ingest, f))).await;
    let continued = delivered.iter().map(|(_, c)| c).sum();
    let outcomes: Vec<Outcome> = delivered.into_iter().map(|(o, _)| o).collect();
    // A delivery that gave up after its commit (in a roll) is settled by the next one.
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            Outcome::Done { .. } | Outcome::AlreadySettled(FileState::Done)
        )),
        "{outcomes:?}"
    );
    let summary = direct.get_run(&run).await.unwrap().unwrap().summary;
    assert_eq!(summary, direct.recount(&run).await.unwrap(), "counted once");
    let report = proxy.map(|p| p.limits_report()).unwrap_or_default();
    let limited = Limited { report, continued };
    (dump_without(&direct, &ORDER_BOOKKEEPING).await, limited)
}

/// Ingests `files` with and without the limits: the same table, and refusals on the way.
async fn same_under_limits(files: Vec<(String, Vec<u8>)>, scenario: &str) -> Limited {
    let (expected, _) = ingest(&files, false).await;
    let (dump, limited) = ingest(&files, true).await;
    let report = &limited.report;
    assert!(
        report.throttled_requests + report.unprocessed_writes > 0,
        "{scenario}: the limits never refused anything: {report:?}"
    );
    assert_same_dump(&dump, &expected, scenario);
    limited
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_file_under_partition_limits_counts_once() {
    // 4,000 tests on one partition key: about 4,000 WCU, 13 s of its 300 WCU/s, several times
    // an invocation's 2 s of writing here (as 1M tests are on AWS to its 13 minutes): each
    // invocation continues where the last stopped.
    let limited = same_under_limits(
        vec![("large.xml".into(), many_tests(4_000))],
        "one large file",
    )
    .await;
    assert!(limited.continued >= 3, "{limited:?}");
    assert!(
        limited.report.hottest.starts_with("table#R#acme#build-1"),
        "{limited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_red_build_with_long_traces_under_partition_limits_counts_once() {
    // 300 tests, every one failing with a 20-line trace and captured output.
    let trace: String = (0..20)
        .map(|i| format!("    at com.example.Service.call(Service.java:{i})\n"))
        .collect();
    let cases: String = (0..300)
        .map(|i| {
            format!(
                "<testcase classname=\"c.C\" name=\"t{i}\" time=\"0.5\">\
                 <failure message=\"connection refused\" type=\"IOError\">{trace}</failure>\
                 <system-out>{}</system-out></testcase>",
                "starting the service\n".repeat(20)
            )
        })
        .collect();
    let xml = format!("<testsuite name=\"s\">{cases}</testsuite>");
    same_under_limits(vec![("red.xml".into(), xml.into_bytes())], "a red build").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_shards_of_one_run_uploaded_at_once_under_partition_limits_count_once() {
    // 40 shard files of 25 tests each, some failing, all delivered at once.
    let shards: Vec<(String, Vec<u8>)> = (0..40)
        .map(|s| {
            let names: Vec<String> = (0..25).map(|t| format!("shard{s}.Case.t{t}")).collect();
            let cases: Vec<(&str, &str)> = names
                .iter()
                .enumerate()
                .map(|(t, n)| (n.as_str(), if t % 9 == 0 { "failed" } else { "passed" }))
                .collect();
            (format!("shard-{s}.xml"), junit(&cases))
        })
        .collect();
    same_under_limits(shards, "40 shards at once").await;
}
