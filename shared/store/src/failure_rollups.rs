//! Failure rollups: per project, UTC day, test, failure fingerprint and branch, how many runs
//! failed that way and how many passed only on a retry, so that failure groups and flaky
//! candidates over any window read one Query of small items however many runs it holds. There is
//! no item for all branches: a failing test costs one rollup update, and a reader of all
//! branches adds up the branches' items, as it adds up days.
//!
//! A settled run's failures (its failed, errored and flaky results as the run shows them) are a
//! [`Snapshot`], kept in S3 under a name that is the hash of its content. The run item says
//! which snapshot the rollups hold (`failures_rolled`); [`Store::roll_failures`] moves them to
//! the run's current snapshot by `ADD`ing the difference, in transactions of at most 99
//! rollup items. The run item takes part in each: the first claims the roll
//! (`failures_rolling`, the target's hash), each records the chunks done (`failures_step`, on
//! condition it is as read), the last sets `failures_rolled`. So a chunk is added exactly once
//! whoever applies it, a roll cut off half-way is finished by the next delivery, and a roll
//! repeated or raced finds the run at its snapshot and writes nothing. Runs without a failure
//! write nothing at all.

use crate::attrs::{get_n, get_s, n, s, Expr, Item, CREATED_MS, EXPIRES_AT, KIND, PROJECT, SK};
use crate::keys::{
    failure_group_pk, failure_group_sk, failure_rollup_pk, failure_rollup_pks, failure_rollup_sk,
    failures_snapshot_key, item_key, rollup_sk, Granularity, ProjectName, RunRef,
};
use crate::queries::{test_row, PROBLEMS_INDEX};
use crate::results::attr as test_attr;
use crate::runs::{attr as run_attr, run_from_item, Run};
use crate::{Store, StoreError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::TransactWriteItem;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use verdict_model::Status;

/// The run item's record of its failure roll.
pub(crate) mod attr {
    /// The hash of the snapshot the failure rollups hold for the run.
    pub(crate) const ROLLED: &str = "failures_rolled";
    /// The hash of the snapshot a roll under way moves them to.
    pub(crate) const ROLLING: &str = "failures_rolling";
    /// How many chunks of that roll are added.
    pub(crate) const STEP: &str = "failures_step";
}

/// The rollup items' counters.
const FAILED: &str = "failed";
const FLAKY: &str = "flaky";
const RUNS: &str = "runs";
/// The rollup items' kinds: a test failing one way, and the runs of a failure.
const KIND_FAILURE_ROLLUP: &str = "failure_rollup";
const KIND_FAILURE_RUNS: &str = "failure_runs";
/// Rollup items per transaction (DynamoDB takes 100 actions; one is the run item).
const CHUNK: usize = 99;
/// Rounds of a roll (read the run, claim or apply) in a row that find the run's roll where
/// the round before left it, before giving up for now. A lost race means another roll moved
/// the run (a claim, a chunk, a file settled): that is progress, and racing a roll of many
/// chunks loses once per chunk, so such rounds do not count.
const MAX_STALLED_ROUNDS: usize = 8;
/// The name a failure roll's transactions go by in errors.
const ROLL_OPERATION: &str = "TransactWriteItems failure roll";

/// One failed or flaky result of a run, as the rollups count it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FailureRow {
    test_id: String,
    fingerprint: Option<String>,
    classname: String,
    name: String,
    /// 1 when it failed or errored.
    failed: i64,
    /// 1 when it passed on a retry.
    flaky: i64,
}

/// What a run adds to the failure rollups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Snapshot {
    day_ms: u64,
    branch: Option<String>,
    expires_at: u64,
    /// By test id.
    rows: Vec<FailureRow>,
}

impl Snapshot {
    fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a snapshot serializes")
    }

    /// The fingerprints of the run's failures, each once.
    fn failures(&self) -> BTreeSet<&str> {
        self.rows
            .iter()
            .filter(|row| row.failed > 0)
            .filter_map(|row| row.fingerprint.as_deref())
            .collect()
    }
}

fn hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The counts of one test, failing one way, on one day (on one branch: a test failing on two
/// branches the same day has two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCount {
    /// The day's start (ms since the epoch, UTC).
    pub day_ms: u64,
    /// The test.
    pub test_id: String,
    /// The failure's fingerprint (`None` for a flaky pass without one).
    pub fingerprint: Option<String>,
    /// The test's class.
    pub classname: String,
    /// The test's name.
    pub name: String,
    /// Runs where it failed or errored with this fingerprint.
    pub failed: i64,
    /// Runs where it passed on a retry.
    pub flaky: i64,
}

/// What a rollup item counts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Counted {
    /// A test failing one way, or passing on a retry: the runs where it did.
    Test(FailureRow),
    /// A failure: the runs where at least one test failed that way.
    Failure { fingerprint: String, runs: i64 },
}

impl Counted {
    fn is_zero(&self) -> bool {
        match self {
            Counted::Test(row) => row.failed == 0 && row.flaky == 0,
            Counted::Failure { runs, .. } => *runs == 0,
        }
    }
}

/// One rollup item's change: its key, its branch, and what to add.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    pk: String,
    sk: String,
    counted: Counted,
    branch: Option<String>,
    expires_at: u64,
}

/// What a round of a roll reads of the run: when it is the same as the round before read,
/// the round between made no progress.
#[derive(Debug, PartialEq, Eq)]
struct RollState {
    rolled: Option<String>,
    rolling: Option<String>,
    step: Option<i64>,
    files_registered: u64,
    files_settled: u64,
}

/// The rollup changes that move the rollups from holding `old` to holding `new`, the same list
/// whoever computes it: in key order within each of the rollups' partitions, and the
/// partitions taken in turn (the first change of each, then the second of each, ...). So a
/// chunk's transaction takes a few write units from each partition rather than all of them from
/// one: in key order, each chunk of a red build's roll landed on a single partition (99 items,
/// 198 units) and the roll went at one partition's rate, not sixteen's.
fn changes(project: &ProjectName, old: &Snapshot, new: &Snapshot) -> Vec<Change> {
    let mut by_partition: BTreeMap<String, VecDeque<Change>> = BTreeMap::new();
    for change in changes_in_key_order(project, old, new) {
        by_partition
            .entry(change.pk.clone())
            .or_default()
            .push_back(change);
    }
    let mut taken = Vec::new();
    while !by_partition.is_empty() {
        by_partition.retain(|_, queue| {
            taken.extend(queue.pop_front());
            !queue.is_empty()
        });
    }
    taken
}

/// [`changes`] in key order.
fn changes_in_key_order(project: &ProjectName, old: &Snapshot, new: &Snapshot) -> Vec<Change> {
    let mut by_key: BTreeMap<(String, String), Change> = BTreeMap::new();
    for (snapshot, sign) in [(old, -1), (new, 1)] {
        let day = Granularity::Day.start(snapshot.day_ms);
        let branch = snapshot.branch.as_deref();
        for row in &snapshot.rows {
            let pk = failure_rollup_pk(project, &row.test_id);
            let sk = failure_rollup_sk(day, &row.test_id, row.fingerprint.as_deref(), branch);
            let zero = Counted::Test(FailureRow {
                failed: 0,
                flaky: 0,
                ..row.clone()
            });
            if let Counted::Test(sum) = &mut change_of(&mut by_key, pk, sk, zero, snapshot, sign) {
                sum.failed += sign * row.failed;
                sum.flaky += sign * row.flaky;
            }
        }
        for fingerprint in snapshot.failures() {
            let pk = failure_group_pk(project, fingerprint);
            let sk = failure_group_sk(day, branch);
            let zero = Counted::Failure {
                fingerprint: fingerprint.to_string(),
                runs: 0,
            };
            if let Counted::Failure { runs, .. } =
                &mut change_of(&mut by_key, pk, sk, zero, snapshot, sign)
            {
                *runs += sign;
            }
        }
    }
    by_key
        .into_values()
        .filter(|c| !c.counted.is_zero())
        .collect()
}

/// What `snapshot` (taken away when `sign` is −1) adds to the item `pk`, `sk`, so far: its
/// counts, from `zero`.
fn change_of<'a>(
    by_key: &'a mut BTreeMap<(String, String), Change>,
    pk: String,
    sk: String,
    zero: Counted,
    snapshot: &Snapshot,
    sign: i64,
) -> &'a mut Counted {
    let change = by_key.entry((pk.clone(), sk.clone())).or_insert(Change {
        pk,
        sk,
        counted: zero,
        branch: snapshot.branch.clone(),
        expires_at: snapshot.expires_at,
    });
    if sign > 0 {
        change.expires_at = snapshot.expires_at;
    }
    &mut change.counted
}

impl Store {
    /// Brings the failure rollups up to `run`'s failures as the run shows them now, once all
    /// its registered files are settled (see the module's documentation). A run still being
    /// ingested is rolled by the settle of its last file; a roll cut off half-way is finished
    /// here first.
    pub async fn roll_failures(&self, run: &RunRef) -> Result<(), StoreError> {
        let mut seen = None;
        let mut stalled = 0;
        while stalled < MAX_STALLED_ROUNDS {
            let Some(item) = self.read_item("GetItem run", run.item_key(), true).await? else {
                return Ok(());
            };
            let Some(current) = run_from_item(&item) else {
                return Ok(());
            };
            let rolled = get_s(&item, attr::ROLLED).map(str::to_string);
            let state = RollState {
                rolled: rolled.clone(),
                rolling: get_s(&item, attr::ROLLING).map(str::to_string),
                step: get_n(&item, attr::STEP),
                files_registered: current.files_registered,
                files_settled: current.files_settled(),
            };
            if seen.as_ref() == Some(&state) {
                stalled += 1;
            } else {
                stalled = 0;
            }
            seen = Some(state);
            if let Some(target) = get_s(&item, attr::ROLLING) {
                let step = usize::try_from(get_n(&item, attr::STEP).unwrap_or(0)).unwrap_or(0);
                self.apply_failure_roll(run, rolled.as_deref(), target, step)
                    .await?;
                continue;
            }
            if current.files_unsettled() > 0 {
                return Ok(());
            }
            let snapshot = self.failure_snapshot(&current).await?;
            let bytes = snapshot.bytes();
            let target = hash(&bytes);
            let holds_it = match &rolled {
                Some(rolled) => *rolled == target,
                None => snapshot.rows.is_empty(),
            };
            if holds_it {
                return Ok(());
            }
            self.put_derived(&failures_snapshot_key(run, &target), bytes)
                .await?;
            // Ours to roll: the claim held the run's files as the snapshot was taken from, so
            // once it is applied there is nothing to look at again (a later file rolls anew).
            if self
                .claim_failure_roll(&current, rolled.as_deref(), &target)
                .await?
                && self
                    .apply_failure_roll(run, rolled.as_deref(), &target, 0)
                    .await?
            {
                return Ok(());
            }
        }
        Err(StoreError::transient(
            "TransactWriteItems failure roll",
            format!(
                "run {} kept changing while its failures were rolled up",
                run.run_key
            ),
        ))
    }

    /// Marks the run as rolling to `target`, on condition that no roll is under way, the
    /// rollups hold `rolled`, and the run's files are as the snapshot was taken from; whether
    /// the mark was made.
    async fn claim_failure_roll(
        &self,
        run: &Run,
        rolled: Option<&str>,
        target: &str,
    ) -> Result<bool, StoreError> {
        let mut e = Expr::default();
        let update = format!(
            "SET {}, {}",
            e.set(attr::ROLLING, s(target)),
            e.set(attr::STEP, n(0))
        );
        let condition = [
            format!("attribute_not_exists({})", e.name(attr::ROLLING)),
            rolled_condition(&mut e, rolled),
            format!(
                "{} = {}",
                e.name(run_attr::FILES_REGISTERED),
                e.value(n(run.files_registered))
            ),
            format!(
                "{} = {}",
                e.name(run_attr::FILES_SETTLED),
                e.value(n(run.files_settled()))
            ),
        ];
        self.updated_if(
            "UpdateItem claim failure roll",
            run.run.item_key(),
            update,
            condition.join(" AND "),
            e,
        )
        .await
    }

    /// Adds the chunks from `step` on of the change from the snapshot `rolled` (none: nothing)
    /// to `target`, each in one transaction with the run item's step; the last one records
    /// `target` as rolled, and the old snapshot is deleted. Stops, to be read again, when
    /// another roll moved the run; whether this one made the last chunk.
    async fn apply_failure_roll(
        &self,
        run: &RunRef,
        rolled: Option<&str>,
        target: &str,
        step: usize,
    ) -> Result<bool, StoreError> {
        let old = match rolled {
            Some(hash) => self.read_snapshot(run, hash).await?,
            None => Some(Snapshot::default()),
        };
        let new = self.read_snapshot(run, target).await?;
        // A snapshot is deleted once a roll moved the rollups past it: another delivery did
        // while this one read the run item, which is read again.
        let (Some(old), Some(new)) = (old, new) else {
            return Ok(false);
        };
        let changes = changes(&run.project, &old, &new);
        let chunks: Vec<&[Change]> = if changes.is_empty() {
            vec![&[]]
        } else {
            changes.chunks(CHUNK).collect()
        };
        for (k, chunk) in chunks.iter().enumerate().skip(step) {
            let last = k + 1 == chunks.len();
            let mut items = vec![self.failure_step_item(run, target, k, last)?];
            for change in *chunk {
                items.push(self.failure_rollup_item(&run.project, change)?);
            }
            if self.transact(ROLL_OPERATION, items).await?.is_err() {
                return Ok(false);
            }
        }
        // The rollups no longer hold the old snapshot, and no roll starts from it again.
        if let Some(old) = rolled.filter(|old| *old != target) {
            self.delete_snapshot(run, old).await?;
        }
        Ok(true)
    }

    async fn delete_snapshot(&self, run: &RunRef, hash: &str) -> Result<(), StoreError> {
        let key = failures_snapshot_key(run, hash);
        self.delete_object("DeleteObject failures snapshot", &key)
            .await
    }

    /// The run item's part in chunk `k` of the roll to `target`.
    fn failure_step_item(
        &self,
        run: &RunRef,
        target: &str,
        k: usize,
        last: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expr::default();
        let update = if last {
            format!(
                "SET {} REMOVE {}, {}",
                e.set(attr::ROLLED, s(target)),
                e.name(attr::ROLLING),
                e.name(attr::STEP)
            )
        } else {
            format!("SET {}", e.set(attr::STEP, n(k + 1)))
        };
        let condition = format!(
            "{} = {} AND {} = {}",
            e.name(attr::ROLLING),
            e.value(s(target)),
            e.name(attr::STEP),
            e.value(n(k))
        );
        self.transact_update(ROLL_OPERATION, run.item_key(), update, Some(condition), e)
    }

    /// `ADD`s one change to its rollup item.
    fn failure_rollup_item(
        &self,
        project: &ProjectName,
        change: &Change,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expr::default();
        let mut sets = vec![
            e.set(PROJECT, s(project.as_str())),
            // A rollup lives a day past the last of its runs.
            e.set(EXPIRES_AT, n(change.expires_at + 86_400)),
        ];
        let (fingerprint, adds) = match &change.counted {
            Counted::Test(row) => {
                sets.extend([
                    e.set(KIND, s(KIND_FAILURE_ROLLUP)),
                    e.set(test_attr::TEST_ID, s(&row.test_id)),
                    e.set(test_attr::CLASSNAME, s(&row.classname)),
                    e.set(test_attr::NAME, s(&row.name)),
                ]);
                (
                    row.fingerprint.as_deref(),
                    vec![(FAILED, row.failed), (FLAKY, row.flaky)],
                )
            }
            Counted::Failure { fingerprint, runs } => {
                sets.push(e.set(KIND, s(KIND_FAILURE_RUNS)));
                (Some(fingerprint.as_str()), vec![(RUNS, *runs)])
            }
        };
        if let Some(fp) = fingerprint {
            sets.push(e.set(test_attr::FINGERPRINT, s(fp)));
        }
        if let Some(branch) = &change.branch {
            sets.push(e.set(test_attr::BRANCH, s(branch)));
        }
        let adds: Vec<String> = adds
            .into_iter()
            .filter(|(_, v)| *v != 0)
            .map(|(name, v)| e.add(name, n(v)))
            .collect();
        let update = format!("SET {} ADD {}", sets.join(", "), adds.join(", "));
        self.transact_update(
            ROLL_OPERATION,
            item_key(change.pk.clone(), change.sk.clone()),
            update,
            None,
            e,
        )
    }

    /// The snapshot `hash` of the run's failures; `None` once deleted.
    async fn read_snapshot(
        &self,
        run: &RunRef,
        hash: &str,
    ) -> Result<Option<Snapshot>, StoreError> {
        let key = failures_snapshot_key(run, hash);
        let Some(bytes) = self.read_derived(&key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            StoreError::permanent("GetObject failures snapshot", format!("{key}: {e}"))
        })
    }

    /// The failures of a settled run as it shows them: one paginated Query of its sparse
    /// `problems` index for each of the run's test partitions.
    async fn failure_snapshot(&self, run: &Run) -> Result<Snapshot, StoreError> {
        let query = |pk| {
            self.ddb
                .query()
                .table_name(&self.table)
                .index_name(PROBLEMS_INDEX)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk))
                .projection_expression(
                    "sk, classname, #name, #status, flaky, fingerprint, #contrib, #created",
                )
                .expression_attribute_names("#created", CREATED_MS)
                .expression_attribute_names("#name", test_attr::NAME)
                .expression_attribute_names("#status", test_attr::STATUS)
                .expression_attribute_names("#contrib", test_attr::CONTRIB)
        };
        let items = self.query_tests("Query problems", &run.run, query).await?;
        let mut rows: Vec<FailureRow> = items
            .iter()
            .filter_map(test_row)
            // `run` was read before these rows, which `Run::shows` alone does not allow: the
            // claim that follows holds the run's file counters, and a file that began writing
            // since must have been registered first, so such a snapshot is never rolled.
            .filter(|r| run.shows_row(r))
            .filter_map(|r| {
                let failed = r.status.is_failure();
                let flaky = r.flaky && r.status == Status::Passed;
                (failed || flaky).then(|| FailureRow {
                    failed: i64::from(failed),
                    flaky: i64::from(flaky),
                    test_id: r.test_id,
                    fingerprint: r.fingerprint,
                    classname: r.classname,
                    name: r.name,
                })
            })
            .collect();
        rows.sort_by(|a, b| a.test_id.cmp(&b.test_id));
        Ok(Snapshot {
            day_ms: Granularity::Day.start(run.created_ms),
            branch: run.metadata.branch.clone(),
            expires_at: run.expires_at,
            rows,
        })
    }

    /// The failure rollups of `project` (of `branch`, or all branches) for the days from the
    /// one holding `first_ms` to the one holding `last_ms`: one paginated Query of each of its
    /// 16 partitions, at once. Every branch's items are read; `branch` filters them, so one
    /// branch's window costs the read units of all branches'. Items whose counts are back at
    /// zero are left out.
    pub async fn failure_counts(
        &self,
        project: &ProjectName,
        branch: Option<&str>,
        first_ms: u64,
        last_ms: u64,
    ) -> Result<Vec<FailureCount>, StoreError> {
        let branch = branch.map(|b| (test_attr::BRANCH, b));
        self.counts_where(project, branch, first_ms, last_ms).await
    }

    /// The failure rollups of one failure of `project` (every test it hit, on every branch) for
    /// the days from the one holding `first_ms` to the one holding `last_ms`: the Queries of
    /// [`Store::failure_counts`], filtered by the fingerprint, so they cost the read units of
    /// every failure's items of those days.
    pub async fn fingerprint_counts(
        &self,
        project: &ProjectName,
        fingerprint: &str,
        first_ms: u64,
        last_ms: u64,
    ) -> Result<Vec<FailureCount>, StoreError> {
        let fingerprint = Some((test_attr::FINGERPRINT, fingerprint));
        self.counts_where(project, fingerprint, first_ms, last_ms)
            .await
    }

    /// The failure rollups of the days from `first_ms` to `last_ms` whose attribute `equal.0`
    /// is `equal.1`, or all of them.
    async fn counts_where(
        &self,
        project: &ProjectName,
        equal: Option<(&str, &str)>,
        first_ms: u64,
        last_ms: u64,
    ) -> Result<Vec<FailureCount>, StoreError> {
        if last_ms < first_ms {
            return Ok(Vec::new());
        }
        let partitions: Vec<Vec<Item>> = stream::iter(failure_rollup_pks(project))
            .map(|pk| {
                let query = self.days_query(pk, first_ms, last_ms, equal);
                self.query_all("Query failure rollups", query)
            })
            .buffered(16)
            .try_collect()
            .await?;
        Ok(partitions
            .iter()
            .flatten()
            .filter_map(failure_count)
            .collect())
    }

    /// The runs of `project` (of `branch`, or all branches) where a test failed with
    /// `fingerprint`, created on the days from the one holding `first_ms` to the one holding
    /// `last_ms`: one Query of at most an item per day and branch.
    pub async fn failure_runs(
        &self,
        project: &ProjectName,
        fingerprint: &str,
        branch: Option<&str>,
        first_ms: u64,
        last_ms: u64,
    ) -> Result<i64, StoreError> {
        if last_ms < first_ms {
            return Ok(0);
        }
        let pk = failure_group_pk(project, fingerprint);
        let branch = branch.map(|b| (test_attr::BRANCH, b));
        let query = self
            .days_query(pk, first_ms, last_ms, branch)
            .projection_expression("#runs")
            .expression_attribute_names("#runs", RUNS);
        let items = self.query_all("Query failure runs", query).await?;
        Ok(items.iter().filter_map(|item| get_n(item, RUNS)).sum())
    }

    /// A Query of partition `pk` for the sort keys of the days from the one holding `first_ms`
    /// to the one holding `last_ms` (a day's key, then `#` and more), of the items whose
    /// attribute `equal.0` is `equal.1` when given (a filter: the others cost read units too).
    fn days_query(
        &self,
        pk: String,
        first_ms: u64,
        last_ms: u64,
        equal: Option<(&str, &str)>,
    ) -> QueryFluentBuilder {
        // The last day's prefix, then `~`, which sorts after every hex digit, `#` and `-`.
        let last = format!("{}~", rollup_sk(Granularity::Day, last_ms));
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":first", s(rollup_sk(Granularity::Day, first_ms)))
            .expression_attribute_values(":last", s(last));
        match equal {
            None => query,
            Some((name, value)) => query
                .filter_expression("#attr = :value")
                .expression_attribute_names("#attr", name)
                .expression_attribute_values(":value", s(value)),
        }
    }
}

fn rolled_condition(e: &mut Expr, rolled: Option<&str>) -> String {
    match rolled {
        None => format!("attribute_not_exists({})", e.name(attr::ROLLED)),
        Some(hash) => format!("{} = {}", e.name(attr::ROLLED), e.value(s(hash))),
    }
}

fn failure_count(item: &Item) -> Option<FailureCount> {
    let failed = get_n(item, FAILED).unwrap_or(0);
    let flaky = get_n(item, FLAKY).unwrap_or(0);
    if failed == 0 && flaky == 0 {
        return None;
    }
    let day_ms = Granularity::Day.start_of_sk(get_s(item, SK)?.split('#').next()?)?;
    let text = |name| get_s(item, name).unwrap_or_default().to_string();
    Some(FailureCount {
        day_ms,
        test_id: text(test_attr::TEST_ID),
        fingerprint: get_s(item, test_attr::FINGERPRINT).map(str::to_string),
        classname: text(test_attr::CLASSNAME),
        name: text(test_attr::NAME),
        failed,
        flaky,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(test: &str, fp: Option<&str>, failed: i64, flaky: i64) -> FailureRow {
        FailureRow {
            test_id: test.into(),
            fingerprint: fp.map(str::to_string),
            classname: "C".into(),
            name: test.into(),
            failed,
            flaky,
        }
    }

    fn snapshot(rows: Vec<FailureRow>) -> Snapshot {
        Snapshot {
            day_ms: 3 * 86_400_000 + 5,
            branch: Some("main".into()),
            expires_at: 99,
            rows,
        }
    }

    #[test]
    fn a_change_counts_each_test_once_under_its_run_s_branch() {
        let project = ProjectName::parse("acme").unwrap();
        let new = snapshot(vec![row("a", Some("f1"), 1, 0), row("b", None, 0, 1)]);
        let all = changes(&project, &Snapshot::default(), &new);
        assert_eq!(
            all.iter()
                .map(|c| (c.pk.as_str(), c.sk.as_str()))
                .collect::<Vec<_>>(),
            [
                ("FG#acme#f1", "D0000003#main"),
                ("G#acme#a", "D0000003#a#f1#main"),
                ("G#acme#b", "D0000003#b#-#main")
            ],
            "each test in the partition of its first digit, once; a run of failure f1"
        );
        assert!(all.iter().all(|c| c.branch.as_deref() == Some("main")));
        let no_branch = Snapshot {
            branch: None,
            ..new.clone()
        };
        let sks: Vec<String> = changes(&project, &Snapshot::default(), &no_branch)
            .into_iter()
            .map(|c| c.sk)
            .collect();
        assert_eq!(sks, ["D0000003", "D0000003#a#f1", "D0000003#b#-"]);
        // Moving to the same snapshot changes nothing; back to none takes everything away.
        assert!(changes(&project, &new, &new).is_empty());
        let back = changes(&project, &new, &Snapshot::default());
        assert_eq!(back.len(), 3);
        assert!(back.iter().all(|c| match &c.counted {
            Counted::Test(row) => row.failed + row.flaky == -1,
            Counted::Failure { runs, .. } => *runs == -1,
        }));
    }

    #[test]
    fn each_chunk_of_a_large_roll_spreads_over_every_partition() {
        let project = ProjectName::parse("acme").unwrap();
        // 20 failing tests in each of the 16 partitions (the test id's first hex digit).
        let rows: Vec<FailureRow> = (0..16 * 20)
            .map(|i| row(&format!("{:x}{i:04}", i % 16), Some("f"), 1, 0))
            .collect();
        let (none, new) = (Snapshot::default(), snapshot(rows));
        let all = changes(&project, &none, &new);
        let mut sorted = all.clone();
        sorted.sort_by(|a, b| (&a.pk, &a.sk).cmp(&(&b.pk, &b.sk)));
        assert_eq!(
            sorted,
            changes_in_key_order(&project, &none, &new),
            "the same changes, in another order"
        );
        for chunk in all.chunks(CHUNK) {
            let partitions: std::collections::HashSet<&str> = chunk
                .iter()
                .map(|c| c.pk.as_str())
                .filter(|pk| pk.starts_with("G#"))
                .collect();
            assert_eq!(partitions.len(), 16, "a chunk on every partition");
        }
        let runs: Vec<&Change> = all.iter().filter(|c| c.pk == "FG#acme#f").collect();
        assert_eq!(runs.len(), 1, "320 tests failing one way are one run of it");
        // Within a partition, key order.
        let of_a: Vec<&str> = all
            .iter()
            .filter(|c| c.pk == "G#acme#a")
            .map(|c| c.sk.as_str())
            .collect();
        assert!(of_a.windows(2).all(|w| w[0] < w[1]), "{of_a:?}");
    }

    #[test]
    fn a_test_fixed_by_a_late_file_is_taken_away_and_its_new_outcome_added() {
        let project = ProjectName::parse("acme").unwrap();
        let old = snapshot(vec![row("a", Some("f1"), 1, 0), row("c", Some("f2"), 1, 0)]);
        let new = snapshot(vec![row("a", Some("f1"), 0, 1), row("c", Some("f2"), 1, 0)]);
        let change = changes(&project, &old, &new);
        assert_eq!(change.len(), 2, "{change:?}");
        assert_eq!(
            change[0].counted,
            Counted::Failure {
                fingerprint: "f1".into(),
                runs: -1
            },
            "the run no longer shows failure f1"
        );
        assert!(
            matches!(&change[1].counted, Counted::Test(row) if row.test_id == "a" && (row.failed, row.flaky) == (-1, 1))
        );
    }
}
