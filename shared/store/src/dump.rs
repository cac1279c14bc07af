//! A whole-table dump for tests (compiled only with the `test-support` feature): the one place
//! that scans, on a table a test made for itself. No production path scans.

use crate::attrs::to_json;
use crate::{Store, StoreError};
use std::collections::BTreeMap;

impl Store {
    /// Every item of the table as JSON, sorted by key, and every object key of the bucket.
    pub async fn dump(
        &self,
    ) -> Result<(Vec<BTreeMap<String, serde_json::Value>>, Vec<String>), StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .ddb
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::from_sdk("Scan", e))?;
            items.extend(
                out.items()
                    .iter()
                    .map(|item| item.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
            );
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        items.sort_by(|a: &BTreeMap<String, serde_json::Value>, b| {
            (
                a.get("pk").map(|v| v.to_string()),
                a.get("sk").map(|v| v.to_string()),
            )
                .cmp(&(
                    b.get("pk").map(|v| v.to_string()),
                    b.get("sk").map(|v| v.to_string()),
                ))
        });
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| StoreError::from_sdk("ListObjectsV2", e))?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            token = out.next_continuation_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        keys.sort();
        Ok((items, keys))
    }
}
