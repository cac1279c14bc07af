//! Ingestion under AWS's per-partition limits (the limits mode of `verdict_tests::fault_proxy`),
//! at a small scale: 30 WCU/s and 90 RCU/s per partition key value instead of 1,000 and 3,000,
//! so what takes minutes at 1M tests (a run's results spread over its 16 test partitions)
//! takes seconds here. A large file, a red build whose
//! every test fails with a long trace, and many shard files of one run uploaded at once each
//! complete, are counted once, and leave the table as an ingest with no limits does; the large
//! file is written by several invocations, each continuing where the last stopped. The limits
//! are shown to bite: each scenario gets refusals. Nothing here asserts a time.

use verdict_parse_fn::ingest::Settings;
use verdict_tests::limits::Limits;
use verdict_tests::reports::{junit, many_tests};
use verdict_tests::under_limits::{ingest_at_once, Ingested};
use verdict_tests::{assert_same_dump, dump_without, Dump, ORDER_BOOKKEEPING};

/// A quarter of a second of capacity banked at most (AWS banks more): at this scale the hottest
/// partition is written at about half its limit on average, so what bites is a burst of the
/// writes in flight, and a short bank lets it bite on a slow or busy machine too.
const LIMITS: Limits = Limits {
    wcu_per_s: 30.0,
    rcu_per_s: 90.0,
    burst_s: 0.25,
};

/// The settings of an invocation at the test's scale: 2 s of writing, then it lets the writes
/// in flight land (8 batches of 25 over 16 partitions: under a second at 30 WCU/s each, as 32
/// batches are at 1,000 on AWS), records how far it got, and the next delivery continues; a lease of seconds, so one
/// that gave up on a throttled file (the SDK's retries spent) is taken over soon.
fn settings() -> Settings {
    Settings {
        lease_ms: 7_000,
        work_ms: 6_000,
        checkpoint_ms: 2_000,
        concurrency: 8,
        ..Settings::default()
    }
}

/// `files` ingested at once, with the limits or without: the table, and what it took.
async fn ingest(files: &[(String, Vec<u8>)], limits: Option<Limits>) -> (Dump, Ingested) {
    let ingested = ingest_at_once(files, limits, settings()).await;
    assert!(ingested.all_done(), "{:?}", ingested.outcomes);
    let (store, run) = (&ingested.store, &ingested.run);
    let summary = store.get_run(run).await.unwrap().unwrap().summary;
    assert_eq!(summary, store.recount(run).await.unwrap(), "counted once");
    (dump_without(store, &ORDER_BOOKKEEPING).await, ingested)
}

/// Ingests `files` with and without the limits: the same table, and refusals on the way.
async fn same_under_limits(files: Vec<(String, Vec<u8>)>, scenario: &str) -> Ingested {
    let (expected, _) = ingest(&files, None).await;
    let (dump, ingested) = ingest(&files, Some(LIMITS)).await;
    let report = &ingested.report;
    assert!(
        report.throttled_requests + report.unprocessed_writes > 0,
        "{scenario}: the limits never refused anything: {report:?}"
    );
    assert_same_dump(&dump, &expected, scenario);
    ingested
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_file_under_partition_limits_counts_once() {
    // 4,000 tests over the run's 16 test partitions: about 250 WCU on each, 8 s of its 30
    // WCU/s, several times an invocation's 2 s of writing here (as 1M tests are on AWS to its
    // 13 minutes): each invocation continues where the last stopped. (The hottest partition
    // is no longer the run's but the `fingerprint` index key its 1,600 failures share.)
    let limited = same_under_limits(
        vec![("large.xml".into(), many_tests(4_000))],
        "one large file",
    )
    .await;
    assert!(limited.continued >= 3, "{:?}", limited.continued);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_red_build_with_long_traces_under_partition_limits_counts_once() {
    // 900 tests, every one failing with a 20-line trace and captured output: with their text
    // kept apart in S3, items of about 1.4 KB, enough writes on each key for the limits to bite
    // on a slow machine too.
    let trace: String = (0..20)
        .map(|i| format!("    at com.example.Service.call(Service.java:{i})\n"))
        .collect();
    let cases: String = (0..900)
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
    let limited = same_under_limits(shards, "40 shards at once").await;
    // The run item does not grow with its files: it names only those not committed yet (none
    // now), where it used to name every file done (32 B each, 1,280 B for these 40).
    let run = limited.store.get_run(&limited.run).await.unwrap().unwrap();
    assert!(run.uncommitted.is_empty(), "{:?}", run.uncommitted);
    let size = limited.store.run_item_size(&limited.run).await.unwrap();
    assert!(size < 1_280, "run item of {size} B");
}
