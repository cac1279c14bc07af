//! `/v1/failures` and `/v1/flaky` over a history of more failures than they once read (5,850
//! failed results in 45 runs over 34 days, on two branches, uploaded and ingested as CI would;
//! every fifth run gets a late second file whose reruns turn five failures into retried
//! passes): every failure group, in the list and on its own page, equals a brute-force recount
//! of the test items in the table, on every window and branch; one failure's occurrences, read
//! page by page, come each once and in order; and rolling every run again changes nothing.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use verdict_model::RunMetadata;
use verdict_parse_fn::ingest::{Ingest, Settings};
use verdict_store::{now_ms, Granularity, OccurrenceFilter};
use verdict_tests::reports::junit_test_id;
use verdict_tests::{dump, metadata, run_ref, settle, upload_settled, upload_with, LocalApi};
use verdict_upload_fn::Limits;

const RUNS: usize = 45;
const TESTS: usize = 200;
/// Tests `t0`..`t129` fail in every run; the rest pass.
const FAILING: usize = 130;
/// Tests `t0`..`t4` pass on a rerun in the late file of every fifth run.
const RERUN: usize = 5;
const DAY_MS: u64 = 86_400_000;
const MESSAGES: [&str; 4] = [
    "timeout waiting for the server",
    "connection refused",
    "expected true but was false",
    "null pointer dereferenced",
];

/// Run `i`'s report: each failing test fails with one of four messages, which one turning
/// with the run, so a failure group gathers different tests in different runs; the even ones
/// fail with the first message always, so its group is over 2,000 results.
fn report(i: usize) -> String {
    let mut xml = String::from("<testsuite name=\"s\">");
    for j in 0..TESTS {
        let message = match j % 2 {
            0 => MESSAGES[0],
            _ => MESSAGES[(i + j) % 4],
        };
        let body = match j {
            _ if j >= FAILING => String::new(),
            _ if j % 10 == 9 => format!("<error message=\"{message}\"/>"),
            _ => format!("<failure message=\"{message}\"/>"),
        };
        xml.push_str(&format!(
            "<testcase classname=\"c\" name=\"t{j}\" time=\"0.01\">{body}</testcase>"
        ));
    }
    xml.push_str("</testsuite>");
    xml
}

/// The late file of a run: reruns of `t0`..`t4` that pass.
fn reruns() -> String {
    let cases: String = (0..RERUN)
        .map(|j| format!("<testcase classname=\"c\" name=\"t{j}\" time=\"0.01\"/>"))
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

/// One failed result, as the table holds it.
struct Failed {
    run: String,
    created_ms: u64,
    branch: String,
    test_id: String,
    fingerprint: String,
}

/// Every failed or errored result in the table, read from the test items and their run items.
async fn failed_results(api: &LocalApi) -> Vec<Failed> {
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
    items
        .iter()
        .filter(|i| text(i, "sk").starts_with("T#"))
        .filter(|i| matches!(text(i, "status").as_str(), "failed" | "error"))
        .map(|i| {
            // A test item's run key is in its partition key (`R#{project}#{run_key}#{d}`).
            let run = text(i, "pk").split('#').nth(2).unwrap().to_string();
            let (created_ms, branch) = runs[&run].clone();
            Failed {
                run,
                created_ms,
                branch,
                test_id: text(i, "sk")["T#".len()..].to_string(),
                fingerprint: text(i, "fingerprint"),
            }
        })
        .collect()
}

/// Every occurrence of `fingerprint` as `filter` reads them, 25 to a page (3 from each of the
/// 16 partitions a page reads: most stop early, so the merge decides at every page): (run
/// time, run, test).
async fn occurrences(
    api: &LocalApi,
    fingerprint: &str,
    filter: &OccurrenceFilter,
) -> Vec<(u64, String, String)> {
    let project = run_ref("acme", "r000").project;
    let mut rows = Vec::new();
    let mut start = None;
    loop {
        let page = api
            .store
            .fingerprint_occurrences(&project, fingerprint, filter, 25, start.as_ref())
            .await
            .unwrap();
        rows.extend(
            page.items
                .into_iter()
                .map(|r| (r.created_ms, r.run_key, r.test_id)),
        );
        match page.next {
            Some(next) => start = Some(next),
            None => return rows,
        }
    }
}

/// What a failure's own page must say: its occurrences by test, its runs, first and newest run.
#[derive(Debug, PartialEq)]
struct GroupPage {
    tests: BTreeMap<String, u64>,
    runs: u64,
    first_run: String,
    last_run: String,
}

/// Every failure's page since `since`, recounted from the failed results.
fn recount_pages(failed: &[Failed], since: u64) -> BTreeMap<String, GroupPage> {
    let mut pages: BTreeMap<String, Vec<&Failed>> = BTreeMap::new();
    for f in failed.iter().filter(|f| f.created_ms >= since) {
        pages.entry(f.fingerprint.clone()).or_default().push(f);
    }
    pages
        .into_iter()
        .map(|(fp, rows)| {
            let mut tests = BTreeMap::new();
            for f in &rows {
                *tests.entry(f.test_id.clone()).or_default() += 1;
            }
            let runs: BTreeSet<&str> = rows.iter().map(|f| f.run.as_str()).collect();
            let first = rows.iter().min_by_key(|f| f.created_ms).unwrap();
            let last = rows.iter().max_by_key(|f| f.created_ms).unwrap();
            let page = GroupPage {
                tests,
                runs: runs.len() as u64,
                first_run: first.run.clone(),
                last_run: last.run.clone(),
            };
            (fp, page)
        })
        .collect()
}

/// What a failure group must say: count, runs, tests affected, first and newest run.
#[derive(Debug, PartialEq)]
struct Group {
    count: u64,
    runs: u64,
    tests_affected: u64,
    first_run: String,
    last_run: String,
}

fn recount(failed: &[Failed], since: u64, branch: Option<&str>) -> BTreeMap<String, Group> {
    type Rows<'a> = (Vec<&'a Failed>, BTreeSet<&'a str>);
    let mut groups: BTreeMap<String, Rows<'_>> = BTreeMap::new();
    for f in failed
        .iter()
        .filter(|f| f.created_ms >= since && branch.is_none_or(|b| f.branch == b))
    {
        let (rows, tests) = groups.entry(f.fingerprint.clone()).or_default();
        rows.push(f);
        tests.insert(&f.test_id);
    }
    groups
        .into_iter()
        .map(|(fp, (rows, tests))| {
            let first = rows.iter().min_by_key(|f| f.created_ms).unwrap();
            let last = rows.iter().max_by_key(|f| f.created_ms).unwrap();
            let runs: BTreeSet<&str> = rows.iter().map(|f| f.run.as_str()).collect();
            let group = Group {
                count: rows.len() as u64,
                runs: runs.len() as u64,
                tests_affected: tests.len() as u64,
                first_run: first.run.clone(),
                last_run: last.run.clone(),
            };
            (fp, group)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_and_flaky_over_more_failures_than_a_window_once_read_equal_a_recount() {
    let api = LocalApi::start(Limits::default()).await;
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    let now = now_ms();
    for i in 0..RUNS {
        let run = run_ref("acme", &format!("r{i:03}"));
        let created = now - 3_600_000 - (i as u64) * DAY_MS * 3 / 4;
        let meta = RunMetadata {
            branch: Some(branch(i).into()),
            ..metadata()
        };
        // Every fifth run has a late file, registered after the run settled and was
        // rolled: the rollups move from the first snapshot of its failures to the second.
        let (first, late) = (report(i), i.is_multiple_of(5).then(reruns));
        let mut files: Vec<(&str, &[u8])> = vec![("a.xml", first.as_bytes())];
        files.extend(late.as_deref().map(|late| ("b.xml", late.as_bytes())));
        upload_settled(&ingest, &api.store, &run, 2 * i, &files, created, &meta).await;
    }
    let failed = failed_results(&api).await;
    let late_runs = RUNS.div_ceil(5);
    assert_eq!(failed.len(), RUNS * FAILING - late_runs * RERUN);
    assert!(
        failed.len() > 5_000,
        "more than the 5,000 entries once read"
    );

    for (days, branch) in [
        (90, None),
        (30, None),
        (7, Some("main")),
        (90, Some("feature-x")),
    ] {
        let since = now - days * DAY_MS;
        let mut path = format!("/v1/failures?since={since}&limit=3");
        if let Some(b) = branch {
            path.push_str(&format!("&branch={b}"));
        }
        let expected = recount(&failed, Granularity::Day.start(since), branch);
        assert!(
            expected.len() >= MESSAGES.len(),
            "{path}: a window worth checking"
        );
        let (status, first_page) = api.get(&api.read_token, &path).await;
        assert_eq!(status, 200, "{first_page}");
        assert_eq!(first_page["groups"], expected.len(), "{path}");
        let items = api.walk(&api.read_token, &path).await;
        let answered: BTreeMap<String, Group> = items
            .iter()
            .map(|g| {
                let text = |name: &str| g[name].as_str().unwrap().to_string();
                let group = Group {
                    count: g["count"].as_u64().unwrap(),
                    runs: g["runs"].as_u64().unwrap(),
                    tests_affected: g["tests_affected"].as_u64().unwrap(),
                    first_run: text("first_run_id"),
                    last_run: text("last_run_id"),
                };
                (text("fingerprint"), group)
            })
            .collect();
        assert_eq!(answered, expected, "{path}");
        let counts: Vec<u64> = items.iter().map(|g| g["count"].as_u64().unwrap()).collect();
        assert!(
            counts.windows(2).all(|w| w[0] >= w[1]),
            "{path}: most frequent first: {counts:?}"
        );
    }

    // Each failure on its own page, over the longest window and over a week: its occurrences,
    // its runs and every test it hit, 40 to a page, equal a recount (one failure is over the
    // 2,000 occurrences the page once read).
    for since in [None, Some(now - 7 * DAY_MS)] {
        let expected = recount_pages(&failed, since.map_or(0, |s| Granularity::Day.start(s)));
        let largest = expected.values().map(|p| p.tests.values().sum::<u64>());
        assert!(since.is_some() || largest.max() > Some(2_000));
        for (fingerprint, page) in &expected {
            let mut path = format!("/v1/failures/{fingerprint}?limit=40");
            if let Some(since) = since {
                path.push_str(&format!("&since={since}"));
            }
            let (status, head) = api.get(&api.read_token, &path).await;
            assert_eq!(status, 200, "{path}: {head}");
            let tests = api.walk_list(&api.read_token, &path, "tests").await;
            let hits: Vec<u64> = tests
                .iter()
                .map(|t| t["occurrences"].as_u64().unwrap())
                .collect();
            assert!(
                hits.windows(2).all(|w| w[0] >= w[1]),
                "{path}: most hit first: {hits:?}"
            );
            let text = |name: &str| head[name].as_str().unwrap().to_string();
            let answered = GroupPage {
                tests: tests
                    .iter()
                    .map(|t| {
                        let id = t["test_id"].as_str().unwrap().to_string();
                        (id, t["occurrences"].as_u64().unwrap())
                    })
                    .collect(),
                runs: head["runs"].as_u64().unwrap(),
                first_run: text("first_run_id"),
                last_run: text("last_run_id"),
            };
            assert_eq!(&answered, page, "{path}");
            assert_eq!(
                (
                    head["occurrences"].as_u64(),
                    head["tests_affected"].as_u64()
                ),
                (
                    Some(page.tests.values().sum()),
                    Some(page.tests.len() as u64)
                ),
                "{path}"
            );
        }
    }

    // One failure's occurrences, page after page merged from its 16 partitions of the
    // `fingerprint` index: every one once, in order, newest or oldest first, of a branch or all.
    let fingerprint = &failed[0].fingerprint;
    for (oldest_first, branch) in [(false, None), (true, None), (false, Some("feature-x"))] {
        let filter = OccurrenceFilter {
            branch: branch.map(str::to_string),
            oldest_first,
            ..OccurrenceFilter::default()
        };
        let mut expected: Vec<(u64, &str, &str)> = failed
            .iter()
            .filter(|f| &f.fingerprint == fingerprint && branch.is_none_or(|b| f.branch == b))
            .map(|f| (f.created_ms, f.run.as_str(), f.test_id.as_str()))
            .collect();
        expected.sort();
        if !oldest_first {
            expected.reverse();
        }
        let read = occurrences(&api, fingerprint, &filter).await;
        let read: Vec<(u64, &str, &str)> = read
            .iter()
            .map(|(t, run, test)| (*t, run.as_str(), test.as_str()))
            .collect();
        assert!(expected.len() > 100, "{} occurrences", expected.len());
        assert_eq!(
            read, expected,
            "oldest first: {oldest_first}, branch {branch:?}"
        );
    }

    // Flaky, 40 candidates to a page over all 130: the five rerun tests, each retried in every
    // late run, come first; every candidate is looked at, each once.
    // Every late run but those past the project's 30-day retention, which the duration rollups
    // (what `/v1/flaky` judges by) leave out.
    let retried_in_retention = (0..RUNS)
        .filter(|i| i.is_multiple_of(5) && 3_600_000 + (*i as u64) * DAY_MS * 3 / 4 < 30 * DAY_MS)
        .count() as u64;
    let path = "/v1/flaky?window=90d&limit=40";
    let (status, first_page) = api.get(&api.read_token, path).await;
    assert_eq!(status, 200, "{first_page}");
    assert_eq!(first_page["candidates"], FAILING, "{first_page}");
    let flaky = api.walk(&api.read_token, path).await;
    let names: Vec<&str> = flaky.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        names.iter().collect::<BTreeSet<_>>().len(),
        names.len(),
        "{names:?}"
    );
    assert_eq!(
        names[..RERUN].iter().copied().collect::<BTreeSet<_>>(),
        ["t0", "t1", "t2", "t3", "t4"].into_iter().collect(),
        "{names:?}"
    );
    let retried: BTreeMap<&str, u64> = flaky
        .iter()
        .filter(|f| f["retry_flaky_runs"].as_u64() > Some(0))
        .map(|f| {
            (
                f["name"].as_str().unwrap(),
                f["retry_flaky_runs"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: BTreeMap<&str, u64> = ["t0", "t1", "t2", "t3", "t4"]
        .into_iter()
        .map(|name| (name, retried_in_retention))
        .collect();
    assert_eq!(retried, expected, "{flaky:?}");

    // Rolling every run again, three times at once, adds nothing.
    let before = dump(&api.store).await;
    let rolls = (0..RUNS).flat_map(|i| {
        let store = api.store.clone();
        (0..3).map(move |_| {
            let store = store.clone();
            async move {
                let run = run_ref("acme", &format!("r{i:03}"));
                store.roll_failures(&run).await.unwrap();
            }
        })
    });
    futures_util::future::join_all(rolls).await;
    verdict_tests::assert_same_dump(&dump(&api.store).await, &before, "rolled again");
}

/// More runs in the window than `/v1/flaky` once read a test's results in (the newest 500).
const PAST_READ_RUNS: usize = 505;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_pass_older_than_the_newest_500_runs_is_counted_and_dated() {
    let api = LocalApi::start(Limits::default()).await;
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    // Two days ago and on: run 1 and run 3 retry `t_retry` (a failed attempt, then a pass), the
    // other 503 runs pass it, so its retried passes are both older than the newest 500 runs.
    // `t_old` runs in the oldest five only, retried in run 2.
    let start = now_ms() - 2 * DAY_MS;
    for i in 0..PAST_READ_RUNS {
        let retry = |name: &str| {
            format!("<testcase classname=\"c\" name=\"{name}\"><failure message=\"timeout\"/></testcase>")
        };
        let mut xml = String::from("<testsuite name=\"s\">");
        if i == 1 || i == 3 {
            xml.push_str(&retry("t_retry"));
        }
        xml.push_str("<testcase classname=\"c\" name=\"t_retry\"/>");
        if i == 2 {
            xml.push_str(&retry("t_old"));
        }
        if i < 5 {
            xml.push_str("<testcase classname=\"c\" name=\"t_old\"/>");
        }
        xml.push_str("</testsuite>");
        let file = upload_with(
            &api.store,
            &run_ref("acme", &format!("r{i:03}")),
            i,
            "report.xml",
            xml.as_bytes(),
            start + i as u64 * 60_000,
            RunMetadata {
                branch: Some("main".into()),
                ..metadata()
            },
        )
        .await;
        settle(&ingest, &file.object_key()).await;
    }
    let (status, page) = api.get(&api.read_token, "/v1/flaky?window=7d").await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["t_retry", "t_old"], "{page}");
    assert_eq!(items[1]["retry_flaky_runs"], 1, "{page}");
    let t = &items[0];
    assert_eq!(t["retry_flaky_runs"], 2, "the rollups' count: {t}");
    assert_eq!(t["since_run_id"], "r001", "{t}");
    assert_eq!(t["last_flaky_run_id"], "r003", "{t}");
    assert_eq!(
        t["flaky_run_ids"],
        serde_json::json!(["r003", "r001"]),
        "{t}"
    );
    assert_eq!(t["runs"], 505, "every run of the window: {t}");

    // A test's page counts every run of the window, and finds a test none of the newest 500
    // runs has.
    let retried = test_page(&api, "t_retry").await;
    let counts = |p: &Value| {
        (
            p["window_runs"].as_u64(),
            p["window_flaky_runs"].as_u64(),
            p["flake_rate"].as_f64(),
        )
    };
    assert_eq!(
        counts(&retried),
        (Some(505), Some(2), Some(0.004)),
        "{retried}"
    );
    assert_eq!(retried["last_run_id"], "r504");
    let old = test_page(&api, "t_old").await;
    assert_eq!(counts(&old), (Some(5), Some(1), Some(0.2)), "{old}");
    assert_eq!(
        (old["last_run_id"].as_str(), old["name"].as_str()),
        (Some("r004"), Some("t_old")),
        "{old}"
    );
    assert_eq!(old["failing_since"], Value::Null);
}

/// The page of test `c.{name}` over the last 7 days.
async fn test_page(api: &LocalApi, name: &str) -> Value {
    let path = format!(
        "/v1/tests/{}?window=7d",
        junit_test_id(&format!("c.{name}"))
    );
    let (status, page) = api.get(&api.read_token, &path).await;
    assert_eq!(status, 200, "{page}");
    page
}
