//! When each test of a project was first seen: the earliest run kept that has it. No index
//! lists a test's every result (`history.rs`), so a test's oldest result cannot be read; a few
//! small items answer instead.
//!
//! - The project's first run: one item (`S#{project}`, `FIRST_RUN`) names it. Every test it has
//!   was first seen there, so no item per test is written: a project's first run of 100,000
//!   tests puts one item, not 100,000.
//! - Every later run: one item per test it has and its base does not, unless the first run has
//!   it (`S#{project}#{test_id}`, `FIRST`), put on condition that no earlier run is recorded for
//!   it. The base is the one its comparison is made with (`comparison.rs`), else the project's
//!   newest settled run before it, of any branch; the comparison with it lists those tests (the
//!   one made as the run settled, when kept).
//!
//! [`Store::first_seen`] answers the first run when it has the test, else the test's item.
//!
//! Once all of a run's registered files are settled, every delivery of one of its files
//! records (`Store::record_first_seen`) until the run item's `seen_files` says it was done for
//! as many settled files as there are. The first run that has a test finds it missing from any
//! run before it, whichever is its base, so the earliest run of each test is put; later runs that
//! find it new (a test that came back) are refused by the condition, or skipped when the first
//! run has it. Puts are idempotent, so a delivery cut off part-way is finished by the next one.
//! A run counts as the project's first when no run of the project, settled or not, was created
//! before it on the runs index. Of two that both think so (created within the index's lag of
//! each other), the earlier created is named: when it records after the later one took the
//! name, it first puts the tests only the later one has as first seen there, then takes the
//! name back. Items expire with the run they name: once that run is past retention, its tests
//! were first seen before every run kept, and nothing is said; a run past its retention records
//! nothing.

use crate::attrs::{get_n, get_s, n, s, Expr, Item, CREATED_MS, EXPIRES_AT, KIND, RUN_KEY};
use crate::keys::{item_key, ProjectName, RunKey, RunRef, FIRST_SEEN_PK_PREFIX};
use crate::runs::attr as run_attr;
use crate::runs::run_from_item;
use crate::{now_ms, Run, RunFilter, Store, StoreError, MAX_COMPARED_TESTS};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use std::collections::HashSet;

/// The run item's count of settled files its tests were recorded at.
pub(crate) const SEEN_FILES: &str = "seen_files";
/// First-seen items put in one transaction (DynamoDB's most).
const PUTS_PER_TRANSACTION: usize = 100;
/// Transactions in flight at once.
const TRANSACTIONS_IN_FLIGHT: usize = 8;
/// The condition of a first-seen put: no run recorded, or only a later one (by creation time,
/// then run key).
const EARLIER_WINS: &str =
    "attribute_not_exists(pk) OR #created > :created OR (#created = :created AND #run > :run)";

/// The run a test was first seen in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstSeen {
    /// The run.
    pub run_key: String,
    /// When it was created.
    pub created_ms: u64,
}

impl FirstSeen {
    /// Whether this run was created after `run` (then by run key, as [`EARLIER_WINS`] orders).
    fn after(&self, run: &Run) -> bool {
        (self.created_ms, self.run_key.as_str()) > (run.created_ms, run.run.run_key.as_str())
    }

    /// Whether this is `run`.
    fn names(&self, run: &Run) -> bool {
        self.run_key == run.run.run_key.as_str()
    }

    /// What a first-seen item says, while the run it names is kept.
    fn of_item(item: &Item) -> Option<FirstSeen> {
        let expires = get_n(item, EXPIRES_AT).unwrap_or(i64::MAX);
        // TTL deletes an expired item within days, not at once.
        if u64::try_from(expires).unwrap_or(u64::MAX) <= now_ms() / 1000 {
            return None;
        }
        Some(FirstSeen {
            run_key: get_s(item, RUN_KEY)?.to_string(),
            created_ms: get_n(item, CREATED_MS).and_then(|ms| u64::try_from(ms).ok())?,
        })
    }
}

/// The put of an item at `key` naming `run`, on condition no earlier run is named there, for a
/// transaction.
fn earlier_wins_put(run: &Run, key: Item, table: &str) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(naming(run, key)))
        .condition_expression(EARLIER_WINS)
        .expression_attribute_names("#created", CREATED_MS)
        .expression_attribute_names("#run", RUN_KEY)
        .expression_attribute_values(":created", n(run.created_ms))
        .expression_attribute_values(":run", s(run.run.run_key.as_str()))
        .build()
        .map_err(|e| StoreError::permanent("first seen put", e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The item at `key` that names `run`.
fn naming(run: &Run, mut key: Item) -> Item {
    key.extend([
        (KIND.to_string(), s("first_seen")),
        (RUN_KEY.to_string(), s(run.run.run_key.as_str())),
        (CREATED_MS.to_string(), n(run.created_ms)),
        (EXPIRES_AT.to_string(), n(run.expires_at)),
    ]);
    key
}

/// The key of test `test_id`'s first-seen item: its own partition, so a run's puts spread.
fn first_seen_key(project: &ProjectName, test_id: &str) -> Item {
    item_key(
        format!("{FIRST_SEEN_PK_PREFIX}{project}#{test_id}"),
        "FIRST".into(),
    )
}

/// The key of the item naming the project's first run.
fn first_run_key(project: &ProjectName) -> Item {
    item_key(
        format!("{FIRST_SEEN_PK_PREFIX}{project}"),
        "FIRST_RUN".into(),
    )
}

impl Store {
    /// Records the run's tests that no earlier run has (module documentation). Nothing while a
    /// file of the run is unsettled, when its settled files were recorded already, or when it
    /// is past its retention; for a run after the first, nothing when it or the run before it
    /// has more tests than a comparison reads ([`MAX_COMPARED_TESTS`]): both are read whole.
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
        // Past its retention (retention deletes it soon): what it would put is expired already.
        if current.expires_at <= now_ms() / 1000 {
            return Ok(());
        }
        // A run named first but created after this one took the name while this one was not
        // yet on the runs index: this one takes it back, after putting the tests only that
        // run has as first seen there (it put none).
        let named = self.first_run(&run.project).await?;
        let first = if named.as_ref().is_none_or(|f| f.after(&current))
            && self.is_first_run(&current).await?
        {
            if let Some(later) = &named {
                self.hand_back(&current, later).await?;
            }
            self.name_first_run(&current).await?
        } else {
            named
        };
        if !first.as_ref().is_some_and(|f| f.names(&current)) {
            self.record_new_tests(&current, first).await?;
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

    /// Whether no run of the project was created before `run` (settled or not).
    async fn is_first_run(&self, run: &Run) -> Result<bool, StoreError> {
        let before = RunFilter {
            before_ms: Some(run.created_ms),
            ..RunFilter::default()
        };
        let listed = self.list_runs(&run.run.project, &before, 1, None).await?;
        Ok(listed.items.is_empty())
    }

    /// Names `run` the project's first run, unless an earlier one is named; the one named.
    async fn name_first_run(&self, run: &Run) -> Result<Option<FirstSeen>, StoreError> {
        let put = earlier_wins_put(run, first_run_key(&run.run.project), &self.table)?;
        // Refused when an earlier run is named: which run is named is read back either way.
        let _named_or_refused = self
            .transact("TransactWriteItems first run", vec![put])
            .await?;
        self.first_run(&run.run.project).await
    }

    /// The project's first run, while it is kept.
    async fn first_run(&self, project: &ProjectName) -> Result<Option<FirstSeen>, StoreError> {
        let item = self
            .read_item("GetItem first run", first_run_key(project), true)
            .await?;
        Ok(item.as_ref().and_then(FirstSeen::of_item))
    }

    /// Puts `run` as where each of its tests was first seen that the project's newest settled
    /// run before it lacks and its `first` run (when there is one, and it is neither) lacks.
    async fn record_new_tests(
        &self,
        run: &Run,
        first: Option<FirstSeen>,
    ) -> Result<(), StoreError> {
        // The comparison's base, whose comparison made as the run settled lists the new tests;
        // else, not to put every test of a branch's first run, the newest of any branch.
        let base = match self.default_base(run).await? {
            Some((base, _)) => Some(base),
            None => {
                let before = RunFilter {
                    before_ms: Some(run.created_ms),
                    ..RunFilter::default()
                };
                self.newest_settled(&run.run.project, &before).await?
            }
        };
        let largest = base.as_ref().map_or(0, |b| b.summary.tests);
        if run.summary.tests.max(largest) > MAX_COMPARED_TESTS {
            return Ok(());
        }
        let mut new = self.new_tests(run, base.as_ref()).await?;
        // Nothing to look for in the first run when it is the base.
        if let Some(first) = first.filter(|f| !base.as_ref().is_some_and(|b| f.names(b))) {
            new = self.lacking(&run.run.project, &first, new).await?;
        }
        self.put_all_first_seen(run, new).await
    }

    /// Puts the tests `later`, a run named first before `run`, created earlier, took the name
    /// back, has and `run` lacks as first seen in `later`: as the project's first run it put
    /// none. Nothing when either has more tests than a comparison reads.
    async fn hand_back(&self, run: &Run, later: &FirstSeen) -> Result<(), StoreError> {
        let Some(later) = self.kept_run(&run.run.project, &later.run_key).await? else {
            return Ok(());
        };
        if run.summary.tests.max(later.summary.tests) > MAX_COMPARED_TESTS {
            return Ok(());
        }
        let (theirs, ours) = tokio::try_join!(self.test_ids(&later.run), self.test_ids(&run.run))?;
        let only_theirs = theirs.into_iter().filter(|id| !ours.contains(id)).collect();
        self.put_all_first_seen(&later, only_theirs).await
    }

    /// Puts `run` as where each of `tests` was first seen, [`PUTS_PER_TRANSACTION`] to a
    /// transaction, [`TRANSACTIONS_IN_FLIGHT`] at once.
    async fn put_all_first_seen(&self, run: &Run, tests: Vec<String>) -> Result<(), StoreError> {
        let chunks: Vec<Vec<String>> = tests
            .chunks(PUTS_PER_TRANSACTION)
            .map(<[String]>::to_vec)
            .collect();
        stream::iter(chunks)
            .map(|tests| self.put_first_seen(run, tests))
            .buffer_unordered(TRANSACTIONS_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// The tests `run` has and `base` lacks: the comparison's list, the one made as the run
    /// settled when it is kept.
    async fn new_tests(&self, run: &Run, base: Option<&Run>) -> Result<Vec<String>, StoreError> {
        let Some(base) = base else {
            return Ok(self.test_ids(&run.run).await?.into_iter().collect());
        };
        let comparison = match self.kept_comparison(run, base).await? {
            Some(kept) => kept,
            None => self.make_comparison(run, base).await?,
        };
        Ok(comparison.new_tests)
    }

    /// The ids of the tests `run` shows.
    async fn test_ids(&self, run: &RunRef) -> Result<HashSet<String>, StoreError> {
        let outcomes = self
            .run_outcomes(run)
            .await?
            .map(|(_, o)| o)
            .unwrap_or_default();
        Ok(outcomes.into_iter().map(|o| o.test_id).collect())
    }

    /// Those of `tests` that run `first` does not have.
    async fn lacking(
        &self,
        project: &ProjectName,
        first: &FirstSeen,
        tests: Vec<String>,
    ) -> Result<Vec<String>, StoreError> {
        let Some(first) = self.kept_run(project, &first.run_key).await? else {
            return Ok(tests);
        };
        let found = self.results_in_runs(project, &[first], &tests).await?;
        Ok(tests
            .into_iter()
            .zip(found)
            .filter(|(_, rows)| rows.is_empty())
            .map(|(id, _)| id)
            .collect())
    }

    /// The run `run_key` of `project`, if it is still there.
    async fn kept_run(
        &self,
        project: &ProjectName,
        run_key: &str,
    ) -> Result<Option<Run>, StoreError> {
        let Ok(run_key) = RunKey::parse(run_key) else {
            return Ok(None);
        };
        self.get_run(&RunRef {
            project: project.clone(),
            run_key,
        })
        .await
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
                .map(|id| earlier_wins_put(run, first_seen_key(&run.run.project, id), &self.table))
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

    /// The run test `test_id` was first seen in, while that run is kept: the project's first
    /// run when it has the test, else the run its own item names.
    pub async fn first_seen(
        &self,
        project: &ProjectName,
        test_id: &str,
    ) -> Result<Option<FirstSeen>, StoreError> {
        let (first, own) = tokio::try_join!(
            self.first_run(project),
            self.read_item(
                "GetItem first seen",
                first_seen_key(project, test_id),
                false
            ),
        )?;
        if let Some(first) = first {
            let has = self
                .lacking(project, &first, vec![test_id.to_string()])
                .await?
                .is_empty();
            if has {
                return Ok(Some(first));
            }
        }
        Ok(own.as_ref().and_then(FirstSeen::of_item))
    }
}
