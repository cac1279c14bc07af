//! The lease on a file and the transactions that settle it: a claim makes the file
//! `processing` for one invocation until the lease expires; settling it (`done`, `failed`,
//! `duplicate`) moves its run's counters in the same transaction, so they move exactly once.

use super::attr as file_attr;
use super::item::{file_from_item, state_attrs, FileError, FileItem, FileState};
use crate::attrs::{get_u64, n, s, Expr};
use crate::counts::{Delta, COUNTERS};
use crate::ddb::conditional;
use crate::keys::{FileId, FileRef};
use crate::runs::attr as run_attr;
use crate::writers::uncommitted;
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use std::collections::HashMap;
use verdict_model::Summary;

/// How a claim that stopped short of settling its file counts toward the file's bound on
/// claims (`max_claims`), which is for invocations that get nowhere because of the file (one
/// that kills its invocation is claimed again on every delivery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimCount {
    /// It wrote more results than were written before: the count starts over, so a file that
    /// advances every time ends within as many invocations as it has results.
    Advanced,
    /// It got nowhere for a reason outside the file (the table throttled its writes, the run's
    /// lone writer is still writing): it does not count, and a file may wait for as many
    /// claims as that takes.
    NotTheFile,
    /// It got nowhere: it counts.
    Counted,
}

impl ClaimCount {
    /// The update of a file item that also does this to its claims, given its `SET` clauses.
    pub(crate) fn update(self, e: &mut Expr, mut sets: Vec<String>) -> String {
        match self {
            ClaimCount::Advanced => {
                sets.push(e.set(file_attr::CLAIMS, n(0)));
                format!("SET {}", sets.join(", "))
            }
            ClaimCount::NotTheFile => format!(
                "SET {} ADD {}",
                sets.join(", "),
                e.add(file_attr::CLAIMS, n(-1))
            ),
            ClaimCount::Counted => format!("SET {}", sets.join(", ")),
        }
    }
}

/// The answer to an attempt to claim a file for parsing.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The lease is ours until it expires.
    Claimed(Box<FileItem>),
    /// Nothing left to do: the file is done, failed or a duplicate.
    Settled(FileState),
    /// Another invocation holds a live lease.
    Busy {
        /// When that lease expires.
        until_ms: u64,
    },
    /// No such file item (never registered, or deleted by retention).
    Missing,
}

/// What a successful parse adds to its file and run.
#[derive(Debug, Clone)]
pub struct FileCommit {
    /// The format the file was read as.
    pub format: String,
    /// The SHA-256 of its bytes.
    pub sha256: String,
    /// The file's own results, as `verdict parse` would count them.
    pub counts: Summary,
    /// What the file changed in the run's counters (see [`Delta`]).
    pub contribution: Delta,
    /// What the parser read past.
    pub warnings: Vec<String>,
}

/// How many warnings a file item keeps (the raw file keeps the rest).
const MAX_WARNINGS: usize = 100;

/// What settling a file changes on its run item.
struct RunChange {
    /// The file counter that counts it (`files_done`, `files_failed`, `files_duplicate`).
    counter: &'static str,
    /// Added to the run's test counters.
    add: Delta,
    /// Whether the file is `done` (a commit): it leaves the run's `uncommitted` files, and its
    /// writes are over, so the run's lone writer is released. A file that fails stays among
    /// them: whatever it wrote is never shown.
    done: bool,
}

/// The condition that a file is `processing` under `owner`'s lease.
pub(super) fn held_by(e: &mut Expr, owner: &str) -> String {
    format!(
        "{} = {} AND {} = {}",
        e.name(file_attr::STATE),
        e.value(s(FileState::Processing.as_str())),
        e.name(file_attr::LEASE_OWNER),
        e.value(s(owner)),
    )
}

impl Store {
    /// Claims a file for parsing: `pending`, or `processing` under an expired lease (a crashed
    /// invocation) or under `owner`'s own lease (the same invocation claiming again), becomes `processing`
    /// owned by `owner` until `now_ms + lease_ms`.
    pub async fn claim_file(
        &self,
        file: &FileRef,
        owner: &str,
        now_ms: u64,
        lease_ms: u64,
    ) -> Result<Claim, StoreError> {
        let mut e = Expr::default();
        let [state, upl_pk] = state_attrs(file, FileState::Processing);
        let update = format!(
            "SET {}, {}, {}, {} ADD {}",
            e.set(state.0, state.1),
            e.set(upl_pk.0, upl_pk.1),
            e.set(file_attr::LEASE_OWNER, s(owner)),
            e.set(file_attr::LEASE_UNTIL, n(now_ms + lease_ms)),
            e.add(file_attr::CLAIMS, n(1)),
        );
        let (state, lease_owner, lease_until) = (
            e.name(file_attr::STATE),
            e.name(file_attr::LEASE_OWNER),
            e.name(file_attr::LEASE_UNTIL),
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
            .set_key(Some(file.item_key()))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old = match conditional("ClaimFile", result)? {
            Ok(out) => {
                return out
                    .attributes()
                    .and_then(file_from_item)
                    .map(|item| Claim::Claimed(Box::new(item)))
                    .ok_or_else(|| StoreError::permanent("ClaimFile", "file item is unreadable"))
            }
            Err(Some(old)) => Some(old),
            Err(None) => self.get_file_item(file).await?,
        };
        Ok(match old.as_ref().and_then(file_from_item) {
            None => Claim::Missing,
            Some(item) if item.state.is_settled() => Claim::Settled(item.state),
            Some(_) => Claim::Busy {
                until_ms: old
                    .as_ref()
                    .map_or(0, |i| get_u64(i, file_attr::LEASE_UNTIL)),
            },
        })
    }

    /// Gives up our lease on a file early (we stopped and will be retried), so the next delivery
    /// can claim it at once, the claim counting toward the file's bound as `count` says. Not
    /// ours any more: nothing to give up.
    pub async fn release_file(
        &self,
        file: &FileRef,
        owner: &str,
        count: ClaimCount,
    ) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let sets = vec![e.set(file_attr::LEASE_UNTIL, n(0))];
        let update = count.update(&mut e, sets);
        let condition = held_by(&mut e, owner);
        self.update_if("ReleaseFile", file.item_key(), update, condition, e)
            .await
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
        let built = |r: Result<Update, aws_sdk_dynamodb::error::BuildError>| {
            r.map_err(|e| StoreError::permanent(operation, e.to_string()))
        };
        let mut e = Expr::default();
        let assignments: Vec<String> = set.into_iter().map(|(k, v)| e.set(k, v)).collect();
        let condition = held_by(&mut e, owner);
        let removed: Vec<String> = [
            file_attr::LEASE_OWNER,
            file_attr::LEASE_UNTIL,
            file_attr::SWEEP_PK,
            file_attr::SWEEP_SK,
            file_attr::PROGRESS,
        ]
        .iter()
        .map(|a| e.name(a))
        .collect();
        let file_update = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(file.item_key()))
                .update_expression(format!(
                    "SET {} REMOVE {}",
                    assignments.join(", "),
                    removed.join(", ")
                ))
                .condition_expression(condition)
                .set_expression_attribute_names(Some(e.names))
                .set_expression_attribute_values(Some(e.values))
                .build(),
        )?;

        let mut e = Expr::default();
        let mut adds = vec![
            e.add(run.counter, n(1)),
            e.add(run_attr::FILES_SETTLED, n(1)),
        ];
        for (name, value) in COUNTERS.iter().zip(run.add.0) {
            if value != 0 {
                adds.push(e.add(name, n(value)));
            }
        }
        let update = if run.done {
            // Only a file that began writing commits; if it wrote alone this releases the
            // run, and if not the attribute is already gone (nobody can write alone in a
            // run that has another writer), so no condition on whose it is is needed.
            let committed = e.value(uncommitted(file));
            format!(
                "ADD {} DELETE {} {committed} REMOVE {}, {}",
                adds.join(", "),
                e.name(run_attr::UNCOMMITTED),
                e.name(run_attr::EXCLUSIVE_WRITER),
                e.name(run_attr::EXCLUSIVE_MERGING)
            )
        } else {
            format!("ADD {}", adds.join(", "))
        };
        let run_update = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(file.run.item_key()))
                .update_expression(update)
                .condition_expression("attribute_exists(pk)")
                .set_expression_attribute_names(Some(e.names))
                .set_expression_attribute_values(Some(e.values))
                .build(),
        )?;
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
        let [state, upl_pk] = state_attrs(file, FileState::Done);
        let set = vec![
            state,
            upl_pk,
            (file_attr::FORMAT, s(&commit.format)),
            (file_attr::SHA256, s(&commit.sha256)),
            (file_attr::COUNTS, Delta::of(&commit.counts).to_attr()),
            (file_attr::CONTRIBUTION, commit.contribution.to_attr()),
            (
                file_attr::WARNINGS,
                s(serde_json::to_string(&warnings).unwrap_or_default()),
            ),
            (file_attr::WARNING_COUNT, n(commit.warnings.len())),
            (file_attr::SETTLED_MS, n(now_ms)),
        ];
        let change = RunChange {
            counter: run_attr::FILES_DONE,
            add: commit.contribution,
            done: true,
        };
        self.settle("CommitFile", file, owner, set, change).await
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
            (file_attr::error::KIND.to_string(), s(error.kind.as_str())),
            (file_attr::error::MESSAGE.to_string(), s(&error.message)),
        ]);
        for (name, value) in [
            (file_attr::error::LINE, error.line),
            (file_attr::error::COLUMN, error.column),
            (file_attr::error::OFFSET, error.offset),
        ] {
            if let Some(v) = value {
                detail.insert(name.to_string(), n(v));
            }
        }
        let [state, upl_pk] = state_attrs(file, FileState::Failed);
        let set = vec![
            state,
            upl_pk,
            (file_attr::ERROR, AttributeValue::M(detail)),
            (file_attr::SETTLED_MS, n(now_ms)),
        ];
        let change = RunChange {
            counter: run_attr::FILES_FAILED,
            add: Delta::default(),
            done: false,
        };
        self.settle("FailFile", file, owner, set, change).await
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
        let [state, upl_pk] = state_attrs(file, FileState::Duplicate);
        let set = vec![
            state,
            upl_pk,
            (file_attr::SHA256, s(sha256)),
            (file_attr::DUPLICATE_OF, s(of.as_str())),
            (file_attr::SETTLED_MS, n(now_ms)),
        ];
        let change = RunChange {
            counter: run_attr::FILES_DUPLICATE,
            add: Delta::default(),
            done: false,
        };
        self.settle("MarkDuplicate", file, owner, set, change).await
    }
}
