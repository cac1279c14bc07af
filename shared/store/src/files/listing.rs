//! The files of a whole project in one state, newest first: upload health (the `uploads`
//! index, whose entry of a file moves with its state).

use super::attr as file_attr;
use super::item::{file_from_item, FileItem, FileState};
use crate::attrs::s;
use crate::cursor::{Cursor, UploadsListing};
use crate::keys::{time_floor, uploads_pk, ProjectName};
use crate::queries::{page, Page};
use crate::{Store, StoreError};

impl Store {
    /// Files of `project` in `state` registered at or after `since_ms`, newest first.
    pub async fn list_uploads(
        &self,
        project: &ProjectName,
        state: FileState,
        since_ms: u64,
        limit: i32,
        start: Option<&Cursor<UploadsListing>>,
    ) -> Result<Page<FileItem, UploadsListing>, StoreError> {
        let pk = uploads_pk(project, state.as_str());
        let start = start.and_then(|c| c.start_key(project, pk.clone()));
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("uploads")
            .key_condition_expression("upl_pk = :pk AND upl_sk >= :since")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":since", s(time_floor(since_ms)))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start);
        page("Query uploads", query, file_attr::UPL_SK, file_from_item).await
    }
}
