//! `/v1/tests/slowest` over more runs and tests than it once read (it took candidates from the
//! newest 50 runs' files, 20 a file, and durations from the newest 100 runs): 60 runs of 150
//! tests over 20 days on two branches, uploaded and ingested as CI would, every fifth run with a
//! late second file that reruns five tests (so its durations are folded in again), some tests
//! skipped. Every page, walked to the end, equals a brute-force recount of the test items in
//! the table, on every window and branch, read once and again from the merges of blocks of days
//! kept then, and after a run of a past day changed; folding every run again changes nothing;
//! and folding them all at once from nothing, three deliveries each, gives the same answers.
//! The first fold of a day prepares what the default window reads, so no request makes it.

use lambda_http::RequestExt;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use verdict_model::RunMetadata;
use verdict_parse_fn::ingest::{Ingest, Settings};
use verdict_store::{
    duration_bucket, now_ms, Granularity, RunRef, DURATIONS_PREFIX, WINDOWS_PREFIX,
};
use verdict_tests::{
    dump, json_of, metadata, run_ref, settle, upload_settled, upload_with, LocalApi,
};
use verdict_upload_fn::Limits;

const RUNS: usize = 60;
const TESTS: usize = 150;
/// Tests `t0`..`t4` run again in the late file of every fifth run.
const RERUN: usize = 5;
const DAY_MS: u64 = 86_400_000;

/// Test `j`'s duration in run `i`, in milliseconds: spread, changing from run to run, with
/// tests `t140`.. slow only in the older 35 runs (so slowest by median over the month, and not
/// over the last week).
fn duration_ms(i: usize, j: usize) -> u64 {
    let base = ((j * 37 + i * 11) % 200) as u64 * 10 + 1;
    if j >= 140 && i >= 25 {
        base + 20_000
    } else {
        base
    }
}

fn skipped(i: usize, j: usize) -> bool {
    j.is_multiple_of(25) && i % 2 == 1
}

fn report(i: usize) -> String {
    let mut xml = String::from("<testsuite name=\"s\">");
    for j in 0..TESTS {
        let body = if skipped(i, j) { "<skipped/>" } else { "" };
        xml.push_str(&format!(
            "<testcase classname=\"c\" name=\"t{j}\" time=\"{}\">{body}</testcase>",
            duration_ms(i, j) as f64 / 1000.0
        ));
    }
    xml.push_str("</testsuite>");
    xml
}

/// The late file of a run: `t0`..`t4` again, slower.
fn reruns(i: usize) -> String {
    let cases: String = (0..RERUN)
        .map(|j| {
            let time = (duration_ms(i, j) + 5_000) as f64 / 1000.0;
            format!("<testcase classname=\"c\" name=\"t{j}\" time=\"{time}\"/>")
        })
        .collect();
    format!("<testsuite name=\"s\">{cases}</testsuite>")
}

fn branch(i: usize) -> &'static str {
    if i.is_multiple_of(3) {
        "feature-x"
    } else {
        "main"
    }
}

/// One test's line of the answer: id, name, runs, median, p95, max, mean.
type Line = (String, String, u64, u64, u64, u64, u64);

/// The answer recounted from every test item in the table: the durations of each test's results
/// that ran (not skipped) in the runs created from the day holding `since` on, of `branch`.
async fn recount(api: &LocalApi, since: u64, branch: Option<&str>) -> Vec<Line> {
    let (items, _) = dump(&api.store).await;
    let text = |item: &BTreeMap<String, Value>, name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let runs: HashMap<String, (u64, String)> = items
        .iter()
        .filter(|i| text(i, "sk") == "RUN")
        .map(|i| {
            let created = i["created_ms"].as_u64().unwrap();
            (text(i, "run_key"), (created, text(i, "branch")))
        })
        .collect();
    let first_day = Granularity::Day.start(since);
    let mut tests: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for item in items.iter().filter(|i| text(i, "sk").starts_with("T#")) {
        let run = text(item, "pk").split('#').nth(2).unwrap().to_string();
        let (created, run_branch) = &runs[&run];
        if *created < first_day || branch.is_some_and(|b| b != run_branch) {
            continue;
        }
        if text(item, "status") == "skipped" {
            continue;
        }
        let ms = item.get("duration_ms").and_then(Value::as_u64).unwrap_or(0);
        let id = text(item, "sk")["T#".len()..].to_string();
        tests.entry((id, text(item, "name"))).or_default().push(ms);
    }
    // The duration at the nearest rank, as the mean of the durations in its histogram bucket.
    let quantile = |sorted: &[u64], q: f64| {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        let bucket = duration_bucket(sorted[rank - 1]);
        let alike: Vec<u64> = sorted
            .iter()
            .copied()
            .filter(|ms| duration_bucket(*ms) == bucket)
            .collect();
        alike.iter().sum::<u64>() / alike.len() as u64
    };
    let mut lines: Vec<Line> = tests
        .into_iter()
        .map(|((id, name), mut ms)| {
            ms.sort_unstable();
            let n = ms.len() as u64;
            let mean = ms.iter().sum::<u64>() / n;
            (
                id,
                name,
                n,
                quantile(&ms, 0.5),
                quantile(&ms, 0.95),
                quantile(&ms, 1.0),
                mean,
            )
        })
        .collect();
    lines.sort_by(|a, b| (b.3, b.6).cmp(&(a.3, a.6)).then_with(|| a.0.cmp(&b.0)));
    lines
}

/// `/v1/tests/slowest` walked page by page.
async fn answered(api: &LocalApi, path: &str) -> Vec<Line> {
    let (status, first) = api.get(&api.read_token, path).await;
    assert_eq!(status, 200, "{first}");
    let items = api.walk(&api.read_token, path).await;
    assert_eq!(
        first["tests"],
        items.len(),
        "{path}: every test counted is listed"
    );
    items
        .iter()
        .map(|t| {
            let n = |name: &str| t[name].as_u64().unwrap();
            (
                t["test_id"].as_str().unwrap().to_string(),
                t["name"].as_str().unwrap().to_string(),
                n("runs"),
                n("median_ms"),
                n("p95_ms"),
                n("max_ms"),
                n("mean_ms"),
            )
        })
        .collect()
}

/// `path` asked of the query function in this process with little time per request, doubling
/// from a millisecond until it answers, so a window is made whatever this machine's speed; every
/// request cut must answer 503 `in_progress` with `Retry-After`. How many were cut, and the
/// answer.
async fn answered_in_steps(api: &LocalApi, path: &str) -> (usize, Value) {
    let mut app = verdict_query_fn::App {
        store: api.store.clone().serving("query"),
        cursor_key: verdict_query_fn::CursorKey::new([7; 32]),
        answer_within: Duration::from_millis(1),
    };
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let params: HashMap<String, String> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut cut = 0;
    loop {
        let request = lambda_http::http::Request::builder()
            .uri(route)
            .header("authorization", format!("Bearer {}", api.read_token))
            .body(lambda_http::Body::Empty)
            .unwrap()
            .with_query_string_parameters(params.clone());
        let response = verdict_query_fn::handle(&app, request).await;
        let body = json_of(response.body());
        if response.status() == 200 {
            return (cut, body);
        }
        assert_eq!(
            (response.status().as_u16(), body["error"]["code"].as_str()),
            (503, Some("in_progress")),
            "{path} within {:?}: {body}",
            app.answer_within
        );
        assert_eq!(response.headers()["retry-after"], "1");
        app.answer_within *= 2;
        cut += 1;
    }
}

/// Every run folded by three deliveries at once, all runs at once.
async fn roll_each_three_times_at_once(api: &LocalApi, runs: &[RunRef]) {
    let rolls = runs
        .iter()
        .flat_map(|run| (0..3).map(move |_| api.store.roll_durations(run)));
    for rolled in futures_util::future::join_all(rolls).await {
        rolled.unwrap();
    }
}

async fn assert_every_window_equals_a_recount(api: &LocalApi, now: u64, when: &str) {
    for (days, branch) in [
        (30, None),
        (7, Some("main")),
        (30, Some("feature-x")),
        (1, None),
    ] {
        let mut path = format!("/v1/tests/slowest?window={days}d&limit=40");
        if let Some(b) = branch {
            path.push_str(&format!("&branch={b}"));
        }
        let expected = recount(api, now - days * DAY_MS, branch).await;
        assert!(!expected.is_empty(), "{path}: a window worth checking");
        assert_eq!(answered(api, &path).await, expected, "{when}: {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slowest_tests_over_more_runs_than_once_read_equal_a_recount_and_fold_once() {
    let api = LocalApi::start(Limits::default()).await;
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    let now = now_ms();
    let mut runs: Vec<RunRef> = Vec::new();
    for i in 0..RUNS {
        let run = run_ref("acme", &format!("r{i:03}"));
        let created = now - 3_600_000 - (i as u64) * DAY_MS / 3;
        let meta = RunMetadata {
            branch: Some(branch(i).into()),
            ..metadata()
        };
        // Every fifth run has a late file, registered after the run settled and was
        // folded: its durations are folded again.
        let (first, late) = (report(i), i.is_multiple_of(5).then(|| reruns(i)));
        let mut files: Vec<(&str, &[u8])> = vec![("a.xml", first.as_bytes())];
        files.extend(late.as_deref().map(|late| ("b.xml", late.as_bytes())));
        upload_settled(&ingest, &api.store, &run, 2 * i, &files, created, &meta).await;
        runs.push(run);
    }
    // Nothing kept yet for a branch (the folds prepare the default window of every branch
    // only): a month's window asked with too little time per request is answered 503
    // `in_progress` until enough is kept, and then as with all the time it needs.
    let month = "/v1/tests/slowest?window=30d&branch=main&limit=40";
    let (cut, stepped) = answered_in_steps(&api, month).await;
    assert!(cut > 0, "a cold window takes more than a millisecond");
    assert_every_window_equals_a_recount(&api, now, "ingested").await;
    assert_eq!(
        stepped["items"],
        api.get(&api.read_token, month).await.1["items"]
    );
    let kept = api.store.bucket_keys(WINDOWS_PREFIX).await.unwrap();
    assert!(!kept.is_empty(), "merges of blocks of days were kept");
    assert_every_window_equals_a_recount(&api, now, "read again, from what was kept").await;
    // A kept merge this code cannot read (one an older layout left) is made again, no error,
    // by a process that has not read it before (one that has keeps it parsed).
    let windows = api
        .store
        .bucket_keys("views/acme/~durations/")
        .await
        .unwrap();
    for key in kept.iter().chain(&windows) {
        api.store
            .put_derived(key, b"not a merge".to_vec())
            .await
            .unwrap();
    }
    api.store.forget_kept_windows();
    assert_every_window_equals_a_recount(&api, now, "kept merges unreadable").await;
    // A run of a past day (ten days ago) gets a late file: its day's objects change, and no
    // window reads the merges kept before as if they had not.
    let (i, changed) = (30, &runs[30]);
    let late = upload_with(
        &api.store,
        changed,
        1_000 + i,
        "c.xml",
        reruns(i + 1).as_bytes(),
        now - 3_600_000 - (i as u64) * DAY_MS / 3,
        RunMetadata {
            branch: Some(branch(i).into()),
            ..metadata()
        },
    )
    .await;
    settle(&ingest, &late.object_key()).await;
    assert_every_window_equals_a_recount(&api, now, "a past day changed").await;
    // The tests slow in the older runs rank by what every run of the window says.
    let month = answered(&api, "/v1/tests/slowest?window=30d&limit=40").await;
    assert!(
        month[..10].iter().all(|l| l.1.starts_with("t14")),
        "{month:?}"
    );

    // Every run folded again, three deliveries at once: nothing changes.
    let objects = |api: &LocalApi| {
        let store = api.store.clone();
        async move {
            let keys = store.bucket_keys(DURATIONS_PREFIX).await.unwrap();
            let mut bodies = Vec::new();
            for key in keys {
                bodies.push((key.clone(), store.read_derived(&key).await.unwrap()));
            }
            bodies
        }
    };
    let before = objects(&api).await;
    assert!(
        before.len() >= 16 * 20,
        "every shard of every day: {}",
        before.len()
    );
    roll_each_three_times_at_once(&api, &runs).await;
    assert_eq!(objects(&api).await, before, "folded again");

    // From nothing, every run at once, three deliveries each: the objects race, and none loses
    // another's counts.
    api.store.unroll_durations(&runs).await.unwrap();
    assert!(api
        .store
        .bucket_keys(DURATIONS_PREFIX)
        .await
        .unwrap()
        .is_empty());
    roll_each_three_times_at_once(&api, &runs).await;
    assert_every_window_equals_a_recount(&api, now, "folded at once").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_first_fold_of_a_day_prepares_the_default_window() {
    let api = LocalApi::start(Limits::default()).await;
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    let now = now_ms();
    let today = Granularity::Day.start(now);
    // Runs of six past days, oldest first as CI makes them, then today's first.
    for (i, days_ago) in [12u64, 9, 7, 5, 2, 1, 0].into_iter().enumerate() {
        let created = match days_ago {
            0 => now,
            _ => today - days_ago * DAY_MS + 3_600_000,
        };
        let run = run_ref("acme", &format!("d{i}"));
        let xml = report(i);
        let files: [(&str, &[u8]); 1] = [("a.xml", xml.as_bytes())];
        upload_settled(&ingest, &api.store, &run, i, &files, created, &metadata()).await;
    }
    let kept = || async {
        let mut keys = api
            .store
            .bucket_keys("views/acme/~durations/")
            .await
            .unwrap();
        keys.extend(api.store.bucket_keys(WINDOWS_PREFIX).await.unwrap());
        keys
    };
    let prepared = kept().await;
    assert!(!prepared.is_empty(), "the folds kept the window's merges");
    // The default window's readers find what they read made.
    let token = &api.read_token;
    let (status, slowest) = api.get(token, "/v1/tests/slowest").await;
    assert_eq!(status, 200, "{slowest}");
    assert_eq!(slowest["tests"], TESTS, "{slowest}");
    let test = slowest["items"][0]["test_id"].as_str().unwrap();
    for path in ["/v1/flaky".to_string(), format!("/v1/tests/{test}")] {
        let (status, body) = api.get(token, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    assert_eq!(kept().await, prepared, "no request made a merge");
    // A window the folds do not prepare (its days hold fewer runs) is made by its first
    // request.
    let (status, _) = api.get(token, "/v1/tests/slowest?window=3d").await;
    assert_eq!(status, 200);
    assert_ne!(kept().await, prepared, "a 3-day window made its own merges");
    // Another run settling today changes today's objects (a new ETag under the same key): the
    // API, which keeps what it read parsed, counts it on the next read.
    let month = "/v1/tests/slowest?window=30d&limit=40";
    let before = answered(&api, month).await;
    assert_eq!(before, recount(&api, now - 30 * DAY_MS, None).await);
    let (run, xml) = (run_ref("acme", "d7"), report(7));
    let files: [(&str, &[u8]); 1] = [("a.xml", xml.as_bytes())];
    upload_settled(&ingest, &api.store, &run, 7, &files, now, &metadata()).await;
    let after = answered(&api, month).await;
    assert_ne!(after, before, "today's second run changes the window");
    assert_eq!(after, recount(&api, now - 30 * DAY_MS, None).await);
}
