//! When each test of a project was first seen: one small item per test, naming the earliest
//! run kept that has it. No index lists a test's every result (`history.rs`), so a test's
//! oldest result cannot be read; this item answers instead, for a few writes a run.
//!
//! Once all of a run's registered files are settled, every delivery of one of its files checks
//! that the run's tests are recorded ([`Store::record_first_seen`]): the run item's `seen_files`
//! says how many settled files that was done for. If not, the tests the run shows and the
//! project's newest settled run before it does not are put, each on condition that no earlier
//! run is recorded for it, and `seen_files` is set on condition the run's files are as read.
//! The first run that has a test finds it missing from any run before it, whichever that is,
//! so the earliest run of each test is put; later runs that find it new (a test that came
//! back) are refused by the condition. Puts are idempotent, so a delivery cut off part-way is
//! finished by the next one. The project's first run (no run of the project created before
//! it, settled or not, on the runs index) puts its items without condition, in bulk: no run
//! can come before it. The item expires with the run it names: once that run is past
//! retention, its test was first seen before every run kept, and the item says nothing.

use crate::attrs::{get_n, get_s, n, s, Expr, Item, CREATED_MS, EXPIRES_AT, KIND, RUN_KEY};
use crate::batch;
use crate::keys::{item_key, ProjectName, RunRef, FIRST_SEEN_PK_PREFIX};
use crate::runs::attr as run_attr;
use crate::runs::run_from_item;
use crate::{now_ms, Run, RunFilter, Store, StoreError, MAX_COMPARED_TESTS};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use std::collections::HashSet;

/// The run item's count of settled files its tests were recorded at.
pub(crate) const SEEN_FILES: &str = "seen_files";
/// First-seen items put in one transaction (DynamoDB's most): a project's first run puts one per
/// test, and one request each would be hundreds of thousands of requests.
const PUTS_PER_TRANSACTION: usize = 100;
/// Transactions in flight at once.
const TRANSACTIONS_IN_FLIGHT: usize = 8;
/// BatchWriteItems in flight at once, for a project's first run.
const BULK_WRITES_IN_FLIGHT: usize = 16;
/// Items a project's first run builds and writes at once: enough to keep every write in flight.
const BULK_SLICE: usize = 25 * BULK_WRITES_IN_FLIGHT * 4;

/// The run a test was first seen in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstSeen {
    /// The run.
    pub run_key: String,
    /// When it was created.
    pub created_ms: u64,
}

/// The conditional put of `run` as where `test_id` was first seen, for a transaction.
fn first_seen_put(run: &Run, test_id: &str, table: &str) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(first_seen_item(run, test_id)))
        .condition_expression(
            "attribute_not_exists(pk) OR #created > :created \
             OR (#created = :created AND #run > :run)",
        )
        .expression_attribute_names("#created", CREATED_MS)
        .expression_attribute_names("#run", RUN_KEY)
        .expression_attribute_values(":created", n(run.created_ms))
        .expression_attribute_values(":run", s(run.run.run_key.as_str()))
        .build()
        .map_err(|e| StoreError::permanent("first seen put", e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The item that says `test_id` was first seen in `run`.
fn first_seen_item(run: &Run, test_id: &str) -> Item {
    let mut item = first_seen_key(&run.run.project, test_id);
    item.extend([
        (KIND.to_string(), s("first_seen")),
        (RUN_KEY.to_string(), s(run.run.run_key.as_str())),
        (CREATED_MS.to_string(), n(run.created_ms)),
        (EXPIRES_AT.to_string(), n(run.expires_at)),
    ]);
    item
}

/// The key of test `test_id`'s first-seen item: its own partition, so a run's puts spread.
fn first_seen_key(project: &ProjectName, test_id: &str) -> Item {
    item_key(
        format!("{FIRST_SEEN_PK_PREFIX}{project}#{test_id}"),
        "FIRST".into(),
    )
}

impl Store {
    /// Records the run's tests that no earlier run has (module documentation). Nothing while a
    /// file of the run is unsettled, when its settled files were recorded already, or when it
    /// or the run before it has more tests than a comparison reads ([`MAX_COMPARED_TESTS`]):
    /// both are read whole.
    pub async fn record_first_seen(&self, run: &RunRef) -> Result<(), StoreError> {
        let Some(item) = self.read_item("GetItem run", run.item_key(), true).await? else {
            return Ok(());
        };
        let Some(current) = run_from_item(&item) else {
            return Ok(());
        };
        let settled = current.files_settled();
        if current.files_unsettled() > 0 || get_n(&item, SEEN_FILES) == i64::try_from(settled).ok()
        {
            return Ok(());
        }
        let before = RunFilter {
            before_ms: Some(current.created_ms),
            ..RunFilter::default()
        };
        let base = self.newest_settled(&run.project, &before).await?;
        let largest = base.as_ref().map_or(0, |b| b.summary.tests);
        if current.summary.tests.max(largest) > MAX_COMPARED_TESTS {
            return Ok(());
        }
        let had: HashSet<String> = match &base {
            Some(base) => {
                let rows = self.run_outcomes(&base.run).await?;
                let (_, rows) = self.shown_rows(&base.run, rows).await?;
                rows.into_iter().map(|row| row.test_id).collect()
            }
            None => HashSet::new(),
        };
        let rows = self.run_outcomes(run).await?;
        let (_, rows) = self.shown_rows(run, rows).await?;
        let new: Vec<String> = rows
            .into_iter()
            .map(|row| row.test_id)
            .filter(|id| !had.contains(id))
            .collect();
        let any_earlier = RunFilter {
            before_ms: Some(current.created_ms),
            ..RunFilter::default()
        };
        if self
            .list_runs(&run.project, &any_earlier, 1, None)
            .await?
            .items
            .is_empty()
        {
            // The project's first run: no run created before it, settled or not, so none can
            // be where any test was first seen before it, and its items go in bulk.
            // Built a slice at a time: 100,000 items at once would hold 100 MB.
            for slice in new.chunks(BULK_SLICE) {
                let puts = slice
                    .iter()
                    .map(|test_id| batch::put_request(first_seen_item(&current, test_id)))
                    .collect();
                self.batch_write(puts, BULK_WRITES_IN_FLIGHT, None).await?;
            }
        } else {
            let chunks: Vec<Vec<String>> = new
                .chunks(PUTS_PER_TRANSACTION)
                .map(<[String]>::to_vec)
                .collect();
            stream::iter(chunks)
                .map(|tests| self.put_first_seen(&current, tests))
                .buffer_unordered(TRANSACTIONS_IN_FLIGHT)
                .try_collect::<Vec<()>>()
                .await?;
        }
        let mut e = Expr::default();
        let update = format!("SET {}", e.set(SEEN_FILES, n(settled)));
        let condition = format!(
            "{} = {} AND {} = {}",
            e.name(run_attr::FILES_REGISTERED),
            e.value(n(current.files_registered)),
            e.name(run_attr::FILES_SETTLED),
            e.value(n(settled)),
        );
        // Refused when another file registered or settled meanwhile: its delivery records again.
        self.updated_if(
            "UpdateItem first seen recorded",
            run.item_key(),
            update,
            condition,
            e,
        )
        .await?;
        Ok(())
    }

    /// Puts `run` as where each of `tests` was first seen, unless an earlier run (by creation
    /// time, then run key) is, in one transaction. A test refused by its condition (an earlier
    /// run is recorded, or this one already is) stays as it is, and the others are put again.
    async fn put_first_seen(&self, run: &Run, tests: Vec<String>) -> Result<(), StoreError> {
        const OPERATION: &str = "TransactWriteItems first seen";
        let mut left = tests;
        while !left.is_empty() {
            let puts = left
                .iter()
                .map(|test_id| first_seen_put(run, test_id, &self.table))
                .collect::<Result<Vec<_>, _>>()?;
            let Err(codes) = self.transact(OPERATION, puts).await? else {
                return Ok(());
            };
            let before = left.len();
            left = left
                .into_iter()
                .zip(codes)
                .filter(|(_, code)| code.as_deref() != Some("ConditionalCheckFailed"))
                .map(|(test_id, _)| test_id)
                .collect();
            if left.len() == before {
                return Err(StoreError::transient(
                    OPERATION,
                    "cancelled, no item refused",
                ));
            }
        }
        Ok(())
    }

    /// The run test `test_id` was first seen in, while that run is kept.
    pub async fn first_seen(
        &self,
        project: &ProjectName,
        test_id: &str,
    ) -> Result<Option<FirstSeen>, StoreError> {
        let item = self
            .read_item(
                "GetItem first seen",
                first_seen_key(project, test_id),
                false,
            )
            .await?;
        let now_s = now_ms() / 1000;
        Ok(item.and_then(|item| {
            let expires = get_n(&item, EXPIRES_AT).unwrap_or(i64::MAX);
            // TTL deletes an expired item within days, not at once.
            (u64::try_from(expires).unwrap_or(u64::MAX) > now_s).then(|| FirstSeen {
                run_key: get_s(&item, RUN_KEY).unwrap_or_default().to_string(),
                created_ms: get_n(&item, CREATED_MS)
                    .and_then(|ms| u64::try_from(ms).ok())
                    .unwrap_or(0),
            })
        }))
    }
}
