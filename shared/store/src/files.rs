//! Runs and their files: registering an upload, the file item's lease and state machine
//! (`pending` → `processing` → `done` | `failed` | `duplicate`), the content marker, and the
//! transactions that settle a file and move the run's counters exactly once.

use crate::attrs::{get_map, get_n, get_s, get_u64, n, s, Expr, Item};
use crate::counts::{summary_from, Delta, COUNTERS};
use crate::keys::{
    content_sk, file_sk, time_sk, FileId, FileRef, ProjectName, RunKey, RunRef, FILE_SK_PREFIX,
    SK_RUN,
};
use crate::schema::EXPIRES_AT;
use crate::{Store, StoreError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use std::collections::BTreeMap;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use verdict_model::{RunMetadata, Summary, TestOverride};

/// What the upload path knows of a file before its bytes arrive.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub file: FileRef,
    /// The file's name as the client gave it (for people; never part of a key).
    pub name: String,
    pub size: u64,
    /// SHA-256 the client declared, checked against the bytes when the file is parsed.
    pub sha256: Option<String>,
    /// Format the client declared; detected from the content when absent.
    pub format: Option<String>,
    pub metadata: RunMetadata,
    /// Tags and owners to add to this file's tests (a sidecar's `test_overrides`).
    pub test_overrides: BTreeMap<String, TestOverride>,
    /// The project's retention when the run was first seen: sets every item's expiry.
    pub retention_days: u32,
}

/// A run's summary item.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub run: RunRef,
    pub created_ms: u64,
    /// Seconds since the epoch (DynamoDB TTL).
    pub expires_at: u64,
    pub metadata: RunMetadata,
    pub summary: Summary,
    pub files_registered: u64,
    pub files_done: u64,
    pub files_failed: u64,
    pub files_duplicate: u64,
    /// The file writing alone in the run (see [`Store::begin_writes`]), until it commits.
    pub exclusive_writer: Option<FileId>,
    /// The files settled `done` (each commit adds its own).
    pub done_files: HashSet<String>,
}

impl Run {
    /// Whether a result the files `contributors` wrote may be shown: when each of them is
    /// `done`. A result touched by a file still being ingested is left out until that file is
    /// done, and one touched by a file that failed after writing part of its results (the store
    /// refused a write, a bug) is never shown, so no half-merged result is ever shown.
    pub fn shows(&self, contributors: &[String]) -> bool {
        contributors.iter().all(|f| self.done_files.contains(f))
    }

    /// Whether `file` writes alone in the run ([`Store::begin_writes`]), until it commits.
    pub fn written_alone_by(&self, file: &FileId) -> bool {
        self.exclusive_writer.as_ref() == Some(file)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    Pending,
    Processing,
    Done,
    Failed,
    Duplicate,
}

impl FileState {
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
        [
            FileState::Pending,
            FileState::Processing,
            FileState::Done,
            FileState::Failed,
            FileState::Duplicate,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    pub fn is_settled(self) -> bool {
        matches!(
            self,
            FileState::Done | FileState::Failed | FileState::Duplicate
        )
    }
}

/// Why a file could not be ingested, with the parser's position when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub kind: String,
    pub message: String,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub offset: Option<u64>,
}

impl FileError {
    /// An error of the whole file, at no position in it.
    pub fn of_file(kind: &str, message: impl Into<String>) -> FileError {
        FileError {
            kind: kind.to_string(),
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
    pub file: FileRef,
    pub name: String,
    pub size: u64,
    pub declared_sha256: Option<String>,
    pub format_hint: Option<String>,
    pub state: FileState,
    pub created_ms: u64,
    pub format: Option<String>,
    pub sha256: Option<String>,
    pub counts: Option<Summary>,
    pub warnings: Vec<String>,
    pub error: Option<FileError>,
    pub duplicate_of: Option<FileId>,
    /// The file's slowest tests (for the slowest-tests endpoint).
    pub slowest: Vec<SlowTest>,
    pub test_overrides: BTreeMap<String, TestOverride>,
    /// How many times the file was claimed for parsing (each delivery and sweep that got it).
    pub claims: u64,
}

/// One of a file's slowest tests.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlowTest {
    pub test_id: String,
    pub name: String,
    pub duration_ms: u64,
}

/// How many of its slowest tests a file item keeps.
pub const SLOWEST_PER_FILE: usize = 20;

/// The answer to an attempt to claim a file for parsing.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The lease is ours until it expires.
    Claimed(Box<FileItem>),
    /// Nothing left to do: the file is done, failed or a duplicate.
    Settled(FileState),
    /// Another invocation holds a live lease.
    Busy { until_ms: u64 },
    /// No such file item (never registered, or deleted by retention).
    Missing,
}

/// What settling a file changes on its run item.
struct RunChange {
    /// The file counter that counts it (`files_done`, `files_failed`, `files_duplicate`).
    counter: &'static str,
    /// Added to the run's test counters.
    add: Delta,
    /// Whether the file is `done` (a commit): it joins the run's `done_files`, and its writes
    /// are over, so the run's lone writer is released.
    done: bool,
}

/// How a file writes its test items ([`Store::begin_writes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writers {
    /// The file is the run's first writer and holds it until it commits: bulk writes.
    Alone,
    /// Other files write to the run too: conditional writes, once `wait_for` (a file writing
    /// alone) has committed.
    Shared { wait_for: Option<FileId> },
}

/// What a successful parse adds to its file and run.
#[derive(Debug, Clone)]
pub struct FileCommit {
    pub format: String,
    pub sha256: String,
    /// The file's own results, as `verdict parse` would count them.
    pub counts: Summary,
    /// What the file changed in the run's counters (see [`Delta`]).
    pub contribution: Delta,
    pub warnings: Vec<String>,
    pub slowest: Vec<SlowTest>,
}

/// How many warnings a file item keeps (the raw file keeps the rest).
const MAX_WARNINGS: usize = 100;
const SWEEP_SHARDS: usize = 16;
const UPLOAD_SK: &str = "UPLOAD";

fn upload_pk(file_id: &FileId) -> String {
    format!("U#{file_id}")
}

/// Key of a file's lookup item (see [`Store::find_file`]).
pub(crate) fn upload_key(file_id: &FileId) -> Item {
    HashMap::from([
        ("pk".to_string(), s(upload_pk(file_id))),
        ("sk".to_string(), s(UPLOAD_SK)),
    ])
}

fn sweep_pk(file_id: &FileId) -> String {
    // Spread over a few partitions so thousands of uploads a day never make one hot key.
    let shard = usize::from(file_id.as_str().as_bytes()[0]) % SWEEP_SHARDS;
    format!("S#{shard:02}")
}

pub(crate) fn sweep_shards() -> impl Iterator<Item = String> {
    (0..SWEEP_SHARDS).map(|s| format!("S#{s:02}"))
}

fn summary_attr(summary: &Summary) -> AttributeValue {
    Delta::of(summary).to_attr()
}

fn summary_of(item: Option<&Item>) -> Option<Summary> {
    item.map(|m| summary_from(COUNTERS.map(|k| get_u64(m, k))))
}

pub(crate) fn run_from_item(item: &Item) -> Option<Run> {
    let run = RunRef {
        project: ProjectName::parse(get_s(item, "project")?).ok()?,
        run_key: RunKey::parse(get_s(item, "run_key")?).ok()?,
    };
    Some(Run {
        run,
        created_ms: get_u64(item, "created_ms"),
        expires_at: get_u64(item, EXPIRES_AT),
        metadata: get_s(item, "metadata")
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default(),
        summary: summary_of(Some(item)).unwrap_or_default(),
        files_registered: get_u64(item, "files_registered"),
        files_done: get_u64(item, "files_done"),
        files_failed: get_u64(item, "files_failed"),
        files_duplicate: get_u64(item, "files_duplicate"),
        exclusive_writer: get_s(item, "exclusive_writer").and_then(|id| FileId::parse(id).ok()),
        done_files: item
            .get("done_files")
            .and_then(|v| v.as_ss().ok())
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default(),
    })
}

pub(crate) fn file_from_item(item: &Item) -> Option<FileItem> {
    let run = RunRef {
        project: ProjectName::parse(get_s(item, "project")?).ok()?,
        run_key: RunKey::parse(get_s(item, "run_key")?).ok()?,
    };
    let file = FileRef {
        run,
        file_id: FileId::parse(get_s(item, "file_id")?).ok()?,
    };
    let error = get_map(item, "error").map(|e| FileError {
        kind: get_s(e, "kind").unwrap_or_default().to_string(),
        message: get_s(e, "message").unwrap_or_default().to_string(),
        line: get_n(e, "line").and_then(|v| u64::try_from(v).ok()),
        column: get_n(e, "column").and_then(|v| u64::try_from(v).ok()),
        offset: get_n(e, "offset").and_then(|v| u64::try_from(v).ok()),
    });
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
        counts: summary_of(get_map(item, "counts")),
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

/// A transaction was cancelled: the cancellation code of each of its items (`None` for items
/// that were fine).
type Cancelled = Vec<Option<String>>;

impl Store {
    pub(crate) fn key(&self, pk: String, sk: String) -> HashMap<String, AttributeValue> {
        HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
    }

    pub(crate) fn file_key(&self, file: &FileRef) -> HashMap<String, AttributeValue> {
        self.key(file.run.pk(), file_sk(&file.file_id))
    }

    /// One item by its key (`pk`, `sk`); strongly consistent unless `consistent` is false.
    pub(crate) async fn read_item(
        &self,
        operation: &'static str,
        pk: String,
        sk: String,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(pk, sk)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk(operation, e))?;
        Ok(out.item().cloned())
    }

    /// Runs a transaction whose conditions must hold; a failed condition is a permanent error.
    pub(crate) async fn transact_all(
        &self,
        operation: &'static str,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), StoreError> {
        match self.transact(operation, items).await? {
            Ok(()) => Ok(()),
            Err(codes) => Err(StoreError::permanent(
                operation,
                format!("a condition failed: {codes:?}"),
            )),
        }
    }

    /// Runs a transaction, retrying conflicts with other transactions. `Ok(Err(codes))` when a
    /// condition failed.
    async fn transact(
        &self,
        operation: &'static str,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Cancelled>, StoreError> {
        let mut backoff = Duration::from_millis(20);
        for _ in 0..8 {
            let result = self
                .ddb
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(Ok(())),
                Err(err) => err,
            };
            if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
                err.as_service_error()
            {
                let codes: Cancelled = cancel
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().filter(|c| *c != "None").map(str::to_string))
                    .collect();
                if codes
                    .iter()
                    .flatten()
                    .any(|c| c == "ConditionalCheckFailed")
                {
                    return Ok(Err(codes));
                }
                // Only conflicts or throttling: another transaction touched the same items.
            } else {
                let err = StoreError::from_sdk(operation, err);
                if !err.transient {
                    return Err(err);
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
        Err(StoreError::transient(
            operation,
            "transaction kept conflicting with others; retry later",
        ))
    }

    /// Registers an upload: creates the run on its first file (metadata, creation time and
    /// expiry are set once, by the first file) and the file item as `pending`, in one
    /// transaction. A file id is used once: registering it again is an error.
    pub async fn register_file(&self, new: &NewFile, now_ms: u64) -> Result<(), StoreError> {
        let run = &new.file.run;
        let expires_at = now_ms / 1000 + u64::from(new.retention_days) * 86_400;
        let metadata = serde_json::to_string(&new.metadata)
            .map_err(|e| StoreError::permanent("RegisterFile", e.to_string()))?;
        let created_sk = time_sk(now_ms, &run.run_key);
        let mut e = Expr::default();
        let mut sets = vec![
            e.set_once("project", s(run.project.as_str())),
            e.set_once("run_key", s(run.run_key.as_str())),
            e.set("kind", s("run")),
            e.set_once("created_ms", n(now_ms)),
            e.set_once("metadata", s(metadata)),
            e.set_once(EXPIRES_AT, n(expires_at)),
            e.set_once("runs_pk", s(run.project.as_str())),
            e.set_once("runs_sk", s(created_sk.clone())),
        ];
        // Every counter exists from the start, so a run reads the same whichever file moved it.
        for counter in COUNTERS
            .iter()
            .chain(&["files_done", "files_failed", "files_duplicate"])
        {
            sets.push(e.set_once(counter, n(0)));
        }
        // Query filters: branch, commit and trigger as plain attributes, the branch index key.
        if let Some(branch) = &new.metadata.branch {
            sets.push(e.set_once("branch", s(branch)));
            sets.push(e.set_once("branch_pk", s(format!("{}#{branch}", run.project))));
            sets.push(e.set_once("branch_sk", s(created_sk.clone())));
        }
        if let Some(sha) = &new.metadata.commit_sha {
            sets.push(e.set_once("commit_sha", s(sha)));
        }
        if let Some(trigger) = &new.metadata.trigger {
            let trigger = serde_json::to_value(trigger)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            sets.push(e.set_once("trigger", s(trigger)));
        }
        let add = e.add("files_registered", n(1));
        let run_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.key(run.pk(), SK_RUN.into())))
            .update_expression(format!("SET {} ADD {add}", sets.join(", ")))
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .build()
            .map_err(|e| StoreError::permanent("RegisterFile", e.to_string()))?;

        let mut file = self.file_key(&new.file);
        file.extend([
            ("kind".to_string(), s("file")),
            ("project".to_string(), s(run.project.as_str())),
            ("run_key".to_string(), s(run.run_key.as_str())),
            ("file_id".to_string(), s(new.file.file_id.as_str())),
            ("name".to_string(), s(&new.name)),
            ("size".to_string(), n(new.size)),
            ("state".to_string(), s(FileState::Pending.as_str())),
            ("created_ms".to_string(), n(now_ms)),
            (EXPIRES_AT.to_string(), n(expires_at)),
            ("sweep_pk".to_string(), s(sweep_pk(&new.file.file_id))),
            ("sweep_sk".to_string(), s(format!("{now_ms:013}"))),
        ]);
        if let Some(sha) = &new.sha256 {
            file.insert("declared_sha256".into(), s(sha));
        }
        if let Some(format) = &new.format {
            file.insert("format_hint".into(), s(format));
        }
        if !new.test_overrides.is_empty() {
            let overrides = serde_json::to_string(&new.test_overrides)
                .map_err(|e| StoreError::permanent("RegisterFile", e.to_string()))?;
            file.insert("test_overrides".into(), s(overrides));
        }
        let file_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(file))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::permanent("RegisterFile", e.to_string()))?;
        // Lets `GET /v1/uploads/{file_id}` find the file from its id alone.
        let lookup = Put::builder()
            .table_name(&self.table)
            .set_item(Some(HashMap::from([
                ("pk".to_string(), s(upload_pk(&new.file.file_id))),
                ("sk".to_string(), s(UPLOAD_SK)),
                ("kind".to_string(), s("upload")),
                ("project".to_string(), s(run.project.as_str())),
                ("run_key".to_string(), s(run.run_key.as_str())),
                (EXPIRES_AT.to_string(), n(expires_at)),
            ])))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::permanent("RegisterFile", e.to_string()))?;
        let items = vec![
            TransactWriteItem::builder().update(run_update).build(),
            TransactWriteItem::builder().put(file_put).build(),
            TransactWriteItem::builder().put(lookup).build(),
        ];
        match self.transact("RegisterFile", items).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::permanent(
                "RegisterFile",
                format!("file id {} is already registered", new.file.file_id),
            )),
        }
    }

    /// A file of `project` by its id alone; `None` when it does not exist or belongs to another
    /// project (the two are indistinguishable to the caller).
    pub async fn find_file(
        &self,
        project: &ProjectName,
        file_id: &FileId,
    ) -> Result<Option<FileItem>, StoreError> {
        let Some(item) = self
            .read_item(
                "GetItem upload",
                upload_pk(file_id),
                UPLOAD_SK.into(),
                false,
            )
            .await?
        else {
            return Ok(None);
        };
        let item = &item;
        if get_s(item, "project") != Some(project.as_str()) {
            return Ok(None);
        }
        let Some(run_key) = get_s(item, "run_key").and_then(|k| RunKey::parse(k).ok()) else {
            return Ok(None);
        };
        let file = FileRef {
            run: RunRef {
                project: project.clone(),
                run_key,
            },
            file_id: file_id.clone(),
        };
        self.get_file(&file).await
    }

    pub async fn get_run(&self, run: &RunRef) -> Result<Option<Run>, StoreError> {
        let item = self
            .read_item("GetItem run", run.pk(), SK_RUN.into(), true)
            .await?;
        Ok(item.as_ref().and_then(run_from_item))
    }

    pub async fn get_file(&self, file: &FileRef) -> Result<Option<FileItem>, StoreError> {
        Ok(self
            .get_file_item(file)
            .await?
            .as_ref()
            .and_then(file_from_item))
    }

    async fn get_file_item(&self, file: &FileRef) -> Result<Option<Item>, StoreError> {
        self.read_item("GetItem file", file.run.pk(), file_sk(&file.file_id), true)
            .await
    }

    /// Every file of a run (one Query on the run's partition; a run has few files).
    pub async fn list_files(&self, run: &RunRef) -> Result<Vec<FileItem>, StoreError> {
        let items = self
            .query_all(
                self.ddb
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":pk", s(run.pk()))
                    .expression_attribute_values(":prefix", s(FILE_SK_PREFIX))
                    .consistent_read(true),
            )
            .await?;
        Ok(items.iter().filter_map(file_from_item).collect())
    }

    /// Every page of a query.
    pub(crate) async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::from_sdk("Query", e))?;
            items.extend(out.items().iter().cloned());
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Claims a file for parsing: `pending`, or `processing` under an expired lease (a crashed
    /// invocation) or under our own lease (a retry of the same request), becomes `processing`
    /// owned by `owner` until `now_ms + lease_ms`.
    pub async fn claim_file(
        &self,
        file: &FileRef,
        owner: &str,
        now_ms: u64,
        lease_ms: u64,
    ) -> Result<Claim, StoreError> {
        let mut e = Expr::default();
        let update = format!(
            "SET {}, {}, {} ADD {}",
            e.set("state", s(FileState::Processing.as_str())),
            e.set("lease_owner", s(owner)),
            e.set("lease_until", n(now_ms + lease_ms)),
            e.add("claims", n(1)),
        );
        let (state, lease_owner, lease_until) = (
            e.name("state"),
            e.name("lease_owner"),
            e.name("lease_until"),
        );
        let condition = format!(
            "attribute_exists(pk) AND ({state} = {pending} OR ({state} = {processing} AND \
             ({lease_until} < {now} OR {lease_owner} = {owner})))",
            pending = e.value(s(FileState::Pending.as_str())),
            processing = e.value(s(FileState::Processing.as_str())),
            now = e.value(n(now_ms)),
            owner = e.value(s(owner)),
        );
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.file_key(file)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => out
                .attributes()
                .and_then(file_from_item)
                .map(|item| Claim::Claimed(Box::new(item)))
                .ok_or_else(|| StoreError::permanent("ClaimFile", "file item is unreadable")),
            Err(err) => {
                use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
                let old = match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(e)) => e.item().cloned(),
                    _ => return Err(StoreError::from_sdk("ClaimFile", err)),
                };
                // DynamoDB Local may not return the old item: read it.
                let old = match old {
                    Some(item) => Some(item),
                    None => self.get_file_item(file).await?,
                };
                Ok(match old.as_ref().and_then(file_from_item) {
                    None => Claim::Missing,
                    Some(item) if item.state.is_settled() => Claim::Settled(item.state),
                    Some(_) => Claim::Busy {
                        until_ms: old.as_ref().map_or(0, |i| get_u64(i, "lease_until")),
                    },
                })
            }
        }
    }

    /// The content marker: the first file of a run with these bytes owns it. `Ok(None)` when
    /// `file` owns it (now or already), `Ok(Some(owner))` when another file does.
    pub async fn put_content_marker(
        &self,
        file: &FileRef,
        sha256: &str,
        expires_at: u64,
    ) -> Result<Option<FileId>, StoreError> {
        let mut item = self.key(file.run.pk(), content_sk(sha256));
        item.extend([
            ("kind".to_string(), s("content")),
            ("file_id".to_string(), s(file.file_id.as_str())),
            (EXPIRES_AT.to_string(), n(expires_at)),
        ]);
        let result = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR file_id = :me")
            .expression_attribute_values(":me", s(file.file_id.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(err) => {
                use aws_sdk_dynamodb::operation::put_item::PutItemError;
                let old = match err.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(e)) => e.item().cloned(),
                    _ => return Err(StoreError::from_sdk("PutItem content marker", err)),
                };
                let old = match old {
                    Some(item) => Some(item),
                    None => {
                        self.read_item(
                            "GetItem content marker",
                            file.run.pk(),
                            content_sk(sha256),
                            true,
                        )
                        .await?
                    }
                };
                let owner = old
                    .as_ref()
                    .and_then(|i| get_s(i, "file_id"))
                    .and_then(|id| FileId::parse(id).ok())
                    .ok_or_else(|| {
                        StoreError::transient("PutItem content marker", "marker changed; retry")
                    })?;
                Ok(Some(owner))
            }
        }
    }

    /// Registers `file` as a writer of its run's test items, just before its first write.
    /// The first file to write in a run writes alone: it holds `exclusive_writer` on the run
    /// until it commits, and may put its items in bulk, unconditionally (no other file's part
    /// can be on them). Any later writer shares the run: it writes conditionally, and first
    /// waits for a file still writing alone to commit. A redelivery of the lone writer writes
    /// alone again.
    pub async fn begin_writes(&self, file: &FileRef) -> Result<Writers, StoreError> {
        let mut e = Expr::default();
        let (writer, started) = (e.name("exclusive_writer"), e.name("writers_started"));
        let me = e.value(s(file.file_id.as_str()));
        let (done, zero) = (e.name("files_done"), e.value(n(0)));
        let alone = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(file.run.pk(), SK_RUN.into())))
            .update_expression(format!(
                "SET {writer} = {me}, {started} = {}",
                e.value(AttributeValue::Bool(true))
            ))
            // A run with a done file but no `writers_started` (ingested before writers were
            // registered) has items of other files: never alone.
            .condition_expression(format!(
                "attribute_exists(pk) AND ({writer} = {me} OR (attribute_not_exists({started}) \
                 AND (attribute_not_exists({done}) OR {done} = {zero})))"
            ))
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .send()
            .await;
        match alone {
            Ok(_) => return Ok(Writers::Alone),
            Err(err) => {
                use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
                if !matches!(
                    err.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) {
                    return Err(StoreError::from_sdk("UpdateItem run writers", err));
                }
            }
        }
        let mut e = Expr::default();
        let shared = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(file.run.pk(), SK_RUN.into())))
            .update_expression(format!(
                "SET {}",
                e.set("writers_started", AttributeValue::Bool(true))
            ))
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("UpdateItem run writers", e))?;
        let wait_for = shared
            .attributes()
            .and_then(run_from_item)
            .ok_or_else(|| StoreError::permanent("UpdateItem run writers", "run is unreadable"))?
            .exclusive_writer
            .filter(|other| *other != file.file_id);
        Ok(Writers::Shared { wait_for })
    }

    /// Lets the run's other files write once `file`, which held the run's `exclusive_writer`,
    /// has failed: removes the attribute if it still names `file` (it is gone once the file
    /// committed, and never names another file's lone write, which goes on).
    pub async fn release_writer(&self, file: &FileRef) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let writer = e.name("exclusive_writer");
        let condition = format!("{writer} = {}", e.value(s(file.file_id.as_str())));
        let key = self.key(file.run.pk(), SK_RUN.into());
        self.update_if(
            "ReleaseWriter",
            key,
            format!("REMOVE {writer}"),
            condition,
            e,
        )
        .await
    }

    /// Gives up our lease on a file early (we are waiting on another file and will be retried),
    /// so the next delivery can claim it at once. Not ours any more: nothing to give up.
    pub async fn release_file(&self, file: &FileRef, owner: &str) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let update = format!("SET {}", e.set("lease_until", n(0)));
        let condition = held_by(&mut e, owner);
        self.update_if("ReleaseFile", self.file_key(file), update, condition, e)
            .await
    }

    /// An update made only while `condition` holds; when it does not, there is nothing to do.
    async fn update_if(
        &self,
        operation: &'static str,
        key: Item,
        update: String,
        condition: String,
        e: Expr,
    ) -> Result<(), StoreError> {
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
                match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(()),
                    _ => Err(StoreError::from_sdk(operation, err)),
                }
            }
        }
    }

    /// Settles a file we hold the lease of: its own update plus the run's counters, in one
    /// transaction, so the counters move exactly once. `Ok(false)` when the lease was lost
    /// (another invocation took over or settled the file).
    async fn settle(
        &self,
        operation: &'static str,
        file: &FileRef,
        owner: &str,
        set: Vec<(&str, AttributeValue)>,
        run: RunChange,
    ) -> Result<bool, StoreError> {
        let mut e = Expr::default();
        let assignments: Vec<String> = set.into_iter().map(|(k, v)| e.set(k, v)).collect();
        let condition = held_by(&mut e, owner);
        let removed: Vec<String> = ["lease_owner", "lease_until", "sweep_pk", "sweep_sk"]
            .iter()
            .map(|a| e.name(a))
            .collect();
        let file_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.file_key(file)))
            .update_expression(format!(
                "SET {} REMOVE {}",
                assignments.join(", "),
                removed.join(", ")
            ))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .build()
            .map_err(|e| StoreError::permanent(operation, e.to_string()))?;

        let mut e = Expr::default();
        let mut adds = vec![e.add(run.counter, n(1))];
        for (name, value) in COUNTERS.iter().zip(run.add.0) {
            if value != 0 {
                adds.push(e.add(name, n(value)));
            }
        }
        let run_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(self.key(file.run.pk(), SK_RUN.into())))
            .update_expression(if run.done {
                // Only a file that began writing commits; if it wrote alone this releases the
                // run, and if not the attribute is already gone (nobody can write alone in a
                // run that has another writer), so no condition on whose it is is needed.
                adds.push(e.add(
                    "done_files",
                    AttributeValue::Ss(vec![file.file_id.to_string()]),
                ));
                format!(
                    "ADD {} REMOVE {}",
                    adds.join(", "),
                    e.name("exclusive_writer")
                )
            } else {
                format!("ADD {}", adds.join(", "))
            })
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .build()
            .map_err(|e| StoreError::permanent(operation, e.to_string()))?;
        let items = vec![
            TransactWriteItem::builder().update(file_update).build(),
            TransactWriteItem::builder().update(run_update).build(),
        ];
        match self.transact(operation, items).await? {
            Ok(()) => Ok(true),
            Err(codes) if codes.get(1).is_some_and(|c| c.is_some()) => Err(StoreError::permanent(
                operation,
                "the run is gone (deleted by retention?)",
            )),
            Err(_) => Ok(false),
        }
    }

    /// `processing` → `done`, adding the file's contribution to the run.
    pub async fn commit_file(
        &self,
        file: &FileRef,
        owner: &str,
        commit: &FileCommit,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let warnings: Vec<&String> = commit.warnings.iter().take(MAX_WARNINGS).collect();
        let set = vec![
            ("state", s(FileState::Done.as_str())),
            ("format", s(&commit.format)),
            ("sha256", s(&commit.sha256)),
            ("counts", summary_attr(&commit.counts)),
            ("contribution", commit.contribution.to_attr()),
            (
                "warnings",
                s(serde_json::to_string(&warnings).unwrap_or_default()),
            ),
            ("warning_count", n(commit.warnings.len())),
            (
                "slowest",
                s(serde_json::to_string(&commit.slowest).unwrap_or_default()),
            ),
            ("settled_ms", n(now_ms)),
        ];
        self.settle(
            "CommitFile",
            file,
            owner,
            set,
            RunChange {
                counter: "files_done",
                add: commit.contribution,
                done: true,
            },
        )
        .await
    }

    /// `processing` → `failed`, with the error; the run counts one more failed file and
    /// nothing else.
    pub async fn fail_file(
        &self,
        file: &FileRef,
        owner: &str,
        error: &FileError,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut detail = HashMap::from([
            ("kind".to_string(), s(&error.kind)),
            ("message".to_string(), s(&error.message)),
        ]);
        for (name, value) in [
            ("line", error.line),
            ("column", error.column),
            ("offset", error.offset),
        ] {
            if let Some(v) = value {
                detail.insert(name.to_string(), n(v));
            }
        }
        let set = vec![
            ("state", s(FileState::Failed.as_str())),
            ("error", AttributeValue::M(detail)),
            ("settled_ms", n(now_ms)),
        ];
        self.settle(
            "FailFile",
            file,
            owner,
            set,
            RunChange {
                counter: "files_failed",
                add: Delta::default(),
                done: false,
            },
        )
        .await
    }

    /// `processing` → `duplicate` of the file that owns the same bytes.
    pub async fn mark_duplicate(
        &self,
        file: &FileRef,
        owner: &str,
        sha256: &str,
        of: &FileId,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let set = vec![
            ("state", s(FileState::Duplicate.as_str())),
            ("sha256", s(sha256)),
            ("duplicate_of", s(of.as_str())),
            ("settled_ms", n(now_ms)),
        ];
        self.settle(
            "MarkDuplicate",
            file,
            owner,
            set,
            RunChange {
                counter: "files_duplicate",
                add: Delta::default(),
                done: false,
            },
        )
        .await
    }

    /// Files still `pending` or `processing` that were registered before `before_ms`: what the
    /// ingest sweep looks at (a sparse index, so only unsettled files are read).
    pub async fn unsettled_files(&self, before_ms: u64) -> Result<Vec<FileRef>, StoreError> {
        let mut files = Vec::new();
        for shard in sweep_shards() {
            let items = self
                .query_all(
                    self.ddb
                        .query()
                        .table_name(&self.table)
                        .index_name("sweep")
                        .key_condition_expression("sweep_pk = :shard AND sweep_sk < :before")
                        .expression_attribute_values(":shard", s(shard))
                        .expression_attribute_values(":before", s(format!("{before_ms:013}"))),
                )
                .await?;
            files.extend(items.iter().filter_map(file_ref_from_keys));
        }
        Ok(files)
    }
}

/// A file's reference from its keys alone (`R#project#run`, `F#id`).
fn file_ref_from_keys(item: &Item) -> Option<FileRef> {
    let pk = get_s(item, "pk")?.strip_prefix("R#")?;
    let (project, run_key) = pk.split_once('#')?;
    let file_id = get_s(item, "sk")?.strip_prefix(FILE_SK_PREFIX)?;
    Some(FileRef {
        run: RunRef {
            project: ProjectName::parse(project).ok()?,
            run_key: RunKey::parse(run_key).ok()?,
        },
        file_id: FileId::parse(file_id).ok()?,
    })
}

/// The condition that a file is `processing` under `owner`'s lease.
fn held_by(e: &mut Expr, owner: &str) -> String {
    format!(
        "{} = {} AND {} = {}",
        e.name("state"),
        e.value(s(FileState::Processing.as_str())),
        e.name("lease_owner"),
        e.value(s(owner)),
    )
}
