//! Exactly-once ingestion with AWS's faults injected between the SDK and the real engines
//! (`verdict_tests::fault_proxy`): throttling, 5xx, transaction conflicts, unprocessed batch
//! items, S3 slow-downs, resets mid-body, latency, and writes applied whose response is lost.
//! Every scenario ends with the full-dump comparison against one clean ingest with no proxy.

use futures_util::future::join_all;
use verdict_parse_fn::ingest::{Ingest, Outcome, Retry, Settings};
use verdict_parse_fn::{created_event, handle, Event};
use verdict_store::{FileRef, FileState, Store, StoreConfig};
use verdict_tests::fault_proxy::{Fault, FaultProxy, Plan};
use verdict_tests::reports::{junit, many_tests, permutations, shards};
use verdict_tests::{
    assert_same_dump, dump_without, fresh_config, fresh_store, leave_a_failed_writer,
    next_delivery, run_ref, upload, Dump, ORDER_BOOKKEEPING,
};

/// A fresh table and bucket, and a store that reaches them through one fault proxy per engine,
/// recording its calls as `function`'s.
async fn behind_proxies(plan: &Plan, function: &str) -> (Store, Store, FaultProxy, FaultProxy) {
    let direct = fresh_store().await;
    let config = fresh_config();
    let ddb = FaultProxy::start(config.dynamodb_endpoint.as_deref().unwrap(), plan.clone()).await;
    let s3 = FaultProxy::start(
        config.s3_endpoint.as_deref().unwrap(),
        Plan {
            seed: plan.seed.wrapping_add(1),
            ..plan.clone()
        },
    )
    .await;
    let proxied = Store::connect(&StoreConfig {
        table: direct.table().to_string(),
        bucket: direct.bucket().to_string(),
        dynamodb_endpoint: Some(ddb.endpoint.clone()),
        s3_endpoint: Some(s3.endpoint.clone()),
    })
    .await
    .serving(function);
    (direct, proxied, ddb, s3)
}

/// One report of `tests` tests uploaded into a fresh run, with the DynamoDB calls of the
/// parse function behind a proxy injecting `plan`: the store reached directly, the one through
/// the proxies, the DynamoDB proxy, the file, and the table one clean ingest of it leaves.
async fn one_file_behind(plan: &Plan, tests: usize) -> (Store, Store, FaultProxy, FileRef, Dump) {
    let bytes = many_tests(tests);
    let expected = clean(&[("report.xml", bytes.clone())]).await;
    let (direct, proxied, ddb, _s3) = behind_proxies(plan, "parse").await;
    let run = run_ref("acme", "build-1");
    let file = upload(&direct, &run, 0, "report.xml", &bytes).await;
    (direct, proxied, ddb, file, expected)
}

/// Delivers `file` until it is settled, retrying whatever asks for a retry, as Lambda's retries
/// and the sweep would.
async fn deliver(ingest: &Ingest, file: &FileRef) -> Outcome {
    let mut key = file.object_key();
    for attempt in 0..1000 {
        let event = Event::S3(created_event(ingest.store().bucket(), &[key.clone()]));
        match handle(
            ingest,
            event,
            &format!("req-{}-{attempt}", file.file_id),
            None,
        )
        .await
        {
            Ok(mut outcomes) => {
                let outcome = outcomes.pop().expect("one record, one outcome");
                if let Outcome::Waiting { .. } = outcome {
                    // The lone writer's hand-off comes once it commits; meanwhile, as the
                    // sweep would, try again later.
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                match next_delivery(&outcome, file) {
                    Some(next) => key = next,
                    None => return outcome,
                }
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    panic!("file {} never settled", file.file_id)
}

/// The table after a clean, sequential ingest of `files` with no proxy.
async fn clean(files: &[(&str, Vec<u8>)]) -> Dump {
    clean_in_turn(files, Delivery::InTurn).await
}

/// The table after a clean ingest of `files` with no proxy, one after another as `delivery`
/// says (all at once is compared with one after another).
async fn clean_in_turn(files: &[(&str, Vec<u8>)], delivery: Delivery) -> Dump {
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let ingest = Ingest::new(store.clone(), Settings::default());
    for (i, (name, bytes)) in files.iter().enumerate() {
        if i == 1 && delivery == Delivery::InTurnBesideAFailedWriter {
            leave_a_failed_writer(&store, &run, files.len()).await;
        }
        let file = upload(&store, &run, i, name, bytes).await;
        assert!(matches!(
            deliver(&ingest, &file).await,
            Outcome::Done { .. }
        ));
    }
    dump_without(&store, &ORDER_BOOKKEEPING).await
}

/// How [`ingest_under`] delivers a run's files.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Delivery {
    /// One after another: the first writes alone, in bulk; each later one alone too, reading
    /// and merging each batch.
    InTurn,
    /// One after another, beside a file that failed after it began writing (left after the
    /// first file): the later ones share the run and write test by test, conditionally.
    InTurnBesideAFailedWriter,
    /// All at once, each twice: the first to begin writes alone, the others wait for it, then
    /// share the run.
    AllAtOnce,
}

/// A lease short enough that a delivery whose invocation gave up is taken over soon.
const LEASE_MS: u64 = 3_000;

/// The deployed settings at the scale of a test: an invocation is cut off a third of its lease
/// before the lease can be taken over, the margin for requests still in flight (the proxy
/// delays some by 200 ms, and a loaded machine more; on AWS it is 2 of 16 minutes).
fn settings(lease_ms: u64) -> Settings {
    Settings {
        lease_ms,
        work_ms: lease_ms * 2 / 3,
        // Results taken for a third of the lease, then a third for the writes in flight (and
        // the retries of throttled ones, for half of it) to land.
        checkpoint_ms: lease_ms / 3,
        concurrency: 8,
        ..Settings::default()
    }
}

/// Uploads and ingests `files` through the proxies, delivered as `delivery` says, each twice,
/// and compares the table with a clean ingest.
async fn ingest_under(plan: Plan, files: &[(&str, Vec<u8>)], delivery: Delivery, expected: &Dump) {
    let (direct, proxied, ddb, s3) = behind_proxies(&plan, "parse").await;
    let run = run_ref("acme", "build-1");
    let mut uploaded = Vec::new();
    for (i, (name, bytes)) in files.iter().enumerate() {
        uploaded.push(upload(&direct, &run, i, name, bytes).await);
    }
    let ingest = Ingest::new(proxied, settings(LEASE_MS));
    if delivery == Delivery::InTurnBesideAFailedWriter {
        deliver(&ingest, &uploaded[0]).await;
        leave_a_failed_writer(&direct, &run, files.len()).await;
    }
    if delivery == Delivery::AllAtOnce {
        let twice = uploaded.iter().chain(&uploaded);
        let outcomes = join_all(twice.map(|f| deliver(&ingest, f))).await;
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Outcome::Done { .. } | Outcome::AlreadySettled(_))),
            "{outcomes:?}"
        );
    } else {
        for file in uploaded.iter().chain(&uploaded) {
            deliver(&ingest, file).await;
        }
    }
    let injected: Vec<_> = ddb.injected().into_iter().chain(s3.injected()).collect();
    assert!(
        !injected.is_empty(),
        "seed {}: no fault was injected",
        plan.seed
    );
    let scenario = format!("seed {} ({injected:?})", plan.seed);
    let summary = direct.get_run(&run).await.unwrap().unwrap().summary;
    assert_eq!(summary, direct.recount(&run).await.unwrap(), "{scenario}");
    assert_same_dump(
        &dump_without(&direct, &ORDER_BOOKKEEPING).await,
        expected,
        &scenario,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_fault_alone_changes_nothing_on_each_way_of_writing() {
    // A first file big enough for several bulk batches, then the overlapping shards: alone
    // after it, merging each batch, and beside a file that failed, test by test.
    let mut files = vec![("first.xml", many_tests(120))];
    files.extend(shards());
    for delivery in [Delivery::InTurn, Delivery::InTurnBesideAFailedWriter] {
        let expected = clean_in_turn(&files, delivery).await;
        for (n, fault) in Fault::ALL.into_iter().enumerate() {
            let plan = Plan {
                seed: 1000 + n as u64,
                rate: 0.3,
                faults: vec![fault],
                operations: None,
                max_faults: None,
                skip: 0,
            };
            ingest_under(plan, &files, delivery, &expected).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mix_of_faults_under_concurrent_redelivery_changes_nothing() {
    let files = shards();
    let expected = clean(&files).await;
    for seed in 1..=4 {
        let plan = Plan {
            seed,
            rate: 0.15,
            faults: Fault::ALL.to_vec(),
            operations: None,
            max_faults: None,
            skip: 0,
        };
        ingest_under(plan, &files, Delivery::AllAtOnce, &expected).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invocation_out_of_time_stops_before_the_one_taking_over_can_commit() {
    // The run's lone writer, slowed to one bulk put at a time, each 200 ms late, cannot write
    // its 200 tests within its time. Once its lease expires another invocation takes the file
    // over and commits it, and the run's next file merges into two of its tests (one turns
    // flaky). The slow invocation must be gone by then: a late bulk put of its own would
    // overwrite those merges while the run's counters keep them.
    let first = many_tests(200);
    let second = junit(&[("pkg.Mod1.test_1", "passed"), ("pkg.Mod3.test_3", "failed")]);
    let files = [("first.xml", first), ("second.xml", second)];
    let expected = clean(&files).await;
    let plan = Plan {
        seed: 9,
        rate: 1.0,
        faults: vec![Fault::Latency],
        operations: Some(vec!["BatchWriteItem"]),
        max_faults: None,
        skip: 0,
    };
    let (direct, proxied, ddb, _s3) = behind_proxies(&plan, "parse").await;
    let run = run_ref("acme", "build-1");
    let mut uploaded = Vec::new();
    for (i, (name, bytes)) in files.iter().enumerate() {
        uploaded.push(upload(&direct, &run, i, name, bytes).await);
    }
    let lease_ms = 1_500;
    let slow = Ingest::new(
        proxied,
        Settings {
            concurrency: 1,
            // Cut off while still taking results: no checkpoint before it.
            checkpoint_ms: Settings::default().checkpoint_ms,
            ..settings(lease_ms)
        },
    );
    let prompt = Ingest::new(direct.clone().serving("parse"), settings(lease_ms));
    let first_key = uploaded[0].object_key();
    let (slowed, taken_over) = tokio::join!(slow.ingest_key(&first_key, "slow"), async {
        // Once the slow invocation holds the file: busy until its lease expires, then
        // taken over.
        while direct.get_file(&uploaded[0]).await.unwrap().unwrap().state != FileState::Processing {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let first = deliver(&prompt, &uploaded[0]).await;
        (first, deliver(&prompt, &uploaded[1]).await)
    });
    assert!(
        matches!(slowed, Err(Retry::OutOfTime { work_ms: 1_000 })),
        "{slowed:?}"
    );
    assert!(
        matches!(taken_over, (Outcome::Done { .. }, Outcome::Done { .. })),
        "{taken_over:?}"
    );
    assert!(ddb.injected()[&Fault::Latency] >= 1);
    // Longer than any request the slow invocation could still have had in flight.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let summary = direct.get_run(&run).await.unwrap().unwrap().summary;
    assert_eq!(summary, direct.recount(&run).await.unwrap());
    assert_same_dump(
        &dump_without(&direct, &ORDER_BOOKKEEPING).await,
        &expected,
        "taken over from an invocation out of time",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_event_run_twice_at_once_under_one_request_id_is_ingested_by_one_invocation() {
    // Lambda's event queue may deliver an event twice, and a retry keeps its request id: two
    // invocations of one request at once. The second must find the file busy, not take the
    // first's lease as its own (both would then write alone, and the later one's bulk puts
    // land over what the run's other files merged after the first committed).
    let files = [("first.xml", many_tests(200))];
    let expected = clean(&files).await;
    let plan = Plan {
        seed: 4,
        rate: 1.0,
        faults: vec![Fault::Latency],
        operations: Some(vec!["BatchWriteItem"]),
        max_faults: None,
        skip: 0,
    };
    let (direct, proxied, _ddb, _s3) = behind_proxies(&plan, "parse").await;
    let run = run_ref("acme", "build-1");
    let file = upload(&direct, &run, 0, files[0].0, &files[0].1).await;
    let slow = Ingest::new(proxied, Settings::default());
    let event = || Event::S3(created_event(direct.bucket(), &[file.object_key()]));
    let (first, second) = tokio::join!(handle(&slow, event(), "req-1", None), async {
        while direct.get_file(&file).await.unwrap().unwrap().state != FileState::Processing {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let prompt = Ingest::new(direct.clone().serving("parse"), Settings::default());
        handle(&prompt, event(), "req-1", None).await
    });
    assert!(matches!(second, Err(Retry::Busy { .. })), "{second:?}");
    assert!(
        matches!(first.as_deref(), Ok([Outcome::Done { .. }])),
        "{first:?}"
    );
    assert_same_dump(
        &dump_without(&direct, &ORDER_BOOKKEEPING).await,
        &expected,
        "one request run twice at once",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_big_lone_writer_under_unprocessed_items_and_lost_batch_responses_counts_once() {
    let files = vec![("big.xml", many_tests(600)), ("small.xml", many_tests(40))];
    let expected = clean(&files).await;
    let plan = Plan {
        seed: 77,
        rate: 0.4,
        faults: vec![Fault::UnprocessedItems, Fault::DropResponseAfterApply],
        operations: Some(vec!["BatchWriteItem", "PutItem", "TransactWriteItems"]),
        max_faults: None,
        skip: 0,
    };
    ingest_under(plan, &files, Delivery::InTurn, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_raw_put_whose_response_is_lost_is_stored_once() {
    // The upload function's direct upload: the object is stored and the response lost, the
    // SDK's retry meets `If-None-Match: *` and S3 answers 412. The key names one
    // registration, so the object there is ours.
    let plan = Plan {
        seed: 5,
        rate: 1.0,
        faults: vec![Fault::DropResponseAfterApply],
        operations: Some(vec!["PutObject"]),
        max_faults: Some(1),
        skip: 0,
    };
    let (direct, proxied, _, s3) = behind_proxies(&plan, "upload").await;
    proxied
        .put_raw("raw/acme/build-1/0123", b"<testsuite/>".to_vec())
        .await
        .expect("a put whose response was lost is a put");
    assert!(s3.injected()[&Fault::DropResponseAfterApply] >= 1);
    assert!(direct.raw_exists("raw/acme/build-1/0123").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_response_after_each_write_in_turn_counts_once() {
    // The crash after a write: the write is applied, the invocation never learns it. One
    // scenario per write of a lone writer and of a file after it, merging alone or, beside a
    // file that failed, sharing the run, the commits included. A shared file's conditional put
    // whose answer is lost is sent again and refused (the item is there now, naming the file):
    // its delta is the one recorded.
    let files = vec![
        ("first.xml", many_tests(60)),
        ("second.xml", shards().remove(1).1),
    ];
    for delivery in [Delivery::InTurn, Delivery::InTurnBesideAFailedWriter] {
        let expected = clean_in_turn(&files, delivery).await;
        let mut n = 0;
        loop {
            let plan = Plan::nth(Fault::DropResponseAfterApply, n);
            let (direct, proxied, ddb, s3) = behind_proxies(&plan, "parse").await;
            let run = run_ref("acme", "build-1");
            let ingest = Ingest::new(proxied, settings(LEASE_MS));
            for (i, (name, bytes)) in files.iter().enumerate() {
                if i == 1 && delivery == Delivery::InTurnBesideAFailedWriter {
                    leave_a_failed_writer(&direct, &run, files.len()).await;
                }
                let file = upload(&direct, &run, i, name, bytes).await;
                deliver(&ingest, &file).await;
            }
            let injected = ddb.injected().len() + s3.injected().len();
            if injected == 0 {
                // Past the last write: every one has been tried.
                assert!(n > 10, "only {n} writes");
                break;
            }
            assert_same_dump(
                &dump_without(&direct, &ORDER_BOOKKEEPING).await,
                &expected,
                &format!("{delivery:?}: response of write {n} lost"),
            );
            n += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_shard_order_under_faults_merges_the_same() {
    let files = shards();
    let expected = clean(&files).await;
    let mut injected = 0;
    for (n, order) in permutations(files.len()).into_iter().enumerate() {
        let plan = Plan {
            seed: 500 + n as u64,
            rate: 0.05,
            faults: Fault::ALL.to_vec(),
            operations: None,
            max_faults: None,
            skip: 0,
        };
        let (direct, proxied, ddb, s3) = behind_proxies(&plan, "parse").await;
        let run = run_ref("acme", "build-1");
        let ingest = Ingest::new(proxied, settings(LEASE_MS));
        let mut uploaded = Vec::new();
        for &i in &order {
            uploaded.push(upload(&direct, &run, i, files[i].0, &files[i].1).await);
        }
        for file in &uploaded {
            deliver(&ingest, file).await;
        }
        injected += ddb.injected().values().sum::<u64>() + s3.injected().values().sum::<u64>();
        assert_same_dump(
            &dump_without(&direct, &ORDER_BOOKKEEPING).await,
            &expected,
            &format!("order {order:?}, seed {}", plan.seed),
        );
    }
    assert!(injected > 50, "only {injected} faults over every order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_throttled_after_every_claim_is_not_given_up_for_it() {
    // Every PutItem (the content marker, the first write after a claim) is throttled (with
    // the SDK's retries off, so the test need not wait them out), for more deliveries than a
    // file may be claimed without settling, as a busy run's partition does to its files under
    // AWS's limits. The rate is the table's, not the file's: each delivery gives its claim
    // back uncounted, and once the throttling stops the file is ingested instead of failed
    // `gave_up`.
    let plan = Plan {
        seed: 3,
        rate: 1.0,
        faults: vec![Fault::ThroughputExceeded],
        operations: Some(vec!["PutItem"]),
        max_faults: None,
        skip: 0,
    };
    let (direct, proxied, ddb, file, expected) = one_file_behind(&plan, 40).await;
    let settings = settings(LEASE_MS);
    let ingest = Ingest::new(proxied.clone().with_table_attempts(1), settings.clone());
    for attempt in 0..settings.max_claims + 3 {
        let result = ingest
            .ingest_key(&file.object_key(), &format!("throttled-{attempt}"))
            .await;
        assert!(
            matches!(&result, Err(Retry::Store(err)) if err.is_throttled()),
            "delivery {attempt}: {result:?}"
        );
    }
    ddb.replan(Plan { rate: 0.0, ..plan });
    assert!(matches!(
        deliver(&Ingest::new(proxied, settings), &file).await,
        Outcome::Done { .. }
    ));
    assert_same_dump(
        &dump_without(&direct, &ORDER_BOOKKEEPING).await,
        &expected,
        "after the throttling",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_throttled_whole_is_retried_within_the_invocation_s_time() {
    // DynamoDB answers a BatchWriteItem whose every item is over its partition's rate with an
    // error, not `UnprocessedItems`. With the SDK's retries spent (off here), the lone writer's
    // batch backs off and is sent again until halfway from its checkpoint to its cut-off, so
    // the file is written in one delivery: giving up at once would leave its progress behind
    // the batch, and every later result, landed or not, would be written again by the next.
    let files = vec![("report.xml", many_tests(200))];
    let expected = clean(&files).await;
    let plan = Plan {
        seed: 9,
        rate: 1.0,
        faults: vec![Fault::ThroughputExceeded],
        operations: Some(vec!["BatchWriteItem"]),
        max_faults: Some(5),
        skip: 1,
    };
    let (direct, proxied, ddb, _s3) = behind_proxies(&plan, "parse").await;
    let file = upload(
        &direct,
        &run_ref("acme", "build-1"),
        0,
        "report.xml",
        &files[0].1,
    )
    .await;
    let ingest = Ingest::new(proxied.with_table_attempts(1), settings(LEASE_MS));
    let outcome = ingest.ingest_key(&file.object_key(), "once").await;
    assert!(matches!(outcome, Ok(Outcome::Done { .. })), "{outcome:?}");
    assert_eq!(ddb.injected()[&Fault::ThroughputExceeded], 5);
    assert_same_dump(
        &dump_without(&direct, &ORDER_BOOKKEEPING).await,
        &expected,
        "batches throttled whole",
    );

    // Throttled on and on, the batches are given up at the retries' end, before the cut-off:
    // the invocation records what landed, gives the lease back and asks to be continued (or,
    // if nothing landed in order, retried), and is not cut off.
    let plan = Plan {
        max_faults: None,
        ..plan
    };
    let (direct, proxied, _ddb, _s3) = behind_proxies(&plan, "parse").await;
    let file = upload(
        &direct,
        &run_ref("acme", "build-1"),
        0,
        "report.xml",
        &files[0].1,
    )
    .await;
    let ingest = Ingest::new(proxied.with_table_attempts(1), settings(LEASE_MS));
    let outcome = ingest.ingest_key(&file.object_key(), "throttled").await;
    assert!(
        matches!(&outcome, Err(Retry::Continue { written }) if *written < 200)
            || matches!(&outcome, Err(Retry::Store(err)) if err.is_throttled()),
        "{outcome:?}"
    );
    let item = direct.get_file(&file).await.unwrap().unwrap();
    assert_eq!(
        item.lease_until_ms, 0,
        "the lease is given back: not cut off"
    );
}
