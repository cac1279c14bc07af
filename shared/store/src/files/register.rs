//! Registering an upload: the run on its first file, the file item, and the lookup item that
//! finds the file from its id, in one transaction.

use super::attr as file_attr;
use super::item::{state_attrs, FileState};
use crate::attrs::{get_s, n, s, Expr, CREATED_MS, EXPIRES_AT, KIND, PROJECT, RUN_KEY};
use crate::counts::COUNTERS;
use crate::keys::{
    branch_pk, sweep_pk, time_prefix, time_sk, upload_key, uploads_sk, FileId, FileRef,
    ProjectName, RunKey, RunRef,
};
use crate::runs::attr as run_attr;
use crate::{FileItem, Store, StoreError};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use std::collections::BTreeMap;
use verdict_model::{RunMetadata, TestOverride};

/// What the upload path knows of a file before its bytes arrive.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// Which file of which run (the id is new).
    pub file: FileRef,
    /// The file's name as the client gave it (for people; never part of a key).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 the client declared, checked against the bytes when the file is parsed.
    pub sha256: Option<String>,
    /// Format the client declared; detected from the content when absent.
    pub format: Option<String>,
    /// What the client says of the run (kept from the run's first file).
    pub metadata: RunMetadata,
    /// Tags and owners to add to this file's tests (a sidecar's `test_overrides`).
    pub test_overrides: BTreeMap<String, TestOverride>,
    /// The project's retention when the run was first seen: sets every item's expiry.
    pub retention_days: u32,
}

fn built<T>(result: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::permanent("RegisterFile", e.to_string()))
}

impl Store {
    /// Registers an upload: creates the run on its first file (metadata, creation time and
    /// expiry are set once, by the first file) and the file item as `pending`, in one
    /// transaction. A file id is used once: registering it again is a conflict.
    pub async fn register_file(&self, new: &NewFile, now_ms: u64) -> Result<(), StoreError> {
        let run = &new.file.run;
        let expires_at = now_ms / 1000 + u64::from(new.retention_days) * 86_400;
        let metadata = serde_json::to_string(&new.metadata)
            .map_err(|e| StoreError::permanent("RegisterFile", e.to_string()))?;
        let created_sk = time_sk(now_ms, &run.run_key);
        let mut e = Expr::default();
        let mut sets = vec![
            e.set_once(PROJECT, s(run.project.as_str())),
            e.set_once(RUN_KEY, s(run.run_key.as_str())),
            e.set(KIND, s("run")),
            e.set_once(CREATED_MS, n(now_ms)),
            e.set_once(run_attr::METADATA, s(metadata)),
            e.set_once(EXPIRES_AT, n(expires_at)),
            e.set_once(run_attr::RUNS_PK, s(run.project.as_str())),
            e.set_once(run_attr::RUNS_SK, s(created_sk.clone())),
        ];
        // Every counter exists from the start, so a run reads the same whichever file moved it.
        for counter in COUNTERS.iter().chain(&[
            run_attr::FILES_DONE,
            run_attr::FILES_FAILED,
            run_attr::FILES_DUPLICATE,
            run_attr::FILES_SETTLED,
        ]) {
            sets.push(e.set_once(counter, n(0)));
        }
        // Query filters: branch, commit and trigger as plain attributes, the branch index key.
        if let Some(branch) = &new.metadata.branch {
            sets.push(e.set_once(run_attr::BRANCH, s(branch)));
            sets.push(e.set_once(run_attr::BRANCH_PK, s(branch_pk(&run.project, branch))));
            sets.push(e.set_once(run_attr::BRANCH_SK, s(created_sk.clone())));
        }
        if let Some(sha) = &new.metadata.commit_sha {
            sets.push(e.set_once(run_attr::COMMIT_SHA, s(sha)));
        }
        if let Some(trigger) = &new.metadata.trigger {
            sets.push(e.set_once(run_attr::TRIGGER, s(trigger.as_str())));
        }
        let add = e.add(run_attr::FILES_REGISTERED, n(1));
        let run_update = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(run.item_key()))
                .update_expression(format!("SET {} ADD {add}", sets.join(", ")))
                .set_expression_attribute_names(Some(e.names))
                .set_expression_attribute_values(Some(e.values))
                .build(),
        )?;

        let mut file = new.file.item_key();
        file.extend([
            (KIND.to_string(), s("file")),
            (PROJECT.to_string(), s(run.project.as_str())),
            (RUN_KEY.to_string(), s(run.run_key.as_str())),
            (file_attr::FILE_ID.to_string(), s(new.file.file_id.as_str())),
            (file_attr::NAME.to_string(), s(&new.name)),
            (file_attr::SIZE.to_string(), n(new.size)),
            (
                file_attr::UPL_SK.to_string(),
                s(uploads_sk(now_ms, &new.file)),
            ),
            (CREATED_MS.to_string(), n(now_ms)),
            (EXPIRES_AT.to_string(), n(expires_at)),
            (
                file_attr::SWEEP_PK.to_string(),
                s(sweep_pk(&new.file.file_id)),
            ),
            (file_attr::SWEEP_SK.to_string(), s(time_prefix(now_ms))),
        ]);
        file.extend(state_attrs(&new.file, FileState::Pending).map(|(k, v)| (k.to_string(), v)));
        if let Some(sha) = &new.sha256 {
            file.insert(file_attr::DECLARED_SHA256.into(), s(sha));
        }
        if let Some(format) = &new.format {
            file.insert(file_attr::FORMAT_HINT.into(), s(format));
        }
        if !new.test_overrides.is_empty() {
            let overrides = serde_json::to_string(&new.test_overrides)
                .map_err(|e| StoreError::permanent("RegisterFile", e.to_string()))?;
            file.insert(file_attr::TEST_OVERRIDES.into(), s(overrides));
        }
        let file_put = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(file))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        // Lets `GET /v1/uploads/{file_id}` find the file from its id alone.
        let mut lookup = upload_key(&new.file.file_id);
        lookup.extend([
            (KIND.to_string(), s("upload")),
            (PROJECT.to_string(), s(run.project.as_str())),
            (RUN_KEY.to_string(), s(run.run_key.as_str())),
            (EXPIRES_AT.to_string(), n(expires_at)),
        ]);
        let lookup = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(lookup))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().update(run_update).build(),
            TransactWriteItem::builder().put(file_put).build(),
            TransactWriteItem::builder().put(lookup).build(),
        ];
        match self.transact("RegisterFile", items).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::conflict(
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
            .read_item("GetItem upload", upload_key(file_id), false)
            .await?
        else {
            return Ok(None);
        };
        if get_s(&item, PROJECT) != Some(project.as_str()) {
            return Ok(None);
        }
        let Some(run_key) = get_s(&item, RUN_KEY).and_then(|k| RunKey::parse(k).ok()) else {
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
}
