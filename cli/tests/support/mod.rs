//! What the CLI's tests share: running the `verdict` binary as a CI job would.

use std::process::Command;

/// Runs `verdict` from the repository's root with `args` and `envs`, without the CI variables of
/// the machine running the tests; its exit code, standard output and standard error.
pub(crate) fn verdict(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_verdict"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(args)
        // The CI of the machine running the tests is not the one a test plays.
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env_remove("BUILDKITE")
        .env_remove("CIRCLECI")
        .env_remove("JENKINS_URL")
        .env_remove("TF_BUILD")
        .env_remove("GITHUB_STEP_SUMMARY")
        // Its admin commands' AWS calls are checked against the operator policy.
        .env("VERDICT_AWS_CALLS_FUNCTION", "admin")
        .envs(envs.iter().copied())
        .output()
        .expect("run verdict");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
