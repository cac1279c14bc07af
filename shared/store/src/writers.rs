//! The lone-writer protocol of a run: a file that begins writing while no other file of the
//! run is (the run's first, or one that comes after the others committed) holds
//! `exclusive_writer` on the run item and may put its test items in bulk; a file that begins
//! while another writes shares the run and writes conditionally, once the lone writer has
//! committed (or failed and been released).

use crate::attrs::{get_bool, s, Expr};
use crate::ddb::conditional;
use crate::keys::{FileId, FileRef};
use crate::runs::attr as run_attr;
use crate::runs::run_from_item;
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

/// How a file writes its test items ([`Store::begin_writes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writers {
    /// No other file writes to the run until this one commits: bulk writes.
    Alone {
        /// Files of the run committed results before this one began: each batch reads its
        /// items first and merges into those there. Without it, the file is the run's first
        /// writer and puts its items as they are ([`Store::write_results_alone`]).
        merging: bool,
    },
    /// Other files write to the run too: conditional writes, once `wait_for` (a file writing
    /// alone) has committed.
    Shared {
        /// The file writing alone in the run, if one still is.
        wait_for: Option<FileId>,
    },
}

impl Store {
    /// Registers `file` as a writer of its run's test items, just before its first write.
    /// A file that begins while no other file of the run is writing writes alone: it holds
    /// `exclusive_writer` on the run until it commits, and puts its items in bulk, as they are
    /// if it is the run's first writer (no other file's part can be on them), merged into what
    /// is there if files committed results before it. "No other file writing" is the run's
    /// `uncommitted` files being none, so a run where a file failed part-way is shared from then
    /// on. Any other writer shares the run: it writes conditionally, and first waits for a file
    /// still writing alone to commit. A redelivery of the lone writer writes alone again, the
    /// same way. Either way the file joins the run's `uncommitted` files before it writes,
    /// which is what keeps its results out of every read until it commits ([`crate::Run::shows`]).
    pub async fn begin_writes(&self, file: &FileRef) -> Result<Writers, StoreError> {
        let operation = "UpdateItem run writers";
        let mut e = Expr::default();
        let (writer, started) = (
            e.name(run_attr::EXCLUSIVE_WRITER),
            e.name(run_attr::WRITERS_STARTED),
        );
        let me = e.value(s(file.file_id.as_str()));
        let joins = e.add(run_attr::UNCOMMITTED, uncommitted(file));
        let first = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(file.run.item_key()))
            .update_expression(format!(
                "SET {writer} = {me}, {started} = {} ADD {joins}",
                e.value(AttributeValue::Bool(true))
            ))
            .condition_expression(format!(
                "attribute_exists(pk) AND ({writer} = {me} OR attribute_not_exists({started}))"
            ))
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        if let Ok(before) = conditional(operation, first)? {
            // The run's first writer, or a lone writer's redelivery, alone the way it began.
            let merging = before
                .attributes()
                .is_some_and(|old| get_bool(old, run_attr::EXCLUSIVE_MERGING));
            return Ok(Writers::Alone { merging });
        }
        let mut e = Expr::default();
        let update = format!(
            "SET {}, {} ADD {}",
            e.set(run_attr::EXCLUSIVE_WRITER, s(file.file_id.as_str())),
            e.set(run_attr::EXCLUSIVE_MERGING, AttributeValue::Bool(true)),
            e.add(run_attr::UNCOMMITTED, uncommitted(file)),
        );
        let idle = format!(
            "attribute_exists(pk) AND attribute_not_exists({}) AND attribute_not_exists({})",
            e.name(run_attr::EXCLUSIVE_WRITER),
            e.name(run_attr::UNCOMMITTED)
        );
        if self
            .updated_if(operation, file.run.item_key(), update, idle, e)
            .await?
        {
            return Ok(Writers::Alone { merging: true });
        }
        let mut e = Expr::default();
        let shared = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(file.run.item_key()))
            .update_expression(format!(
                "SET {} ADD {}",
                e.set(run_attr::WRITERS_STARTED, AttributeValue::Bool(true)),
                e.add(run_attr::UNCOMMITTED, uncommitted(file)),
            ))
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk(operation, e))?;
        let wait_for = shared
            .attributes()
            .and_then(run_from_item)
            .ok_or_else(|| StoreError::permanent(operation, "run is unreadable"))?
            .exclusive_writer
            .filter(|other| *other != file.file_id);
        Ok(Writers::Shared { wait_for })
    }

    /// Lets the run's other files write once `file`, which held the run's `exclusive_writer`,
    /// has failed: removes the attribute if it still names `file` (it is gone once the file
    /// committed, and never names another file's lone write, which goes on).
    pub async fn release_writer(&self, file: &FileRef) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let writer = e.name(run_attr::EXCLUSIVE_WRITER);
        let condition = format!("{writer} = {}", e.value(s(file.file_id.as_str())));
        let update = format!("REMOVE {writer}, {}", e.name(run_attr::EXCLUSIVE_MERGING));
        self.update_if("ReleaseWriter", file.run.item_key(), update, condition, e)
            .await
    }
}

/// The value that adds `file` to, or takes it from, its run's `uncommitted` files.
pub(crate) fn uncommitted(file: &FileRef) -> AttributeValue {
    AttributeValue::Ss(vec![file.file_id.to_string()])
}
