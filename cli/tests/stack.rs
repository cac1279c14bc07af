//! `verdict upload` and `verdict admin` against the local stack, and the README's quick start:
//! the line `make dev` prints, run as printed.

use std::process::Command;
use verdict_tests::fresh_config;

fn verdict(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(args)
        .envs(envs.iter().copied())
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env_remove("BUILDKITE")
        .env_remove("CIRCLECI")
        .env_remove("JENKINS_URL")
        .env_remove("TF_BUILD")
        .output()
        .expect("run verdict");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

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
        stdout
            .contains("FAILED tests.test_math test_div[1-0]: ZeroDivisionError: division by zero"),
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
