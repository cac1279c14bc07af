//! Sorted views of a run's results: the test ids of one ordering (and filter) of a run, kept
//! in S3 so that every page after the first costs one ranged GetObject and one BatchGetItem,
//! whatever the size of the run. A view is named after everything its content depends on (the
//! query and the run's file counters), so a run that changes gets new views, never a stale one.

use crate::attrs::Item;
use crate::keys::{item_key, test_sk, RunRef};
use crate::queries::{test_row, TestRow};
use crate::{Store, StoreError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use std::collections::HashMap;

/// A test id (64 hex digits) and a newline: views are fixed-width, so a page is a byte range.
const RECORD: u64 = 65;

impl Store {
    /// Writes a view: the test ids, in order.
    pub async fn put_view(&self, key: &str, test_ids: &[&str]) -> Result<(), StoreError> {
        let mut body = Vec::with_capacity(test_ids.len() * RECORD as usize);
        for id in test_ids {
            body.extend_from_slice(id.as_bytes());
            body.push(b'\n');
        }
        self.put_derived(key, body).await
    }

    /// Writes a document derived from a run's results (a view, a comparison): a cache, named
    /// after what it was made from, under the run's views.
    pub async fn put_derived(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutObject view", e))?;
        Ok(())
    }

    /// A derived document in whole; `None` when there is none (yet).
    pub async fn read_derived(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let result = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(err) if matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None)
            }
            Err(err) => return Err(StoreError::from_sdk("GetObject view", err)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::transient("GetObject view", e.to_string()))?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    /// Test ids `offset..offset + count` of a view; `None` when there is no such view (yet).
    pub async fn read_view(
        &self,
        key: &str,
        offset: u64,
        count: u64,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let result = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!(
                "bytes={}-{}",
                offset * RECORD,
                (offset + count) * RECORD - 1
            ))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(err) if matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None)
            }
            // A range past the end of the view (S3 answers 416): nothing there.
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 416) =>
            {
                return Ok(Some(Vec::new()))
            }
            Err(err) => return Err(StoreError::from_sdk("GetObject view", err)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::transient("GetObject view", e.to_string()))?
            .into_bytes();
        Ok(Some(
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::to_string)
                .collect(),
        ))
    }

    /// The results of `test_ids` in `run`, in that order (ids without an item are left out).
    pub async fn get_results(
        &self,
        run: &RunRef,
        test_ids: &[String],
    ) -> Result<Vec<TestRow>, StoreError> {
        let keys: Vec<Item> = test_ids
            .iter()
            .map(|id| item_key(run.pk(), test_sk(id)))
            .collect();
        let items = self.batch_get(keys, &[]).await?;
        let mut rows: HashMap<String, TestRow> = items
            .iter()
            .filter_map(test_row)
            .map(|row| (row.test_id.clone(), row))
            .collect();
        Ok(test_ids.iter().filter_map(|id| rows.remove(id)).collect())
    }
}
