//! Deleting expired runs: the runs index finds them oldest first (a Query, never a Scan); a run's
//! own partition (files, content markers) is deleted in batches, its raw objects by prefix, and
//! the run item last, so a run cut off midway is still found by the next pass, which carries on
//! where this one stopped. Its test results are left to TTL (see `partition_keys`).

use crate::attrs::{get_s, s, Item, PK, SK};
use crate::batch::delete_request;
use crate::keys::{
    day_of_duration_rollup_key, durations_prefix, run_kept_text_prefix, run_objects_prefix,
    run_snapshots_prefix, time_floor, upload_key, view_key, windows_prefix, FileId, Granularity,
    ProjectName, RunKey, RunRef, FILE_SK_PREFIX, SK_RUN,
};
use crate::{Store, StoreError};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

/// What deleting (part of) a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Table items deleted.
    pub items: u64,
    /// Objects deleted.
    pub objects: u64,
    /// True when the run item itself is gone: the run is finished.
    pub run_finished: bool,
}

impl Store {
    /// Runs of `project` created before `before_ms`, oldest first, at most `limit`.
    pub async fn expired_runs(
        &self,
        project: &ProjectName,
        before_ms: u64,
        limit: i32,
    ) -> Result<Vec<RunRef>, StoreError> {
        let out = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("runs")
            .key_condition_expression("runs_pk = :p AND runs_sk < :before")
            .expression_attribute_values(":p", s(project.as_str()))
            // `#` sorts before every run-key character, so this bounds by time alone.
            .expression_attribute_values(":before", s(time_floor(before_ms)))
            .scan_index_forward(true)
            .limit(limit)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("Query runs", e))?;
        Ok(out
            .items()
            .iter()
            .filter_map(|i| {
                Some(RunRef {
                    project: project.clone(),
                    run_key: RunKey::parse(get_s(i, "run_key")?).ok()?,
                })
            })
            .collect())
    }

    /// Counts what deleting `run` would remove, without removing anything.
    pub async fn count_run(&self, run: &RunRef) -> Result<Deleted, StoreError> {
        let keys = self.partition_keys(run, None).await?.0;
        let objects = self.run_objects(run).await?.len() as u64;
        Ok(Deleted {
            items: keys.len() as u64 + keys.iter().filter(|k| is_file(k)).count() as u64,
            objects,
            run_finished: false,
        })
    }

    /// Deletes up to `max_items` items of `run` (files' lookup items included) and, once the
    /// partition is empty but for the run item, its raw objects and then the run item.
    /// Idempotent: what is already gone is skipped.
    pub async fn delete_run(&self, run: &RunRef, max_items: usize) -> Result<Deleted, StoreError> {
        let (keys, more) = self.partition_keys(run, Some(max_items)).await?;
        let mut deleted = Deleted::default();
        let mut requests = Vec::new();
        for key in &keys {
            if get_s(key, SK) == Some(crate::keys::SK_RUN) {
                continue;
            }
            if let Some(id) = get_s(key, SK)
                .and_then(|sk| sk.strip_prefix(crate::keys::FILE_SK_PREFIX))
                .and_then(|id| FileId::parse(id).ok())
            {
                requests.push(delete_request(upload_key(&id)));
            }
            requests.push(delete_request(key.clone()));
        }
        deleted.items += requests.len() as u64;
        self.batch_write(requests, 4, None).await?;
        if more {
            return Ok(deleted);
        }
        let objects = self.run_objects(run).await?;
        self.delete_objects(&objects).await?;
        deleted.objects += objects.len() as u64;
        // The run item goes last: until then the runs index still finds the run.
        self.ddb
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(run.pk()))
            .key(SK, s(crate::keys::SK_RUN))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("DeleteItem run", e))?;
        deleted.items += 1;
        deleted.run_finished = true;
        Ok(deleted)
    }

    /// Deletes objects by key, 1,000 a call.
    async fn delete_objects(&self, keys: &[String]) -> Result<(), StoreError> {
        for chunk in keys.chunks(1000) {
            let ids = chunk
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::permanent("DeleteObjects", e.to_string()))?;
            self.s3
                .delete_objects()
                .bucket(&self.bucket)
                .delete(
                    Delete::builder()
                        .set_objects(Some(ids))
                        .quiet(true)
                        .build()
                        .map_err(|e| StoreError::permanent("DeleteObjects", e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| StoreError::from_sdk("DeleteObjects", e))?;
        }
        Ok(())
    }

    /// The duration rollups of `project`'s days that ended by `before_ms` (every run of them
    /// was created before it), of every scope (every branch, and each branch), and the kept
    /// merges of blocks of days starting on one, at most `limit`: keys are in day order under
    /// each scope and under the blocks' prefix, so each listing stops at the first day kept.
    pub async fn expired_duration_rollups(
        &self,
        project: &ProjectName,
        before_ms: u64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut prefixes = self.list_prefixes(&durations_prefix(project)).await?;
        prefixes.push(windows_prefix(project));
        for prefix in prefixes {
            let mut pages = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .into_paginator()
                .send();
            'listing: while let Some(page) = pages.next().await {
                let page = page.map_err(|e| StoreError::from_sdk("ListObjectsV2", e))?;
                for key in page.contents().iter().filter_map(|o| o.key()) {
                    let ended = day_of_duration_rollup_key(&prefix, key)
                        .is_some_and(|day| day + Granularity::Day.len_ms() <= before_ms);
                    if keys.len() == limit {
                        return Ok(keys);
                    }
                    if !ended {
                        break 'listing;
                    }
                    keys.push(key.to_string());
                }
            }
        }
        Ok(keys)
    }

    /// Deletes duration rollups by key ([`Store::expired_duration_rollups`]).
    pub async fn delete_duration_rollups(&self, keys: &[String]) -> Result<(), StoreError> {
        self.delete_objects(keys).await
    }

    /// Keys of the run's own partition: its item, its files and content markers (callers
    /// skip the run item); with `max`, at most that many besides the run item, and whether
    /// more remain. Its test results, on their own partitions, are not read: TTL removes them
    /// at their `expires_at`, for free, and until then no read shows them (a result shows
    /// only when its run item names every file that wrote it, and a run made again under the
    /// same key has new files; a write replaces an item of an earlier run rather than merging).
    async fn partition_keys(
        &self,
        run: &RunRef,
        max: Option<usize>,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let mut pages = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(run.pk()))
            .projection_expression("pk, sk")
            .into_paginator()
            .items()
            .send();
        let mut keys = Vec::new();
        let mut others = 0;
        while let Some(key) = pages.next().await {
            let key = key.map_err(|e| StoreError::from_sdk("Query run keys", e))?;
            if get_s(&key, SK) == Some(SK_RUN) {
                if max.is_some() {
                    continue;
                }
            } else if max.is_some_and(|max| others == max) {
                return Ok((keys, true));
            } else {
                others += 1;
            }
            keys.push(key);
        }
        Ok((keys, false))
    }

    /// The run's objects: its raw uploads, its sorted views, its failures' snapshots and the
    /// text its results keep apart.
    async fn run_objects(&self, run: &RunRef) -> Result<Vec<String>, StoreError> {
        let mut keys = self.list_keys(&run_objects_prefix(run)).await?;
        keys.extend(self.list_keys(&view_key(run, "")).await?);
        keys.extend(self.list_keys(&run_snapshots_prefix(run)).await?);
        keys.extend(self.list_keys(&run_kept_text_prefix(run)).await?);
        Ok(keys)
    }
}

fn is_file(key: &Item) -> bool {
    get_s(key, SK).is_some_and(|sk| sk.starts_with(FILE_SK_PREFIX))
}

/// The time before which a project's runs are expired.
pub fn retention_cutoff(now_ms: u64, retention_days: u32) -> u64 {
    now_ms.saturating_sub(u64::from(retention_days) * 86_400_000)
}
