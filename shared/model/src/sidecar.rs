use crate::RunMetadata;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Per-test metadata a sidecar may add to what the report says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestOverride {
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub owner: Option<String>,
}

/// A `<report>.meta.json` file beside a report:
///
/// ```json
/// {"run": {"branch": "main", "trigger": "ci", "tags": {"os": "linux"}},
///  "test_overrides": {"<test_id>": {"tags": ["slow"], "owner": "team-a"}}}
/// ```
///
/// Unknown keys are rejected, so a typo is an error rather than silently ignored metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    #[serde(default)]
    pub run: RunMetadata,
    #[serde(default)]
    pub test_overrides: BTreeMap<String, TestOverride>,
}

/// A sidecar that could not be read, with the line and column of the problem.
#[derive(Debug, thiserror::Error)]
#[error("line {line}, column {column}: {reason}")]
pub struct SidecarError {
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl Sidecar {
    /// Reads a sidecar document.
    ///
    /// # Errors
    /// Invalid JSON, unknown keys or wrong types, with their position.
    pub fn from_reader<R: std::io::Read>(reader: R) -> Result<Sidecar, SidecarError> {
        serde_json::from_reader(reader).map_err(|e| SidecarError {
            line: e.line(),
            column: e.column(),
            reason: e.to_string(),
        })
    }

    /// Adds the sidecar's tags and owner to the result it names.
    pub fn apply(&self, result: &mut crate::TestResult) {
        if let Some(o) = self.test_overrides.get(&result.test_id) {
            for tag in &o.tags {
                if !result.tags.contains(tag) {
                    result.tags.push(tag.clone());
                }
            }
            if o.owner.is_some() {
                result.owner.clone_from(&o.owner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Trigger;

    #[test]
    fn sidecar_should_parse_run_and_overrides() {
        let s = Sidecar::from_reader(
            br#"{"run": {"branch": "main", "trigger": "ci", "tags": {"os": "linux"}},
                "test_overrides": {"abc": {"tags": ["slow"], "owner": "team-a"}}}"#
                .as_slice(),
        )
        .unwrap();
        assert_eq!(s.run.branch.as_deref(), Some("main"));
        assert_eq!(s.run.trigger, Some(Trigger::Ci));
        assert_eq!(s.test_overrides["abc"].owner.as_deref(), Some("team-a"));
    }

    #[test]
    fn when_sidecar_has_unknown_key_should_fail_with_position() {
        let e = Sidecar::from_reader(b"{\n  \"rnu\": {}}".as_slice()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("rnu"), "{e}");
    }
}
