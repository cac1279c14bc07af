//! The dashboard in a real browser: the local stack with real reports ingested by `verdict
//! upload` (the samples and public reports from the corpus, on two branches, with a file that
//! cannot be read), then the Playwright tests of functions/web/ui/tests driving Debian's
//! Chromium against it. They compare every page with the API's answers for the same view, and
//! write screenshots of each page under target/dashboard/screenshots.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::verdict;
use verdict_tests::fresh_config;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn corpus(path: &str) -> String {
    let file = root().join("../shared/corpus").join(path);
    assert!(
        file.is_file(),
        "the corpus is not beside the repository: {}",
        file.display()
    );
    file.to_string_lossy().into_owned()
}

/// `verdict` with owned arguments, off the test's runtime.
async fn verdict_owned(args: Vec<String>, env: Vec<(String, String)>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        verdict(&args, &env)
    })
    .await
    .unwrap()
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Uploads `files` as run `run` from a GitHub Actions job on `branch` (a pull request into
/// `base` when given) at `sha`, waiting for the result.
async fn upload(
    endpoint: &str,
    token: &str,
    run: &str,
    branch: &str,
    base: Option<&str>,
    sha: &str,
    files: Vec<String>,
) {
    let mut env: Vec<(String, String)> = vec![
        ("VERDICT_ENDPOINT".into(), endpoint.into()),
        ("VERDICT_TOKEN".into(), token.into()),
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("GITHUB_SHA".into(), sha.into()),
        ("GITHUB_RUN_ID".into(), run.into()),
    ];
    match base {
        Some(base) => {
            env.push(("GITHUB_HEAD_REF".into(), branch.into()));
            env.push(("GITHUB_BASE_REF".into(), base.into()));
        }
        None => env.push(("GITHUB_REF_NAME".into(), branch.into())),
    }
    let mut args: Vec<String> = ["upload", "--run", run, "--wait"]
        .map(String::from)
        .to_vec();
    args.extend(files);
    let (code, out, err) = verdict_owned(args, env).await;
    // A red run exits 0 without --fail-on; a file that cannot be read exits 1.
    assert!(
        code == 0 || code == 1,
        "upload of {run}: {code}\n{out}{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_shows_what_the_api_answers_in_a_real_browser() {
    let ui = root().join("functions/web/ui");
    let playwright = ui.join("node_modules/.bin/playwright");
    assert!(
        playwright.is_file(),
        "{} is missing: `make ui` installs the dashboard's packages",
        playwright.display()
    );
    let config = fresh_config();
    let dir = std::env::temp_dir().join(format!("verdict-dashboard-{}", std::process::id()));
    let dev = verdict_local::start_dev(&config, 0, &dir).await.unwrap();
    assert!(dev.welcome.contains(&dev.dashboard), "{}", dev.welcome);
    let (endpoint, token) = (dev.endpoint.as_str(), dev.upload_token.as_str());

    let samples = || {
        vec![
            "events/samples/pytest.xml".to_string(),
            "events/samples/go-test.json".into(),
        ]
    };
    let huge = corpus("junit/jenkinsci__junit-plugin/junit-report-huge.xml");
    let flaky = corpus(
        "junit/mikepenz__action-junit-report/junit_flaky_failure/mixed_flaky_and_passed.xml",
    );
    let nextest = corpus("junit/nextest-rs__nextest/fixture-project-junit.xml");
    let two = corpus("junit/jenkinsci__junit-plugin/junit-report-494.xml");
    let always = corpus("junit/jenkinsci__junit-plugin/gh-237/TEST-io.olamy.AlwaysFailTest.xml");
    let mut first = samples();
    first.extend([nextest.clone(), two.clone()]);
    upload(endpoint, token, "main-1", "main", None, "1111111111", first).await;
    for (run, sha) in [("main-2", "2222222222"), ("main-3", "3333333333")] {
        let mut files = samples();
        files.extend([nextest.clone(), two.clone(), huge.clone(), flaky.clone()]);
        upload(endpoint, token, run, "main", None, sha, files).await;
    }
    let mut pr = samples();
    pr.extend([huge.clone(), always]);
    upload(
        endpoint,
        token,
        "pr-4",
        "feature/x",
        Some("main"),
        "4444444444",
        pr,
    )
    .await;
    // A report cut off mid-element: its upload fails, with the position.
    let broken = dir.join("broken-report.xml");
    std::fs::write(
        &broken,
        "<testsuite name=\"s\">\n  <testcase name=\"a\"/>\n  <testcase name=",
    )
    .unwrap();
    upload(
        endpoint,
        token,
        "main-5",
        "main",
        None,
        "5555555555",
        vec![broken.to_string_lossy().into_owned()],
    )
    .await;

    // A read token made by `verdict admin`, with its sign-in link, then revoked.
    let admin_env = vec![
        ("VERDICT_TABLE".to_string(), config.table.clone()),
        ("VERDICT_BUCKET".to_string(), config.bucket.clone()),
    ];
    let admin = |args: &[&str]| verdict_owned(owned(args), admin_env.clone());
    let create = [
        "admin",
        "token",
        "create",
        "demo",
        "--scope",
        "read",
        "--dashboard-url",
        endpoint,
    ];
    let (code, revoked, err) = admin(&create).await;
    assert_eq!(code, 0, "{revoked}{err}");
    let revoked = revoked.trim().to_string();
    assert!(
        err.contains(&format!("dashboard: {endpoint}/#token={revoked}")),
        "{err}"
    );
    let token_id = err.split_whitespace().nth(1).unwrap().to_string();
    let (code, out, err) = admin(&["admin", "token", "revoke", "demo", &token_id]).await;
    assert_eq!(code, 0, "{out}{err}");

    let target = root().join("target/dashboard");
    let screenshots = target.join("screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    // The HTML report, as a CI job keeps it: with its upload token.
    let report = target.join("report-main-3.html");
    let report_path = report.to_string_lossy().into_owned();
    let env = vec![
        ("VERDICT_ENDPOINT".to_string(), dev.endpoint.clone()),
        ("VERDICT_TOKEN".to_string(), dev.upload_token.clone()),
    ];
    let (code, out, err) = verdict_owned(
        owned(&["report", "--run", "main-3", "--html", &report_path]),
        env,
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let output = tokio::task::spawn_blocking({
        let (endpoint, read) = (dev.endpoint.clone(), dev.read_token.clone());
        move || {
            Command::new(playwright)
                .current_dir(&ui)
                .arg("test")
                .env("VERDICT_WEB_URL", endpoint)
                .env("VERDICT_READ_TOKEN", read)
                .env("VERDICT_REVOKED_TOKEN", revoked)
                .env("VERDICT_SCREENSHOTS", &screenshots)
                .env("VERDICT_HTML_EXPORT", &report)
                .output()
                .expect("run playwright")
        }
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(target.join("playwright.log"), &text).unwrap();
    assert!(output.status.success(), "the browser tests failed:\n{text}");
}
