//! Exactly-once ingestion against DynamoDB Local and SeaweedFS: every delivery history must leave
//! the table as one clean, sequential ingest does, and the run summary must equal a recount.

use futures_util::future::join_all;
use verdict_parse_fn::ingest::{HandOffWhy, Ingest, Outcome, Retry, Settings};
use verdict_parse_fn::{created_event, handle, sweep_files, Event, SweepRequest};
use verdict_store::{Faults, FileRef, FileState, Handoff, RunRef, Store};
use verdict_tests::reports::{junit, junit_test_id, many_tests, permutations, shards};
use verdict_tests::{
    assert_same_dump, crashed, deliver_handoffs, dump, dump_without, fresh_store, invoke,
    leave_a_failed_writer, next_delivery, register, run_ref, upload, Dump, ORDER_BOOKKEEPING,
};

fn ingest(store: &Store) -> Ingest {
    Ingest::new(store.clone().serving("parse"), Settings::default())
}

/// Delivers the event for `file` until it is acknowledged (as Lambda's retries would), with a
/// fresh request id each time (as a new delivery has).
async fn deliver(ingest: &Ingest, file: &FileRef) -> Outcome {
    let mut key = file.object_key();
    for attempt in 0..200 {
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
            Err(Retry::Busy { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(err) => panic!("unexpected retry: {err}"),
        }
    }
    panic!("file {} never settled", file.file_id)
}

/// Run summary equals a recount of its items, and no file is left unsettled.
async fn assert_consistent(store: &Store, run: &RunRef) {
    let summary = store.get_run(run).await.unwrap().unwrap().summary;
    assert_eq!(
        summary,
        store.recount(run).await.unwrap(),
        "summary vs recount"
    );
    for file in store.list_files(run).await.unwrap() {
        assert!(
            file.state.is_settled(),
            "{:?} left {:?}",
            file.file.file_id,
            file.state
        );
    }
}

/// The table after one clean delivery of each file, in order.
async fn clean(files: &[(&str, Vec<u8>)]) -> Dump {
    clean_without(files, &[]).await
}

async fn clean_without(files: &[(&str, Vec<u8>)], ignored: &[&str]) -> Dump {
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let ingest = ingest(&store);
    for (i, (name, bytes)) in files.iter().enumerate() {
        let file = upload(&store, &run, i, name, bytes).await;
        assert!(matches!(
            deliver(&ingest, &file).await,
            Outcome::Done { .. }
        ));
    }
    assert_consistent(&store, &run).await;
    dump_without(&store, ignored).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redelivery_in_a_row_and_concurrently_changes_nothing() {
    let bytes = many_tests(150);
    let expected = clean(&[("report.xml", bytes.clone())]).await;
    for times in [2, 5] {
        let store = fresh_store().await;
        let run = run_ref("acme", "build-1");
        let file = upload(&store, &run, 0, "report.xml", &bytes).await;
        let ingest = ingest(&store);
        let first = deliver(&ingest, &file).await;
        assert!(matches!(first, Outcome::Done { .. }), "{first:?}");
        for _ in 1..times {
            assert_eq!(
                deliver(&ingest, &file).await,
                Outcome::AlreadySettled(FileState::Done)
            );
        }
        assert_consistent(&store, &run).await;
        assert_same_dump(&dump(&store).await, &expected, &format!("{times} in a row"));
    }
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let file = upload(&store, &run, 0, "report.xml", &bytes).await;
    let ingest = ingest(&store);
    let outcomes = join_all([deliver(&ingest, &file), deliver(&ingest, &file)]).await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Done { .. }))
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_consistent(&store, &run).await;
    assert_same_dump(&dump(&store).await, &expected, "twice concurrently");
}

/// Ingests `file` with `concurrency` requests in flight, crashing after `writes` writes: the
/// file is left `processing` under an expired lease, as a dead invocation leaves it.
async fn crash_after(store: &Store, file: &FileRef, writes: usize, concurrency: usize) {
    let crashing = Ingest::new(
        store
            .clone()
            .serving("parse")
            .with_faults(Faults::crash_after(writes)),
        Settings {
            lease_ms: 0,
            concurrency,
            ..Settings::default()
        },
    );
    let result = crashing.ingest_key(&file.object_key(), "crashing").await;
    assert!(crashed(&result), "after {writes}: {result:?}");
}

/// What a run holds before the file under test is delivered into it.
#[derive(Clone, Copy)]
enum Before<'a> {
    /// Nothing: the file is the run's first writer and puts its items in bulk.
    Nothing,
    /// A file that committed: the file writes alone too, each batch read and merged.
    Committed(&'a str, &'a [u8]),
    /// A file that committed, then one that began writing and was released, as a file that
    /// fails part-way is: the file shares the run and writes test by test, conditionally.
    CommittedAndFailedWriter(&'a str, &'a [u8]),
}

/// Makes `run` hold what `before` says (its files as files 0 and 2).
async fn prepare(store: &Store, run: &RunRef, before: Before<'_>) {
    let (name, bytes) = match before {
        Before::Nothing => return,
        Before::Committed(name, bytes) | Before::CommittedAndFailedWriter(name, bytes) => {
            (name, bytes)
        }
    };
    let first = upload(store, run, 0, name, bytes).await;
    assert!(matches!(
        deliver(&ingest(store), &first).await,
        Outcome::Done { .. }
    ));
    if let Before::CommittedAndFailedWriter(..) = before {
        leave_a_failed_writer(store, run, 2).await;
    }
}

/// Crashes the ingest of `file` after each of its `writes` writes in turn, on a fresh store
/// holding `before`; redelivery must then leave `expected`.
async fn crash_after_every_write(
    before: Before<'_>,
    (name, bytes): (&str, &[u8]),
    writes: usize,
    expected: &Dump,
) {
    for k in 0..writes {
        let store = fresh_store().await;
        let run = run_ref("acme", "build-1");
        prepare(&store, &run, before).await;
        let file = upload(&store, &run, 1, name, bytes).await;
        crash_after(&store, &file, k, 2).await;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        let outcome = deliver(&ingest(&store), &file).await;
        // A crash after the commit (in a roll) leaves the file settled: the redelivery rolls.
        assert!(
            matches!(
                outcome,
                Outcome::Done { .. } | Outcome::AlreadySettled(FileState::Done)
            ),
            "k={k}: {outcome:?}"
        );
        assert_consistent(&store, &run).await;
        assert_same_dump(
            &dump(&store).await,
            expected,
            &format!("crash after {k} writes"),
        );
    }
}

/// The table after one clean delivery of `file` (as file 1) into a run holding `before` (as
/// [`crash_after_every_write`] makes them).
async fn clean_pair(before: Before<'_>, file: (&str, &[u8])) -> Dump {
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    prepare(&store, &run, before).await;
    let file = upload(&store, &run, 1, file.0, file.1).await;
    assert!(matches!(
        deliver(&ingest(&store), &file).await,
        Outcome::Done { .. }
    ));
    assert_consistent(&store, &run).await;
    dump(&store).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_after_any_write_then_redelivery_counts_once() {
    // Alone in its run, the file puts its 80 tests in bulk, 25 at a time, 2 batches in
    // flight: claim, marker, writer registration, 4 batches, commit.
    let bytes = many_tests(80);
    let expected = clean_pair(Before::Nothing, ("report.xml", &bytes)).await;
    let report = ("report.xml", bytes.as_slice());
    crash_after_every_write(Before::Nothing, report, 1 + 1 + 1 + 4 + 1, &expected).await;

    // A second file of the run, once the first committed, writes alone too: each batch of its
    // 40 tests (half of them in the first file too) read and merged. Claim, marker, writer
    // registration (the refused claim to write first, then the one to write alone after the
    // others), 2 batches, commit.
    let (first, second) = (many_tests(20), many_tests(40));
    let second = ("second.xml", second.as_slice());
    let before = Before::Committed("first.xml", &first);
    let expected = clean_pair(before, second).await;
    crash_after_every_write(before, second, 1 + 1 + 2 + 2 + 1, &expected).await;

    // Beside a file that began writing and failed, it shares the run and writes each of its
    // tests conditionally: claim, marker, writer registration (both claims to write alone
    // refused, then the shared one), 40 writes, commit.
    let before = Before::CommittedAndFailedWriter("first.xml", &first);
    let expected = clean_pair(before, second).await;
    crash_after_every_write(before, second, 1 + 1 + 3 + 40 + 1, &expected).await;
}

/// Delivers `file` with `settings` until it settles, counting the deliveries that stopped
/// to let the next continue.
async fn deliver_continuing(store: &Store, file: &FileRef, settings: &Settings) -> u64 {
    let ingest = Ingest::new(store.clone().serving("parse"), settings.clone());
    let mut continued = 0;
    for attempt in 0..500 {
        match ingest
            .ingest_key(&file.object_key(), &format!("req-{attempt}"))
            .await
        {
            Ok(outcome) => {
                assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
                return continued;
            }
            Err(Retry::Continue { .. }) => continued += 1,
            Err(err) => panic!("unexpected retry: {err}"),
        }
    }
    panic!("file {} never settled", file.file_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_written_by_several_invocations_counts_once_on_each_path() {
    // Files of 1,500 to 1,700 tests (each holding the one before's tests) take several
    // invocations each, each continuing from the last one's checkpoint: the run's first
    // writer, one alone after it, merging, and one beside a file that failed, sharing the run.
    let files = [
        ("first.xml", many_tests(1_500)),
        ("second.xml", many_tests(1_600)),
        ("third.xml", many_tests(1_700)),
    ];
    let mut dumps = Vec::new();
    for settings in [Settings::default(), handing_off()] {
        let store = fresh_store().await;
        let run = run_ref("acme", "build-1");
        let mut continued = Vec::new();
        for (i, (name, bytes)) in files.iter().enumerate() {
            if i == 2 {
                leave_a_failed_writer(&store, &run, 3).await;
            }
            let file = upload(&store, &run, i, name, bytes).await;
            continued.push(deliver_continuing(&store, &file, &settings).await);
        }
        assert_consistent(&store, &run).await;
        dumps.push((dump(&store).await, continued));
    }
    let (continued_whole, continued_in_parts) = (&dumps[0].1, &dumps[1].1);
    assert_eq!(continued_whole, &[0, 0, 0]);
    assert!(
        continued_in_parts.iter().all(|&c| c >= 2),
        "{continued_in_parts:?}"
    );
    assert_same_dump(&dumps[1].0, &dumps[0].0, "written by several invocations");
}

/// A third of a second of writing per invocation, one write at a time: a file of a few thousand
/// tests (25 to a batch alone in its run) takes several invocations, each of which writes more
/// than the last (reading past what is written takes a fraction of its time), and however many
/// a slow machine needs, each is handed off.
fn handing_off() -> Settings {
    Settings {
        checkpoint_ms: 300,
        concurrency: 1,
        max_handoffs: 1_000,
        ..Settings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_that_stops_at_its_checkpoint_is_handed_off_until_done() {
    let bytes = many_tests(3_000);
    let expected = clean_pair(Before::Nothing, ("report.xml", &bytes)).await;
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let file = upload(&store, &run, 1, "report.xml", &bytes).await;
    let ingest = Ingest::new(store.clone().serving("parse"), handing_off());

    // A chain already as long as allowed is not handed off again: Lambda's retries and the
    // sweep take the file from there.
    let last = store
        .hand_off(&Handoff {
            file: file.clone(),
            generation: ingest.settings().max_handoffs,
        })
        .await
        .unwrap();
    let past_the_bound = invoke(&ingest, &last, "last").await;
    assert!(
        matches!(past_the_bound, Err(Retry::Continue { written }) if written > 0),
        "{past_the_bound:?}"
    );
    let mut delivered = vec![last];

    let first = invoke(&ingest, &file.object_key(), "upload").await.unwrap();
    assert!(
        matches!(&first, Outcome::HandedOff { why: HandOffWhy::Continue { .. }, handoff }
            if Handoff::from_object_key(handoff) == Some(Ok(Handoff { file: file.clone(), generation: 1 }))),
        "{first:?}"
    );
    let outcomes = deliver_handoffs(&ingest, &mut delivered).await;
    let (last_file, done) = outcomes.last().expect("at least the first hand-off");
    assert_eq!(last_file, &file);
    assert!(matches!(done, Outcome::Done { .. }), "{outcomes:?}");
    assert_consistent(&store, &run).await;
    assert_same_dump(&dump(&store).await, &expected, "handed off until done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_run_s_lone_writer_hands_off_the_files_it_kept_waiting() {
    let lone = many_tests(1_500);
    let other = junit(&[("pkg.Mod0.test_0", "passed"), ("z.Z.t", "failed")]);
    let expected = clean_pair(Before::Committed("lone.xml", &lone), ("other.xml", &other)).await;
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let lone_file = upload(&store, &run, 0, "lone.xml", &lone).await;
    let other_file = upload(&store, &run, 1, "other.xml", &other).await;
    let ingest = Ingest::new(store.clone().serving("parse"), handing_off());

    let first = invoke(&ingest, &lone_file.object_key(), "lone")
        .await
        .unwrap();
    assert!(matches!(first, Outcome::HandedOff { .. }), "{first:?}");
    // The other file finds the lone writer between invocations: it gives its lease back and
    // stops, handing nothing off and polling nothing.
    let waiting = invoke(&ingest, &other_file.object_key(), "other")
        .await
        .unwrap();
    assert_eq!(
        waiting,
        Outcome::Waiting {
            writer: lone_file.file_id.clone()
        }
    );
    assert_eq!(store.list_handoff_keys().await.unwrap().len(), 1);

    // The lone writer's chain ends in its commit, which hands the other file off.
    let mut delivered = Vec::new();
    let outcomes = deliver_handoffs(&ingest, &mut delivered).await;
    let settled: Vec<&FileRef> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Done { .. }))
        .map(|(f, _)| f)
        .collect();
    assert_eq!(settled, [&lone_file, &other_file], "{outcomes:?}");
    assert_consistent(&store, &run).await;
    assert_same_dump(
        &dump(&store).await,
        &expected,
        "handed off by the lone writer",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_anywhere_in_a_failure_roll_then_redelivery_rolls_once() {
    // 250 tests, 100 of them failing: alone in its run, the file's settle is followed by its
    // failure roll of 100 rollup items (one per failing test, under `main`) in 2 chunks. Claim,
    // marker, writer registration, 10 batches, commit, the run's roll, the failure roll's claim
    // and its 2 chunks: every crash point, the one between chunks included.
    let bytes = many_tests(250);
    let expected = clean_pair(Before::Nothing, ("report.xml", &bytes)).await;
    crash_after_every_write(
        Before::Nothing,
        ("report.xml", &bytes),
        1 + 1 + 1 + 10 + 1 + 1 + 1 + 2,
        &expected,
    )
    .await;

    // A late file whose reruns pass 10 of those failures: the rollups move them from failed
    // to retried, in one chunk. Claim, marker, writer registration (refused first, then alone
    // after the first file), 1 batch, commit, the run's roll, the failure roll's claim and its
    // chunk.
    let first = many_tests(250);
    let names: Vec<String> = (0..10)
        .map(|k| format!("pkg.Mod{}.test_{}", (5 * k + 1) % 7, 5 * k + 1))
        .collect();
    let reruns: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "passed")).collect();
    let second = junit(&reruns);
    let before = Before::Committed("first.xml", &first);
    let expected = clean_pair(before, ("second.xml", &second)).await;
    crash_after_every_write(
        before,
        ("second.xml", &second),
        1 + 1 + 2 + 1 + 1 + 1 + 1 + 1,
        &expected,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failure_roll_of_many_chunks_raced_by_several_deliveries_finishes_once() {
    // 2,400 tests, 960 failing: 960 rollup items (one per failing test) in 10 chunks. The
    // ingest dies right after claiming the roll (claim, marker, writer registration, 96
    // batches, commit, the run's roll, the failure roll's claim); then three redeliveries race
    // over every chunk, each losing most of them. Each lost race is another's progress, so none
    // gives up, and the rollups end as one clean roll leaves them.
    let bytes = many_tests(2400);
    let expected = clean_pair(Before::Nothing, ("report.xml", &bytes)).await;
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let file = upload(&store, &run, 1, "report.xml", &bytes).await;
    crash_after(&store, &file, 1 + 1 + 1 + 96 + 1 + 1 + 1, 2).await;
    let (items, _) = store.dump().await.unwrap();
    let claimed = items
        .iter()
        .find(|item| item.contains_key("failures_rolling"))
        .expect("a roll claimed and cut off");
    assert_eq!(claimed["failures_step"], 0, "{claimed:?}");

    let ingest = ingest(&store);
    let outcomes = join_all((0..3).map(|_| deliver(&ingest, &file))).await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::AlreadySettled(FileState::Done))),
        "{outcomes:?}"
    );
    assert_consistent(&store, &run).await;
    assert_same_dump(&dump(&store).await, &expected, "raced rolls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_waits_for_the_run_s_lone_writer_even_one_that_crashed() {
    let lone = many_tests(60);
    let other = junit(&[("pkg.Mod0.test_0", "passed"), ("z.Z.t", "failed")]);
    let expected = clean_pair(Before::Committed("lone.xml", &lone), ("other.xml", &other)).await;

    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let lone_file = upload(&store, &run, 0, "lone.xml", &lone).await;
    let other_file = upload(&store, &run, 1, "other.xml", &other).await;
    // The lone writer dies after its claim, marker, registration and one batch.
    crash_after(&store, &lone_file, 4, 1).await;
    // The other file may not merge into the half-written run: it gives its lease back and
    // asks to be retried.
    let waited = ingest(&store)
        .ingest_key(&other_file.object_key(), "waiting")
        .await;
    assert!(
        matches!(&waited, Err(Retry::WaitingForWriter { writer }) if *writer == lone_file.file_id),
        "{waited:?}"
    );
    let released = store.get_file(&other_file).await.unwrap().unwrap();
    assert_eq!(released.state, FileState::Processing);
    assert_eq!(store.get_run(&run).await.unwrap().unwrap().summary.tests, 0);

    // Delivered together, the other file waits for the lone writer's redelivery to commit.
    let ingest = ingest(&store);
    let outcomes = join_all([deliver(&ingest, &other_file), deliver(&ingest, &lone_file)]).await;
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Done { .. })),
        "{outcomes:?}"
    );
    assert_consistent(&store, &run).await;
    assert_same_dump(&dump(&store).await, &expected, "after the wait");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shards_of_a_run_merge_the_same_in_every_order() {
    let files = shards();
    let expected = clean_without(&files, &ORDER_BOOKKEEPING).await;
    // The merged view: the flaky test passed after failing, the overlapping shared2 too.
    {
        let store = fresh_store().await;
        let run = run_ref("acme", "build-1");
        let ingest = ingest(&store);
        for (i, (name, bytes)) in files.iter().enumerate() {
            deliver(&ingest, &upload(&store, &run, i, name, bytes).await).await;
        }
        let summary = store.get_run(&run).await.unwrap().unwrap().summary;
        assert_eq!(
            (
                summary.tests,
                summary.passed,
                summary.failed,
                summary.errors,
                summary.skipped,
                summary.flaky
            ),
            (10, 7, 0, 1, 2, 2),
            "{summary:?}"
        );
    }
    for order in permutations(files.len()) {
        let store = fresh_store().await;
        let run = run_ref("acme", "build-1");
        let ingest = ingest(&store);
        let mut uploaded = Vec::new();
        for &i in &order {
            uploaded.push(upload(&store, &run, i, files[i].0, &files[i].1).await);
        }
        for file in &uploaded {
            deliver(&ingest, file).await;
        }
        assert_consistent(&store, &run).await;
        let actual = dump_without(&store, &ORDER_BOOKKEEPING).await;
        assert_same_dump(&actual, &expected, &format!("order {order:?}"));
    }
    for round in 0..3 {
        let store = fresh_store().await;
        let run = run_ref("acme", "build-1");
        let ingest = ingest(&store);
        let mut uploaded = Vec::new();
        for (i, (name, bytes)) in files.iter().enumerate() {
            uploaded.push(upload(&store, &run, i, name, bytes).await);
        }
        join_all(uploaded.iter().map(|f| deliver(&ingest, f))).await;
        assert_consistent(&store, &run).await;
        let actual = dump_without(&store, &ORDER_BOOKKEEPING).await;
        assert_same_dump(&actual, &expected, &format!("concurrent round {round}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_files_fail_with_the_error_count_nothing_and_stay_in_the_bucket() {
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let ingest = ingest(&store);
    let good = upload(&store, &run, 0, "good.xml", &junit(&[("a.A.t", "passed")])).await;
    deliver(&ingest, &good).await;
    let cases: [(&str, &[u8], &str, Option<u64>); 4] = [
        (
            "malformed.xml",
            b"<testsuite>\n<testcase name=\"a\" classname=\"b\">\n</testsuit>\n",
            "malformed",
            Some(3),
        ),
        (
            "truncated.xml",
            b"<testsuite>\n<testcase name=\"a\" classname=\"b\">\n<failure>",
            "truncated",
            None,
        ),
        ("empty.xml", b"", "empty", None),
        (
            "unknown.bin",
            b"just some words, not a report\n",
            "unknown_format",
            None,
        ),
    ];
    let before = store.get_run(&run).await.unwrap().unwrap();
    for (i, (name, bytes, kind, line)) in cases.into_iter().enumerate() {
        let file = upload(&store, &run, i + 1, name, bytes).await;
        let Outcome::Failed(error) = deliver(&ingest, &file).await else {
            panic!("{name} did not fail");
        };
        assert_eq!(error.kind.as_str(), kind, "{name}: {error:?}");
        if line.is_some() {
            assert_eq!(error.line, line, "{name}: {error:?}");
        }
        let item = store.get_file(&file).await.unwrap().unwrap();
        assert_eq!(item.state, FileState::Failed);
        assert_eq!(item.error.as_ref(), Some(&error));
        assert!(
            store.raw_exists(&file.object_key()).await.unwrap(),
            "{name} kept"
        );
        // Redelivery leaves it failed.
        assert_eq!(
            deliver(&ingest, &file).await,
            Outcome::AlreadySettled(FileState::Failed)
        );
    }
    let after = store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(after.summary, before.summary, "nothing counted");
    assert_eq!((after.files_done, after.files_failed), (1, 4));
    assert_eq!(store.recount(&run).await.unwrap(), after.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_bytes_uploaded_twice_count_once() {
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let ingest = ingest(&store);
    let bytes = junit(&[("a.A.t1", "passed"), ("a.A.t2", "failed")]);
    let first = upload(&store, &run, 0, "report.xml", &bytes).await;
    let second = upload(&store, &run, 1, "report-copy.xml", &bytes).await;
    assert!(matches!(
        deliver(&ingest, &first).await,
        Outcome::Done { .. }
    ));
    assert_eq!(
        deliver(&ingest, &second).await,
        Outcome::Duplicate {
            of: first.file_id.clone()
        }
    );
    let summary = store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(
        (
            summary.summary.tests,
            summary.files_done,
            summary.files_duplicate
        ),
        (2, 1, 1)
    );
    assert_consistent(&store, &run).await;

    // Concurrently: exactly one of the two is counted.
    let store = fresh_store().await;
    let ingest = self::ingest(&store);
    let a = upload(&store, &run, 0, "report.xml", &bytes).await;
    let b = upload(&store, &run, 1, "report-copy.xml", &bytes).await;
    let outcomes = join_all([deliver(&ingest, &a), deliver(&ingest, &b)]).await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Duplicate { .. }))
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(store.get_run(&run).await.unwrap().unwrap().summary.tests, 2);
    assert_consistent(&store, &run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweep_ingests_files_whose_event_was_lost_and_fails_abandoned_uploads() {
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let ingest = ingest(&store);
    let arrived = upload(&store, &run, 0, "a.xml", &junit(&[("a.A.t", "passed")])).await;
    let never = register(&store, &run, 1, "b.xml", 100).await;
    let request = SweepRequest {
        grace_seconds: 60,
        abandon_seconds: 3600,
    };
    let outcomes = sweep_files(&ingest, &request, "sweep-1", None)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert_eq!(
        store.get_file(&arrived).await.unwrap().unwrap().state,
        FileState::Done
    );
    let abandoned = store.get_file(&never).await.unwrap().unwrap();
    assert_eq!(abandoned.state, FileState::Failed);
    assert_eq!(abandoned.error.unwrap().kind.as_str(), "not_uploaded");
    // Settled files leave the sweep index: a second sweep has nothing to do.
    assert!(sweep_files(&ingest, &request, "sweep-2", None)
        .await
        .unwrap()
        .is_empty());
    assert_consistent(&store, &run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweep_drives_a_crashed_lone_writer_and_the_file_that_waits_for_it() {
    // The sweep visits files in its index's order: with the ids swapped, one of the two rounds
    // meets the waiting file before the lone writer.
    for (lone_id, other_id) in [(0, 1), (1, 0)] {
        let store = fresh_store().await;
        let run = run_ref("acme", "build-1");
        let lone = upload(&store, &run, lone_id, "lone.xml", &many_tests(60)).await;
        let other = upload(&store, &run, other_id, "other.xml", &many_tests(30)).await;
        crash_after(&store, &lone, 4, 1).await;
        let request = SweepRequest {
            grace_seconds: 60,
            abandon_seconds: 3600,
        };
        // Both settle in one sweep, which never waits.
        let outcomes = sweep_files(&ingest(&store), &request, "sweep-1", None)
            .await
            .unwrap();
        assert_eq!(outcomes.len(), 2, "{outcomes:?}");
        assert!(outcomes.iter().all(|o| matches!(o, Outcome::Done { .. })));
        for file in [&lone, &other] {
            assert_eq!(
                store.get_file(file).await.unwrap().unwrap().state,
                FileState::Done
            );
        }
        let summary = store.get_run(&run).await.unwrap().unwrap();
        assert_eq!((summary.files_done, summary.summary.tests), (2, 60));
        assert_consistent(&store, &run).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn indexes_never_show_a_result_of_a_file_still_being_ingested() {
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let project = run.project.clone();
    let first = upload(
        &store,
        &run,
        0,
        "first.xml",
        &junit(&[("a.A.shared", "failed"), ("a.A.alone", "failed")]),
    )
    .await;
    deliver(&ingest(&store), &first).await;
    let second = upload(
        &store,
        &run,
        1,
        "second.xml",
        &junit(&[("a.A.shared", "passed"), ("b.B.new", "error")]),
    )
    .await;
    // The second file writes both its tests (one merging into the first file's), then dies
    // before its commit: claim, marker, writer registration (the refused claim to write first,
    // then the claim to write alone after the first file), 1 batch.
    crash_after(&store, &second, 5, 1).await;

    let id = junit_test_id;
    let history = |test: &'static str| {
        let store = store.clone();
        let project = project.clone();
        async move {
            store
                .test_history(
                    &project,
                    &id(test),
                    &verdict_store::RunFilter::default(),
                    50,
                    None,
                )
                .await
                .unwrap()
                .items
                .len()
        }
    };
    // The tests the failure rollups count as failed or retried.
    let rolled_up = || async {
        let mut names: Vec<String> = store
            .failure_counts(&project, None, 0, verdict_store::now_ms())
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        names.sort();
        names.dedup();
        names
    };
    // A run's results as its tests and export show them (`Run::shows`).
    let shown = || async {
        let rows = store
            .list_results(&run, &verdict_store::ResultFilter::default(), 100, None)
            .await
            .unwrap()
            .items;
        let (_, rows) = store.shown_rows(&run, rows).await.unwrap();
        let mut names: Vec<String> = rows.into_iter().map(|r| r.name).collect();
        names.sort();
        names
    };
    // Only what the first file alone wrote shows; the merged test and the new one wait.
    assert_eq!(
        (
            history("a.A.shared").await,
            history("a.A.alone").await,
            history("b.B.new").await
        ),
        (0, 1, 0)
    );
    // The rollups hold the run as it last settled whole: both failures of the first file.
    assert_eq!(rolled_up().await, ["alone", "shared"]);
    assert_eq!(shown().await, ["alone"], "a run's tests and export");

    deliver(&ingest(&store), &second).await;
    assert_consistent(&store, &run).await;
    assert_eq!(
        (
            history("a.A.shared").await,
            history("a.A.alone").await,
            history("b.B.new").await
        ),
        (1, 1, 1)
    );
    // The shared test passed in the second file after failing in the first: a flaky pass.
    assert_eq!(rolled_up().await, ["alone", "new", "shared"]);
    assert_eq!(shown().await, ["alone", "new", "shared"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_capacity_counter_counts_the_writes_of_test_items_only() {
    // The ingest benchmark's WCU figure: each test item is at least one WCU on the table.
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let lone = upload(&store, &run, 0, "lone.xml", &many_tests(60)).await;
    let shared = upload(&store, &run, 1, "shared.xml", &many_tests(10)).await;
    let (counting, capacity) = store.clone().counting_capacity();
    let ingest = Ingest::new(counting.clone().serving("parse"), Settings::default());
    assert!(matches!(
        deliver(&ingest, &lone).await,
        Outcome::Done { .. }
    ));
    let bulk = capacity.units();
    assert!(bulk >= 60.0, "60 items put in bulk: {bulk} WCU");
    assert!(matches!(
        deliver(&ingest, &shared).await,
        Outcome::Done { .. }
    ));
    let conditional = capacity.units() - bulk;
    assert!(
        conditional >= 10.0,
        "10 conditional puts: {conditional} WCU"
    );
    // Writes of anything but test items (a registration here) are not counted.
    let before = capacity.units();
    upload(&counting, &run, 2, "more.xml", &many_tests(5)).await;
    assert_eq!(capacity.units(), before);
}
