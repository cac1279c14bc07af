//! The retention function on the local stack: exactly the expired runs go, from the table and the
//! bucket, with the duration rollups of their days; a cut-off pass resumes; a second pass is a no-op; a retention change takes effect; a
//! late event for a deleted run resurrects nothing.

use verdict_parse_fn::ingest::{Ingest, Outcome, Settings};
use verdict_retention_fn::{run, Budget, Request};
use verdict_store::{
    now_ms, view_key, ProjectName, ResultFilter, RunFilter, Store, DURATIONS_PREFIX, WINDOWS_PREFIX,
};
use verdict_tests::{assert_same_dump, dump, fresh_store, run_ref, upload_at, Dump};

const DAY: u64 = 86_400_000;

/// The store as the retention function uses it (its calls are checked against its policy).
fn retention(store: &Store) -> Store {
    store.clone().serving("retention")
}

/// A pass, and a failure whose captured output is long enough to be kept apart (`text/`).
fn report(i: usize) -> Vec<u8> {
    let output = "line of output\n".repeat(50);
    format!(
        "<testsuite><testcase classname=\"c\" name=\"t{i}\"/><testcase classname=\"c\" name=\"u{i}\"><failure message=\"m\"/><system-out>{output}</system-out></testcase></testsuite>"
    )
    .into_bytes()
}

fn request(dry_run: bool, page_items: usize) -> Request {
    Request {
        dry_run,
        page_items,
    }
}

const ALL: Budget = Budget {
    deadline: None,
    pages: None,
};

/// The dump without what retention deletes of the given runs (`project/run_key` and when it
/// was created): all but their test results, which TTL removes, and the duration rollups of
/// their days, of every scope (no kept run was created on those days).
fn without(dump: &Dump, runs: &[(&str, u64)]) -> Dump {
    let gone = |item: &std::collections::BTreeMap<String, serde_json::Value>| {
        let text = |name: &str| item.get(name).and_then(|v| v.as_str());
        let waits_for_ttl = text("sk").is_some_and(|sk| sk.starts_with("T#"));
        runs.iter().any(|(r, _)| {
            let (p, k) = r.split_once('/').unwrap();
            let of_run = text("project") == Some(p) && text("run_key") == Some(k);
            (of_run && !waits_for_ttl) || text("pk") == Some(&format!("R#{p}#{k}"))
        })
    };
    let items = dump.0.iter().filter(|i| !gone(i)).cloned().collect();
    let keys = dump
        .1
        .iter()
        .filter(|k| {
            !runs.iter().any(|(r, created_ms)| {
                let (p, _) = r.split_once('/').unwrap();
                let day = created_ms / DAY;
                ["raw", "views", "rollups", "text"]
                    .iter()
                    .any(|prefix| k.starts_with(&format!("{prefix}/{r}/")))
                    || k.strip_prefix(&format!("{DURATIONS_PREFIX}{p}/"))
                        .and_then(|scoped| scoped.split_once('/'))
                        .is_some_and(|(_, days)| days.starts_with(&format!("{day:07}/")))
                    || k.starts_with(&format!("{WINDOWS_PREFIX}{p}/{day:07}/"))
            })
        })
        .cloned()
        .collect();
    (items, keys)
}

/// Runs of two projects, created up to 100 days before `now`.
async fn seed(store: &Store, now: u64) -> Vec<verdict_store::FileRef> {
    store
        .create_project(&ProjectName::parse("short").unwrap(), 7, now)
        .await
        .unwrap();
    store
        .create_project(&ProjectName::parse("long").unwrap(), 90, now)
        .await
        .unwrap();
    let ingest = Ingest::new(store.clone().serving("parse"), Settings::default());
    let mut files = Vec::new();
    let runs = [
        ("short", "s-old", now - 10 * DAY),
        ("short", "s-new", now - DAY),
        ("long", "l-old", now - 100 * DAY),
        ("long", "l-mid", now - 30 * DAY),
        ("long", "l-new", now - DAY / 24),
    ];
    for (n, (project, key, created)) in runs.into_iter().enumerate() {
        let r = run_ref(project, key);
        for f in 0..2 {
            let file = upload_at(
                store,
                &r,
                n * 10 + f,
                &format!("f{f}.xml"),
                &report(n * 10 + f),
                created,
            )
            .await;
            let outcome = ingest.ingest_key(&file.object_key(), "seed").await.unwrap();
            assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
            files.push(file);
        }
        // A sorted view, as the query function leaves after an `order=` request: retention
        // deletes it with the run.
        store
            .put_derived(&view_key(&r, "by-duration"), Vec::new())
            .await
            .unwrap();
        // A kept merge of a block of days starting on the run's day, as the query function
        // leaves for a window: retention deletes it with its day.
        let day = created / DAY;
        store
            .put_derived(
                &format!("{WINDOWS_PREFIX}{project}/{day:07}/block"),
                Vec::new(),
            )
            .await
            .unwrap();
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_the_expired_runs_go_and_a_cut_off_pass_resumes() {
    let store = fresh_store().await;
    let now = now_ms();
    let files = seed(&store, now).await;
    let before = dump(&store).await;

    let dry = run(&retention(&store), &request(true, 1000), ALL)
        .await
        .unwrap();
    assert!(dry.finished && dry.dry_run);
    let runs: Vec<(String, u64)> = dry
        .projects
        .iter()
        .map(|p| (p.project.clone(), p.runs))
        .collect();
    assert_eq!(runs, [("long".to_string(), 1), ("short".to_string(), 1)]);
    // Each expired run's objects: its two raw uploads, the text each kept apart, its view, the
    // snapshot of its failures the failure rollups hold, the kept block of days starting on its
    // day and, for `s-old`, that of its durations and its day's duration rollups (16 shards, of
    // all branches and of `main`); `l-old` was past its retention when ingested, so nothing was
    // folded for it.
    let objects: Vec<(&str, u64)> = dry
        .projects
        .iter()
        .map(|p| (p.project.as_str(), p.objects))
        .collect();
    assert_eq!(objects, [("long", 7), ("short", 8 + 32)], "{dry:?}");
    assert!(dry.projects.iter().all(|p| p.items > 0), "{dry:?}");
    assert_same_dump(&dump(&store).await, &before, "a dry run deletes nothing");

    // Three items per page and two pages per pass: cut off mid-run, then resumed.
    let first = run(
        &retention(&store),
        &request(false, 3),
        Budget {
            deadline: None,
            pages: Some(2),
        },
    )
    .await
    .unwrap();
    assert!(!first.finished);
    let partial = dump(&store).await;
    assert!(partial.0.len() < before.0.len(), "something was deleted");
    let mut passes = 1;
    while !run(
        &retention(&store),
        &request(false, 3),
        Budget {
            deadline: None,
            pages: Some(2),
        },
    )
    .await
    .unwrap()
    .finished
    {
        passes += 1;
        assert!(passes < 100, "retention never finished");
    }
    let expected = without(
        &before,
        &[
            ("short/s-old", now - 10 * DAY),
            ("long/l-old", now - 100 * DAY),
        ],
    );
    assert_same_dump(&dump(&store).await, &expected, "after the resumed passes");
    assert_eq!(
        store.bucket_keys("text/short/s-new/").await.unwrap().len(),
        2,
        "a kept run keeps its text"
    );
    // Their results wait for TTL, and no read shows them.
    let short = ProjectName::parse("short").unwrap();
    for item in &expected.0 {
        let text = |name: &str| item.get(name).and_then(|v| v.as_str()).unwrap_or_default();
        let run_key = text("pk").split('#').nth(2);
        if let (Some("s-old"), Some(test_id)) = (run_key, text("sk").strip_prefix("T#")) {
            let history = store
                .test_history(&short, test_id, &RunFilter::default(), 50, None)
                .await
                .unwrap();
            assert!(history.items.is_empty(), "{:?}", history.items);
        }
    }

    // Again: nothing to do, nothing changes.
    let again = run(&retention(&store), &request(false, 1000), ALL)
        .await
        .unwrap();
    assert!(again.finished);
    assert!(
        again.projects.iter().all(|p| p.runs == 0 && p.items == 0),
        "{again:?}"
    );
    assert_same_dump(&dump(&store).await, &expected, "second pass");

    // A late event for a deleted run is acknowledged and writes nothing.
    let ingest = Ingest::new(store.clone().serving("parse"), Settings::default());
    let late = files
        .iter()
        .find(|f| f.run.run_key.as_str() == "s-old")
        .unwrap();
    assert!(matches!(
        ingest.ingest_key(&late.object_key(), "late").await.unwrap(),
        Outcome::Skipped(_)
    ));
    assert_same_dump(&dump(&store).await, &expected, "late event");

    // A shorter retention takes effect on the next pass.
    store
        .update_project(&ProjectName::parse("long").unwrap(), Some(20), None)
        .await
        .unwrap();
    run(&retention(&store), &request(false, 1000), ALL)
        .await
        .unwrap();
    let mut shorter = without(&expected, &[("long/l-mid", now - 30 * DAY)]);
    for item in &mut shorter.0 {
        if item.get("sk").and_then(|v| v.as_str()) == Some("P#long") {
            item.insert("retention_days".into(), 20.into());
        }
    }
    assert_same_dump(&dump(&store).await, &shorter, "shorter retention");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_made_again_under_a_deleted_run_s_key_replaces_its_results_waiting_for_ttl() {
    let store = fresh_store().await;
    seed(&store, now_ms()).await;
    run(&retention(&store), &request(false, 1000), ALL)
        .await
        .unwrap();
    // `short/s-old` is gone but its four results (t0, u0 of its first file, t1, u1 of its
    // second) wait for TTL. The key is used again: a first file of new tests, written alone,
    // then one that turns t0 and u0 around, written on the conditional path, which meets the
    // old items.
    let r = run_ref("short", "s-old");
    let now = now_ms();
    let ingest = Ingest::new(store.clone().serving("parse"), Settings::default());
    let turned = "<testsuite><testcase classname=\"c\" name=\"t0\"><failure message=\"now\"/></testcase><testcase classname=\"c\" name=\"u0\"/></testsuite>";
    for (i, bytes) in [report(100), turned.as_bytes().to_vec()].iter().enumerate() {
        let file = upload_at(&store, &r, 200 + i, &format!("n{i}.xml"), bytes, now).await;
        let outcome = ingest
            .ingest_key(&file.object_key(), "again")
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    }
    let found = store.get_run(&r).await.unwrap().unwrap();
    assert_eq!(found.created_ms, now);
    let recount = store.recount(&r).await.unwrap();
    assert_eq!(found.summary, recount);
    assert_eq!((recount.tests, recount.failed), (4, 2), "{recount:?}");
    let page = store
        .list_results(&r, &ResultFilter::default(), 50, None)
        .await
        .unwrap();
    let (_, rows) = store.shown_rows(&r, page.items.clone()).await.unwrap();
    let mut shown: Vec<(String, String)> = rows
        .iter()
        .map(|row| (row.name.clone(), row.status.as_str().to_string()))
        .collect();
    shown.sort();
    assert_eq!(
        shown,
        [
            ("t0".to_string(), "failed".to_string()),
            ("t100".to_string(), "passed".to_string()),
            ("u0".to_string(), "passed".to_string()),
            ("u100".to_string(), "failed".to_string()),
        ]
    );
    // t1 and u1 of the old run still wait for TTL, shown nowhere.
    assert_eq!(page.items.len(), 6, "{:?}", page.items);
}
