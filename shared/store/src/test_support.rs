//! A whole-table dump for tests (compiled only with the `test-support` feature): the one place
//! that scans, on a table a test made for itself. No production path scans.

use crate::attrs::{to_json, PK, SK};
use crate::{Store, StoreError};
use std::collections::BTreeMap;

impl Store {
    /// This store, with `interceptor` on its table's client: how the test layers (the call
    /// recorder, fault injection, the capacity counter) wrap the deployed code.
    pub(crate) fn with_table_interceptor(
        self,
        interceptor: impl aws_sdk_dynamodb::config::Intercept + 'static,
    ) -> Store {
        let config = self
            .ddb
            .config()
            .to_builder()
            .interceptor(interceptor)
            .build();
        Store {
            ddb: aws_sdk_dynamodb::Client::from_conf(config),
            ..self
        }
    }

    /// Forgets the duration rollups this store's process keeps parsed, as a new process (a
    /// cold Lambda) starts without them.
    pub fn forget_kept_windows(&self) {
        self.windows.clear();
    }

    /// This store, with the SDK making each table call at most `attempts` times (1: no retry),
    /// so a test reaches what happens past the retries without waiting out their backoff.
    pub fn with_table_attempts(self, attempts: u32) -> Store {
        let retry =
            aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(attempts);
        let config = self.ddb.config().to_builder().retry_config(retry).build();
        Store {
            ddb: aws_sdk_dynamodb::Client::from_conf(config),
            ..self
        }
    }

    /// Forgets every duration rollup of `runs`' project and the runs' records of their folds,
    /// as if none had been folded (their snapshots stay, as a fold cut off would leave them).
    pub async fn unroll_durations(&self, runs: &[crate::RunRef]) -> Result<(), StoreError> {
        let Some(project) = runs.first().map(|r| &r.project) else {
            return Ok(());
        };
        let keys = self
            .list_keys(&crate::keys::durations_prefix(project))
            .await?;
        self.delete_duration_rollups(&keys).await?;
        for run in runs {
            self.ddb
                .update_item()
                .table_name(&self.table)
                .set_key(Some(run.item_key()))
                .update_expression("REMOVE #rolled")
                .expression_attribute_names("#rolled", crate::duration_rollups::ROLLED)
                .send()
                .await
                .map_err(|e| StoreError::from_sdk("UpdateItem durations rolled", e))?;
        }
        Ok(())
    }

    /// The size of a run's item as DynamoDB counts it (0 when there is none).
    pub async fn run_item_size(&self, run: &crate::RunRef) -> Result<usize, StoreError> {
        let item = self.read_item("GetItem run", run.item_key(), true).await?;
        Ok(item.as_ref().map_or(0, crate::attrs::item_size))
    }

    /// A store whose endpoints refuse every connection (port 9 on the loopback), for handler
    /// tests whose requests all stop before the store.
    pub async fn unreachable() -> Store {
        Store::connect(&crate::StoreConfig {
            table: "t".into(),
            bucket: "b".into(),
            dynamodb_endpoint: Some("http://127.0.0.1:9".into()),
            s3_endpoint: Some("http://127.0.0.1:9".into()),
        })
        .await
    }

    /// The bucket's object keys under `prefix`, sorted.
    pub async fn bucket_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = self.list_keys(prefix).await?;
        keys.sort();
        Ok(keys)
    }

    /// How many objects the bucket holds under `prefix`, and their bytes.
    pub async fn bucket_bytes(&self, prefix: &str) -> Result<(usize, u64), StoreError> {
        let sizes: Vec<u64> = self
            .list_objects(prefix, None)
            .await?
            .iter()
            .map(|o| u64::try_from(o.size().unwrap_or(0)).unwrap_or(0))
            .collect();
        Ok((sizes.len(), sizes.iter().sum()))
    }

    async fn scan_all(&self) -> Result<Vec<crate::attrs::Item>, StoreError> {
        self.ddb
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| StoreError::from_sdk("Scan", e))
    }

    /// What the table holds, as AWS bills its storage and retention's deletes: each item's
    /// size plus 100 bytes of overhead on the table, and again in each index the item is in
    /// (its keys and the attributes the index projects); a delete costs a write unit per KB
    /// (rounded up) of the item and of each index entry. Retention deletes a run's own
    /// partition (run, files, content markers) and its files' lookup items; TTL removes the
    /// rest (test results, rollups) for nothing.
    pub async fn footprint(&self) -> Result<Footprint, StoreError> {
        let units = |bytes: usize| bytes.div_ceil(1024).max(1) as u64;
        let mut footprint = Footprint::default();
        for item in self.scan_all().await? {
            let size = crate::attrs::item_size(&item);
            let pk = crate::attrs::get_s(&item, PK).unwrap_or_default();
            let sk = crate::attrs::get_s(&item, SK).unwrap_or_default();
            let retention_deletes = pk.starts_with(crate::keys::UPLOAD_PK_PREFIX)
                || (pk.starts_with(crate::keys::RUN_PK_PREFIX)
                    && !sk.starts_with(crate::keys::TEST_SK_PREFIX));
            footprint.items += 1;
            footprint.table_bytes += size + 100;
            let mut delete_units = units(size);
            for index in crate::schema::INDEXES {
                if !(item.contains_key(index.pk) && item.contains_key(index.sk)) {
                    continue;
                }
                let projected: usize = item
                    .iter()
                    .filter(|(name, _)| index.projects(name))
                    .map(|(name, value)| name.len() + crate::attrs::value_size(value))
                    .sum();
                footprint.index_bytes += projected + 100;
                delete_units += units(projected);
            }
            if retention_deletes {
                footprint.delete_units += delete_units;
            }
        }
        Ok(footprint)
    }

    /// Every item of the table as JSON, sorted by key, and every object key of the bucket.
    pub async fn dump(
        &self,
    ) -> Result<(Vec<BTreeMap<String, serde_json::Value>>, Vec<String>), StoreError> {
        let scanned = self.scan_all().await?;
        let mut items: Vec<BTreeMap<String, serde_json::Value>> = scanned
            .iter()
            .map(|item| item.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
            .collect();
        items.sort_by(|a: &BTreeMap<String, serde_json::Value>, b| {
            (
                a.get(PK).map(|v| v.to_string()),
                a.get(SK).map(|v| v.to_string()),
            )
                .cmp(&(
                    b.get(PK).map(|v| v.to_string()),
                    b.get(SK).map(|v| v.to_string()),
                ))
        });
        Ok((items, self.bucket_keys("").await?))
    }
}

/// What a table holds, as AWS bills it ([`Store::footprint`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Items in the table.
    pub items: usize,
    /// Bytes of storage of the table's items, but first-seen items.
    pub table_bytes: usize,
    /// Bytes of storage of their entries in the global secondary indexes.
    pub index_bytes: usize,
    /// Write units retention's deletes of its items (and so their index entries) take.
    pub delete_units: u64,
}

/// The benchmark's baseline: `count` copies of the run's first test items (same attributes,
/// same size, same index keys, so DynamoDB maintains the same indexes) written with plain
/// BatchWriteItem (25 per request, `concurrency` requests in flight), retrying
/// `UnprocessedItems` with backoff. Copies go to partitions `BENCH#{label}#{digit}`, spread
/// over 16 as a run's results are, so a per-partition limit holds the two alike.
pub async fn raw_batch_write(
    store: &Store,
    run: &crate::RunRef,
    label: &str,
    count: usize,
    concurrency: usize,
) -> Result<(), StoreError> {
    use crate::attrs::s;
    let templates = sample_items(store, run, 500).await?;
    if templates.is_empty() {
        return Err(StoreError::permanent(
            "raw_batch_write",
            "the run has no test items",
        ));
    }
    let requests: Vec<_> = (0..count)
        .map(|i| {
            let mut item = templates[i % templates.len()].clone();
            item.insert(PK.into(), s(format!("BENCH#{label}#{:x}", i % 16)));
            item.insert(SK.into(), s(format!("T#{i:064}")));
            crate::batch::put_request(item)
        })
        .collect();
    store.batch_write(requests, concurrency, None).await
}

/// Up to `sample` of the run's test items, from its first test partitions.
async fn sample_items(
    store: &Store,
    run: &crate::RunRef,
    sample: i32,
) -> Result<Vec<crate::attrs::Item>, StoreError> {
    let mut items = Vec::new();
    for pk in run.tests_pks() {
        let left = sample - items.len() as i32;
        if left <= 0 {
            break;
        }
        let out = store
            .ddb
            .query()
            .table_name(&store.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :t)")
            .expression_attribute_values(":pk", crate::attrs::s(pk))
            .expression_attribute_values(":t", crate::attrs::s(crate::keys::TEST_SK_PREFIX))
            .limit(left)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("Query", e))?;
        items.extend(out.items().iter().cloned());
    }
    Ok(items)
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

/// What each failing test of `make bench-scale`'s red build reports; the store's test of a
/// test item's size builds its attempt from the same.
pub struct RedBuildFailure {
    /// The failure's message.
    pub message: &'static str,
    /// Its type.
    pub failure_type: &'static str,
    /// A 20-line trace.
    pub details: String,
    /// 20 lines of captured output.
    pub stdout: String,
}

/// The red build's failure ([`RedBuildFailure`]).
pub fn red_build_failure() -> RedBuildFailure {
    let trace: String = (0..20)
        .map(|i| {
            format!(
                "    at com.example.service.Client.call(Client.java:{})\n",
                100 + i
            )
        })
        .collect();
    RedBuildFailure {
        message: "connection refused: localhost:8080",
        failure_type: "java.net.ConnectException",
        details: format!("java.net.ConnectException: connection refused\n{trace}"),
        stdout: "2026-12-05T06:00:00Z INFO starting the service on port 8080\n".repeat(20),
    }
}

/// A run of project `p` created at `created_ms` whose one file settled `done` with `summary`.
pub fn settled_run(run_key: &str, created_ms: u64, summary: verdict_model::Summary) -> crate::Run {
    crate::Run {
        run: crate::RunRef {
            project: crate::ProjectName::parse("p").expect("a project name"),
            run_key: crate::RunKey::parse(run_key).expect("a run key"),
        },
        created_ms,
        expires_at: 0,
        metadata: verdict_model::RunMetadata::default(),
        summary,
        files_registered: 1,
        files_done: 1,
        files_failed: 0,
        files_duplicate: 0,
        exclusive_writer: None,
        uncommitted: std::collections::HashSet::new(),
    }
}

/// An index as the limits of the test proxy see it: name, partition and sort key attributes,
/// and which of an item's attributes it copies.
pub struct IndexKeys {
    /// The index.
    pub name: &'static str,
    /// Its partition key attribute.
    pub pk: &'static str,
    /// Its sort key attribute: an item without it is not in the index (a sparse index).
    pub sk: &'static str,
    /// Whether it copies an item's attribute of that name.
    pub projects: Box<dyn Fn(&str) -> bool + Send + Sync>,
}

/// The table's indexes ([`IndexKeys`]).
pub fn index_keys() -> Vec<IndexKeys> {
    crate::schema::INDEXES
        .iter()
        .map(|index| IndexKeys {
            name: index.name,
            pk: index.pk,
            sk: index.sk,
            projects: Box::new(|name: &str| index.projects(name)),
        })
        .collect()
}
