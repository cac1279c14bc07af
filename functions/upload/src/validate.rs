//! Validation of what a client sends: pure, every field bounded, the project always from the
//! token. Each refusal names the field.

use std::collections::BTreeMap;
use verdict_http::ApiError;
use verdict_model::{RunMetadata, TestOverride};
use verdict_store::ProjectName;

const MAX_FILE_NAME: usize = 255;
const MAX_FIELD: usize = 1024;
const MAX_MESSAGE: usize = 4096;
const MAX_TAGS: usize = 50;

fn check_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.len() > max {
        return Err(ApiError::invalid(field, format!("longer than {max} bytes")));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Bounds every metadata field; the project comes from the token, never from the request.
pub(crate) fn check_metadata(
    metadata: &RunMetadata,
    project: &ProjectName,
) -> Result<(), ApiError> {
    if metadata
        .project
        .as_deref()
        .is_some_and(|p| p != project.as_str())
    {
        return Err(ApiError::invalid(
            "metadata.project",
            "the project comes from the token",
        ));
    }
    let fields = [
        ("metadata.branch", &metadata.branch),
        ("metadata.base_branch", &metadata.base_branch),
        ("metadata.commit_sha", &metadata.commit_sha),
        ("metadata.build_number", &metadata.build_number),
        ("metadata.build_url", &metadata.build_url),
        ("metadata.ci_provider", &metadata.ci_provider),
        ("metadata.job_id", &metadata.job_id),
        (
            "metadata.environment_fingerprint",
            &metadata.environment_fingerprint,
        ),
        ("metadata.agent_session_id", &metadata.agent_session_id),
    ];
    for (field, value) in fields {
        if let Some(v) = value {
            check_text(field, v, MAX_FIELD)?;
        }
    }
    if let Some(m) = &metadata.commit_message {
        check_text("metadata.commit_message", m, MAX_MESSAGE)?;
    }
    if metadata.tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(
            "metadata.tags",
            format!("more than {MAX_TAGS} tags"),
        ));
    }
    for (k, v) in &metadata.tags {
        check_text("metadata.tags", k, 128)?;
        check_text("metadata.tags", v, 256)?;
    }
    Ok(())
}

const MAX_OVERRIDES_BYTES: usize = 64 * 1024;

/// Test overrides: 64-hex test ids, bounded tags and owners, 64 KiB in all (they are stored on
/// the file item).
pub(crate) fn check_overrides(overrides: &BTreeMap<String, TestOverride>) -> Result<(), ApiError> {
    let size = serde_json::to_string(overrides).map_or(usize::MAX, |s| s.len());
    if size > MAX_OVERRIDES_BYTES {
        return Err(ApiError::invalid(
            "test_overrides",
            format!("larger than {MAX_OVERRIDES_BYTES} bytes"),
        ));
    }
    for (test_id, o) in overrides {
        if !verdict_model::is_test_id(test_id) {
            return Err(ApiError::invalid(
                "test_overrides",
                format!("{test_id:?} is not a test id"),
            ));
        }
        for tag in &o.tags {
            check_text("test_overrides.tags", tag, 128)?;
        }
        if let Some(owner) = &o.owner {
            check_text("test_overrides.owner", owner, 256)?;
        }
    }
    Ok(())
}

pub(crate) fn check_file_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::invalid("file_name", "is empty"));
    }
    check_text("file_name", name, MAX_FILE_NAME)
}

pub(crate) fn check_format(format: Option<&str>) -> Result<(), ApiError> {
    match format {
        None | Some("auto") => Ok(()),
        Some(f) if verdict_formats::Format::parse(f).is_some() => Ok(()),
        Some(f) => Err(ApiError::invalid(
            "format",
            format!("{f:?} is not one of auto, {}", format_names()),
        )),
    }
}

fn format_names() -> String {
    verdict_formats::Format::ALL
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn check_sha256(sha: Option<&str>) -> Result<(), ApiError> {
    match sha {
        Some(s) if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Err(ApiError::invalid("sha256", "must be 64 hex digits"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: &ApiError) -> String {
        assert_eq!(err.status.as_u16(), 400, "{err:?}");
        err.message
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn metadata_is_bounded_and_its_project_is_the_token_s() {
        let project = ProjectName::parse("acme").unwrap();
        let mut metadata = RunMetadata {
            branch: Some("main".into()),
            ..RunMetadata::default()
        };
        assert_eq!(check_metadata(&metadata, &project), Ok(()));
        metadata.project = Some("other".into());
        let err = check_metadata(&metadata, &project).unwrap_err();
        assert_eq!(field_of(&err), "metadata.project");
        metadata.project = Some("acme".into());
        metadata.branch = Some("b".repeat(MAX_FIELD + 1));
        let err = check_metadata(&metadata, &project).unwrap_err();
        assert_eq!(field_of(&err), "metadata.branch");
        metadata.branch = Some("a\u{7}bell".into());
        assert!(check_metadata(&metadata, &project)
            .unwrap_err()
            .message
            .contains("control characters"));
        metadata.branch = None;
        metadata.tags = (0..=MAX_TAGS)
            .map(|i| (i.to_string(), "v".into()))
            .collect();
        let err = check_metadata(&metadata, &project).unwrap_err();
        assert_eq!(field_of(&err), "metadata.tags");
    }

    #[test]
    fn overrides_name_real_test_ids_and_stay_small() {
        let id = "ab".repeat(32);
        let mut overrides = BTreeMap::from([(
            id.clone(),
            TestOverride {
                owner: Some("team-a".into()),
                ..TestOverride::default()
            },
        )]);
        assert_eq!(check_overrides(&overrides), Ok(()));
        overrides.insert("not-an-id".into(), TestOverride::default());
        assert_eq!(
            field_of(&check_overrides(&overrides).unwrap_err()),
            "test_overrides"
        );
        overrides.remove("not-an-id");
        overrides.get_mut(&id).unwrap().tags = vec!["t".repeat(129)];
        assert_eq!(
            field_of(&check_overrides(&overrides).unwrap_err()),
            "test_overrides.tags"
        );
    }

    #[test]
    fn names_formats_and_checksums_are_checked() {
        assert_eq!(field_of(&check_file_name("").unwrap_err()), "file_name");
        assert_eq!(
            field_of(&check_file_name(&"n".repeat(MAX_FILE_NAME + 1)).unwrap_err()),
            "file_name"
        );
        assert_eq!(check_file_name("report.xml"), Ok(()));
        assert_eq!(check_format(None), Ok(()));
        assert_eq!(check_format(Some("auto")), Ok(()));
        assert_eq!(check_format(Some("junit")), Ok(()));
        let err = check_format(Some("excel")).unwrap_err();
        assert!(err.message.contains("junit"), "names the formats: {err:?}");
        assert_eq!(check_sha256(Some(&"a".repeat(64))), Ok(()));
        assert_eq!(field_of(&check_sha256(Some("abc")).unwrap_err()), "sha256");
        assert_eq!(
            field_of(&check_sha256(Some(&"g".repeat(64))).unwrap_err()),
            "sha256"
        );
    }
}
