//! Run metadata and the run key from the CI environment.
//!
//! The run key is what the shards (parallel jobs) of one pipeline share, so their files merge
//! into one run; a re-run of a job in the same pipeline keeps it too, so its results join the
//! run as new attempts:
//!
//! | CI | detected by | run key |
//! |---|---|---|
//! | GitHub Actions | `GITHUB_ACTIONS` | `gh-{GITHUB_RUN_ID}` |
//! | GitLab CI | `GITLAB_CI` | `gl-{CI_PIPELINE_ID}` |
//! | Buildkite | `BUILDKITE` | `bk-{BUILDKITE_BUILD_ID}` |
//! | CircleCI | `CIRCLECI` | `cc-{CIRCLE_WORKFLOW_ID}` |
//! | Jenkins | `JENKINS_URL` | `jk-{BUILD_TAG}` |
//! | Azure Pipelines | `TF_BUILD` | `az-{BUILD_BUILDID}` |
//! | none | — | `local-{commit sha prefix}-{unix seconds}` |
//!
//! Characters outside the run-key alphabet become `-`.

use std::collections::HashMap;
use verdict_model::{RunMetadata, Trigger};

/// What the environment says of the run.
pub(crate) struct Detected {
    pub run_key: String,
    pub metadata: RunMetadata,
}

/// Seconds since the epoch, for [`detect`]'s local run keys.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `fill_from_git` completes the metadata outside CI (branch, commit, message from git).
pub(crate) fn detect(
    env: &HashMap<String, String>,
    now_secs: u64,
    fill_from_git: impl FnOnce(&mut RunMetadata),
) -> Detected {
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    let mut m = RunMetadata::default();
    let key;
    if get("GITHUB_ACTIONS").is_some() {
        m.ci_provider = Some("github".into());
        m.branch = get("GITHUB_HEAD_REF").or_else(|| get("GITHUB_REF_NAME"));
        m.base_branch = get("GITHUB_BASE_REF");
        m.commit_sha = get("GITHUB_SHA");
        m.build_number = get("GITHUB_RUN_NUMBER");
        m.job_id = get("GITHUB_JOB");
        if let (Some(server), Some(repo), Some(id)) = (
            get("GITHUB_SERVER_URL"),
            get("GITHUB_REPOSITORY"),
            get("GITHUB_RUN_ID"),
        ) {
            m.build_url = Some(format!("{server}/{repo}/actions/runs/{id}"));
        }
        key = get("GITHUB_RUN_ID").map(|id| format!("gh-{id}"));
    } else if get("GITLAB_CI").is_some() {
        m.ci_provider = Some("gitlab".into());
        m.branch = get("CI_COMMIT_REF_NAME");
        m.base_branch = get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME");
        m.commit_sha = get("CI_COMMIT_SHA");
        m.build_number = get("CI_PIPELINE_IID");
        m.build_url = get("CI_PIPELINE_URL");
        m.job_id = get("CI_JOB_ID");
        m.commit_message = get("CI_COMMIT_MESSAGE");
        key = get("CI_PIPELINE_ID").map(|id| format!("gl-{id}"));
    } else if get("BUILDKITE").is_some() {
        m.ci_provider = Some("buildkite".into());
        m.branch = get("BUILDKITE_BRANCH");
        // "false" when the build is not of a pull request.
        m.base_branch = get("BUILDKITE_PULL_REQUEST_BASE_BRANCH")
            .filter(|_| get("BUILDKITE_PULL_REQUEST").is_some_and(|pr| pr != "false"));
        m.commit_sha = get("BUILDKITE_COMMIT");
        m.build_number = get("BUILDKITE_BUILD_NUMBER");
        m.build_url = get("BUILDKITE_BUILD_URL");
        m.job_id = get("BUILDKITE_JOB_ID");
        m.commit_message = get("BUILDKITE_MESSAGE");
        key = get("BUILDKITE_BUILD_ID").map(|id| format!("bk-{id}"));
    } else if get("CIRCLECI").is_some() {
        m.ci_provider = Some("circleci".into());
        m.branch = get("CIRCLE_BRANCH");
        m.commit_sha = get("CIRCLE_SHA1");
        m.build_number = get("CIRCLE_BUILD_NUM");
        m.build_url = get("CIRCLE_BUILD_URL");
        m.job_id = get("CIRCLE_JOB");
        key = get("CIRCLE_WORKFLOW_ID").map(|id| format!("cc-{id}"));
    } else if get("JENKINS_URL").is_some() {
        m.ci_provider = Some("jenkins".into());
        m.branch = get("BRANCH_NAME").or_else(|| get("GIT_BRANCH"));
        m.base_branch = get("CHANGE_TARGET");
        m.commit_sha = get("GIT_COMMIT");
        m.build_number = get("BUILD_NUMBER");
        m.build_url = get("BUILD_URL");
        m.job_id = get("JOB_NAME");
        key = get("BUILD_TAG").map(|id| format!("jk-{id}"));
    } else if get("TF_BUILD").is_some() {
        m.ci_provider = Some("azure".into());
        m.branch = get("BUILD_SOURCEBRANCHNAME");
        m.base_branch = get("SYSTEM_PULLREQUEST_TARGETBRANCH")
            .map(|b| b.trim_start_matches("refs/heads/").to_string());
        m.commit_sha = get("BUILD_SOURCEVERSION");
        m.build_number = get("BUILD_BUILDNUMBER");
        m.job_id = get("SYSTEM_JOBID");
        m.commit_message = get("BUILD_SOURCEVERSIONMESSAGE");
        key = get("BUILD_BUILDID").map(|id| format!("az-{id}"));
    } else {
        fill_from_git(&mut m);
        key = None;
    }
    m.trigger = Some(if m.ci_provider.is_some() {
        Trigger::Ci
    } else {
        Trigger::Local
    });
    let run_key = key.unwrap_or_else(|| {
        let sha = m.commit_sha.as_deref().unwrap_or("nogit");
        format!("local-{}-{now_secs}", &sha[..sha.len().min(12)])
    });
    Detected {
        run_key: sanitize(&run_key),
        metadata: m,
    }
}

/// A run key in the server's alphabet (`[A-Za-z0-9._-]`, at most 128 characters).
pub(crate) fn sanitize(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect()
}

/// Branch and commit from git, for runs outside CI.
pub(crate) fn from_git(metadata: &mut RunMetadata) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    if metadata.commit_sha.is_none() {
        metadata.commit_sha = git(&["rev-parse", "HEAD"]);
    }
    if metadata.branch.is_none() {
        metadata.branch = git(&["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD");
    }
    if metadata.commit_message.is_none() {
        metadata.commit_message = git(&["log", "-1", "--format=%s"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn shards_of_one_pipeline_share_a_run_key() {
        let gh = |job: &str, attempt: &str| {
            detect(
                &env(&[
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_RUN_ID", "987"),
                    ("GITHUB_RUN_ATTEMPT", attempt),
                    ("GITHUB_JOB", job),
                    ("GITHUB_REF_NAME", "main"),
                    ("GITHUB_SHA", "abc"),
                    ("GITHUB_SERVER_URL", "https://github.com"),
                    ("GITHUB_REPOSITORY", "o/r"),
                ]),
                0,
                |_| {},
            )
        };
        let (a, b) = (gh("test-1", "1"), gh("test-2", "2"));
        assert_eq!(a.metadata.base_branch, None, "a push, not a pull request");
        let pull_request = detect(
            &env(&[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_HEAD_REF", "fix-it"),
                ("GITHUB_BASE_REF", "main"),
            ]),
            0,
            |_| {},
        );
        assert_eq!(
            (
                pull_request.metadata.branch.as_deref(),
                pull_request.metadata.base_branch.as_deref()
            ),
            (Some("fix-it"), Some("main"))
        );
        let buildkite = |pr: &str| {
            detect(
                &env(&[
                    ("BUILDKITE", "true"),
                    ("BUILDKITE_PULL_REQUEST", pr),
                    ("BUILDKITE_PULL_REQUEST_BASE_BRANCH", "main"),
                ]),
                0,
                |_| {},
            )
            .metadata
            .base_branch
        };
        assert_eq!(
            (buildkite("42").as_deref(), buildkite("false")),
            (Some("main"), None)
        );
        assert_eq!(
            (a.run_key.as_str(), b.run_key.as_str()),
            ("gh-987", "gh-987")
        );
        assert_eq!(
            a.metadata.build_url.as_deref(),
            Some("https://github.com/o/r/actions/runs/987")
        );
        assert_eq!(a.metadata.trigger, Some(Trigger::Ci));
        let jenkins = detect(
            &env(&[("JENKINS_URL", "x"), ("BUILD_TAG", "jenkins-my job/7")]),
            0,
            |_| {},
        );
        assert_eq!(jenkins.run_key, "jk-jenkins-my-job-7");
        let local = detect(&env(&[]), 1700000000, |m| {
            m.commit_sha = Some("0123456789abcdef".into());
        });
        assert_eq!(local.run_key, "local-0123456789ab-1700000000");
        assert_eq!(local.metadata.trigger, Some(Trigger::Local));
    }
}
