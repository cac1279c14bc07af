use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a run happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A CI pipeline (push, pull request, merge queue).
    Ci,
    /// A developer's machine.
    Local,
    /// A scheduled (nightly, cron) pipeline.
    Schedule,
    /// Tests run while installing a package or tool.
    Install,
    /// Tests run after updating dependencies or a tool.
    Update,
    /// Started by hand.
    Manual,
    /// A validation run (release candidate, acceptance).
    Validation,
}

impl Trigger {
    const ALL: [Trigger; 7] = [
        Trigger::Ci,
        Trigger::Local,
        Trigger::Schedule,
        Trigger::Install,
        Trigger::Update,
        Trigger::Manual,
        Trigger::Validation,
    ];

    /// The name in sidecars, the API and the store (as serde writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Ci => "ci",
            Trigger::Local => "local",
            Trigger::Schedule => "schedule",
            Trigger::Install => "install",
            Trigger::Update => "update",
            Trigger::Manual => "manual",
            Trigger::Validation => "validation",
        }
    }

    /// The trigger of a name.
    pub fn parse(name: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// What is known of a run besides its tests. Every field is optional: a report file alone
/// carries none of it; the upload request, the CI environment or a sidecar fill it in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunMetadata {
    /// The run key (shards of one pipeline share it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_key: Option<String>,
    /// The project (always the token's on upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
    /// The branch a pull request merges into: a run of a pull request compares with the
    /// newest run of this branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    /// The CI build number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_number: Option<String>,
    /// A link to the CI build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_url: Option<String>,
    /// The CI system (`github`, `gitlab`, `buildkite`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_provider: Option<String>,
    /// The CI job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The commit's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_message: Option<String>,
    /// Why the run happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    /// What names the environment (OS, runtime) the tests ran in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_fingerprint: Option<String>,
    /// The agent session that ran the tests, for runs made by coding agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_session_id: Option<String>,
    /// Free-form tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[cfg(test)]
mod trigger_tests {
    use super::Trigger;

    #[test]
    fn a_trigger_s_name_is_the_one_serde_writes() {
        for trigger in Trigger::ALL {
            assert_eq!(
                serde_json::to_value(trigger).unwrap(),
                serde_json::json!(trigger.as_str())
            );
            assert_eq!(Trigger::parse(trigger.as_str()), Some(trigger));
        }
    }
}
