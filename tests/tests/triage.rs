//! The triage listings through real HTTP on the local stack: a run's failures in full pages
//! (the sparse `problems` index), a run's tests by file, runs by status, upload health across
//! the project, and what each file changed in its run.

use serde_json::Value;
use verdict_parse_fn::ingest::{Ingest, Settings};
use verdict_store::{now_ms, FileState};
use verdict_tests::{
    metadata, register_at, run_ref, settle, settle_as, settled, upload_with, LocalApi,
};
use verdict_upload_fn::Limits;

/// A JUnit report of `tests` passing tests named `{prefix}{i}`, where `failing(i)` says which
/// fail (`Some("failure")` or `Some("error")`) and the rest pass.
fn report(prefix: &str, tests: usize, failing: impl Fn(usize) -> Option<&'static str>) -> String {
    let mut xml = String::from("<testsuite name=\"s\">");
    for i in 0..tests {
        let body = match failing(i) {
            Some(kind) => format!("<{kind} message=\"broke {i}\"/>"),
            None => String::new(),
        };
        xml.push_str(&format!(
            "<testcase classname=\"c\" name=\"{prefix}{i}\" time=\"0.01\">{body}</testcase>"
        ));
    }
    xml.push_str("</testsuite>");
    xml
}

fn ids(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| i[field].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_s_failures_come_in_full_pages_and_its_files_say_what_they_changed() {
    let api = LocalApi::start(Limits::default()).await;
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    let run = run_ref("acme", "wide");
    // 3,000 tests, 10 failing and 2 erroring, far apart in test-id order.
    let failing = |i: usize| match i {
        _ if i % 300 == 7 => Some("failure"),
        1500 | 2999 => Some("error"),
        _ => None,
    };
    let first = upload_with(
        &api.store,
        &run,
        0,
        "wide.xml",
        report("t", 3000, failing).as_bytes(),
        now_ms(),
        metadata(),
    )
    .await;
    settle(&ingest, &first.object_key()).await;
    // A second file: 5 tests of its own, and a rerun of t7 that passes (t7 turns flaky).
    let mut second_xml = report("u", 5, |_| None);
    second_xml = second_xml.replace(
        "</testsuite>",
        "<testcase classname=\"c\" name=\"t7\" time=\"0.01\"/></testsuite>",
    );
    let second = upload_with(
        &api.store,
        &run,
        1,
        "shard-2.xml",
        second_xml.as_bytes(),
        now_ms(),
        metadata(),
    )
    .await;
    settle(&ingest, &second.object_key()).await;
    let token = &api.read_token;

    // Failed tests: a page of 4 is 4 failures, though 3,000 tests surround them.
    let (status, page) = api
        .get(token, "/v1/runs/wide/tests?status=failed&limit=4")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 4, "{page}");
    let failed = api
        .walk(token, "/v1/runs/wide/tests?status=failed&limit=4")
        .await;
    let mut names = ids(&failed, "name");
    names.sort();
    let mut expected: Vec<String> = (0..3000)
        .filter(|&i| failing(i) == Some("failure") && i != 7)
        .map(|i| format!("t{i}"))
        .collect();
    expected.sort();
    assert_eq!(names, expected, "every failure once, t7 now a flaky pass");
    let ids_in_order = ids(&failed, "test_id");
    assert!(
        ids_in_order.windows(2).all(|w| w[0] < w[1]),
        "test-id order"
    );
    let errors = api
        .walk(token, "/v1/runs/wide/tests?status=failed,error&limit=50")
        .await;
    assert_eq!(errors.len(), expected.len() + 2);
    let flaky = api.walk(token, "/v1/runs/wide/tests?flaky=true").await;
    assert_eq!(ids(&flaky, "name"), ["t7"]);
    assert_eq!(flaky[0]["status"], "passed");

    // The tests of one file, and what each file changed.
    let of_second = api
        .walk(
            token,
            &format!("/v1/runs/wide/tests?file={}&limit=2", second.file_id),
        )
        .await;
    let mut names = ids(&of_second, "name");
    names.sort();
    assert_eq!(names, ["t7", "u0", "u1", "u2", "u3", "u4"]);
    let (status, body) = api.get(token, "/v1/runs/wide/tests?file=nope").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("file: "),
        "{body}"
    );
    let (_, detail) = api.get(token, "/v1/runs/wide").await;
    let effect = |file: &verdict_store::FileRef| {
        detail["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["file_id"] == file.file_id.as_str())
            .unwrap()["effect"]
            .clone()
    };
    assert_eq!(
        effect(&first),
        serde_json::json!({"tests_inserted": 3000, "tests_merged": 0, "duplicate_bytes_skipped": 0})
    );
    assert_eq!(
        effect(&second),
        serde_json::json!({"tests_inserted": 5, "tests_merged": 1, "duplicate_bytes_skipped": 0})
    );
    // Passed among passed, failed and errored: 2,994 of 3,005 (9 failed, 2 errors).
    assert_eq!(detail["run"]["pass_rate"], 0.996);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runs_filter_by_status_and_failed_uploads_are_listed_across_the_project() {
    let api = LocalApi::start(Limits::default()).await;
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    let start = now_ms() - 3_600_000;
    let mut expected: Vec<(String, &str)> = Vec::new();
    let mut broken = Vec::new();
    for i in 0..24 {
        let key = format!("r{i:02}");
        let run = run_ref("acme", &key);
        let at = start + i as u64 * 60_000;
        let status = match i % 6 {
            // A report cut short: the file fails, and so does the run.
            0 => {
                let file = upload_with(
                    &api.store,
                    &run,
                    i,
                    "cut.xml",
                    b"<testsuite><testcase name=\"a\">",
                    at,
                    metadata(),
                )
                .await;
                settle_as(&ingest, &file.object_key(), FileState::Failed).await;
                broken.push(file);
                "failed"
            }
            // Registered, never uploaded: pending.
            1 => {
                let size = 10;
                register_at(&api.store, &run, i, "late.xml", size, at, metadata()).await;
                "pending"
            }
            n => {
                let fails = n == 2;
                let xml = report("t", 3, |t| (fails && t == 1).then_some("failure"));
                let file = upload_with(
                    &api.store,
                    &run,
                    i,
                    "ok.xml",
                    xml.as_bytes(),
                    at,
                    metadata(),
                )
                .await;
                settle(&ingest, &file.object_key()).await;
                if fails {
                    "failed"
                } else {
                    "passed"
                }
            }
        };
        expected.push((key, status));
    }
    expected.reverse();
    let token = &api.read_token;
    for status in ["passed", "failed", "pending"] {
        let runs = api
            .walk(token, &format!("/v1/runs?status={status}&limit=3"))
            .await;
        let want: Vec<&str> = expected
            .iter()
            .filter(|(_, s)| *s == status)
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(ids(&runs, "run_id"), want, "{status}");
        assert!(runs.iter().all(|r| r["status"] == status));
    }
    // A page asks for what it lacks until it is full: 3 failed runs in one page of 3.
    let (_, page) = api.get(token, "/v1/runs?status=failed&limit=3").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3, "{page}");
    let (status, body) = api.get(token, "/v1/runs?status=green").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("status: "),
        "{body}"
    );

    let failed = api.walk(token, "/v1/uploads?state=failed&limit=2").await;
    let want: Vec<&str> = broken.iter().rev().map(|f| f.file_id.as_str()).collect();
    assert_eq!(ids(&failed, "file_id"), want, "newest first");
    for upload in &failed {
        assert_eq!(upload["state"], "failed");
        assert_eq!(upload["error"]["kind"], "truncated", "{upload}");
        assert!(upload["error"]["line"].as_u64().is_some(), "{upload}");
        assert_eq!(upload["name"], "cut.xml");
    }
    let pending = api.walk(token, "/v1/uploads?state=pending").await;
    assert_eq!(pending.len(), 4);
    let done = api.walk(token, "/v1/uploads?state=done&limit=100").await;
    assert_eq!(done.len(), 16);
    let since = verdict_http::rfc3339(start + 12 * 60_000);
    let recent = api
        .walk(token, &format!("/v1/uploads?state=failed&since={since}"))
        .await;
    assert_eq!(recent.len(), 2, "r12 and r18");
    let (status, _) = api.get(token, "/v1/uploads?state=lost").await;
    assert_eq!(status, 400);
    // Upload health is read with a read token, never an upload token.
    let (status, _) = api.get(&api.upload_token, "/v1/uploads").await;
    assert_eq!(status, 403);
}

/// Run `key` of project `acme`, read whole.
async fn whole_run(api: &LocalApi, key: &str) -> verdict_store::Run {
    api.store
        .get_run(&run_ref("acme", key))
        .await
        .unwrap()
        .expect("the run exists")
}

/// A report of named tests, each `pass`, `fail`, `error`, `skip` or `flaky` (a failed attempt,
/// then a passing rerun, as pytest-rerunfailures writes it).
fn tests_report(tests: &[(&str, &str)]) -> String {
    let mut xml = String::from("<testsuite name=\"s\">");
    for (name, outcome) in tests {
        let case = |body: &str| {
            format!("<testcase classname=\"c\" name=\"{name}\" time=\"0.1\">{body}</testcase>")
        };
        let cases = match *outcome {
            "pass" => case(""),
            "fail" => case(&format!("<failure message=\"{name} broke\"/>")),
            "error" => case("<error message=\"setup\"/>"),
            "skip" => case("<skipped/>"),
            "flaky" => case("<failure message=\"once\"/>") + &case(""),
            other => panic!("{other}"),
        };
        xml.push_str(&cases);
    }
    xml.push_str("</testsuite>");
    xml
}

fn names(items: &Value) -> Vec<String> {
    let mut names = ids(items.as_array().unwrap(), "name");
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_compares_with_its_base_and_says_since_when_a_test_fails() {
    let api = LocalApi::start(Limits::default()).await;
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    let start = now_ms() - 3_600_000;
    let mut i = 0;
    let mut run =
        |key: &'static str, branch: &str, base_branch: Option<&str>, tests: &[(&str, &str)]| {
            i += 1;
            let meta = verdict_model::RunMetadata {
                branch: Some(branch.into()),
                base_branch: base_branch.map(str::to_string),
                ..metadata()
            };
            let xml = tests_report(tests);
            let (store, ingest, at, n) = (&api.store, &ingest, start + i as u64 * 60_000, i);
            async move {
                let file = upload_with(
                    store,
                    &run_ref("acme", key),
                    n,
                    "r.xml",
                    xml.as_bytes(),
                    at,
                    meta,
                )
                .await;
                settle(ingest, &file.object_key()).await;
            }
        };
    run(
        "m0",
        "main",
        None,
        &[
            ("a", "pass"),
            ("b", "pass"),
            ("c", "pass"),
            ("d", "pass"),
            ("e", "pass"),
            ("f", "pass"),
            ("g", "pass"),
        ],
    )
    .await;
    run(
        "m1",
        "main",
        None,
        &[
            ("a", "pass"),
            ("b", "fail"),
            ("c", "fail"),
            ("d", "pass"),
            ("e", "flaky"),
            ("f", "fail"),
            ("g", "error"),
        ],
    )
    .await;
    run(
        "m2",
        "main",
        None,
        &[
            ("a", "fail"),
            ("b", "error"),
            ("c", "flaky"),
            ("d", "pass"),
            ("e", "flaky"),
            ("g", "skip"),
            ("h", "fail"),
        ],
    )
    .await;
    // A run of main still being ingested, after m2: never a base.
    register_at(
        &api.store,
        &run_ref("acme", "m3"),
        99,
        "late.xml",
        10,
        start + 50 * 60_000,
        metadata(),
    )
    .await;
    run(
        "pr",
        "fix",
        Some("main"),
        &[
            ("a", "pass"),
            ("b", "fail"),
            ("c", "pass"),
            ("d", "pass"),
            ("e", "pass"),
            ("g", "pass"),
            ("h", "pass"),
        ],
    )
    .await;
    // Each run's comparison with its default base was made when it settled, streaks and all
    // (by whichever invocation settled it: the local trigger's may still be at it), and is
    // what making it now gives.
    for (key, base) in [("m1", "m0"), ("m2", "m1"), ("pr", "m2")] {
        let (run, base) = (whole_run(&api, key).await, whole_run(&api, base).await);
        let mut kept = None;
        for _ in 0..100 {
            kept = api.store.kept_comparison(&run, &base).await.unwrap();
            if kept.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let made = api.store.make_comparison(&run, &base).await.unwrap();
        assert_eq!(kept.as_ref(), Some(&made), "{key}");
        assert_eq!(made.streaks.len(), made.still_failing.len(), "{key}");
    }
    let token = &api.read_token;

    let (status, c) = api.get(token, "/v1/runs/m2/compare").await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["base"]["run_id"], "m1");
    assert_eq!(c["base"]["reason"], "previous_on_branch");
    assert_eq!(names(&c["new_failures"]), ["a", "h"]);
    assert_eq!(names(&c["still_failing"]), ["b"]);
    assert_eq!(names(&c["fixed"]), ["c"]);
    assert_eq!(names(&c["newly_flaky"]), ["c"]);
    assert_eq!(names(&c["new_tests"]), ["h"]);
    assert_eq!(names(&c["removed_tests"]), ["f"]);
    let since = &c["still_failing"][0]["failing_since"];
    assert_eq!(
        (since["run_id"].as_str(), since["runs"].as_u64()),
        (Some("m1"), Some(2))
    );
    assert_eq!(since["complete"], true, "m0 passed");
    assert_eq!(
        c["counts"],
        serde_json::json!({"new_failures": 2, "still_failing": 1, "fixed": 1, "newly_flaky": 1, "new_tests": 1, "removed_tests": 1})
    );

    // A pull request compares with its base branch's newest settled run, m2 (m3 is pending).
    let (_, pr) = api.get(token, "/v1/runs/pr/compare").await;
    assert_eq!(
        (pr["base"]["run_id"].as_str(), pr["base"]["reason"].as_str()),
        (Some("m2"), Some("base_branch"))
    );
    assert_eq!(names(&pr["fixed"]), ["a", "h"]);
    assert_eq!(names(&pr["still_failing"]), ["b"]);
    let since = &pr["still_failing"][0]["failing_since"];
    assert_eq!(
        (since["run_id"].as_str(), since["runs"].as_u64()),
        (Some("m1"), Some(2)),
        "failing on main since m1"
    );
    assert_eq!(names(&pr["new_tests"]), Vec::<String>::new());

    // Any base, and one change page by page.
    let (_, given) = api.get(token, "/v1/runs/m2/compare?base=m0").await;
    assert_eq!(given["base"]["reason"], "given");
    assert_eq!(names(&given["new_failures"]), ["a", "b", "h"]);
    let pages = api
        .walk(
            token,
            "/v1/runs/m2/compare?base=m0&change=new_failures&limit=1",
        )
        .await;
    assert_eq!(
        ids(&pages, "name"),
        ids(given["new_failures"].as_array().unwrap(), "name")
    );
    let (status, _) = api.get(token, "/v1/runs/m2/compare?base=nope").await;
    assert_eq!(status, 404);
    let (status, _) = api.get(token, "/v1/runs/m2/compare?change=broken").await;
    assert_eq!(status, 400);
    let (_, first) = api.get(token, "/v1/runs/m0/compare").await;
    assert_eq!(
        (first["base"].clone(), first["counts"].clone()),
        (Value::Null, Value::Null)
    );

    // The test's page: b failed in pr, m2 and m1 (on any branch), passed in m0.
    let b = c["still_failing"][0]["test_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, page) = api.get(token, &format!("/v1/tests/{b}")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["name"].as_str(), page["classname"].as_str()),
        (Some("b"), Some("c"))
    );
    assert_eq!(
        (page["first_run_id"].as_str(), page["last_run_id"].as_str()),
        (Some("m0"), Some("pr"))
    );
    assert_eq!(page["last_status"], "failed");
    assert_eq!(
        (
            page["failing_since"]["run_id"].as_str(),
            page["failing_since"]["runs"].as_u64()
        ),
        (Some("m1"), Some(3))
    );
    let fixed = c["fixed"][0]["test_id"].as_str().unwrap();
    let (_, page) = api.get(token, &format!("/v1/tests/{fixed}")).await;
    assert_eq!(
        (page["window_runs"].as_u64(), page["flake_rate"].as_f64()),
        (Some(4), Some(0.25)),
        "{page}"
    );
    assert_eq!(page["failing_since"], Value::Null);
    let (status, _) = api
        .get(token, &format!("/v1/tests/{}", "0".repeat(64)))
        .await;
    assert_eq!(status, 404);
    let (_, history) = api.get(token, &format!("/v1/tests/{b}/history")).await;
    assert_eq!(
        history["items"][0]["name"], "b",
        "history rows name the test"
    );

    // b's failure in m2 ("setup", an error) as a group: it hit g in m1 too.
    let fingerprint = c["still_failing"][0]["fingerprint"].as_str().unwrap();
    let (status, group) = api.get(token, &format!("/v1/failures/{fingerprint}")).await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(
        (
            group["occurrences"].as_u64(),
            group["runs"].as_u64(),
            group["tests_affected"].as_u64()
        ),
        (Some(2), Some(2), Some(2))
    );
    let mut affected = ids(group["tests"].as_array().unwrap(), "name");
    affected.sort();
    assert_eq!(affected, ["b", "g"]);
    assert_eq!(
        (
            group["first_run_id"].as_str(),
            group["last_run_id"].as_str()
        ),
        (Some("m1"), Some("m2"))
    );
    assert_eq!(group["newest"]["test_id"].as_str(), Some(b.as_str()));
    assert_eq!(group["newest"]["attempts"][0]["message"], "setup");
    assert_eq!(group["newest"]["name"], "b");
    assert_eq!(group["next_cursor"], Value::Null, "two tests fit a page");
    let (status, _) = api.get(token, "/v1/failures/nothing-like-it").await;
    assert_eq!(status, 404);

    // The comparison keeps the rows of each change's first 20 tests; pages past them read
    // their tests' items, and list the same tests in the same order.
    let thirty: Vec<String> = (0..30).map(|k| format!("n{k:02}")).collect();
    let all = |outcome| {
        thirty
            .iter()
            .map(|n| (n.as_str(), outcome))
            .collect::<Vec<_>>()
    };
    run("n0", "wide", None, &all("pass")).await;
    run("n1", "wide", None, &all("fail")).await;
    let (_, kept) = api.get(token, "/v1/runs/n1/compare").await;
    let (_, read) = api.get(token, "/v1/runs/n1/compare?limit=50").await;
    let (kept, read) = (
        kept["new_failures"].as_array().unwrap(),
        read["new_failures"].as_array().unwrap(),
    );
    assert_eq!((kept.len(), read.len()), (20, 30));
    assert_eq!(kept[..], read[..20], "kept rows are the rows as read");
    assert!(kept.iter().all(|row| row["message"]
        .as_str()
        .is_some_and(|m| m.ends_with(" broke"))));
    let paged = api
        .walk(token, "/v1/runs/n1/compare?change=new_failures&limit=7")
        .await;
    assert_eq!(paged, *read);

    // The run's page carries the counts; an upload token (CI) may read both.
    let (status, detail) = api.get(&api.upload_token, "/v1/runs/m2").await;
    assert_eq!(status, 200);
    assert_eq!(detail["compare"]["counts"], c["counts"]);
    let (status, _) = api.get(&api.upload_token, "/v1/runs/m2/compare").await;
    assert_eq!(status, 200);
}

/// Which tests of a [`report`] fail.
type Failing = fn(usize) -> Option<&'static str>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flaky_test_says_why_and_a_broken_build_is_no_flip() {
    let api = LocalApi::start(Limits::default()).await;
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    let now = now_ms();
    // All on commit c1: t0 passes; then a build where every test failed; then t0 passes again;
    // t1 passes, then fails alone (a real flip on one commit).
    let runs: [(&str, Failing); 3] = [
        ("ok-1", |_| None),
        ("broken", |_| Some("error")),
        ("ok-2", |i| (i == 1).then_some("failure")),
    ];
    for (i, (key, failing)) in runs.iter().enumerate() {
        let file = upload_with(
            &api.store,
            &run_ref("acme", key),
            i,
            "r.xml",
            report("t", 20, failing).as_bytes(),
            now - 3_000 + i as u64 * 1_000,
            metadata(),
        )
        .await;
        settle(&ingest, &file.object_key()).await;
    }
    let (status, flaky) = api.get(&api.read_token, "/v1/flaky").await;
    assert_eq!(status, 200, "{flaky}");
    let items = flaky["items"].as_array().unwrap();
    assert_eq!(
        ids(items, "name"),
        ["t1"],
        "only t1 flipped outside the broken build: {flaky}"
    );
    let t1 = &items[0];
    assert_eq!(t1["reasons"][0]["kind"], "same_commit", "{t1}");
    assert_eq!(t1["reasons"][0]["count"], 1);
    assert_eq!(t1["infra_runs_excluded"], 1, "{t1}");
    assert_eq!(
        t1["since_run_id"], "ok-2",
        "the run where it failed shows it"
    );
    assert_eq!(t1["last_flaky_run_id"], "ok-2");
    assert_eq!(t1["flaky_run_ids"], serde_json::json!(["ok-2"]), "{t1}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tests_are_found_by_words_owner_and_tag_in_the_newest_settled_run() {
    let api = LocalApi::start(Limits::default()).await;
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    let token = &api.read_token;
    let (_, empty) = api.get(token, "/v1/tests?q=cart").await;
    assert_eq!(empty["run_id"], Value::Null, "no run yet: {empty}");
    assert_eq!(empty["items"], serde_json::json!([]));

    let case = |class: &str, name: &str, owner: &str, tags: &str, body: &str| {
        format!(
            "<testcase classname=\"{class}\" name=\"{name}\" time=\"0.1\"><properties>\
             <property name=\"owner\" value=\"{owner}\"/><property name=\"tags\" value=\"{tags}\"/>\
             </properties>{body}</testcase>"
        )
    };
    let mut newest = String::from("<testsuite name=\"shop\">");
    newest.push_str(&case(
        "checkout.CartTest",
        "test_adds_item",
        "team-pay",
        "db",
        "",
    ));
    newest.push_str(&case(
        "checkout.CartTest",
        "test_removes_item",
        "team-pay",
        "db,slow",
        "<failure message=\"gone\"/>",
    ));
    newest.push_str(&case(
        "search.QueryTest",
        "test_cart_query",
        "team-find",
        "",
        "",
    ));
    for i in 0..30 {
        newest.push_str(&case(
            "checkout.PriceTest",
            &format!("test_price_{i:02}"),
            "team-pay",
            "",
            "",
        ));
    }
    newest.push_str("</testsuite>");
    let older = "<testsuite name=\"shop\"><testcase classname=\"old.Gone\" name=\"test_cart_legacy\"/></testsuite>";
    let dev = "<testsuite name=\"shop\"><testcase classname=\"dev.CartTest\" name=\"test_cart_dev\"/></testsuite>";
    let runs = [
        ("old", "main", older, 1),
        ("new", "main", newest.as_str(), 2),
        ("dev-1", "dev", dev, 3),
    ];
    for (i, (key, branch, xml, minutes)) in runs.into_iter().enumerate() {
        let meta = verdict_model::RunMetadata {
            branch: Some(branch.into()),
            ..metadata()
        };
        let at = now_ms() - 3_600_000 + minutes * 60_000;
        let file = upload_with(
            &api.store,
            &run_ref("acme", key),
            i,
            "r.xml",
            xml.as_bytes(),
            at,
            meta,
        )
        .await;
        settle(&ingest, &file.object_key()).await;
    }
    // A run still being ingested is not searched.
    let main_meta = verdict_model::RunMetadata {
        branch: Some("main".into()),
        ..metadata()
    };
    register_at(
        &api.store,
        &run_ref("acme", "pending"),
        9,
        "p.xml",
        100,
        now_ms(),
        main_meta,
    )
    .await;

    let api = &api;
    let found = |path: &'static str| async move {
        let (status, body) = api.get(token, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    };
    let main = found("/v1/tests?q=cart&branch=main").await;
    assert_eq!(main["run_id"], "new");
    assert_eq!(
        ids(main["items"].as_array().unwrap(), "name"),
        ["test_adds_item", "test_cart_query", "test_removes_item"],
        "every word in suite, class or name, by name; the older run's tests are not the suite now"
    );
    let removes = &main["items"][2];
    assert_eq!(removes["classname"], "checkout.CartTest");
    assert_eq!(removes["status"], "failed");
    assert_eq!(removes["owner"], "team-pay");
    assert_eq!(removes["tags"], serde_json::json!(["db", "slow"]));
    let newest_of_all = found("/v1/tests?q=CART").await;
    assert_eq!(
        newest_of_all["run_id"], "dev-1",
        "without a branch: the project's newest"
    );
    assert_eq!(
        ids(newest_of_all["items"].as_array().unwrap(), "name"),
        ["test_cart_dev"]
    );
    let two_words = found("/v1/tests?q=cart%20removes&branch=main").await;
    assert_eq!(
        ids(two_words["items"].as_array().unwrap(), "name"),
        ["test_removes_item"]
    );
    let by_tag = found("/v1/tests?tag=SLOW&branch=main").await;
    assert_eq!(
        ids(by_tag["items"].as_array().unwrap(), "name"),
        ["test_removes_item"]
    );
    let by_owner = found("/v1/tests?owner=team-find&branch=main").await;
    assert_eq!(
        ids(by_owner["items"].as_array().unwrap(), "name"),
        ["test_cart_query"]
    );

    // Paged: 30 prices, 12 at a time.
    let mut names = Vec::new();
    let mut path = "/v1/tests?q=price&branch=main&limit=12".to_string();
    loop {
        let (status, page) = api.get(token, &path).await;
        assert_eq!(status, 200, "{page}");
        names.extend(ids(page["items"].as_array().unwrap(), "name"));
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/v1/tests?q=price&branch=main&limit=12&cursor={cursor}");
            }
            None => break,
        }
    }
    let expected: Vec<String> = (0..30).map(|i| format!("test_price_{i:02}")).collect();
    assert_eq!(names, expected);
    let (status, _) = api.get(token, "/v1/tests?q=price&limit=0").await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_corpus_junit_files_as_one_run_give_their_failures_in_full_pages() {
    // The reproduction: every JUnit report of the corpus as the files of one run
    // (24,486 tests and 259 failed when it was filed). A status filter over a Query of all
    // tests answered an empty first page, and 490 requests to read the failures.
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("the corpus");
    let junit: Vec<&str> = manifest
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let path = fields.next()?;
            (fields.next()? == "junit").then_some(path)
        })
        .collect();
    assert!(junit.len() > 300, "{} JUnit reports", junit.len());
    let api = LocalApi::start(Limits::default()).await;
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    let run = run_ref("acme", "corpus");
    // Uploaded one by one (the local stack's trigger ingests each as it arrives), then each
    // driven until it is settled.
    let mut files = Vec::new();
    for (i, path) in junit.iter().enumerate() {
        let bytes = std::fs::read(corpus.join(path)).unwrap();
        let name = path.rsplit('/').next().unwrap();
        files.push(upload_with(&api.store, &run, i, name, &bytes, now_ms(), metadata()).await);
    }
    for file in &files {
        settled(&ingest, &file.object_key()).await;
    }
    let token = &api.read_token;
    let (_, detail) = api.get(token, "/v1/runs/corpus").await;
    let summary = &detail["summary"];
    let failed = summary["failed"].as_u64().unwrap();
    assert!(summary["tests"].as_u64().unwrap() > 20_000, "{summary}");
    assert!(failed > 200, "{summary}");

    let (status, first) = api
        .get(token, "/v1/runs/corpus/tests?status=failed&limit=50")
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        first["items"].as_array().unwrap().len(),
        50,
        "a full first page"
    );
    let mut requests = 0;
    let mut read = 0;
    let mut path = "/v1/runs/corpus/tests?status=failed&limit=50".to_string();
    loop {
        let (status, page) = api.get(token, &path).await;
        assert_eq!(status, 200, "{page}");
        requests += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.iter().all(|r| r["status"] == "failed"));
        read += items.len() as u64;
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/v1/runs/corpus/tests?status=failed&limit=50&cursor={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(read, failed, "every failure once");
    assert!(
        requests <= failed.div_ceil(50) + 1,
        "{requests} requests for {failed} failures"
    );
}
