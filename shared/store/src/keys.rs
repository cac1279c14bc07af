//! Names of things in the table and the bucket. Every key is built here, nowhere else, so the
//! layout documented in `docs/data-model.md` has one source.

use std::fmt;

/// A name the caller chose that becomes part of a key: validated against a strict allowlist so a
/// key can never be ambiguous (no `#`, no `/`) nor too long for DynamoDB (2 KB partition key).
fn valid_name(name: &str, max: usize, extra: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// A project name: lowercase letters, digits and `-`, 1–64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectName(String);

impl ProjectName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(name: &str) -> Result<ProjectName, String> {
        if valid_name(name, Self::MAX_LEN, b"-") && name.bytes().all(|b| !b.is_ascii_uppercase()) {
            Ok(ProjectName(name.to_string()))
        } else {
            Err(format!(
                "project name {name:?} must be 1-{} characters of a-z, 0-9 and '-'",
                Self::MAX_LEN
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A run key: what shards of one CI pipeline share. Letters, digits, `.`, `_`, `-`, 1–128.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunKey(String);

impl RunKey {
    pub const MAX_LEN: usize = 128;

    pub fn parse(key: &str) -> Result<RunKey, String> {
        if valid_name(key, Self::MAX_LEN, b"._-") {
            Ok(RunKey(key.to_string()))
        } else {
            Err(format!(
                "run key {key:?} must be 1-{} characters of A-Z, a-z, 0-9, '.', '_' and '-'",
                Self::MAX_LEN
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file id: 32 lowercase hex digits chosen by the server when the upload is registered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(String);

impl FileId {
    pub fn parse(id: &str) -> Result<FileId, String> {
        if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(FileId(id.to_string()))
        } else {
            Err(format!("file id {id:?} must be 32 lowercase hex digits"))
        }
    }

    /// A new random file id (128 bits from the OS).
    pub fn random() -> FileId {
        FileId(hex::encode(random_bytes::<16>()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Random bytes from the operating system's generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random generator is unavailable");
    bytes
}

/// One run of one project: the partition that holds the run, its files and its test results.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunRef {
    pub project: ProjectName,
    pub run_key: RunKey,
}

impl RunRef {
    pub fn pk(&self) -> String {
        format!("R#{}#{}", self.project, self.run_key)
    }
}

/// One uploaded file of a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileRef {
    pub run: RunRef,
    pub file_id: FileId,
}

/// Where raw uploads live in the bucket. The parse function is notified for this prefix only,
/// and writes nothing under it, so its own writes can never trigger it.
pub const RAW_PREFIX: &str = "raw/";

impl FileRef {
    /// `raw/{project}/{run_key}/{file_id}`: everything the parse function needs is in the key.
    pub fn object_key(&self) -> String {
        format!(
            "{RAW_PREFIX}{}/{}/{}",
            self.run.project, self.run.run_key, self.file_id
        )
    }

    /// The inverse of [`FileRef::object_key`].
    pub fn from_object_key(key: &str) -> Result<FileRef, String> {
        let rest = key
            .strip_prefix(RAW_PREFIX)
            .ok_or_else(|| format!("object key {key:?} is not under {RAW_PREFIX}"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let [project, run_key, file_id] = parts[..] else {
            return Err(format!(
                "object key {key:?} is not {RAW_PREFIX}<project>/<run key>/<file id>"
            ));
        };
        Ok(FileRef {
            run: RunRef {
                project: ProjectName::parse(project)?,
                run_key: RunKey::parse(run_key)?,
            },
            file_id: FileId::parse(file_id)?,
        })
    }
}

pub(crate) const SK_RUN: &str = "RUN";
pub(crate) fn file_sk(file_id: &FileId) -> String {
    format!("F#{file_id}")
}

pub(crate) const FILE_SK_PREFIX: &str = "F#";
pub(crate) const TEST_SK_PREFIX: &str = "T#";

pub(crate) fn test_sk(test_id: &str) -> String {
    format!("{TEST_SK_PREFIX}{test_id}")
}

pub(crate) fn content_sk(sha256: &str) -> String {
    format!("C#{sha256}")
}

/// Sort key of everything ordered by run time: zero-padded milliseconds, then the run key, so
/// ties never collide and string order is time order.
pub(crate) fn time_sk(created_ms: u64, run_key: &RunKey) -> String {
    format!("{created_ms:013}#{run_key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_round_trip_and_reject_anything_else() {
        let file = FileRef {
            run: RunRef {
                project: ProjectName::parse("web-app").unwrap(),
                run_key: RunKey::parse("gh-123.4_5").unwrap(),
            },
            file_id: FileId::random(),
        };
        assert_eq!(FileRef::from_object_key(&file.object_key()).unwrap(), file);
        for bad in [
            "other/web-app/r/0123456789abcdef0123456789abcdef",
            "raw/web-app/r",
            "raw/Web/r/0123456789abcdef0123456789abcdef",
            "raw/web-app/r#x/0123456789abcdef0123456789abcdef",
            "raw/web-app/r/0123",
            "raw/web-app/r/0123456789abcdef0123456789abcdef/extra",
        ] {
            assert!(FileRef::from_object_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn run_keys_are_bounded_and_allowlisted() {
        assert!(RunKey::parse(&"a".repeat(128)).is_ok());
        assert!(RunKey::parse(&"a".repeat(129)).is_err());
        assert!(RunKey::parse("").is_err());
        assert!(RunKey::parse("a/b").is_err());
        assert!(RunKey::parse("a b").is_err());
    }
}
