//! The bulk requests of the store: BatchWriteItem (a file alone in its run, retention's
//! deletes, the benchmark's baseline) and BatchGetItem (a page's runs, a sorted view's page).

use crate::attrs::Item;
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::time::Duration;

/// BatchWriteItem takes at most 25 requests.
pub const BATCH_WRITE_MAX: usize = 25;
/// BatchGetItem takes at most 100 keys.
pub const BATCH_GET_MAX: usize = 100;

impl Store {
    /// BatchWriteItem in requests of 25, `concurrency` requests in flight, retrying
    /// `UnprocessedItems` with backoff until every item is written. With `retry_until`, a
    /// request DynamoDB throttles whole (every item's partition over its rate: an error, not
    /// `UnprocessedItems`, once the SDK's own retries are spent) is retried the same way until
    /// then: without it, a batch given up early leaves an ingest's progress behind it and the
    /// next invocation writes every later result again; past it, an ingest gives the batch up
    /// rather than keep a request in flight when it may be cut off (a lone writer's late put
    /// would land over a later file's merge). Items left unprocessed are not bounded so: they
    /// are the partition's rate admitting part of a request, and a batch cut short there never
    /// completes when many share a slow partition, so no invocation would advance.
    pub(crate) async fn batch_write(
        &self,
        requests: Vec<WriteRequest>,
        concurrency: usize,
        retry_until: Option<std::time::Instant>,
    ) -> Result<(), StoreError> {
        let batches: Vec<Vec<WriteRequest>> = requests
            .chunks(BATCH_WRITE_MAX)
            .map(<[_]>::to_vec)
            .collect();
        stream::iter(batches)
            .map(|mut batch| async move {
                let mut backoff = Duration::from_millis(10);
                while !batch.is_empty() {
                    let sent = self
                        .ddb
                        .batch_write_item()
                        .request_items(&self.table, batch.clone())
                        .send()
                        .await
                        .map_err(|e| StoreError::from_sdk("BatchWriteItem", e));
                    let refused = match sent {
                        Ok(out) => {
                            batch = out
                                .unprocessed_items()
                                .and_then(|m| m.get(&self.table).cloned())
                                .unwrap_or_default();
                            None
                        }
                        Err(err) if err.is_throttled() && retry_until.is_some() => Some(err),
                        Err(err) => return Err(err),
                    };
                    if batch.is_empty() {
                        break;
                    }
                    if let (Some(err), Some(until)) = (refused, retry_until) {
                        if std::time::Instant::now() + backoff >= until {
                            return Err(err);
                        }
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                Ok::<_, StoreError>(())
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// BatchGetItem of `keys` (100 per request), retrying `UnprocessedKeys` with backoff; with
    /// `projection`, only those attributes (names are placeholders: some are reserved words);
    /// strongly consistent if `consistent`.
    pub(crate) async fn batch_get(
        &self,
        keys: Vec<Item>,
        projection: &[&str],
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let names: HashMap<String, String> = projection
            .iter()
            .enumerate()
            .map(|(i, name)| (format!("#p{i}"), name.to_string()))
            .collect();
        let expression = (0..projection.len())
            .map(|i| format!("#p{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .set_projection_expression((!projection.is_empty()).then(|| expression.clone()))
                .set_expression_attribute_names((!projection.is_empty()).then(|| names.clone()))
                .consistent_read(consistent)
                .build()
                .map_err(|e| StoreError::permanent("BatchGetItem", e.to_string()))?;
            let mut backoff = Duration::from_millis(10);
            loop {
                let out = self
                    .ddb
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| StoreError::from_sdk("BatchGetItem", e))?;
                if let Some(got) = out.responses().and_then(|r| r.get(&self.table)) {
                    items.extend(got.iter().cloned());
                }
                match out.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    Some(left) if !left.keys().is_empty() => {
                        request = left.clone();
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                    }
                    _ => break,
                }
            }
        }
        Ok(items)
    }
}

pub(crate) fn put_request(item: Item) -> WriteRequest {
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("an item"),
        )
        .build()
}

pub(crate) fn delete_request(key: Item) -> WriteRequest {
    WriteRequest::builder()
        .delete_request(
            DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .expect("a key"),
        )
        .build()
}
