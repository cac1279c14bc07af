//! Where a test was first seen: the earliest run that has it, whatever order the runs settle
//! in, kept when the test comes back after a run without it, and unchanged by redelivery.

use verdict_parse_fn::ingest::{Ingest, Settings};
use verdict_store::{now_ms, FileState, ProjectName, Store, FIRST_SEEN_PK_PREFIX};
use verdict_tests::reports::{junit, junit_test_id};
use verdict_tests::{
    assert_same_dump, dump, fresh_store, metadata, run_ref, settle, settled, upload_with,
};

/// Uploads run `run_key`, created at `created_ms`, of `tests` all passing; its object key.
async fn upload_run(
    store: &Store,
    i: usize,
    run_key: &str,
    created_ms: u64,
    tests: &[&str],
) -> String {
    let cases: Vec<(&str, &str)> = tests.iter().map(|t| (*t, "passed")).collect();
    upload_with(
        store,
        &run_ref("acme", run_key),
        i,
        "report.xml",
        &junit(&cases),
        created_ms,
        metadata(),
    )
    .await
    .object_key()
}

/// The run `test` was first seen in, as the store says.
async fn first_run(store: &Store, test: &str) -> Option<String> {
    let project = ProjectName::parse("acme").unwrap();
    store
        .first_seen(&project, &junit_test_id(test))
        .await
        .unwrap()
        .map(|seen| seen.run_key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_test_is_first_seen_in_the_earliest_run_that_has_it_in_any_order_of_settling() {
    let store = fresh_store().await;
    let ingest = Ingest::new(store.clone().serving("parse"), Settings::default());
    let t0 = now_ms() - 3_600_000;
    // r0 is the oldest run but settles after r1 and r2.
    let r0 = upload_run(&store, 0, "r0", t0, &["c.a", "c.b"]).await;
    let r1 = upload_run(&store, 1, "r1", t0 + 1_000, &["c.a"]).await;
    settle(&ingest, &r1).await;
    assert_eq!(first_run(&store, "c.a").await.as_deref(), Some("r1"));
    assert_eq!(first_run(&store, "c.b").await, None);
    let r2 = upload_run(&store, 2, "r2", t0 + 2_000, &["c.a", "c.b"]).await;
    settle(&ingest, &r2).await;
    assert_eq!(first_run(&store, "c.b").await.as_deref(), Some("r2"));
    settle(&ingest, &r0).await;
    assert_eq!(first_run(&store, "c.a").await.as_deref(), Some("r0"));
    assert_eq!(first_run(&store, "c.b").await.as_deref(), Some("r0"));

    // b leaves in r3 and comes back in r4: still first seen in r0.
    let r3 = upload_run(&store, 3, "r3", t0 + 3_000, &["c.a", "c.c"]).await;
    settle(&ingest, &r3).await;
    let r4 = upload_run(&store, 4, "r4", t0 + 4_000, &["c.a", "c.b"]).await;
    settle(&ingest, &r4).await;
    assert_eq!(first_run(&store, "c.b").await.as_deref(), Some("r0"));
    assert_eq!(first_run(&store, "c.c").await.as_deref(), Some("r3"));

    // Delivered again, every run's file changes nothing.
    let before = dump(&store).await;
    for key in [&r0, &r1, &r2, &r3, &r4] {
        assert_eq!(settled(&ingest, key).await, FileState::Done);
    }
    assert_same_dump(&dump(&store).await, &before, "redelivered");
}

/// The first-seen items in the table: `(pk, run named)`.
async fn first_seen_items(store: &Store) -> Vec<(String, String)> {
    let (items, _) = dump(store).await;
    items
        .iter()
        .filter(|item| {
            item["pk"]
                .as_str()
                .unwrap()
                .starts_with(FIRST_SEEN_PK_PREFIX)
        })
        .map(|item| {
            let pk = item["pk"].as_str().unwrap().to_string();
            (pk, item["run_key"].as_str().unwrap().to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_projects_first_run_is_named_once_not_per_test() {
    let store = fresh_store().await;
    let ingest = Ingest::new(store.clone().serving("parse"), Settings::default());
    let t0 = now_ms() - 3_600_000;
    let tests: Vec<String> = (0..300).map(|i| format!("c.t{i}")).collect();
    let names: Vec<&str> = tests.iter().map(String::as_str).collect();
    let r0 = upload_run(&store, 0, "r0", t0, &names).await;
    settle(&ingest, &r0).await;
    assert_eq!(
        first_seen_items(&store).await,
        [("S#acme".to_string(), "r0".to_string())],
        "one item names the first run"
    );
    assert_eq!(first_run(&store, "c.t299").await.as_deref(), Some("r0"));
    assert_eq!(first_run(&store, "c.new").await, None);

    // A later run without most of them, then one with them back and one new test: only the
    // new test gets an item of its own.
    let r1 = upload_run(&store, 1, "r1", t0 + 1_000, &["c.t0"]).await;
    settle(&ingest, &r1).await;
    let mut back = names.clone();
    back.push("c.new");
    let r2 = upload_run(&store, 2, "r2", t0 + 2_000, &back).await;
    settle(&ingest, &r2).await;
    let items = first_seen_items(&store).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(first_run(&store, "c.t7").await.as_deref(), Some("r0"));
    assert_eq!(first_run(&store, "c.new").await.as_deref(), Some("r2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_created_earlier_takes_the_first_run_name_back_and_hands_the_rest_back() {
    let store = fresh_store().await;
    let ingest = Ingest::new(store.clone().serving("parse"), Settings::default());
    let t0 = now_ms() - 3_600_000;
    // r1 registers and settles before r0 exists, as when r0 is not on the runs index yet.
    let r1 = upload_run(&store, 1, "r1", t0 + 1_000, &["c.a", "c.b"]).await;
    settle(&ingest, &r1).await;
    assert_eq!(first_run(&store, "c.a").await.as_deref(), Some("r1"));
    let r0 = upload_run(&store, 0, "r0", t0, &["c.a"]).await;
    settle(&ingest, &r0).await;
    assert_eq!(first_run(&store, "c.a").await.as_deref(), Some("r0"));
    // r1 put no item of its own as the first run: the test only it has gets one now.
    assert_eq!(first_run(&store, "c.b").await.as_deref(), Some("r1"));
    assert_eq!(first_seen_items(&store).await.len(), 2);
}
