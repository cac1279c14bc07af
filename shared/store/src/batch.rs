//! BatchWriteItem: the one bulk write of the store (a file alone in its run, retention's
//! deletes, the benchmark's baseline).

use crate::attrs::Item;
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use std::time::Duration;

/// BatchWriteItem takes at most 25 requests.
pub const BATCH_WRITE_MAX: usize = 25;

impl Store {
    /// BatchWriteItem in requests of 25, `concurrency` requests in flight, retrying
    /// `UnprocessedItems` with backoff. Returns the capacity units consumed (table and indexes)
    /// when the store counts them, else 0.
    pub(crate) async fn batch_write(
        &self,
        requests: Vec<WriteRequest>,
        concurrency: usize,
    ) -> Result<f64, StoreError> {
        let batches: Vec<Vec<WriteRequest>> = requests
            .chunks(BATCH_WRITE_MAX)
            .map(<[_]>::to_vec)
            .collect();
        let units = stream::iter(batches)
            .map(|mut batch| async move {
                let mut backoff = Duration::from_millis(10);
                let mut units = 0.0;
                while !batch.is_empty() {
                    let out = self
                        .ddb
                        .batch_write_item()
                        .request_items(&self.table, batch)
                        .set_return_consumed_capacity(self.capacity_request())
                        .send()
                        .await
                        .map_err(|e| StoreError::from_sdk("BatchWriteItem", e))?;
                    units += out
                        .consumed_capacity()
                        .iter()
                        .filter_map(|c| c.capacity_units())
                        .sum::<f64>();
                    batch = out
                        .unprocessed_items()
                        .and_then(|m| m.get(&self.table).cloned())
                        .unwrap_or_default();
                    if !batch.is_empty() {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                    }
                }
                Ok::<_, StoreError>(units)
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect::<Vec<f64>>()
            .await?;
        Ok(units.iter().sum())
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
