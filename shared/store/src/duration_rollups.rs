//! Duration rollups: per project, UTC day and scope (every branch, or one branch), each test's
//! durations over the runs of that day that ran it — how many, their sum and a histogram
//! ([`duration_bucket`]) — so that the slowest tests of any window are exact however many
//! runs it holds, read from a few objects per day, never from the runs.
//!
//! They live in S3 (`durations/{project}/{day}/{scope}/{shard}`, 16 shards by the test id's
//! first digit), not in the table: a run adds to every test it ran, and an update per test
//! would cost as many write units as writing the results (twice ingest's bill). A run reads
//! each of its day's objects once, adds itself and writes it back under `If-Match`, so runs
//! settling at once never lose each other's counts: the loser of a race reads again.
//!
//! Exactly once: each object lists the runs folded into it, with the number of their files
//! settled then. A run is folded once all its registered files are settled; when another file
//! of it settles later, it is folded again: its earlier durations (a snapshot kept in S3 with
//! the run, `rollups/{project}/{run}/durations-{settled}`) are taken out and the new ones put
//! in. An object holding the run at that count or a later one is left alone, so redeliveries
//! and races change nothing twice, and a fold cut off half-way is finished by the next
//! delivery. The run item's `durations_rolled` says every object holds the run at that count,
//! so a redelivery of a settled file reads no further, and the snapshot it was folded at before
//! is deleted.

use crate::attrs::{get_n, n, Expr};
use crate::keys::{
    duration_rollup_key, duration_rollup_shards, durations_snapshot_key, Granularity, ProjectName,
    RunRef,
};
use crate::rollups::{duration_bucket, duration_bucket_top, histogram_quantile};
use crate::runs::{attr as run_attr, run_from_item, Run};
use crate::{now_ms, Store, StoreError};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use verdict_model::Status;

/// The run item's record of its duration fold: the settled file count every rollup holds.
pub(crate) const ROLLED: &str = "durations_rolled";
/// Rollup objects read and written at once.
const OBJECTS_AT_ONCE: usize = 16;
/// Rounds of read, add, write one object takes at most: each lost round is another run's fold
/// landing, so many in a row mean a burst of runs of one day settling together; past them the
/// delivery fails and is retried (Lambda's retries, then its failure queue and alarm).
const FOLD_ROUNDS: usize = 64;

/// A test's durations over some runs that ran it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestDurations {
    /// How many runs ran it.
    #[serde(rename = "n")]
    pub runs: i64,
    /// The sum of its durations, in milliseconds.
    #[serde(rename = "ms")]
    pub total_ms: i64,
    /// How many of its durations fall in each [`duration_bucket`].
    #[serde(rename = "h")]
    pub buckets: BTreeMap<u16, i64>,
}

impl TestDurations {
    /// Counts (`sign` 1) or uncounts (-1) one run of `ms`.
    fn add(&mut self, ms: u64, sign: i64) {
        self.runs += sign;
        self.total_ms += sign * i64::try_from(ms).unwrap_or(i64::MAX);
        let bucket = self.buckets.entry(duration_bucket(ms)).or_default();
        *bucket += sign;
        if *bucket == 0 {
            self.buckets.remove(&duration_bucket(ms));
        }
    }

    fn merge(&mut self, other: &TestDurations) {
        self.runs += other.runs;
        self.total_ms += other.total_ms;
        for (bucket, count) in &other.buckets {
            *self.buckets.entry(*bucket).or_default() += count;
        }
    }

    /// The top of the histogram bucket holding the duration at quantile `q` (nearest rank):
    /// within 12.5% above the exact one.
    pub fn quantile_ms(&self, q: f64) -> Option<u64> {
        histogram_quantile(&self.buckets, q)
    }

    /// The longest duration's bucket top.
    pub fn max_ms(&self) -> Option<u64> {
        self.buckets
            .keys()
            .next_back()
            .map(|b| duration_bucket_top(*b))
    }

    /// The mean duration, rounded down.
    pub fn mean_ms(&self) -> Option<u64> {
        (self.runs > 0).then(|| u64::try_from(self.total_ms / self.runs).unwrap_or(0))
    }
}

/// A test's durations over a window, with the newest run that ran it (to name it by).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowDurations {
    /// The test.
    pub test_id: String,
    /// Its durations.
    pub durations: TestDurations,
    /// The newest run of the window that ran it.
    pub newest_run: String,
    /// When that run was created.
    pub newest_created_ms: u64,
}

/// A run folded into a rollup object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FoldedRun {
    run: String,
    created_ms: u64,
    /// Its settled files when folded.
    settled: u64,
}

/// One test in a rollup object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct RolledTest {
    #[serde(rename = "d")]
    durations: TestDurations,
    /// The newest run that ran it: an index into the object's runs.
    #[serde(rename = "r")]
    newest: usize,
}

/// A rollup object: one day, scope and shard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct RollupShard {
    runs: Vec<FoldedRun>,
    tests: BTreeMap<String, RolledTest>,
}

/// A run's durations as folded in: each test it ran (not skipped), by test id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct RunDurations {
    tests: Vec<(String, u64)>,
}

impl RunDurations {
    /// The tests of one shard.
    fn of_shard(&self, shard: char) -> impl Iterator<Item = &(String, u64)> {
        self.tests
            .iter()
            .filter(move |(id, _)| id.starts_with(shard))
    }
}

impl RollupShard {
    /// Folds `run`'s durations in (its shard's part of `durations`), taking out `earlier`,
    /// those it was folded with before; `false` when it holds the run at that count or later.
    fn fold(
        &mut self,
        run: &FoldedRun,
        shard: char,
        durations: &RunDurations,
        earlier: Option<&RunDurations>,
    ) -> bool {
        let at = match self.runs.iter().position(|r| r.run == run.run) {
            Some(i) if self.runs[i].settled >= run.settled => return false,
            Some(i) => i,
            None => {
                self.runs.push(run.clone());
                self.runs.len() - 1
            }
        };
        self.runs[at].settled = run.settled;
        for (id, ms) in earlier.into_iter().flat_map(|e| e.of_shard(shard)) {
            if let Some(test) = self.tests.get_mut(id) {
                test.durations.add(*ms, -1);
                if test.durations.runs == 0 {
                    self.tests.remove(id);
                }
            }
        }
        for (id, ms) in durations.of_shard(shard) {
            let test = self.tests.entry(id.clone()).or_insert(RolledTest {
                newest: at,
                ..RolledTest::default()
            });
            test.durations.add(*ms, 1);
            if self.runs[test.newest].created_ms < run.created_ms {
                test.newest = at;
            }
        }
        true
    }
}

/// The runs of a settled run's fold, and what it takes out.
struct Fold<'a> {
    run: &'a Run,
    folded: FoldedRun,
    durations: RunDurations,
    /// Earlier snapshots, read once however many objects need them.
    earlier: tokio::sync::Mutex<HashMap<u64, Arc<RunDurations>>>,
}

impl Store {
    /// Folds `run` into its day's duration rollups once all its registered files are settled
    /// (see the module's documentation); nothing while a file is unsettled, or when the run
    /// item says every rollup holds it as it is.
    pub async fn roll_durations(&self, run: &RunRef) -> Result<(), StoreError> {
        let Some(item) = self.read_item("GetItem run", run.item_key(), true).await? else {
            return Ok(());
        };
        let Some(current) = run_from_item(&item) else {
            return Ok(());
        };
        let settled = current.files_settled();
        let rolled = get_n(&item, ROLLED).and_then(|r| u64::try_from(r).ok());
        if current.files_unsettled() > 0 || settled == 0 || rolled >= Some(settled) {
            return Ok(());
        }
        // Past its retention (retention deletes it soon), its day's rollups are deleted too.
        if current.expires_at <= now_ms() / 1000 {
            return Ok(());
        }
        let Some((shown, outcomes)) = self.run_outcomes(run).await? else {
            return Ok(());
        };
        // Another file registered or settled meanwhile: its settle folds the run.
        if shown.files_settled() != settled || shown.files_unsettled() > 0 {
            return Ok(());
        }
        let durations = RunDurations {
            tests: outcomes
                .into_iter()
                .filter(|o| o.status != Status::Skipped)
                .map(|o| (o.test_id, o.duration_ms))
                .collect(),
        };
        let bytes = serde_json::to_vec(&durations)
            .map_err(|e| StoreError::permanent("PutObject durations", e.to_string()))?;
        self.put_derived(&durations_snapshot_key(run, settled), bytes)
            .await?;
        let fold = Fold {
            run: &current,
            folded: FoldedRun {
                run: run.run_key.to_string(),
                created_ms: current.created_ms,
                settled,
            },
            durations,
            earlier: tokio::sync::Mutex::default(),
        };
        let branch = current.metadata.branch.as_deref();
        let scopes = std::iter::once(None).chain(branch.map(Some));
        // Made first, so the stream holds futures rather than a closure over borrowed scopes
        // (which the compiler cannot prove `Send` for every lifetime).
        let folds: Vec<_> = scopes
            .flat_map(|scope| duration_rollup_shards().map(move |shard| (scope, shard)))
            .map(|(scope, shard)| self.fold_object(&fold, scope, shard))
            .collect();
        stream::iter(folds)
            .buffer_unordered(OBJECTS_AT_ONCE)
            .try_collect::<Vec<()>>()
            .await?;
        let mut e = Expr::default();
        let update = format!("SET {}", e.set(ROLLED, n(settled)));
        let condition = format!(
            "{} = {} AND (attribute_not_exists({rolled}) OR {rolled} < {settled})",
            e.name(run_attr::FILES_SETTLED),
            e.value(n(settled)),
            rolled = e.name(ROLLED),
            settled = e.value(n(settled)),
        );
        // Refused when another file settled meanwhile (its delivery folds again) or another
        // delivery recorded the fold first.
        let recorded = self
            .updated_if(
                "UpdateItem durations rolled",
                run.item_key(),
                update,
                condition,
                e,
            )
            .await?;
        // Every rollup holds the run at `settled` now, so none is folded from the snapshot
        // before again (one of a fold cut off in between stays until retention).
        if let Some(old) = rolled.filter(|_| recorded) {
            let key = durations_snapshot_key(run, old);
            self.delete_object("DeleteObject durations snapshot", &key)
                .await?;
        }
        Ok(())
    }

    /// Folds the run into one rollup object, reading it again as long as another run's fold
    /// lands between the read and the write.
    async fn fold_object(
        &self,
        fold: &Fold<'_>,
        branch: Option<&str>,
        shard: char,
    ) -> Result<(), StoreError> {
        let day = Granularity::Day.start(fold.run.created_ms);
        let key = duration_rollup_key(&fold.run.run.project, day, branch, shard);
        for round in 0..FOLD_ROUNDS {
            if round > 0 {
                tokio::time::sleep(backoff(round)).await;
            }
            let (mut object, etag) = match self.read_tagged("GetObject durations", &key).await? {
                Some((bytes, etag)) => (parse(&key, &bytes)?, Some(etag)),
                None => (RollupShard::default(), None),
            };
            let held = object
                .runs
                .iter()
                .find(|r| r.run == fold.folded.run)
                .map(|r| r.settled);
            if held >= Some(fold.folded.settled) {
                return Ok(());
            }
            let earlier = match held {
                Some(settled) => Some(self.earlier_durations(fold, settled).await?),
                None => None,
            };
            object.fold(&fold.folded, shard, &fold.durations, earlier.as_deref());
            let bytes = serde_json::to_vec(&object)
                .map_err(|e| StoreError::permanent("PutObject durations", e.to_string()))?;
            if self
                .put_if_unchanged("PutObject durations", &key, etag.as_deref(), bytes)
                .await?
            {
                return Ok(());
            }
        }
        Err(StoreError::transient(
            "PutObject durations",
            format!(
                "{key} kept changing while run {} was folded in",
                fold.folded.run
            ),
        ))
    }

    /// The run's durations as folded when `settled` of its files were.
    async fn earlier_durations(
        &self,
        fold: &Fold<'_>,
        settled: u64,
    ) -> Result<Arc<RunDurations>, StoreError> {
        let mut earlier = fold.earlier.lock().await;
        if let Some(durations) = earlier.get(&settled) {
            return Ok(durations.clone());
        }
        let key = durations_snapshot_key(&fold.run.run, settled);
        let bytes = self.read_derived(&key).await?.ok_or_else(|| {
            // Put before any object held the run at that count, and kept as long as the run.
            StoreError::permanent("GetObject durations", format!("{key} is missing"))
        })?;
        let durations: Arc<RunDurations> = Arc::new(parse(&key, &bytes)?);
        earlier.insert(settled, durations.clone());
        Ok(durations)
    }

    /// Every test's durations over the days from the one holding `first_ms` to the one
    /// holding `last_ms`, of every branch or of one: 16 objects a day, read 16 at once.
    pub async fn window_durations(
        &self,
        project: &ProjectName,
        branch: Option<&str>,
        first_ms: u64,
        last_ms: u64,
    ) -> Result<Vec<WindowDurations>, StoreError> {
        let day_ms = Granularity::Day.len_ms();
        let days = (Granularity::Day.start(first_ms)..=last_ms).step_by(day_ms as usize);
        let keys: Vec<String> = days
            .flat_map(|day| {
                duration_rollup_shards()
                    .map(move |shard| duration_rollup_key(project, day, branch, shard))
            })
            .collect();
        let mut objects = stream::iter(keys)
            .map(|key| async move {
                let bytes = self.read_derived(&key).await?;
                bytes.map(|b| parse::<RollupShard>(&key, &b)).transpose()
            })
            .buffer_unordered(OBJECTS_AT_ONCE);
        let mut tests: HashMap<String, WindowDurations> = HashMap::new();
        while let Some(object) = objects.try_next().await? {
            let Some(object) = object else { continue };
            for (id, test) in object.tests {
                let newest = &object.runs[test.newest.min(object.runs.len() - 1)];
                let window = tests.entry(id.clone()).or_insert_with(|| WindowDurations {
                    test_id: id,
                    durations: TestDurations::default(),
                    newest_run: newest.run.clone(),
                    newest_created_ms: newest.created_ms,
                });
                window.durations.merge(&test.durations);
                if window.newest_created_ms < newest.created_ms {
                    window.newest_run.clone_from(&newest.run);
                    window.newest_created_ms = newest.created_ms;
                }
            }
        }
        Ok(tests.into_values().collect())
    }
}

/// How long to wait before round `round` (from 1) of a fold whose object another fold changed:
/// random, up to 20 ms doubled each round and at most a second, so a burst of runs settling at
/// once spreads out rather than racing again in step.
fn backoff(round: usize) -> std::time::Duration {
    let cap_ms = (20u64 << round.min(6)).min(1_000);
    let random = u64::from_le_bytes(crate::keys::random_bytes::<8>());
    std::time::Duration::from_millis(random % (cap_ms + 1))
}

/// A rollup object or snapshot, or a permanent error naming it.
fn parse<T: serde::de::DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::permanent("GetObject durations", format!("{key}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, created_ms: u64, settled: u64) -> FoldedRun {
        FoldedRun {
            run: name.into(),
            created_ms,
            settled,
        }
    }

    fn durations(tests: &[(&str, u64)]) -> RunDurations {
        RunDurations {
            tests: tests.iter().map(|(id, ms)| (id.to_string(), *ms)).collect(),
        }
    }

    /// What the object says of test `id`: runs, total, the newest run's name.
    fn of(object: &RollupShard, id: &str) -> Option<(i64, i64, String)> {
        let t = object.tests.get(id)?;
        Some((
            t.durations.runs,
            t.durations.total_ms,
            object.runs[t.newest].run.clone(),
        ))
    }

    #[test]
    fn a_run_is_folded_once_per_count_of_settled_files_and_only_its_shard() {
        let mut object = RollupShard::default();
        let one = durations(&[("a1", 100), ("a2", 50), ("b1", 7)]);
        assert!(object.fold(&run("r1", 10, 1), 'a', &one, None));
        assert!(
            !object.fold(&run("r1", 10, 1), 'a', &one, None),
            "folded again"
        );
        assert_eq!(object.tests.len(), 2, "only the shard's tests");
        assert_eq!(of(&object, "a1"), Some((1, 100, "r1".into())));
        // A later file of the run: the earlier durations come out, the new ones go in.
        let two = durations(&[("a1", 300), ("a2", 50), ("a3", 9)]);
        assert!(object.fold(&run("r1", 10, 2), 'a', &two, Some(&one)));
        assert_eq!(of(&object, "a1"), Some((1, 300, "r1".into())));
        assert_eq!(of(&object, "a3"), Some((1, 9, "r1".into())));
        // An older count arriving late changes nothing.
        assert!(!object.fold(&run("r1", 10, 1), 'a', &one, None));
        assert_eq!(of(&object, "a1"), Some((1, 300, "r1".into())));
        assert_eq!(
            object.tests["a1"].durations.buckets.len(),
            1,
            "the old bucket is gone"
        );
    }

    #[test]
    fn the_newest_run_names_a_test_whatever_the_order_runs_are_folded_in() {
        let mut object = RollupShard::default();
        let tests = durations(&[("a1", 10)]);
        object.fold(&run("late", 20, 1), 'a', &tests, None);
        object.fold(&run("early", 5, 1), 'a', &tests, None);
        assert_eq!(of(&object, "a1"), Some((2, 20, "late".into())));
    }

    #[test]
    fn durations_give_quantiles_within_an_eighth_and_an_exact_mean() {
        let mut d = TestDurations::default();
        for ms in [100, 200, 300, 400, 10_000] {
            d.add(ms, 1);
        }
        let median = d.quantile_ms(0.5).unwrap();
        assert!((300..=300 * 9 / 8).contains(&median), "{median}");
        let max = d.max_ms().unwrap();
        assert!((10_000..=10_000 * 9 / 8).contains(&max), "{max}");
        assert_eq!(d.mean_ms(), Some(2_200));
        let mut e = d.clone();
        e.add(10_000, -1);
        assert_eq!(e.runs, 4);
        assert!(e.max_ms().unwrap() < 1_000);
    }
}
