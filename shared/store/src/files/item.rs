//! What a file item holds, and reading it back.

use crate::attrs::{get_map, get_n, get_s, get_u64, s, Item, CREATED_MS, PROJECT, RUN_KEY};
use crate::counts::{summary_from, Delta, COUNTERS};
use crate::keys::{uploads_pk, FileId, FileRef, ProjectName, RunKey, RunRef, FILE_SK_PREFIX};
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::BTreeMap;
use verdict_model::{Summary, TestOverride};

/// The file item's own attributes (besides the common ones in `attrs.rs`).
pub(crate) mod attr {
    pub(crate) const FILE_ID: &str = "file_id";
    pub(crate) const NAME: &str = "name";
    pub(crate) const SIZE: &str = "size";
    pub(crate) const STATE: &str = "state";
    pub(crate) const DECLARED_SHA256: &str = "declared_sha256";
    pub(crate) const FORMAT_HINT: &str = "format_hint";
    pub(crate) const TEST_OVERRIDES: &str = "test_overrides";
    pub(crate) const SWEEP_PK: &str = "sweep_pk";
    pub(crate) const SWEEP_SK: &str = "sweep_sk";
    pub(crate) const LEASE_OWNER: &str = "lease_owner";
    pub(crate) const LEASE_UNTIL: &str = "lease_until";
    pub(crate) const CLAIMS: &str = "claims";
    /// How far the file's last invocation got (`progress.rs`), until it settles.
    pub(crate) const PROGRESS: &str = "progress";
    pub(crate) const FORMAT: &str = "format";
    pub(crate) const SHA256: &str = "sha256";
    pub(crate) const COUNTS: &str = "counts";
    pub(crate) const CONTRIBUTION: &str = "contribution";
    pub(crate) const WARNINGS: &str = "warnings";
    pub(crate) const WARNING_COUNT: &str = "warning_count";
    pub(crate) const SETTLED_MS: &str = "settled_ms";
    pub(crate) const ERROR: &str = "error";
    pub(crate) const DUPLICATE_OF: &str = "duplicate_of";
    pub(crate) const UPL_PK: &str = "upl_pk";
    pub(crate) const UPL_SK: &str = "upl_sk";
    /// The attributes of the map in [`ERROR`].
    pub(crate) mod error {
        pub(crate) const KIND: &str = "kind";
        pub(crate) const MESSAGE: &str = "message";
        pub(crate) const LINE: &str = "line";
        pub(crate) const COLUMN: &str = "column";
        pub(crate) const OFFSET: &str = "offset";
    }
}

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

    /// The state a name (its [`FileState::as_str`]) names.
    pub fn parse(s: &str) -> Option<FileState> {
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

/// The attributes that say a file's state: the state, and the `uploads` index partition of the
/// project's files in that state (a file's entry moves with it).
pub(crate) fn state_attrs(file: &FileRef, state: FileState) -> [(&'static str, AttributeValue); 2] {
    [
        (attr::STATE, s(state.as_str())),
        (
            attr::UPL_PK,
            s(uploads_pk(&file.run.project, state.as_str())),
        ),
    ]
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
    /// What it changed in the run's counters, once `done` (its tests that were new to the run
    /// count in `tests`; those merged into a result another file wrote do not).
    pub contribution: Option<Delta>,
    /// What the parser noticed but read past (at most 100 kept).
    pub warnings: Vec<String>,
    /// Why it `failed`.
    pub error: Option<FileError>,
    /// The file with the same bytes, when a `duplicate`.
    pub duplicate_of: Option<FileId>,
    /// Tags and owners to add to this file's tests.
    pub test_overrides: BTreeMap<String, TestOverride>,
    /// How many times the file was claimed for parsing (each delivery and sweep that got it).
    pub claims: u64,
    /// Until when (ms since the epoch) an invocation holds the file; 0 once given back.
    pub lease_until_ms: u64,
    /// How far an earlier invocation got, when one stopped to let the next continue.
    pub progress: Option<super::Progress>,
}

/// A file item as read (`None`: not a readable file item).
pub(crate) fn file_from_item(item: &Item) -> Option<FileItem> {
    let run = RunRef {
        project: ProjectName::parse(get_s(item, PROJECT)?).ok()?,
        run_key: RunKey::parse(get_s(item, RUN_KEY)?).ok()?,
    };
    let file = FileRef {
        run,
        file_id: FileId::parse(get_s(item, attr::FILE_ID)?).ok()?,
    };
    let error = match get_map(item, attr::ERROR) {
        None => None,
        Some(e) => Some(FileError {
            kind: FileErrorKind::parse(get_s(e, attr::error::KIND)?)?,
            message: get_s(e, attr::error::MESSAGE)
                .unwrap_or_default()
                .to_string(),
            line: get_n(e, attr::error::LINE).and_then(|v| u64::try_from(v).ok()),
            column: get_n(e, attr::error::COLUMN).and_then(|v| u64::try_from(v).ok()),
            offset: get_n(e, attr::error::OFFSET).and_then(|v| u64::try_from(v).ok()),
        }),
    };
    let text = |name| get_s(item, name).map(str::to_string);
    Some(FileItem {
        file,
        name: get_s(item, attr::NAME).unwrap_or_default().to_string(),
        size: get_u64(item, attr::SIZE),
        declared_sha256: text(attr::DECLARED_SHA256),
        format_hint: text(attr::FORMAT_HINT),
        state: FileState::parse(get_s(item, attr::STATE)?)?,
        created_ms: get_u64(item, CREATED_MS),
        format: text(attr::FORMAT),
        sha256: text(attr::SHA256),
        counts: get_map(item, attr::COUNTS).map(|m| summary_from(COUNTERS.map(|k| get_u64(m, k)))),
        contribution: get_map(item, attr::CONTRIBUTION).map(Delta::from_item),
        warnings: get_s(item, attr::WARNINGS)
            .and_then(|w| serde_json::from_str(w).ok())
            .unwrap_or_default(),
        error,
        duplicate_of: get_s(item, attr::DUPLICATE_OF).and_then(|id| FileId::parse(id).ok()),
        test_overrides: get_s(item, attr::TEST_OVERRIDES)
            .and_then(|w| serde_json::from_str(w).ok())
            .unwrap_or_default(),
        claims: get_u64(item, attr::CLAIMS),
        lease_until_ms: get_u64(item, attr::LEASE_UNTIL),
        progress: super::Progress::from_item(item),
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
