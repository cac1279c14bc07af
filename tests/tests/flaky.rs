//! `/v1/flaky` over more runs than it once read (the newest 500; here the same shape at a
//! smaller size): 96 runs of 40 tests over 32 days on two branches, uploaded and ingested as CI
//! would, with tests that fail at different rates, in streaks, only in some runs, skipped in
//! some; builds that broke as a whole; commits built two or three times, some of them again the
//! next day and on the other branch; late files that turn failures into retried passes. Every
//! flaky test of every window and branch, its reasons, flip rate, runs and the runs that show it,
//! equals a brute-force recount of the test items in the table, and each one's page says why as
//! the list does; and folding every run again, in any order, changes nothing.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use verdict_model::RunMetadata;
use verdict_parse_fn::ingest::{Ingest, Settings};
use verdict_store::{now_ms, Granularity, RunRef, DURATIONS_PREFIX};
use verdict_tests::{dump, run_ref, upload_settled, LocalApi};
use verdict_upload_fn::Limits;

const RUNS: usize = 96;
const TESTS: usize = 40;
const DAY_MS: u64 = 86_400_000;

/// A number from `i` and `j` that looks random and is the same every time.
fn mix(i: usize, j: usize) -> usize {
    (i.wrapping_mul(2_654_435_761) ^ j.wrapping_mul(40_503)).wrapping_mul(97) % 1_000
}

/// Run `i` broke as a whole: every test failed.
fn broken(i: usize) -> bool {
    i % 17 == 8
}

/// Whether test `j` ran in run `i` (absent from the report otherwise).
fn present(i: usize, j: usize) -> bool {
    !(j >= 30 && (i + j).is_multiple_of(3))
}

/// How test `j` ends in run `i`: "pass", "fail", "skip" or "retry" (a failed attempt, then a
/// pass in the same file).
fn outcome(i: usize, j: usize) -> &'static str {
    if broken(i) {
        return "fail";
    }
    let roll = mix(i, j);
    match j {
        0..=4 => "pass",
        // Failing at rates from 2% to 50%.
        5..=14 => {
            if roll < (j - 4) * 50 {
                "fail"
            } else {
                "pass"
            }
        }
        // A streak: broken for two weeks, then fixed.
        15..=19 => {
            if (30..60).contains(&i) {
                "fail"
            } else {
                "pass"
            }
        }
        20..=24 => match roll {
            0..=99 => "retry",
            100..=199 => "fail",
            _ => "pass",
        },
        25..=29 => match roll {
            0..=299 => "skip",
            300..=499 => "fail",
            _ => "pass",
        },
        _ => {
            if roll < 300 {
                "fail"
            } else {
                "pass"
            }
        }
    }
}

fn report(i: usize) -> String {
    let mut xml = String::from("<testsuite name=\"s\">");
    for j in (0..TESTS).filter(|&j| present(i, j)) {
        let case = |body: &str| {
            format!("<testcase classname=\"c\" name=\"t{j}\" time=\"0.01\">{body}</testcase>")
        };
        match outcome(i, j) {
            "fail" => xml.push_str(&case("<failure message=\"no\"/>")),
            "skip" => xml.push_str(&case("<skipped/>")),
            "retry" => xml.push_str(&(case("<failure message=\"once\"/>") + &case(""))),
            _ => xml.push_str(&case("")),
        }
    }
    xml.push_str("</testsuite>");
    xml
}

/// The late file of every seventh run: tests `t5`..`t9` again, passing, so those that failed
/// turn into retried passes.
fn late(i: usize) -> Option<String> {
    if i % 7 != 3 {
        return None;
    }
    let cases: String = (5..10)
        .map(|j| format!("<testcase classname=\"c\" name=\"t{j}\" time=\"0.01\"/>"))
        .collect();
    Some(format!("<testsuite name=\"s\">{cases}</testsuite>"))
}

/// Run `i`'s commit: runs come in threes, the first two of a three on one commit (a rerun an
/// hour later), and every fourth three's third again on the commit of the three before (a
/// rerun days later). A run with a late file has a commit of its own: a late file changes the
/// outcomes a run was compared on (see `same_commit.rs`).
fn commit(i: usize) -> String {
    let three = i / 3;
    match i % 3 {
        _ if late(i).is_some() => format!("own-{i}"),
        0 | 1 => format!("c{three}"),
        _ if three.is_multiple_of(4) && three > 0 => format!("c{}", three - 1),
        _ => format!("solo-{i}"),
    }
}

fn branch(i: usize) -> &'static str {
    if (i / 3).is_multiple_of(2) {
        "main"
    } else {
        "feature-x"
    }
}

/// Runs come in threes a day apart, the runs of a three an hour apart, the newest two hours ago.
fn created(now: u64, i: usize) -> u64 {
    let days_ago = (RUNS / 3 - 1 - i / 3) as u64;
    now - 4 * 3_600_000 - days_ago * DAY_MS + (i % 3) as u64 * 3_600_000
}

/// One result, as the table holds it.
#[derive(Debug, Clone)]
struct Row {
    run: String,
    created_ms: u64,
    branch: String,
    commit: String,
    status: String,
    flaky: bool,
}

/// Every test's results in the table, oldest run first, with whether each run broke as a whole
/// (80% or more of 10 or more tests failed). Runs past their retention (their `expires_at`; the
/// oldest of a window as long as the retention) are left out: no rollup counts them.
async fn table(api: &LocalApi) -> (BTreeMap<String, Vec<Row>>, BTreeMap<String, bool>) {
    let now_s = now_ms() / 1000;
    let (items, _) = dump(&api.store).await;
    let text = |item: &BTreeMap<String, Value>, name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let runs: HashMap<String, (u64, String, String)> = items
        .iter()
        .filter(|i| text(i, "sk") == "RUN")
        .filter(|i| i["expires_at"].as_u64().unwrap() > now_s)
        .map(|i| {
            let created = i["created_ms"].as_u64().unwrap();
            let meta = (text(i, "branch"), text(i, "commit_sha"));
            (text(i, "run_key"), (created, meta.0, meta.1))
        })
        .collect();
    let mut tests: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    let mut of_run: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for item in items.iter().filter(|i| text(i, "sk").starts_with("T#")) {
        let run = text(item, "pk").split('#').nth(2).unwrap().to_string();
        let Some((created_ms, branch, commit)) = runs.get(&run).cloned() else {
            continue;
        };
        let status = text(item, "status");
        let counted = of_run.entry(run.clone()).or_default();
        counted.0 += 1;
        counted.1 += u64::from(matches!(status.as_str(), "failed" | "error"));
        tests.entry(text(item, "name")).or_default().push(Row {
            run,
            created_ms,
            branch,
            commit,
            status,
            flaky: item.get("flaky").and_then(Value::as_bool).unwrap_or(false),
        });
    }
    for rows in tests.values_mut() {
        rows.sort_by(|a, b| (a.created_ms, &a.run).cmp(&(b.created_ms, &b.run)));
    }
    let broken = of_run
        .into_iter()
        .map(|(run, (all, failed))| (run, all >= 10 && failed as f64 >= 0.8 * all as f64))
        .collect();
    (tests, broken)
}

/// `/v1/flaky`'s item for each flaky test over the runs created from the day holding `since`
/// on, of `branch`, recounted from the table: by name.
fn recount(
    tests: &BTreeMap<String, Vec<Row>>,
    broken: &BTreeMap<String, bool>,
    since: u64,
    branch: Option<&str>,
) -> BTreeMap<String, Value> {
    let first_day = Granularity::Day.start(since);
    let mut flaky = BTreeMap::new();
    for (name, rows) in tests {
        let in_scope = |r: &&Row| branch.is_none_or(|b| r.branch == b);
        let failed = |r: &Row| matches!(r.status.as_str(), "failed" | "error");
        let rows: Vec<&Row> = rows.iter().filter(in_scope).collect();
        let window: Vec<&Row> = rows
            .iter()
            .copied()
            .filter(|r| r.created_ms >= first_day)
            .collect();
        let ran: Vec<&Row> = window
            .iter()
            .copied()
            .filter(|r| r.status != "skipped")
            .collect();
        let infra = ran.iter().filter(|r| failed(r) && broken[&r.run]).count();
        let considered: Vec<&Row> = ran
            .iter()
            .copied()
            .filter(|r| !(failed(r) && broken[&r.run]))
            .collect();
        let flips = considered
            .windows(2)
            .filter(|w| failed(w[0]) != failed(w[1]))
            .count();
        let flip_rate = match considered.len() {
            0 | 1 => 0.0,
            n => ((flips as f64 / (n - 1) as f64) * 1000.0).round() / 1000.0,
        };
        let retried = ran.iter().filter(|r| r.flaky).count();
        // A commit it failed and did not fail on in two runs (of the scope), the later of them
        // in the window; a failure in a broken run is no evidence.
        let mut same: BTreeSet<&str> = BTreeSet::new();
        for a in rows.iter().filter(|r| r.status != "skipped") {
            for b in rows.iter().filter(|r| r.status != "skipped") {
                let later = if a.created_ms > b.created_ms { a } else { b };
                if a.run != b.run
                    && a.commit == b.commit
                    && later.created_ms >= first_day
                    && failed(a)
                    && !broken[&a.run]
                    && !failed(b)
                {
                    same.insert(&a.commit);
                }
            }
        }
        let shown: Vec<&Row> = considered
            .iter()
            .rev()
            .copied()
            .filter(|r| failed(r) || r.flaky)
            .collect();
        let mut reasons = Vec::new();
        if retried > 0 {
            reasons.push(json!({"kind": "retried", "runs": retried}));
        }
        if !same.is_empty() {
            reasons.push(json!({
                "kind": "same_commit",
                "commits": same.iter().take(5).collect::<Vec<_>>(),
                "count": same.len(),
            }));
        }
        if considered.len() >= 10 && flip_rate >= 0.3 {
            reasons.push(
                json!({"kind": "flip_rate", "flip_rate": flip_rate, "runs": considered.len()}),
            );
        }
        if reasons.is_empty() || shown.is_empty() {
            continue;
        }
        flaky.insert(
            name.clone(),
            json!({
                "runs": ran.len(),
                "flaky_runs": shown.len(),
                "retry_flaky_runs": retried,
                "reasons": reasons,
                "since_run_id": shown.last().unwrap().run,
                "last_flaky_run_id": shown[0].run,
                "flaky_run_ids": shown.iter().take(20).map(|r| &r.run).collect::<Vec<_>>(),
                "flip_rate": flip_rate,
                "infra_runs_excluded": infra,
            }),
        );
    }
    flaky
}

/// `/v1/flaky` walked page by page, each item as [`recount`] makes it: by name.
async fn answered(api: &LocalApi, path: &str) -> BTreeMap<String, Value> {
    let (status, first) = api.get(&api.read_token, path).await;
    assert_eq!(status, 200, "{first}");
    let fields = [
        "runs",
        "flaky_runs",
        "retry_flaky_runs",
        "reasons",
        "since_run_id",
        "last_flaky_run_id",
        "flaky_run_ids",
        "flip_rate",
        "infra_runs_excluded",
    ];
    api.walk(&api.read_token, path)
        .await
        .into_iter()
        .map(|item| {
            let kept: serde_json::Map<String, Value> = fields
                .iter()
                .map(|f| (f.to_string(), item[*f].clone()))
                .collect();
            (
                item["name"].as_str().unwrap().to_string(),
                Value::Object(kept),
            )
        })
        .collect()
}

async fn assert_every_window_equals_a_recount(api: &LocalApi, now: u64, when: &str) {
    let (tests, broken) = table(api).await;
    for (days, branch) in [
        (30, None),
        (7, Some("main")),
        (30, Some("feature-x")),
        (10, None),
    ] {
        let mut path = format!("/v1/flaky?window={days}d&limit=7");
        if let Some(b) = branch {
            path.push_str(&format!("&branch={b}"));
        }
        let expected = recount(&tests, &broken, now - days * DAY_MS, branch);
        let kinds: BTreeSet<&str> = expected
            .values()
            .flat_map(|t| t["reasons"].as_array().unwrap())
            .map(|r| r["kind"].as_str().unwrap())
            .collect();
        if days == 30 {
            assert_eq!(
                kinds.len(),
                3,
                "{path}: every reason is checked: {expected:?}"
            );
        }
        let answer = answered(api, &path).await;
        for (name, item) in &expected {
            assert_eq!(answer.get(name), Some(item), "{when}: {path}: {name}");
        }
        assert_eq!(
            answer.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{when}: {path}"
        );
    }
}

/// Every run folded by three deliveries at once, all runs at once, the newest first.
async fn roll_newest_first_three_times_at_once(api: &LocalApi, runs: &[RunRef]) {
    let store = &api.store;
    let rolls = runs
        .iter()
        .rev()
        .flat_map(|run| (0..3).map(move |_| store.roll_durations(run)));
    for rolled in futures_util::future::join_all(rolls).await {
        rolled.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flaky_tests_over_every_run_of_a_window_equal_a_recount() {
    let api = LocalApi::start(Limits::default()).await;
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    let now = now_ms();
    let mut runs: Vec<RunRef> = Vec::new();
    for i in 0..RUNS {
        let run = run_ref("acme", &format!("r{i:03}"));
        let meta = RunMetadata {
            branch: Some(branch(i).into()),
            commit_sha: Some(commit(i)),
            ..RunMetadata::default()
        };
        let (first, late) = (report(i), late(i));
        let mut files: Vec<(&str, &[u8])> = vec![("a.xml", first.as_bytes())];
        files.extend(late.as_deref().map(|late| ("b.xml", late.as_bytes())));
        upload_settled(
            &ingest,
            &api.store,
            &run,
            2 * i,
            &files,
            created(now, i),
            &meta,
        )
        .await;
        runs.push(run);
    }
    // The local API's trigger may have settled a file first: its delivery may still be rolling
    // the run up. Rolling each here returns once its rollups hold it, whoever rolls it.
    for run in &runs {
        api.store.roll_failures(run).await.unwrap();
        api.store.roll_durations(run).await.unwrap();
    }
    assert_every_window_equals_a_recount(&api, now, "ingested").await;
    assert_every_window_equals_a_recount(&api, now, "read again, from what was kept").await;
    // A flaky test's page says why as the list does.
    for item in api.walk(&api.read_token, "/v1/flaky?window=30d").await {
        let path = format!("/v1/tests/{}?window=30d", item["test_id"].as_str().unwrap());
        let (status, page) = api.get(&api.read_token, &path).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            (&page["flaky_reasons"], &page["flip_rate"]),
            (&item["reasons"], &item["flip_rate"]),
            "{path}"
        );
    }

    // Every run folded again, newest first, three deliveries at once: nothing changes.
    let objects = || async {
        let keys = api.store.bucket_keys(DURATIONS_PREFIX).await.unwrap();
        let mut bodies = Vec::new();
        for key in keys {
            bodies.push((key.clone(), api.store.read_derived(&key).await.unwrap()));
        }
        bodies
    };
    let before = objects().await;
    roll_newest_first_three_times_at_once(&api, &runs).await;
    assert_eq!(objects().await, before, "folded again");

    // From nothing, every run at once, newest first, three deliveries each: the same answers.
    api.store.unroll_durations(&runs).await.unwrap();
    roll_newest_first_three_times_at_once(&api, &runs).await;
    assert_every_window_equals_a_recount(&api, now, "folded at once").await;
}
