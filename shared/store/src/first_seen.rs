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
//! finished by the next one. The item expires with the run it names: once that run is past
//! retention, its test was first seen before every run kept, and the item says nothing.

use crate::attrs::{get_n, get_s, n, s, Expr, Item, CREATED_MS, EXPIRES_AT, KIND, RUN_KEY};
use crate::ddb::conditional;
use crate::keys::{item_key, ProjectName, RunRef};
use crate::runs::attr as run_attr;
use crate::runs::run_from_item;
use crate::{now_ms, Run, RunFilter, Store, StoreError};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use std::collections::HashSet;

/// The run item's count of settled files its tests were recorded at.
pub(crate) const SEEN_FILES: &str = "seen_files";
/// Puts in flight at once.
const PUTS_IN_FLIGHT: usize = 16;

/// The run a test was first seen in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstSeen {
    /// The run.
    pub run_key: String,
    /// When it was created.
    pub created_ms: u64,
}

/// The key of test `test_id`'s first-seen item: its own partition, so a run's puts spread.
fn first_seen_key(project: &ProjectName, test_id: &str) -> Item {
    item_key(format!("S#{project}#{test_id}"), "FIRST".into())
}

impl Store {
    /// Records the run's tests that no earlier run has (module documentation). Nothing while a
    /// file of the run is unsettled, or when its settled files were recorded already.
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
        stream::iter(new)
            .map(|test_id| self.put_first_seen(&current, test_id))
            .buffer_unordered(PUTS_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
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

    /// Puts `run` as where `test_id` was first seen, unless an earlier run (by creation time,
    /// then run key) is.
    async fn put_first_seen(&self, run: &Run, test_id: String) -> Result<(), StoreError> {
        let mut item = first_seen_key(&run.run.project, &test_id);
        item.extend([
            (KIND.to_string(), s("first_seen")),
            (RUN_KEY.to_string(), s(run.run.run_key.as_str())),
            (CREATED_MS.to_string(), n(run.created_ms)),
            (EXPIRES_AT.to_string(), n(run.expires_at)),
        ]);
        let result = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR #created > :created \
                 OR (#created = :created AND #run > :run)",
            )
            .expression_attribute_names("#created", CREATED_MS)
            .expression_attribute_names("#run", RUN_KEY)
            .expression_attribute_values(":created", n(run.created_ms))
            .expression_attribute_values(":run", s(run.run.run_key.as_str()))
            .send()
            .await;
        // A refusal: an earlier run is recorded, as it should stay.
        conditional("PutItem first seen", result)?.ok();
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
