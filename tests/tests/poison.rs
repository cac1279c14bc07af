//! A file can never wedge its run, and no input costs more than one failed file: on the local
//! stack, a write refused for good, a panic and a file that keeps getting claimed each settle
//! the file `failed` and free the run's lone writer; absurd names, reruns and durations ingest.

use verdict_parse_fn::ingest::{HandOffWhy, Ingest, Outcome, Retry, Settings};
use verdict_store::{Faults, FileRef, FileState, RunRef, Store};
use verdict_tests::{crashed, deliver_handoffs, fresh_store, run_ref, upload};

fn junit(cases: &str) -> Vec<u8> {
    format!("<testsuites><testsuite name=\"s\">{cases}</testsuite></testsuites>").into_bytes()
}

fn many(n: usize) -> Vec<u8> {
    junit(
        &(0..n)
            .map(|i| format!("<testcase classname=\"a.A\" name=\"t{i}\" time=\"0.1\"/>"))
            .collect::<String>(),
    )
}

fn ingest_with(store: &Store, settings: Settings, faults: Faults) -> Ingest {
    Ingest::new(store.clone().serving("parse").with_faults(faults), settings)
}

fn patient() -> Settings {
    Settings {
        lease_ms: 0,
        ..Settings::default()
    }
}

/// Ingests until the file is settled (retrying what asks to be retried).
async fn settle(ingest: &Ingest, file: &FileRef) -> Outcome {
    for attempt in 0..100 {
        match ingest
            .ingest_key(&file.object_key(), &format!("req-{attempt}"))
            .await
        {
            Ok(outcome) => return outcome,
            Err(Retry::Busy { .. } | Retry::WaitingForWriter { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(err) => panic!("unexpected retry: {err}"),
        }
    }
    panic!("never settled")
}

fn failed_kind(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Failed(error) => error.kind.as_str(),
        other => panic!("expected a failed file, got {other:?}"),
    }
}

/// The lone writer of `run` stops for good after writing part of its results; the run's other
/// file must then be ingested without waiting for it.
async fn lone_writer_stops(faults: Faults) -> (Store, RunRef, Outcome) {
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let lone = upload(&store, &run, 0, "lone.xml", &many(60)).await;
    let other = upload(
        &store,
        &run,
        1,
        "other.xml",
        &junit("<testcase classname=\"z.Z\" name=\"t\"><failure message=\"m\"/></testcase>"),
    )
    .await;
    // Claim, content marker, writer registration and one batch; then the fault.
    let stopped = ingest_with(
        &store,
        Settings {
            concurrency: 1,
            ..patient()
        },
        faults,
    )
    .ingest_key(&lone.object_key(), "lone")
    .await
    .expect("a fault for good settles the file, it is not retried");
    let item = store.get_file(&lone).await.unwrap().unwrap();
    assert_eq!(item.state, FileState::Failed);
    let run_item = store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(run_item.exclusive_writer, None, "the run is free again");
    assert_eq!(run_item.files_failed, 1);

    // The other file does not wait: it is ingested at once.
    let ingest = ingest_with(&store, patient(), Faults::none());
    assert!(matches!(
        ingest.ingest_key(&other.object_key(), "other").await,
        Ok(Outcome::Done { .. })
    ));
    let run_item = store.get_run(&run).await.unwrap().unwrap();
    assert_eq!(
        (run_item.summary.tests, run_item.summary.failed),
        (1, 1),
        "only the done file counts"
    );
    // Nothing the failed file wrote shows; the other file's result does.
    let rows = store
        .list_results(&run, &verdict_store::ResultFilter::default(), 100, None)
        .await
        .unwrap()
        .items;
    let (_, rows) = store.shown_rows(&run, rows).await.unwrap();
    let shown: Vec<String> = rows.into_iter().map(|r| r.name).collect();
    assert_eq!(shown, ["t"]);
    (store, run, stopped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_refused_for_good_fails_the_file_and_frees_its_run() {
    let (store, run, outcome) = lone_writer_stops(Faults::refuse_after(4)).await;
    assert_eq!(failed_kind(&outcome), "store");
    let lone = &store.list_files(&run).await.unwrap()[0];
    let error = lone.error.as_ref().unwrap();
    assert!(error.message.contains("AccessDenied"), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panic_fails_the_file_and_frees_its_run() {
    let (store, run, outcome) = lone_writer_stops(Faults::panic_after(4)).await;
    assert_eq!(failed_kind(&outcome), "internal");
    let lone = &store.list_files(&run).await.unwrap()[0];
    assert!(
        lone.error
            .as_ref()
            .unwrap()
            .message
            .contains("injected panic"),
        "{:?}",
        lone.error
    );
    // A redelivery finds it settled.
    let again = ingest_with(&store, patient(), Faults::none())
        .ingest_key(&lone.file.object_key(), "again")
        .await
        .unwrap();
    assert_eq!(again, Outcome::AlreadySettled(FileState::Failed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_claimed_too_often_gives_up() {
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let file = upload(&store, &run, 0, "r.xml", &many(5)).await;
    let settings = Settings {
        max_claims: 2,
        ..patient()
    };
    // Two invocations die after their claim (as one killed for running out of memory would).
    for i in 0..2 {
        let result = ingest_with(&store, settings.clone(), Faults::crash_after(1))
            .ingest_key(&file.object_key(), &format!("dies-{i}"))
            .await;
        assert!(crashed(&result), "{result:?}");
    }
    let outcome = settle(&ingest_with(&store, settings, Faults::none()), &file).await;
    assert_eq!(failed_kind(&outcome), "gave_up");
    let run_item = store.get_run(&run).await.unwrap().unwrap();
    assert_eq!((run_item.files_failed, run_item.summary.tests), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huge_names_many_reruns_and_absurd_durations_ingest() {
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let long_name = "n".repeat(300 * 1024);
    let mut cases = format!("<testcase classname=\"a.A\" name=\"{long_name}\"/>");
    // One test run 100,000 times (reruns of one identity), the last attempt passing.
    for _ in 0..99_999 {
        cases.push_str(
            "<testcase classname=\"a.A\" name=\"again\"><failure message=\"m\"/></testcase>",
        );
    }
    cases.push_str("<testcase classname=\"a.A\" name=\"again\"/>");
    cases.push_str("<testcase classname=\"a.A\" name=\"slow1\" time=\"1e200\"/>");
    cases.push_str("<testcase classname=\"a.A\" name=\"slow2\" time=\"1e200\"/>");
    let file = upload(&store, &run, 0, "r.xml", &junit(&cases)).await;
    let outcome = settle(&ingest_with(&store, patient(), Faults::none()), &file).await;
    let Outcome::Done { counts, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        (counts.tests, counts.passed, counts.flaky),
        (4, 4, 1),
        "{counts:?}"
    );
    assert_eq!(counts.duration_ms, 2 * verdict_model::MAX_DURATION_MS);
    let rows = store
        .list_results(&run, &verdict_store::ResultFilter::default(), 100, None)
        .await
        .unwrap()
        .items;
    let longest = rows.iter().map(|r| r.name.len()).max().unwrap();
    assert!(
        longest < 2 * 1024,
        "names are capped in items: {longest} bytes"
    );
    let summary = store.get_run(&run).await.unwrap().unwrap().summary;
    assert_eq!(summary, store.recount(&run).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_poison_record_in_an_event_fails_alone() {
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    let good = upload(&store, &run, 0, "good.xml", &many(3)).await;
    let bad = upload(
        &store,
        &run,
        1,
        "bad.xml",
        b"<testsuite><testcase name=\"a\">",
    )
    .await;
    let other = upload(
        &store,
        &run,
        2,
        "other.xml",
        &junit("<testcase classname=\"z.Z\" name=\"t\"/>"),
    )
    .await;
    let ingest = ingest_with(&store, patient(), Faults::none());
    let keys: Vec<String> = [&good, &bad, &other]
        .iter()
        .map(|f| f.object_key())
        .collect();
    let event =
        || verdict_parse_fn::Event::S3(verdict_parse_fn::created_event(store.bucket(), &keys));
    let outcomes = verdict_parse_fn::handle(&ingest, event(), "one", None)
        .await
        .unwrap();
    assert_eq!(failed_kind(&outcomes[1]), "truncated");
    // The files of one event are ingested at once: one good file may find the other writing
    // alone and give its lease back, to be handed off when the writer commits (or, finding it
    // gone by then, hand itself off).
    for outcome in [&outcomes[0], &outcomes[2]] {
        assert!(
            matches!(
                outcome,
                Outcome::Done { .. }
                    | Outcome::Waiting { .. }
                    | Outcome::HandedOff {
                        why: HandOffWhy::WriterDone { .. },
                        ..
                    }
            ),
            "{outcomes:?}"
        );
    }
    deliver_handoffs(&ingest, &mut Vec::new()).await;
    for file in [&good, &other] {
        let item = store.get_file(file).await.unwrap().unwrap();
        assert_eq!(item.state, FileState::Done, "{outcomes:?}");
    }
    // Delivered again, nothing moves.
    let again = verdict_parse_fn::handle(&ingest, event(), "two", None)
        .await
        .unwrap();
    assert!(
        again
            .iter()
            .all(|o| matches!(o, Outcome::AlreadySettled(_))),
        "{again:?}"
    );
    let summary = store.get_run(&run).await.unwrap().unwrap().summary;
    assert_eq!(summary.tests, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_object_nobody_registered_is_ignored_and_writes_nothing() {
    let store = fresh_store().await;
    let run = run_ref("acme", "build-1");
    // A registered run, and beside its file an object with no file item (a foreign key).
    upload(&store, &run, 0, "r.xml", &many(2)).await;
    let orphan = format!("raw/acme/build-1/{:032x}", 99);
    store.put_raw(&orphan, many(2)).await.unwrap();
    let before = verdict_tests::dump(&store).await;
    let outcome = ingest_with(&store, patient(), Faults::none())
        .ingest_key(&orphan, "orphan")
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Skipped(_)), "{outcome:?}");
    verdict_tests::assert_same_dump(&verdict_tests::dump(&store).await, &before, "orphan");
    for key in ["raw/../etc/passwd", "views/acme/x", "raw/acme"] {
        let outcome = ingest_with(&store, patient(), Faults::none())
            .ingest_key(key, "foreign")
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Skipped(_)), "{key}: {outcome:?}");
    }
}
