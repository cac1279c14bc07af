use crate::{RunMetadata, TestResult};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Per-test metadata a sidecar may add to what the report says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestOverride {
    /// Tags to add to the test.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The test's owner.
    #[serde(default)]
    pub owner: Option<String>,
}

/// A `<report>.meta.json` file beside a report, in either of the two shapes people write:
///
/// Verdict's own, run metadata under `run`:
/// ```json
/// {"run": {"branch": "main", "trigger": "ci", "tags": {"os": "linux"}},
///  "test_overrides": {"<test id or test name>": {"tags": ["slow"], "owner": "team-a"}}}
/// ```
/// and the test-visualizer plan's, run metadata at the top level: `run_id` (the run key),
/// `git_sha`, `branch`, `agent_session_id`, `env_fingerprint`, `trigger`, beside any other
/// field of [`RunMetadata`] under its own name, and `test_overrides`.
///
/// `test_overrides` are keyed by Verdict's test id or by the test's name (see
/// [`Sidecar::override_for`]). A key Verdict does not know, at the top level, in `run` or in an
/// override, is a warning naming it ([`Sidecar::warnings`]), not a rejection: sidecars are
/// written by hand and by other tools. Invalid JSON and a value of the wrong type are errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sidecar {
    /// What the sidecar says of the run.
    pub run: RunMetadata,
    /// Tags and owners by test id.
    pub test_overrides: BTreeMap<String, TestOverride>,
    /// One line per key that was ignored, naming it.
    pub warnings: Vec<String>,
}

/// A sidecar that could not be read: where (a line and column, or the key) and why.
#[derive(Debug, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct SidecarError {
    /// `line L, column C` for invalid JSON, else the key holding the bad value.
    pub at: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The plan's top-level names for [`RunMetadata`] fields.
const ALIASES: &[(&str, &str)] = &[
    ("run_id", "run_key"),
    ("git_sha", "commit_sha"),
    ("env_fingerprint", "environment_fingerprint"),
];

impl Sidecar {
    /// Reads a sidecar document.
    ///
    /// # Errors
    /// Invalid JSON (with its line and column), a document that is not an object, or a value
    /// of the wrong type (naming its key).
    pub fn from_reader<R: std::io::Read>(reader: R) -> Result<Sidecar, SidecarError> {
        let doc: Value = serde_json::from_reader(reader).map_err(|e| SidecarError {
            at: format!("line {}, column {}", e.line(), e.column()),
            reason: e.to_string(),
        })?;
        let Value::Object(doc) = doc else {
            return Err(SidecarError {
                at: "the document".into(),
                reason: "a sidecar is a JSON object".into(),
            });
        };
        let mut warnings = Vec::new();
        let mut flat = Map::new();
        let mut nested = Map::new();
        let mut overrides = BTreeMap::new();
        for (key, value) in doc {
            match key.as_str() {
                "run" => match value {
                    Value::Object(m) => nested = m,
                    _ => return Err(wrong_type("run", "an object")),
                },
                "test_overrides" => overrides = read_overrides(value, &mut warnings)?,
                _ => {
                    let name = ALIASES
                        .iter()
                        .find(|(alias, _)| *alias == key)
                        .map_or(key.as_str(), |(_, field)| field);
                    if is_run_field(name) {
                        flat.insert(name.to_string(), value);
                    } else {
                        warnings.push(format!("unknown key {key:?} ignored"));
                    }
                }
            }
        }
        // Verdict's nested `run` and the flat fields both describe the run; the nested one is
        // the more specific, so it wins where both name a field.
        flat.extend(nested);
        flat.retain(|key, _| {
            let known = is_run_field(key);
            if !known {
                warnings.push(format!("unknown key \"run.{key}\" ignored"));
            }
            known
        });
        let run = serde_json::from_value(Value::Object(flat)).map_err(|e| SidecarError {
            at: "run metadata".into(),
            reason: e.to_string(),
        })?;
        Ok(Sidecar {
            run,
            test_overrides: overrides,
            warnings,
        })
    }

    /// The override for `result`: the one keyed by its test id, else by its name, else by
    /// `classname::name`.
    pub fn override_for(&self, result: &TestResult) -> Option<&TestOverride> {
        self.key_for(result).map(|key| &self.test_overrides[key])
    }

    /// The key of `test_overrides` that names `result`, in the order of
    /// [`Sidecar::override_for`].
    fn key_for(&self, result: &TestResult) -> Option<&String> {
        [
            result.test_id.clone(),
            result.name.clone(),
            format!("{}::{}", result.classname, result.name),
        ]
        .iter()
        .find_map(|k| self.test_overrides.get_key_value(k).map(|(key, _)| key))
    }

    /// Adds the sidecar's tags and owner to the result it names.
    pub fn apply(&self, result: &mut TestResult) {
        if let Some(o) = self.override_for(result) {
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

    /// The overrides by test id, for the results of the report (what the upload API takes),
    /// and the keys that named none of them.
    pub fn overrides_by_id<'a>(
        &self,
        results: impl IntoIterator<Item = &'a TestResult>,
    ) -> (BTreeMap<String, TestOverride>, Vec<String>) {
        let mut by_id = BTreeMap::new();
        let mut used = std::collections::BTreeSet::new();
        for r in results {
            if let Some(key) = self.key_for(r) {
                by_id.insert(r.test_id.clone(), self.test_overrides[key].clone());
                used.insert(key);
            }
        }
        let unmatched = self
            .test_overrides
            .keys()
            .filter(|k| !used.contains(k))
            .cloned()
            .collect();
        (by_id, unmatched)
    }
}

/// The fields of [`RunMetadata`], by their serialized names.
fn is_run_field(name: &str) -> bool {
    matches!(
        name,
        "run_key"
            | "project"
            | "branch"
            | "commit_sha"
            | "build_number"
            | "build_url"
            | "ci_provider"
            | "job_id"
            | "commit_message"
            | "trigger"
            | "environment_fingerprint"
            | "agent_session_id"
            | "tags"
    )
}

fn wrong_type(key: &str, expected: &str) -> SidecarError {
    SidecarError {
        at: key.to_string(),
        reason: format!("must be {expected}"),
    }
}

fn read_overrides(
    value: Value,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, TestOverride>, SidecarError> {
    let Value::Object(map) = value else {
        return Err(wrong_type("test_overrides", "an object"));
    };
    let mut out = BTreeMap::new();
    for (test, o) in map {
        let Value::Object(mut fields) = o else {
            return Err(wrong_type(&format!("test_overrides.{test}"), "an object"));
        };
        fields.retain(|k, _| {
            let known = k == "tags" || k == "owner";
            if !known {
                warnings.push(format!("unknown key \"test_overrides.{test}.{k}\" ignored"));
            }
            known
        });
        let parsed = serde_json::from_value(Value::Object(fields)).map_err(|e| SidecarError {
            at: format!("test_overrides.{test}"),
            reason: e.to_string(),
        })?;
        out.insert(test, parsed);
    }
    Ok(out)
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
        assert!(s.warnings.is_empty());
    }

    #[test]
    fn sidecar_should_read_the_plans_flat_shape() {
        let s = Sidecar::from_reader(
            br#"{"run_id": "r-7", "git_sha": "abc", "branch": "dev", "agent_session_id": "s1",
                "env_fingerprint": "linux-x64", "trigger": "local",
                "test_overrides": {"9f86d0": {"owner": "qa", "quarantine": true}},
                "generated_by": "plan"}"#
                .as_slice(),
        )
        .unwrap();
        assert_eq!(s.run.run_key.as_deref(), Some("r-7"));
        assert_eq!(s.run.commit_sha.as_deref(), Some("abc"));
        assert_eq!(s.run.environment_fingerprint.as_deref(), Some("linux-x64"));
        assert_eq!(s.run.agent_session_id.as_deref(), Some("s1"));
        assert_eq!(s.run.trigger, Some(Trigger::Local));
        assert_eq!(s.test_overrides["9f86d0"].owner.as_deref(), Some("qa"));
        assert_eq!(
            s.warnings,
            vec![
                "unknown key \"generated_by\" ignored",
                "unknown key \"test_overrides.9f86d0.quarantine\" ignored"
            ]
        );
    }

    #[test]
    fn when_sidecar_has_unknown_key_should_warn_naming_it() {
        let s = Sidecar::from_reader(b"{\n  \"rnu\": {}, \"run\": {\"brnach\": \"x\"}}".as_slice())
            .unwrap();
        assert_eq!(
            s.warnings,
            vec![
                "unknown key \"rnu\" ignored",
                "unknown key \"run.brnach\" ignored"
            ]
        );
    }

    #[test]
    fn when_sidecar_is_invalid_should_fail_with_where() {
        let e = Sidecar::from_reader(b"{\n  \"run\": }".as_slice()).unwrap_err();
        assert!(e.at.starts_with("line 2"), "{e}");
        let e = Sidecar::from_reader(br#"{"trigger": "sometimes"}"#.as_slice()).unwrap_err();
        assert!(e.reason.contains("sometimes"), "{e}");
    }

    #[test]
    fn overrides_should_match_by_id_name_or_class_and_name() {
        let case = |name: &str| crate::TestCase {
            classname: "C".into(),
            name: name.into(),
            attempts: vec![crate::Attempt::new(crate::Status::Passed, 0)],
            ..crate::TestCase::default()
        };
        let limits = crate::Limits::DEFAULT;
        let a = TestResult::from_case(case("a"), &limits).unwrap();
        let b = TestResult::from_case(case("b"), &limits).unwrap();
        let c = TestResult::from_case(case("c"), &limits).unwrap();
        let doc = format!(
            r#"{{"test_overrides": {{"{}": {{"owner": "x"}}, "b": {{"owner": "y"}},
                "C::c": {{"owner": "z"}}, "gone": {{"owner": "w"}}}}}}"#,
            a.test_id
        );
        let s = Sidecar::from_reader(doc.as_bytes()).unwrap();
        let (by_id, unmatched) = s.overrides_by_id([&a, &b, &c]);
        assert_eq!(by_id[&a.test_id].owner.as_deref(), Some("x"));
        assert_eq!(by_id[&b.test_id].owner.as_deref(), Some("y"));
        assert_eq!(by_id[&c.test_id].owner.as_deref(), Some("z"));
        assert_eq!(unmatched, vec!["gone"]);
    }
}
