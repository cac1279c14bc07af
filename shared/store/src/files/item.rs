//! What a file item holds, and reading it back.

use crate::attrs::{get_map, get_n, get_s, get_u64, Item};
use crate::counts::{summary_from, COUNTERS};
use crate::keys::{FileId, FileRef, ProjectName, RunKey, RunRef, FILE_SK_PREFIX};
use crate::{Store, StoreError};
use std::collections::BTreeMap;
use verdict_model::{Summary, TestOverride};

/// Where a file is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// Registered; its bytes may not have arrived.
    Pending,
    /// Claimed by an invocation that is ingesting it.
    Processing,
    /// Ingested: its results count in the run.
    Done,
    /// Could not be ingested; see its error.
    Failed,
    /// The same bytes as another file of the run, which counts instead.
    Duplicate,
}

impl FileState {
    const ALL: [FileState; 5] = [
        FileState::Pending,
        FileState::Processing,
        FileState::Done,
        FileState::Failed,
        FileState::Duplicate,
    ];

    /// The stored and presented name.
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Pending => "pending",
            FileState::Processing => "processing",
            FileState::Done => "done",
            FileState::Failed => "failed",
            FileState::Duplicate => "duplicate",
        }
    }

    fn parse(s: &str) -> Option<FileState> {
        FileState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether nothing is left to do with the file.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            FileState::Done | FileState::Failed | FileState::Duplicate
        )
    }
}

/// Why a file could not be ingested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileErrorKind {
    /// No content at all.
    Empty,
    /// The content matches no format Verdict reads, or not the one declared.
    UnknownFormat,
    /// Not well-formed in its format.
    Malformed,
    /// The file ends inside the document.
    Truncated,
    /// Bytes that are not text in the document's encoding.
    Encoding,
    /// An XML entity other than the predefined five.
    Entity,
    /// A piece of the document larger or deeper than the parser allows.
    LimitExceeded,
    /// A compressed file that inflates past the allowed size or ratio.
    TooLarge,
    /// The bytes could not be read or decompressed.
    Io,
    /// The bytes' SHA-256 is not the one the upload declared.
    Checksum,
    /// The store refused a write for good.
    Store,
    /// Ingestion stopped on a bug.
    Internal,
    /// Claimed too often without settling.
    GaveUp,
    /// No bytes arrived for a registered upload.
    NotUploaded,
}

impl FileErrorKind {
    const ALL: [FileErrorKind; 14] = [
        FileErrorKind::Empty,
        FileErrorKind::UnknownFormat,
        FileErrorKind::Malformed,
        FileErrorKind::Truncated,
        FileErrorKind::Encoding,
        FileErrorKind::Entity,
        FileErrorKind::LimitExceeded,
        FileErrorKind::TooLarge,
        FileErrorKind::Io,
        FileErrorKind::Checksum,
        FileErrorKind::Store,
        FileErrorKind::Internal,
        FileErrorKind::GaveUp,
        FileErrorKind::NotUploaded,
    ];

    /// The stored and presented name (the parser's names for the parser's kinds).
    pub fn as_str(self) -> &'static str {
        match self {
            FileErrorKind::Empty => "empty",
            FileErrorKind::UnknownFormat => "unknown_format",
            FileErrorKind::Malformed => "malformed",
            FileErrorKind::Truncated => "truncated",
            FileErrorKind::Encoding => "encoding",
            FileErrorKind::Entity => "entity",
            FileErrorKind::LimitExceeded => "limit_exceeded",
            FileErrorKind::TooLarge => "too_large",
            FileErrorKind::Io => "io",
            FileErrorKind::Checksum => "checksum",
            FileErrorKind::Store => "store",
            FileErrorKind::Internal => "internal",
            FileErrorKind::GaveUp => "gave_up",
            FileErrorKind::NotUploaded => "not_uploaded",
        }
    }

    /// The kind of a stored name.
    pub fn parse(name: &str) -> Option<FileErrorKind> {
        FileErrorKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for FileErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a file could not be ingested, with the parser's position when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// What kind of problem.
    pub kind: FileErrorKind,
    /// What went wrong, for a person.
    pub message: String,
    /// 1-based line of the problem in the file, when the parser knows it.
    pub line: Option<u64>,
    /// 1-based column of the problem.
    pub column: Option<u64>,
    /// Byte offset of the problem.
    pub offset: Option<u64>,
}

impl FileError {
    /// An error of the whole file, at no position in it.
    pub fn of_file(kind: FileErrorKind, message: impl Into<String>) -> FileError {
        FileError {
            kind,
            message: message.into(),
            line: None,
            column: None,
            offset: None,
        }
    }
}

/// A file item as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FileItem {
    /// Which file of which run.
    pub file: FileRef,
    /// The file's name as the client gave it (for people; never part of a key).
    pub name: String,
    /// Its size in bytes, as declared or received.
    pub size: u64,
    /// The SHA-256 the client declared.
    pub declared_sha256: Option<String>,
    /// The format the client declared.
    pub format_hint: Option<String>,
    /// Where the file is in its life.
    pub state: FileState,
    /// When it was registered.
    pub created_ms: u64,
    /// The format it was read as, once ingested.
    pub format: Option<String>,
    /// The SHA-256 of its bytes, once read.
    pub sha256: Option<String>,
    /// Its own results, once `done`.
    pub counts: Option<Summary>,
    /// What the parser noticed but read past (at most 100 kept).
    pub warnings: Vec<String>,
    /// Why it `failed`.
    pub error: Option<FileError>,
    /// The file with the same bytes, when a `duplicate`.
    pub duplicate_of: Option<FileId>,
    /// The file's slowest tests (for the slowest-tests endpoint).
    pub slowest: Vec<SlowTest>,
    /// Tags and owners to add to this file's tests.
    pub test_overrides: BTreeMap<String, TestOverride>,
    /// How many times the file was claimed for parsing (each delivery and sweep that got it).
    pub claims: u64,
}

/// One of a file's slowest tests.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlowTest {
    /// The test's id.
    pub test_id: String,
    /// The test's name.
    pub name: String,
    /// Its duration in this file.
    pub duration_ms: u64,
}

/// How many of its slowest tests a file item keeps.
pub const SLOWEST_PER_FILE: usize = 20;

/// A file item as read (`None`: not a readable file item).
pub(crate) fn file_from_item(item: &Item) -> Option<FileItem> {
    let run = RunRef {
        project: ProjectName::parse(get_s(item, "project")?).ok()?,
        run_key: RunKey::parse(get_s(item, "run_key")?).ok()?,
    };
    let file = FileRef {
        run,
        file_id: FileId::parse(get_s(item, "file_id")?).ok()?,
    };
    let error = match get_map(item, "error") {
        None => None,
        Some(e) => Some(FileError {
            kind: FileErrorKind::parse(get_s(e, "kind")?)?,
            message: get_s(e, "message").unwrap_or_default().to_string(),
            line: get_n(e, "line").and_then(|v| u64::try_from(v).ok()),
            column: get_n(e, "column").and_then(|v| u64::try_from(v).ok()),
            offset: get_n(e, "offset").and_then(|v| u64::try_from(v).ok()),
        }),
    };
    let text = |name| get_s(item, name).map(str::to_string);
    Some(FileItem {
        file,
        name: get_s(item, "name").unwrap_or_default().to_string(),
        size: get_u64(item, "size"),
        declared_sha256: text("declared_sha256"),
        format_hint: text("format_hint"),
        state: FileState::parse(get_s(item, "state")?)?,
        created_ms: get_u64(item, "created_ms"),
        format: text("format"),
        sha256: text("sha256"),
        counts: get_map(item, "counts").map(|m| summary_from(COUNTERS.map(|k| get_u64(m, k)))),
        warnings: get_s(item, "warnings")
            .and_then(|w| serde_json::from_str(w).ok())
            .unwrap_or_default(),
        error,
        duplicate_of: get_s(item, "duplicate_of").and_then(|id| FileId::parse(id).ok()),
        slowest: get_s(item, "slowest")
            .and_then(|w| serde_json::from_str(w).ok())
            .unwrap_or_default(),
        test_overrides: get_s(item, "test_overrides")
            .and_then(|w| serde_json::from_str(w).ok())
            .unwrap_or_default(),
        claims: get_u64(item, "claims"),
    })
}

impl Store {
    /// A file's item (strongly consistent).
    pub async fn get_file(&self, file: &FileRef) -> Result<Option<FileItem>, StoreError> {
        Ok(self
            .get_file_item(file)
            .await?
            .as_ref()
            .and_then(file_from_item))
    }

    pub(crate) async fn get_file_item(&self, file: &FileRef) -> Result<Option<Item>, StoreError> {
        self.read_item("GetItem file", file.item_key(), true).await
    }

    /// Every file of a run (one Query on the run's partition; a run has few files).
    pub async fn list_files(&self, run: &RunRef) -> Result<Vec<FileItem>, StoreError> {
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", crate::attrs::s(run.pk()))
            .expression_attribute_values(":prefix", crate::attrs::s(FILE_SK_PREFIX))
            .consistent_read(true);
        let items = self.query_all("Query files", query).await?;
        Ok(items.iter().filter_map(file_from_item).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_and_error_kind_reads_back_from_its_name() {
        for state in FileState::ALL {
            assert_eq!(FileState::parse(state.as_str()), Some(state));
        }
        for kind in FileErrorKind::ALL {
            assert_eq!(FileErrorKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(FileErrorKind::parse("nonsense"), None);
    }
}
