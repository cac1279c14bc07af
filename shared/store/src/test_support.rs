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

/// The benchmark's baseline: `count` copies of the run's first test items (same attributes,
/// same size, same index keys, so DynamoDB maintains the same indexes) written with plain
/// BatchWriteItem (25 per request, `concurrency` requests in flight), retrying
/// `UnprocessedItems` with backoff. Copies go to partition `BENCH#{label}`.
pub async fn raw_batch_write(
    store: &Store,
    run: &crate::RunRef,
    label: &str,
    count: usize,
    concurrency: usize,
) -> Result<(), StoreError> {
    use crate::attrs::s;
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    let templates = sample_items(store, run, 500).await?;
    if templates.is_empty() {
        return Err(StoreError::permanent(
            "raw_batch_write",
            "the run has no test items",
        ));
    }
    let batches: Vec<Vec<WriteRequest>> = (0..count)
        .collect::<Vec<_>>()
        .chunks(25)
        .map(|chunk| {
            chunk
                .iter()
                .map(|i| {
                    let mut item = templates[i % templates.len()].clone();
                    item.insert("pk".into(), s(format!("BENCH#{label}")));
                    item.insert("sk".into(), s(format!("T#{i:064}")));
                    item.insert("hist_pk".into(), s(format!("BENCH#{label}#{i}")));
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item))
                                .build()
                                .expect("item"),
                        )
                        .build()
                })
                .collect()
        })
        .collect();
    stream::iter(batches)
        .map(|mut batch| async move {
            let mut backoff = std::time::Duration::from_millis(10);
            loop {
                let out = store
                    .ddb
                    .batch_write_item()
                    .request_items(&store.table, batch)
                    .send()
                    .await
                    .map_err(|e| StoreError::from_sdk("BatchWriteItem", e))?;
                batch = out
                    .unprocessed_items()
                    .and_then(|m| m.get(&store.table).cloned())
                    .unwrap_or_default();
                if batch.is_empty() {
                    return Ok::<_, StoreError>(());
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(1));
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

async fn sample_items(
    store: &Store,
    run: &crate::RunRef,
    sample: i32,
) -> Result<Vec<crate::attrs::Item>, StoreError> {
    let out = store
        .ddb
        .query()
        .table_name(&store.table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :t)")
        .expression_attribute_values(":pk", crate::attrs::s(run.pk()))
        .expression_attribute_values(":t", crate::attrs::s("T#"))
        .limit(sample)
        .send()
        .await
        .map_err(|e| StoreError::from_sdk("Query", e))?;
    Ok(out.items().to_vec())
}

/// Mean size (by DynamoDB's rule) of the first `sample` test items of a run.
pub async fn mean_item_size(
    store: &Store,
    run: &crate::RunRef,
    sample: i32,
) -> Result<usize, StoreError> {
    let items = sample_items(store, run, sample).await?;
    Ok(items.iter().map(crate::attrs::item_size).sum::<usize>() / items.len().max(1))
}
