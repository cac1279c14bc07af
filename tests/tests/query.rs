//! The query API through real HTTP on the local stack, over a seeded history of 210 runs on three
//! branches (flaky retries, same-commit flips, a recurring failure at moving line numbers,
//! skipped tests). Every answer is checked against values computed here from the seed.

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use verdict_model::RunMetadata;
use verdict_model::{test_id, TestIdentity};
use verdict_parse_fn::ingest::{Ingest, Settings};
use verdict_store::{now_ms, ProjectName, Scope};
use verdict_tests::{bearer, http, run_ref, settle, upload_with, LocalApi};
use verdict_upload_fn::Limits;

const RUNS: usize = 210;
const BRANCHES: [&str; 3] = ["main", "dev", "feature-x"];
const HOUR: u64 = 3_600_000;

/// What run `i` holds, as the test reasons about it.
struct Seed {
    key: String,
    branch: &'static str,
    commit: String,
    created_ms: u64,
    retry_flaky: bool,
    flip_fails: bool,
    recurring_fails: bool,
}

fn seeds(now: u64) -> Vec<Seed> {
    (0..RUNS)
        .map(|i| Seed {
            key: format!("run-{i:03}"),
            branch: BRANCHES[i % 3],
            // Runs 2k and 2k+1 build the same commit (a re-run on another branch).
            commit: format!("c{:04}", i / 2),
            created_ms: now - (RUNS - i) as u64 * HOUR,
            retry_flaky: i % 7 == 0,
            flip_fails: i % 10 == 3,
            recurring_fails: i % 5 == 0,
        })
        .collect()
}

fn report(i: usize, seed: &Seed) -> String {
    let mut cases = String::new();
    for n in 1..=4 {
        cases.push_str(&format!(
            "<testcase classname=\"app.Stable\" name=\"test_{n}\" time=\"0.{n}\"/>\n"
        ));
    }
    cases.push_str("<testcase classname=\"app.Skip\" name=\"test_skip\"><skipped/></testcase>\n");
    if seed.retry_flaky {
        // pytest-rerunfailures: the failed attempt, then the passing rerun.
        cases.push_str("<testcase classname=\"app.Retry\" name=\"test_retry\" time=\"1\"><failure message=\"timeout\"/></testcase>\n");
    }
    cases.push_str("<testcase classname=\"app.Retry\" name=\"test_retry\" time=\"1\"/>\n");
    if seed.flip_fails {
        cases.push_str("<testcase classname=\"app.Flip\" name=\"test_flip\"><failure message=\"race\" type=\"AssertionError\">AssertionError: race</failure></testcase>\n");
    } else {
        cases.push_str("<testcase classname=\"app.Flip\" name=\"test_flip\"/>\n");
    }
    if seed.recurring_fails {
        cases.push_str(&format!(
            "<testcase classname=\"app.Db\" name=\"test_db\"><failure message=\"connection refused\" type=\"OSError\">OSError: connection refused\n  at app/db.py:{}\n  at app/main.py:{}</failure></testcase>\n",
            100 + i,
            7 + i % 13
        ));
    } else {
        cases.push_str("<testcase classname=\"app.Db\" name=\"test_db\" time=\"0.5\"/>\n");
    }
    format!("<testsuites><testsuite name=\"app\">\n{cases}</testsuite></testsuites>\n")
}

fn metadata(seed: &Seed) -> RunMetadata {
    RunMetadata {
        branch: Some(seed.branch.into()),
        commit_sha: Some(seed.commit.clone()),
        // Every fourth run was started by hand.
        trigger: Some(if seed.key.ends_with(['0', '4', '8']) {
            verdict_model::Trigger::Manual
        } else {
            verdict_model::Trigger::Ci
        }),
        ..RunMetadata::default()
    }
}

fn id(classname: &str, name: &str) -> String {
    test_id(&TestIdentity {
        suite: "app",
        classname,
        file: None,
        name,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_query_api_answers_from_the_seeded_history() {
    let api = LocalApi::start(Limits::default()).await;
    let now = now_ms();
    let seeds = seeds(now);
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    for (i, seed) in seeds.iter().enumerate() {
        let run = run_ref("acme", &seed.key);
        // Through the same registration the upload function does, with the seed's branch.
        let file = upload_with(
            &api.store,
            &run,
            i,
            "report.xml",
            report(i, seed).as_bytes(),
            seed.created_ms,
            metadata(seed),
        )
        .await;
        settle(&ingest, &file.object_key()).await;
    }
    let read = &api.read_token;

    // Runs, newest first, every page, no loss, no duplicate.
    let runs = api.walk(read, "/v1/runs?limit=7").await;
    let keys: Vec<&str> = runs.iter().map(|r| r["run_id"].as_str().unwrap()).collect();
    let expected: Vec<&str> = seeds.iter().rev().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, expected);
    for run in &runs {
        let i: usize = run["run_id"].as_str().unwrap()[4..].parse().unwrap();
        let seed = &seeds[i];
        let failed = u64::from(seed.flip_fails) + u64::from(seed.recurring_fails);
        assert_eq!(run["summary"]["tests"], 8, "{run}");
        assert_eq!(run["summary"]["failed"], failed, "{run}");
        assert_eq!(run["summary"]["skipped"], 1);
        assert_eq!(run["summary"]["flaky"], u64::from(seed.retry_flaky));
        assert_eq!(run["status"], if failed > 0 { "failed" } else { "passed" });
    }
    for branch in BRANCHES {
        let on_branch = api
            .walk(read, &format!("/v1/runs?branch={branch}&limit=50"))
            .await;
        let keys: Vec<&str> = on_branch
            .iter()
            .map(|r| r["run_id"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = seeds
            .iter()
            .rev()
            .filter(|s| s.branch == branch)
            .map(|s| s.key.as_str())
            .collect();
        assert_eq!(keys, expected, "{branch}");
    }
    let manual = api.walk(read, "/v1/runs?trigger=manual&limit=20").await;
    let expected: Vec<&str> = seeds
        .iter()
        .rev()
        .filter(|s| s.key.ends_with(['0', '4', '8']))
        .map(|s| s.key.as_str())
        .collect();
    let keys: Vec<&str> = manual
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(keys, expected);
    assert!(manual.iter().all(|r| r["metadata"]["trigger"] == "manual"));
    let since = verdict_http::rfc3339(seeds[200].created_ms);
    let recent = api.walk(read, &format!("/v1/runs?since={since}")).await;
    assert_eq!(recent.len(), RUNS - 200);

    // One run, its tests, filters, one test in full.
    let seed = &seeds[100];
    let (status, run) = api.get(read, &format!("/v1/runs/{}", seed.key)).await;
    assert_eq!(status, 200);
    assert_eq!(run["summary"]["failed"], 1);
    assert_eq!(run["files"][0]["state"], "done");
    assert_eq!(run["run"]["run_id"], seed.key.as_str());
    let failing = api
        .walk(
            read,
            &format!("/v1/runs/{}/tests?status=failed,error", seed.key),
        )
        .await;
    let names: HashSet<&str> = failing
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, HashSet::from(["test_db"]));
    // Sorted over the whole run, paged by offset; in test-id order without `order`.
    let by_duration = api
        .walk(
            read,
            &format!("/v1/runs/{}/tests?limit=3&order=duration", seed.key),
        )
        .await;
    let durations: Vec<u64> = by_duration
        .iter()
        .map(|t| t["duration_ms"].as_u64().unwrap())
        .collect();
    let mut sorted = durations.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!((durations.len(), &durations), (8, &sorted));
    let by_name = api
        .walk(
            read,
            &format!("/v1/runs/{}/tests?limit=5&order=name", seed.key),
        )
        .await;
    let names: Vec<&str> = by_name
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let mut sorted_names = names.clone();
    sorted_names.sort_unstable();
    assert_eq!(names, sorted_names);
    let by_status = api
        .walk(
            read,
            &format!("/v1/runs/{}/tests?limit=2&order=status", seed.key),
        )
        .await;
    assert_eq!(by_status[0]["status"], "failed");
    let plain = api
        .walk(read, &format!("/v1/runs/{}/tests?limit=3", seed.key))
        .await;
    let ids: Vec<&str> = plain
        .iter()
        .map(|t| t["test_id"].as_str().unwrap())
        .collect();
    let mut sorted_ids = ids.clone();
    sorted_ids.sort_unstable();
    assert_eq!((ids.len(), &ids), (8, &sorted_ids));
    // Pages of any size cut the run's partitions anywhere: every test once, in order.
    for limit in [1, 2, 5, 7, 8, 9] {
        let paged = api
            .walk(read, &format!("/v1/runs/{}/tests?limit={limit}", seed.key))
            .await;
        assert_eq!(paged, plain, "limit={limit}");
    }
    let db = id("app.Db", "test_db");
    let (status, full) = api
        .get(read, &format!("/v1/runs/{}/tests/{db}", seed.key))
        .await;
    assert_eq!(status, 200);
    assert_eq!(full["status"], "failed");
    assert!(
        full["details"].as_str().unwrap().contains("app/db.py:200"),
        "{full}"
    );
    assert_eq!(full["attempts"].as_array().unwrap().len(), 1);
    let retry = id("app.Retry", "test_retry");
    let (_, flaky_full) = api
        .get(read, &format!("/v1/runs/run-007/tests/{retry}"))
        .await;
    assert_eq!(
        (flaky_full["status"].as_str(), flaky_full["flaky"].as_bool()),
        (Some("passed"), Some(true))
    );
    assert_eq!(flaky_full["attempts"].as_array().unwrap().len(), 2);

    // History of one test, newest first, every page; and on one branch.
    let history = api
        .walk(read, &format!("/v1/tests/{db}/history?limit=13"))
        .await;
    assert_eq!(history.len(), RUNS);
    let on_dev = api
        .walk(read, &format!("/v1/tests/{db}/history?branch=dev&limit=9"))
        .await;
    assert_eq!(
        on_dev.len(),
        seeds.iter().filter(|s| s.branch == "dev").count()
    );
    assert!(on_dev.iter().all(|h| h["branch"] == "dev"));
    let statuses: Vec<&str> = history
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = seeds
        .iter()
        .rev()
        .map(|s| {
            if s.recurring_fails {
                "failed"
            } else {
                "passed"
            }
        })
        .collect();
    assert_eq!(statuses, expected);

    // Failures by fingerprint: the recurring failure groups across its moving line numbers.
    let (status, failures) = api.get(read, "/v1/failures").await;
    assert_eq!(status, 200, "{failures}");
    let groups = failures["items"].as_array().unwrap();
    let recurring = seeds.iter().filter(|s| s.recurring_fails).count() as u64;
    let flips = seeds.iter().filter(|s| s.flip_fails).count() as u64;
    assert_eq!(groups.len(), 2, "{failures}");
    assert_eq!(
        (
            groups[0]["count"].as_u64(),
            groups[0]["tests_affected"].as_u64()
        ),
        (Some(recurring), Some(1))
    );
    assert_eq!(groups[0]["sample_test"], "test_db");
    assert_eq!(groups[1]["count"].as_u64(), Some(flips));
    let first = seeds.iter().find(|s| s.recurring_fails).unwrap();
    assert_eq!(groups[0]["first_run_id"], first.key.as_str());

    // Flaky: the retried test, and the test that failed and passed on one commit.
    let (_, flaky) = api.get(read, "/v1/flaky").await;
    let by_name: HashMap<&str, &Value> = flaky["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f))
        .collect();
    let retries = seeds.iter().filter(|s| s.retry_flaky).count() as u64;
    assert_eq!(
        by_name["test_retry"]["retry_flaky_runs"].as_u64(),
        Some(retries)
    );
    // The runs that show it: those where it failed (runs 2k and 2k+1 share a commit, so each
    // failure is a flip on its commit too).
    let failed = |fails: fn(&Seed) -> bool| seeds.iter().filter(|s| fails(s)).count() as u64;
    assert_eq!(
        by_name["test_flip"]["flaky_runs"].as_u64(),
        Some(failed(|s| s.flip_fails)),
        "{flaky}"
    );
    let same_commits = |fails: fn(&Seed) -> bool| -> u64 {
        let mut by_commit: HashMap<&str, (bool, bool)> = HashMap::new();
        for s in &seeds {
            let e = by_commit.entry(s.commit.as_str()).or_default();
            if fails(s) {
                e.1 = true;
            } else {
                e.0 = true;
            }
        }
        by_commit.values().filter(|e| **e == (true, true)).count() as u64
    };
    assert_eq!(
        by_name["test_flip"]["reasons"][0]["count"].as_u64(),
        Some(same_commits(|s| s.flip_fails)),
        "{flaky}"
    );
    // test_db fails every 5th run: it changes outcome in about 2 of every 5 runs (over 210 runs),
    // so it is flaky by its flip rate too.
    assert_eq!(
        by_name["test_db"]["flaky_runs"].as_u64(),
        Some(failed(|s| s.recurring_fails)),
        "{flaky}"
    );
    assert_eq!(
        by_name["test_retry"]["flaky_runs"].as_u64(),
        Some(retries),
        "{flaky}"
    );
    let kinds = |name: &str| -> Vec<&str> {
        by_name[name]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["kind"].as_str().unwrap())
            .collect()
    };
    assert_eq!(kinds("test_retry"), ["retried"]);
    assert_eq!(
        kinds("test_flip"),
        ["same_commit"],
        "a flip rate of 0.2 is not enough"
    );
    assert_eq!(kinds("test_db"), ["same_commit", "flip_rate"]);
    // 83 changes in 209: 41 runs where it started failing, 42 where it passed again.
    assert_eq!(
        by_name["test_db"]["reasons"][1]["flip_rate"].as_f64(),
        Some(0.397)
    );
    assert!(
        !by_name.contains_key("test_1"),
        "a test that always passed is not flaky"
    );

    // Slowest by median and p95 (nearest rank), from the seed's durations: exact, as each
    // test takes one of a few durations far apart (a histogram bucket holds equal ones).
    let (status, slow) = api.get(read, "/v1/tests/slowest?limit=3").await;
    assert_eq!(status, 200, "{slow}");
    let nearest = |mut v: Vec<u64>, q: f64| {
        v.sort_unstable();
        v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
    };
    let retry: Vec<u64> = seeds
        .iter()
        .map(|s| if s.retry_flaky { 2000 } else { 1000 })
        .collect();
    let db: Vec<u64> = seeds
        .iter()
        .map(|s| if s.recurring_fails { 0 } else { 500 })
        .collect();
    let slowest: Vec<(&str, u64, u64)> = slow["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["median_ms"].as_u64().unwrap(),
                t["p95_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        slowest,
        [
            (
                "test_retry",
                nearest(retry.clone(), 0.5),
                nearest(retry, 0.95)
            ),
            ("test_db", nearest(db.clone(), 0.5), nearest(db, 0.95)),
            ("test_4", 400, 400),
        ]
    );

    // Stats and passing.
    let (_, stats) = api.get(read, "/v1/stats?window=30d").await;
    let failed_runs = seeds
        .iter()
        .filter(|s| s.flip_fails || s.recurring_fails)
        .count() as u64;
    assert_eq!(stats["runs"].as_u64(), Some(RUNS as u64));
    assert_eq!(stats["failed_runs"].as_u64(), Some(failed_runs));
    assert_eq!(
        stats["passed_runs"].as_u64(),
        Some(RUNS as u64 - failed_runs)
    );
    assert_eq!(
        stats["last_run"]["run_id"],
        seeds.last().unwrap().key.as_str()
    );
    let (_, passing) = api.get(read, "/v1/stats/passing?hours=24").await;
    let last = seeds.last().unwrap();
    assert_eq!(
        passing["passing"].as_bool(),
        Some(!(last.flip_fails || last.recurring_fails))
    );

    // Exports: CSV rows, JSON, and a JUnit file Verdict itself reads back the same.
    let (status, csv) = http(
        "GET",
        &format!("{}/v1/runs/{}/export?format=csv", api.base, seed.key),
        bearer(read),
        None,
    )
    .await;
    assert_eq!((status, csv), (200, Value::Null), "CSV is not JSON");
    let junit = tokio::task::spawn_blocking({
        let url = format!("{}/v1/runs/{}/export?format=junit", api.base, seed.key);
        let token = read.clone();
        move || {
            ureq::get(&url)
                .header("Authorization", &format!("Bearer {token}"))
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let parsed = verdict_formats::parse(
        junit.as_bytes(),
        None,
        &verdict_formats::ParseLimits::DEFAULT,
    )
    .unwrap();
    assert_eq!(
        (
            parsed.summary.tests,
            parsed.summary.failed,
            parsed.summary.skipped
        ),
        (8, 1, 1)
    );

    // ETag: the same answer again is 304.
    let url = format!("{}/v1/runs/{}", api.base, seed.key);
    let etag = tokio::task::spawn_blocking({
        let (url, token) = (url.clone(), read.clone());
        move || {
            ureq::get(&url)
                .header("Authorization", &format!("Bearer {token}"))
                .call()
                .unwrap()
                .headers()
                .get("etag")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        }
    })
    .await
    .unwrap();
    let mut headers = bearer(read);
    headers.push(("If-None-Match".into(), etag));
    assert_eq!(http("GET", &url, headers, None).await.0, 304);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cursors_and_tokens_are_bound_to_their_project_and_query() {
    let api = LocalApi::start(Limits::default()).await;
    let now = now_ms();
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    for (i, seed) in seeds(now).iter().take(12).enumerate() {
        let file = upload_with(
            &api.store,
            &run_ref("acme", &seed.key),
            i,
            "r.xml",
            report(i, seed).as_bytes(),
            seed.created_ms,
            metadata(seed),
        )
        .await;
        settle(&ingest, &file.object_key()).await;
    }
    let other = ProjectName::parse("other").unwrap();
    let (other_read, _) = api
        .store
        .create_token(&other, Scope::Read, "t", now)
        .await
        .unwrap();

    let (_, first) = api.get(&api.read_token, "/v1/runs?limit=5").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    // The same cursor with another filter, in another project, or altered: refused.
    for (token, path) in [
        (
            &api.read_token,
            format!("/v1/runs?limit=5&branch=dev&cursor={cursor}"),
        ),
        (&api.read_token, format!("/v1/runs?limit=6&cursor={cursor}")),
        (&other_read, format!("/v1/runs?limit=5&cursor={cursor}")),
        (
            &api.read_token,
            format!("/v1/runs?limit=5&cursor=00{}", &cursor[2..]),
        ),
    ] {
        let (status, body) = api.get(token, &path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("cursor"));
    }
    // Another project's token sees nothing of this one.
    let (status, runs) = api.get(&other_read, "/v1/runs").await;
    assert_eq!((status, runs["items"].as_array().unwrap().len()), (200, 0));
    assert_eq!(api.get(&other_read, "/v1/runs/run-000").await.0, 404);
    let (_, failures) = api.get(&other_read, "/v1/failures").await;
    assert!(failures["items"].as_array().unwrap().is_empty());
    // Upload tokens cannot read; limits are bounded; the description is public.
    assert_eq!(api.get(&api.upload_token, "/v1/runs").await.0, 403);
    assert_eq!(api.get(&api.read_token, "/v1/runs?limit=501").await.0, 400);
    assert_eq!(
        api.get(&api.read_token, "/v1/runs?since=yesterday").await.0,
        400
    );
    let (status, openapi) = http(
        "GET",
        &format!("{}/v1/openapi.json", api.base),
        vec![],
        None,
    )
    .await;
    assert_eq!((status, openapi["openapi"].as_str()), (200, Some("3.1.0")));
}

#[test]
fn openapi_describes_exactly_the_routes_the_handlers_serve() {
    let doc: Value = serde_json::from_str(verdict_query_fn::OPENAPI).unwrap();
    let mut described = HashSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            described.insert((method.to_uppercase(), path.clone()));
        }
    }
    let served: HashSet<(String, String)> = verdict_query_fn::ROUTES
        .iter()
        .chain(verdict_upload_fn::ROUTES.iter())
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(described, served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_run_sorts_whole_and_a_new_file_reorders_it() {
    let api = LocalApi::start(Limits::default()).await;
    let run = run_ref("acme", "big");
    let seed = &seeds(now_ms())[0];
    // 6,000 tests (more than a sort in one request's memory of old): durations repeat, so ties
    // are broken by test id; every 7th fails.
    let mut xml = String::from("<testsuite name=\"big\">");
    for i in 0..6000 {
        let body = if i % 7 == 0 {
            "<failure message=\"boom\"/>"
        } else {
            ""
        };
        xml.push_str(&format!(
            "<testcase classname=\"c\" name=\"t{i}\" time=\"{}.{:03}\">{body}</testcase>",
            i % 5,
            i % 997
        ));
    }
    xml.push_str("</testsuite>");
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    let first = upload_with(
        &api.store,
        &run,
        0,
        "big.xml",
        xml.as_bytes(),
        now_ms(),
        metadata(seed),
    )
    .await;
    settle(&ingest, &first.object_key()).await;
    let views = || async {
        let keys = api.store.bucket_keys("views/acme/big/").await.unwrap();
        // Its comparison with its base is beside them, made for a run of any size.
        keys.iter().filter(|k| !k.contains("/compare-")).count()
    };
    assert_eq!(
        views().await,
        0,
        "a run this small is sorted by its first request"
    );

    let token = &api.read_token;
    let by_duration = api
        .walk(token, "/v1/runs/big/tests?order=duration&limit=500")
        .await;
    assert_eq!(by_duration.len(), 6000);
    let keys: Vec<(u64, String, String)> = by_duration
        .iter()
        .map(|r| {
            (
                r["duration_ms"].as_u64().unwrap(),
                r["name"].as_str().unwrap().to_string(),
                r["test_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut expected = keys.clone();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| (&a.1, &a.2).cmp(&(&b.1, &b.2))));
    assert_eq!(keys, expected, "slowest first, ties by name");
    let ascending = api
        .walk(token, "/v1/runs/big/tests?order=duration&dir=asc&limit=500")
        .await;
    let mut expected = keys.clone();
    expected.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| (&a.1, &a.2).cmp(&(&b.1, &b.2))));
    let ascending: Vec<&str> = ascending
        .iter()
        .map(|r| r["test_id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = expected.iter().map(|k| k.2.as_str()).collect();
    assert_eq!(ascending, expected, "fastest first with dir=asc");
    let distinct: HashSet<&String> = keys.iter().map(|k| &k.2).collect();
    assert_eq!(distinct.len(), 6000, "no result twice");
    // The second walk reads the view the first one made: the same answer.
    assert_eq!(
        api.walk(token, "/v1/runs/big/tests?order=duration&limit=500")
            .await,
        by_duration
    );
    let failed = api
        .walk(
            token,
            "/v1/runs/big/tests?order=name&status=failed&limit=500",
        )
        .await;
    assert_eq!(failed.len(), 6000usize.div_ceil(7));
    let names: Vec<&str> = failed.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "by name");
    let (_, by_status) = api
        .get(token, "/v1/runs/big/tests?order=status&limit=1")
        .await;
    assert_eq!(by_status["items"][0]["status"], "failed");
    assert_eq!(
        views().await,
        4,
        "one view per ordering, direction and filter, made once"
    );

    // A second file of the run, with a test slower than all: the ordering is made anew.
    let slow = "<testsuite name=\"big\"><testcase classname=\"c\" name=\"slowest\" time=\"99\"/></testsuite>";
    let second = upload_with(
        &api.store,
        &run,
        1,
        "more.xml",
        slow.as_bytes(),
        now_ms(),
        metadata(seed),
    )
    .await;
    settle(&ingest, &second.object_key()).await;
    let (status, page) = api
        .get(token, "/v1/runs/big/tests?order=duration&limit=2")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["name"], "slowest");
    assert_eq!(page["items"][1]["test_id"], by_duration[0]["test_id"]);
    assert_eq!(views().await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_of_the_largest_sortable_size_is_sorted_when_it_settles() {
    // 250,000 tests (`MAX_SORTED_TESTS`), each with its own duration: a permutation of 0 ms to
    // 249,999 ms, so the slowest page is known without reading the run back.
    let tests = verdict_store::MAX_SORTED_TESTS;
    let api = LocalApi::start(Limits::default()).await;
    let run = run_ref("acme", "huge");
    let mut xml = String::from("<testsuite name=\"huge\">");
    for i in 0..tests {
        let ms = (i * 7919) % tests;
        xml.push_str(&format!(
            "<testcase classname=\"c\" name=\"t{i}\" time=\"{}.{:03}\"/>",
            ms / 1000,
            ms % 1000
        ));
    }
    xml.push_str("</testsuite>");
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    let file = upload_with(
        &api.store,
        &run,
        0,
        "huge.xml",
        xml.as_bytes(),
        now_ms(),
        metadata(&seeds(now_ms())[0]),
    )
    .await;
    settle(&ingest, &file.object_key()).await;
    let views = || async {
        let keys = api.store.bucket_keys("views/acme/huge/").await.unwrap();
        // Its comparison with its base is beside them, made for a run of any size.
        keys.iter().filter(|k| !k.contains("/compare-")).count()
    };
    // The delivery that settled the file may be the local API's trigger's, which makes the
    // views after the settle that ended this one's wait: they come without any request.
    let mut made = views().await;
    for _ in 0..1_200 {
        if made == 7 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        made = views().await;
    }
    assert_eq!(
        made, 7,
        "six views and the catalog, made when the run settled"
    );

    // The first sorted pages read those views: none is made by a request.
    let token = &api.read_token;
    let (status, slowest) = api
        .get(token, "/v1/runs/huge/tests?order=duration&limit=50")
        .await;
    assert_eq!(status, 200, "{slowest}");
    let durations: Vec<u64> = slowest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["duration_ms"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (tests - 50..tests).rev().collect();
    assert_eq!(durations, expected, "the slowest of the whole run");
    let (_, last_by_name) = api
        .get(token, "/v1/runs/huge/tests?order=name&dir=desc&limit=1")
        .await;
    assert_eq!(last_by_name["items"][0]["name"], "t99999");
    let (_, worst) = api
        .get(token, "/v1/runs/huge/tests?order=status&limit=1")
        .await;
    assert_eq!(worst["items"][0]["status"], "passed");
    let (_, found) = api.get(token, "/v1/tests?q=t249999").await;
    assert_eq!(found["run_id"], "huge");
    assert_eq!(found["items"][0]["name"], "t249999");
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(views().await, 7, "no request made a view or a catalog");
    // The same read of the run made its duration fold: the slowest test of the day is there.
    let (status, day) = api.get(token, "/v1/tests/slowest?window=1d&limit=1").await;
    assert_eq!(status, 200, "{day}");
    assert_eq!(day["tests"], tests);
    assert_eq!(day["items"][0]["mean_ms"], tests - 1, "{day}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn long_attempt_text_is_kept_apart_and_a_test_s_detail_reads_it_whole() {
    let api = LocalApi::start(Limits::default()).await;
    let run = run_ref("acme", "red");
    let trace = (0..40)
        .map(|i| format!("  at app.db.Pool.connect(Pool.java:{i})\n"))
        .collect::<String>();
    let output = "connecting to 10.0.0.1:5432\n".repeat(60);
    let message = format!("could not connect: {}", "refused; ".repeat(40));
    // A failure with a long message, trace and output, rerun once and failing the same way;
    // and a failure short enough to stay whole in its item.
    let report = format!(
        "<testsuite name=\"app\">\
         <testcase classname=\"app.Db\" name=\"test_pool\" time=\"1\"><failure message=\"{message}\" type=\"IOError\">{trace}</failure><system-out>{output}</system-out></testcase>\
         <testcase classname=\"app.Db\" name=\"test_pool\" time=\"1\"><failure message=\"{message}\" type=\"IOError\">{trace}</failure></testcase>\
         <testcase classname=\"app.Db\" name=\"test_short\"><failure message=\"boom\"/></testcase>\
         </testsuite>"
    );
    let parsed = verdict_formats::parse(
        report.as_bytes(),
        None,
        &verdict_formats::ParseLimits::DEFAULT,
    )
    .unwrap();
    let ingest = Ingest::new(api.store.clone().serving("parse"), Settings::default());
    let file = upload_with(
        &api.store,
        &run,
        0,
        "red.xml",
        report.as_bytes(),
        now_ms(),
        RunMetadata::default(),
    )
    .await;
    settle(&ingest, &file.object_key()).await;

    // The items hold excerpts; the text is one segment in the bucket.
    let (items, keys) = api.store.dump().await.unwrap();
    let pool = id("app.Db", "test_pool");
    let item = items
        .iter()
        .find(|i| i.get("sk").and_then(Value::as_str) == Some(format!("T#{pool}").as_str()))
        .unwrap();
    let item_bytes = serde_json::to_string(item).unwrap().len();
    assert!(
        item_bytes < 2 * verdict_model::INLINE_TEXT_BYTES + 2_000,
        "{item_bytes} bytes: {item:?}"
    );
    assert!(!item["parts"].as_str().unwrap().contains("Pool.java:39"));
    let segments: Vec<&String> = keys.iter().filter(|k| k.starts_with("text/")).collect();
    assert_eq!(segments.len(), 1, "{keys:?}");

    // The detail reads it back whole: the same as the report parsed here.
    let expected = parsed.results.iter().find(|r| r.test_id == pool).unwrap();
    let (status, full) = api
        .get(&api.read_token, &format!("/v1/runs/red/tests/{pool}"))
        .await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(full["message"].as_str(), expected.message.as_deref());
    assert_eq!(full["details"].as_str(), Some(trace.as_str()));
    assert_eq!(full["stdout"].as_str(), Some(output.as_str()));
    assert_eq!(
        full["fingerprint"].as_str(),
        expected.fingerprint.as_deref()
    );
    let attempts = full["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert!(attempts
        .iter()
        .all(|a| a["details"].as_str() == Some(trace.as_str()) && a.get("kept").is_none()));

    // Lists show the excerpt, and the same fingerprint.
    let (_, failed) = api
        .get(&api.read_token, "/v1/runs/red/tests?status=failed")
        .await;
    let listed = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["test_id"] == pool.as_str())
        .unwrap();
    let excerpt = listed["message"].as_str().unwrap();
    assert!(
        excerpt.len() < verdict_model::EXCERPT_BYTES + 20
            && message.starts_with(excerpt.trim_end_matches(verdict_model::TRUNCATION_MARKER)),
        "{excerpt}"
    );
    assert_eq!(
        listed["fingerprint"].as_str(),
        expected.fingerprint.as_deref()
    );
    let short = id("app.Db", "test_short");
    let (_, short) = api
        .get(&api.read_token, &format!("/v1/runs/red/tests/{short}"))
        .await;
    assert_eq!(short["message"], "boom");
}
