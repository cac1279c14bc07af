//! What the ingest sweep looks at: files still `pending` or `processing` (the sparse `sweep`
//! index, so only unsettled files are read).

use crate::attrs::s;
use crate::keys::{sweep_shards, time_prefix, FileRef};
use crate::{Store, StoreError};

impl Store {
    /// Unsettled files registered before `before_ms`, every shard of the index.
    pub async fn unsettled_files(&self, before_ms: u64) -> Result<Vec<FileRef>, StoreError> {
        let mut files = Vec::new();
        for shard in sweep_shards() {
            let query = self
                .ddb
                .query()
                .table_name(&self.table)
                .index_name("sweep")
                .key_condition_expression("sweep_pk = :shard AND sweep_sk < :before")
                .expression_attribute_values(":shard", s(shard))
                .expression_attribute_values(":before", s(time_prefix(before_ms)));
            let items = self.query_all("Query sweep", query).await?;
            files.extend(items.iter().filter_map(FileRef::from_item_keys));
        }
        Ok(files)
    }
}
