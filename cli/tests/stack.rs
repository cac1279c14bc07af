//! `verdict upload` and `verdict admin` against the local stack, and the README's quick start:
//! the line `make dev` prints, run as printed.

mod support;

use std::process::Command;
use support::verdict;
use verdict_tests::fresh_config;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_quick_start_line_uploads_and_waits_for_the_summary() {
    let dir = std::env::temp_dir().join(format!("verdict-dev-{}", std::process::id()));
    let dev = verdict_local::start_dev(&fresh_config(), 0, &dir)
        .await
        .unwrap();
    assert!(dev.welcome.contains(&dev.upload_token));
    let env_file = std::fs::read_to_string(dir.join("dev.env")).unwrap();
    assert!(env_file.contains(&format!("VERDICT_TOKEN={}", dev.upload_token)));
    assert!(env_file.contains(&format!("VERDICT_READ_TOKEN={}", dev.read_token)));

    let line = verdict_local::try_line(&dev.endpoint, &dev.upload_token);
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    let (code, stdout, stderr) = tokio::task::spawn_blocking({
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        move || verdict(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("pytest.xml: 4 tests, 1 failed, 0 errors"),
        "{stdout}"
    );
    assert!(
        // `make dev`'s sample run is on the same branch before it: the failure is not new.
        stdout.contains(
            "STILL FAILING tests.test_math test_div[1-0] (since run sample-1, 2 runs): \
             ZeroDivisionError: division by zero"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(": 4 tests, 2 passed, 1 failed, 0 errors, 1 skipped, 0 flaky"),
        "{stdout}"
    );

    // The same from the environment, failing the job on a failed test; a bad token exits 3.
    let (code, stdout, stderr) = tokio::task::spawn_blocking({
        let (endpoint, token) = (dev.endpoint.clone(), dev.upload_token.clone());
        move || {
            verdict(
                &[
                    "upload",
                    "--run",
                    "ci-1",
                    "--fail-on-failures",
                    "events/samples",
                ],
                &[("VERDICT_ENDPOINT", &endpoint), ("VERDICT_TOKEN", &token)],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("go-test.json: 2 tests, 1 failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("run ci-1: 6 tests, 3 passed, 2 failed"),
        "{stdout}"
    );
    let (code, stdout, _) = tokio::task::spawn_blocking({
        let (endpoint, token) = (dev.endpoint.clone(), dev.upload_token.clone());
        move || {
            verdict(
                &[
                    "upload",
                    "--run",
                    "ci-2",
                    "--wait=30",
                    "--json",
                    "events/samples/go-test.json",
                ],
                &[("VERDICT_ENDPOINT", &endpoint), ("VERDICT_TOKEN", &token)],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 0);
    let run: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(run["run"]["run_id"], "ci-2");
    assert_eq!(run["summary"]["failed"], 1);
    let (code, _, stderr) = tokio::task::spawn_blocking({
        let endpoint = dev.endpoint.clone();
        move || {
            verdict(
                &[
                    "upload",
                    "--endpoint",
                    &endpoint,
                    "--token",
                    "vdt_bad",
                    "events/samples/pytest.xml",
                ],
                &[],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_manages_projects_and_tokens() {
    let config = fresh_config();
    let env = [
        ("VERDICT_TABLE", config.table.as_str()),
        ("VERDICT_BUCKET", config.bucket.as_str()),
    ];
    let run = |args: Vec<&'static str>| {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            verdict(&args, &env)
        })
    };
    assert_eq!(run(vec!["admin", "init"]).await.unwrap().0, 0);
    let (code, out, err) = run(vec![
        "admin",
        "project",
        "create",
        "web",
        "--retention-days",
        "7",
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        run(vec!["admin", "project", "create", "web"])
            .await
            .unwrap()
            .0,
        2,
        "exists"
    );
    assert_eq!(
        run(vec!["admin", "project", "create", "Bad_Name"])
            .await
            .unwrap()
            .0,
        2
    );
    assert_eq!(
        run(vec!["admin", "project", "set-retention", "web", "30"])
            .await
            .unwrap()
            .0,
        0
    );
    assert_eq!(
        run(vec!["admin", "project", "disable", "web"])
            .await
            .unwrap()
            .0,
        0
    );
    let (_, list, _) = run(vec!["admin", "project", "list"]).await.unwrap();
    assert!(
        list.contains("web") && list.contains("30d") && list.contains("false"),
        "{list}"
    );
    assert_eq!(
        run(vec!["admin", "project", "enable", "web"])
            .await
            .unwrap()
            .0,
        0
    );
    let (_, list, _) = run(vec!["admin", "project", "list"]).await.unwrap();
    assert!(list.contains("true"), "{list}");

    let (code, token, _) = run(vec!["admin", "token", "create", "web", "--scope", "read"])
        .await
        .unwrap();
    assert_eq!(code, 0);
    let token = token.trim().to_string();
    assert!(token.starts_with("vdt_") && token.len() == 68, "{token}");
    let (_, tokens, _) = run(vec!["admin", "token", "list", "web"]).await.unwrap();
    assert!(!tokens.contains(&token), "the secret is never listed");
    let id = tokens
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let id: &'static str = Box::leak(id.into_boxed_str());
    assert_eq!(
        run(vec!["admin", "token", "revoke", "web", id])
            .await
            .unwrap()
            .0,
        0
    );
    let (_, tokens, _) = run(vec!["admin", "token", "list", "web"]).await.unwrap();
    assert!(tokens.lines().nth(1).unwrap().contains("true"), "{tokens}");
    assert_eq!(
        run(vec!["admin", "token", "revoke", "web", "nope"])
            .await
            .unwrap()
            .0,
        2
    );
}

/// The test-visualizer plan's sidecar, as people write it: flat run fields, overrides keyed by
/// the test's name, a key Verdict does not know. The sidecar's values win over the CI
/// environment's; unknown keys and names matching no test are warnings, not rejections.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_takes_the_plans_sidecar_over_the_environment() {
    let dir = std::env::temp_dir().join(format!("verdict-sidecar-{}", std::process::id()));
    let dev = verdict_local::start_dev(&fresh_config(), 0, &dir.join("dev"))
        .await
        .unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("pytest.xml");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../events/samples/pytest.xml"),
        &report,
    )
    .unwrap();
    std::fs::write(
        dir.join("pytest.xml.meta.json"),
        r#"{"run_id": "plan-run-1", "git_sha": "abc123", "branch": "from-sidecar",
            "agent_session_id": "sess-9", "env_fingerprint": "linux-x64", "trigger": "local",
            "plan_version": 2,
            "test_overrides": {"test_div[1-0]": {"owner": "math-team", "tags": ["slow"]},
                               "no_such_test": {"owner": "nobody"}}}"#,
    )
    .unwrap();
    let (code, stdout, stderr) = tokio::task::spawn_blocking({
        let (endpoint, token) = (dev.endpoint.clone(), dev.upload_token.clone());
        let report = report.display().to_string();
        move || {
            verdict(
                &["upload", "--wait=30", "--json", &report],
                &[
                    ("VERDICT_ENDPOINT", &endpoint),
                    ("VERDICT_TOKEN", &token),
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_REF_NAME", "from-environment"),
                    ("GITHUB_SHA", "fff999"),
                    ("GITHUB_RUN_ID", "77"),
                ],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("unknown key \"plan_version\" ignored"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\"no_such_test\" names no test"),
        "{stderr}"
    );
    let run: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(run["run"]["run_id"], "plan-run-1", "{run}");
    let metadata = &run["run"]["metadata"];
    assert_eq!(metadata["branch"], "from-sidecar", "{run}");
    assert_eq!(metadata["commit_sha"], "abc123");
    assert_eq!(
        metadata["ci_provider"], "github",
        "what the sidecar left out"
    );
    assert_eq!(metadata["environment_fingerprint"], "linux-x64");
    assert_eq!(metadata["agent_session_id"], "sess-9");

    let get = |path: String| -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-s", "-H"])
            .arg(format!("Authorization: Bearer {}", dev.read_token))
            .arg(format!("{}{path}", dev.endpoint))
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let tests = get("/v1/runs/plan-run-1/tests?status=failed".into());
    let id = tests["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "test_div[1-0]")
        .unwrap_or_else(|| panic!("{tests}"))["test_id"]
        .as_str()
        .unwrap()
        .to_string();
    let div = get(format!("/v1/runs/plan-run-1/tests/{id}"));
    assert_eq!(div["owner"], "math-team", "{div}");
    assert_eq!(div["tags"][0], "slow", "{div}");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upload_whose_put_response_is_lost_still_succeeds() {
    use verdict_tests::fault_proxy::{Fault, FaultProxy, Plan};
    // S3 reached through a fault proxy, quiet while the stack starts.
    let mut config = fresh_config();
    let quiet = Plan {
        rate: 0.0,
        ..Plan::nth(Fault::DropResponseAfterApply, 0)
    };
    let s3 = FaultProxy::start(config.s3_endpoint.as_deref().unwrap(), quiet).await;
    config.s3_endpoint = Some(s3.endpoint.clone());
    let dir = std::env::temp_dir().join(format!("verdict-lost-put-{}", std::process::id()));
    let dev = verdict_local::start_dev(&config, 0, &dir).await.unwrap();
    // The report's PUT is stored and its response lost: the CLI's retry meets 412.
    s3.replan(Plan {
        operations: Some(vec!["PutObject"]),
        ..Plan::nth(Fault::DropResponseAfterApply, 0)
    });
    let (code, stdout, stderr) = tokio::task::spawn_blocking({
        let (endpoint, token) = (dev.endpoint.clone(), dev.upload_token.clone());
        move || {
            verdict(
                &[
                    "upload",
                    "--wait=30",
                    "--run",
                    "lost-put",
                    "events/samples/pytest.xml",
                ],
                &[("VERDICT_ENDPOINT", &endpoint), ("VERDICT_TOKEN", &token)],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(s3.injected().get(&Fault::DropResponseAfterApply), Some(&1));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("pytest.xml: 4 tests"), "{stdout}");
}

/// A JUnit report of named tests, each `pass`, `fail` or `flaky` (a failure, then a passing
/// rerun, as pytest-rerunfailures writes it).
fn junit(tests: &[(&str, &str)]) -> String {
    let mut xml = String::from("<testsuite name=\"s\">");
    for (name, outcome) in tests {
        let case =
            |body: &str| format!("<testcase classname=\"app\" name=\"{name}\">{body}</testcase>");
        xml.push_str(&match *outcome {
            "pass" => case(""),
            "fail" => case(&format!(
                "<failure message=\"{name} | broke\">trace</failure>"
            )),
            "flaky" => case("<failure message=\"once\"/>") + &case(""),
            other => panic!("{other}"),
        });
    }
    xml + "</testsuite>"
}

/// The header and body rows of every GitHub-flavoured table in `markdown`, as a Markdown
/// parser reads them (a row is its cells' text).
fn tables(markdown: &str) -> Vec<Vec<Vec<String>>> {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let (mut tables, mut row, mut cell) = (Vec::new(), Vec::new(), None::<String>);
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Table(_)) => tables.push(Vec::new()),
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t);
                }
            }
            Event::End(TagEnd::TableCell) => row.push(cell.take().unwrap_or_default()),
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                tables.last_mut().unwrap().push(std::mem::take(&mut row));
            }
            _ => {}
        }
    }
    tables
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_wait_says_what_changed_and_writes_the_job_summary_ci_shows() {
    let dir = std::env::temp_dir().join(format!("verdict-summary-{}", std::process::id()));
    let dev = verdict_local::start_dev(&fresh_config(), 0, &dir.join("dev"))
        .await
        .unwrap();
    // A stand-in for the Buildkite agent on the PATH: it keeps what it was asked to annotate.
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let agent = bin.join("buildkite-agent");
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\necho \"$@\" > {0}/annotate.args\ncat > {0}/annotate.md\n",
            dir.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&agent)
        .status()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let upload = |run: &str, tests: &[(&str, &str)], extra: Vec<String>| {
        let report = dir.join(format!("{run}.xml"));
        std::fs::write(&report, junit(tests)).unwrap();
        let (endpoint, token, path, dir) = (
            dev.endpoint.clone(),
            dev.upload_token.clone(),
            path.clone(),
            dir.clone(),
        );
        let run = run.to_string();
        tokio::task::spawn_blocking(move || {
            let summary = dir.join("step-summary.md").display().to_string();
            let mut args = vec![
                "upload".to_string(),
                "--run".into(),
                run,
                "--wait=30".into(),
            ];
            args.extend(extra);
            args.push(report.display().to_string());
            verdict(
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
                &[
                    ("VERDICT_ENDPOINT", &endpoint),
                    ("VERDICT_TOKEN", &token),
                    ("BUILDKITE", "true"),
                    ("BUILDKITE_BRANCH", "topic"),
                    ("GITHUB_STEP_SUMMARY", &summary),
                    ("PATH", &path),
                ],
            )
        })
    };
    let (code, stdout, stderr) = upload(
        "base-1",
        &[("a", "pass"), ("b", "fail"), ("c", "fail")],
        vec!["--fail-on=new".into()],
    )
    .await
    .unwrap();
    assert_eq!(code, 1, "no base: every failure is new\n{stdout}{stderr}");
    assert!(stdout.contains("FAILED app b: b | broke"), "{stdout}");
    std::fs::remove_file(dir.join("step-summary.md")).unwrap();

    let file = dir.join("summary.md");
    let (code, stdout, stderr) = upload(
        "head-1",
        &[("a", "fail"), ("b", "fail"), ("c", "pass"), ("d", "flaky")],
        vec![
            "--fail-on=new".into(),
            format!("--summary-file={}", file.display()),
            "--dashboard-url=https://verdict.example/".into(),
        ],
    )
    .await
    .unwrap();
    assert_eq!(code, 1, "a is a new failure\n{stdout}{stderr}");
    assert!(stdout.contains("NEW FAILURE app a: a | broke"), "{stdout}");
    assert!(
        stdout.contains("STILL FAILING app b (since run base-1, 2 runs): b | broke"),
        "{stdout}"
    );
    assert!(stdout.contains("FIXED app c\n"), "{stdout}");
    assert!(
        stdout.contains("run head-1: 4 tests, 2 passed, 2 failed, 0 errors, 0 skipped, 1 flaky"),
        "{stdout}"
    );
    assert!(
        stdout.contains("compared with run base-1 (the previous run on topic): 1 new failures, 1 still failing, 1 fixed, 1 newly flaky"),
        "{stdout}"
    );

    let markdown = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("step-summary.md")).unwrap(),
        markdown
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("annotate.md")).unwrap(),
        markdown
    );
    let args = std::fs::read_to_string(dir.join("annotate.args")).unwrap();
    assert_eq!(
        args.trim(),
        "annotate --style error --context verdict-head-1"
    );
    let tables = tables(&markdown);
    assert_eq!(
        tables.len(),
        5,
        "counts, new, still, fixed, flaky:\n{markdown}"
    );
    assert_eq!(
        tables[0][0],
        [
            "Tests",
            "Passed",
            "Failed",
            "Errors",
            "Skipped",
            "Flaky",
            "Pass rate"
        ]
    );
    assert_eq!(tables[0][1], ["4", "2", "2", "0", "0", "1", "50.0%"]);
    assert_eq!(
        tables[1],
        [vec!["Test", "Message"], vec!["app a", "a | broke"]],
        "the pipe is escaped"
    );
    assert_eq!(tables[2][1], ["app b", "base-1 (2 runs)", "b | broke"]);
    assert_eq!(tables[3][1][0], "app c");
    assert_eq!(tables[4][1][0], "app d");
    assert!(
        markdown.contains("(https://verdict.example/runs/head-1)"),
        "{markdown}"
    );
    assert!(
        markdown.contains("](https://verdict.example/tests/"),
        "{markdown}"
    );

    // Nothing new failed: --fail-on=new passes the job, --fail-on=any does not.
    let same = [("a", "fail"), ("b", "fail"), ("c", "pass"), ("d", "pass")];
    let (code, stdout, _) = upload("head-2", &same, vec!["--fail-on=new".into()])
        .await
        .unwrap();
    assert_eq!(code, 0, "{stdout}");
    let (code, _, _) = upload("head-3", &same, vec!["--fail-on=any".into()])
        .await
        .unwrap();
    assert_eq!(code, 1);
    std::fs::remove_dir_all(dir).ok();
}
