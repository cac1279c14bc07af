//! Duration rollups: per project, UTC day and scope (every branch, or one branch), each test
//! over the runs of that day that ran it — how many, how many it passed only on a retry, the
//! sum of its durations and their histogram ([`duration_bucket`]) — so that the slowest tests
//! and a test's flake rate over any window are exact however many runs it holds, read from a
//! few objects per day, never from the runs.
//!
//! They live in S3 (`durations/{project}/{scope}/{day}/{shard}`, 16 shards by the test id's
//! first digit; a window's objects are one listing of its scope), not in the table: a run adds
//! to every test it ran, and an update per test would cost as many write units as writing the
//! results (twice ingest's bill). A run reads
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
use crate::flips::{DayRun, DayRuns, Flips, Mark, Marks};
use crate::keys::{
    duration_block_key, duration_rollup_key, duration_rollup_shards, duration_rollups_of_scope,
    duration_window_key, durations_snapshot_key, Granularity, ProjectName, RunRef,
};
use crate::outcomes::TestOutcome;
use crate::rollups::duration_bucket;
use crate::runs::{attr as run_attr, run_from_item, Run};
use crate::same_commit::{disagree, CommitFlips, CommitRun};
use crate::window_cache::Tests;
use crate::{now_ms, Store, StoreError};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use verdict_model::Status;

/// The run item's record of its duration fold: the settled file count every rollup holds.
pub(crate) const ROLLED: &str = "durations_rolled";
/// Names the layout of kept merges (in their hash): changed whenever what they hold changes.
const KEPT_LAYOUT: &[u8] = b"flips-1\n";

/// The window, in days back from now, that `/v1/flaky`, `/v1/tests/slowest` and a test's page
/// read when asked for none: the one a fold that begins a day prepares.
pub const DEFAULT_WINDOW_DAYS: u64 = 30;
/// Rollup objects read at once for a block of days.
const OBJECTS_AT_ONCE: usize = 16;
/// Shards merged over a window at once: one that makes its blocks holds a merge of its tests
/// per level of block (a few MB each at 100,000 tests in the project), within the query
/// function's 512 MB (`docs/benchmarks.md`, long windows).
const SHARDS_AT_ONCE: usize = 8;
/// Rollup objects folded at once: each holds its object three times (read, parsed, written),
/// about 2 MB for a suite of 100,000 tests, on top of the run's outcomes.
const FOLDS_AT_ONCE: usize = 4;
/// Rounds of read, add, write one object takes at most: each lost round is another run's fold
/// landing, so many in a row mean a burst of runs of one day settling together; past them the
/// delivery fails and is retried (Lambda's retries, then its failure queue and alarm).
const FOLD_ROUNDS: usize = 64;

/// A test over some runs that ran it (skipped ones do not count): how many, how many passed
/// only on a retry, and its durations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestTally {
    /// How many runs ran it.
    #[serde(rename = "n")]
    pub runs: i64,
    /// How many of them it passed after a failed attempt.
    #[serde(rename = "f")]
    pub flaky_runs: i64,
    /// The sum of its durations, in milliseconds.
    #[serde(rename = "ms")]
    pub total_ms: i64,
    /// Its durations by [`duration_bucket`]: how many fall in each, and their sum.
    #[serde(rename = "h")]
    pub buckets: BTreeMap<u16, Bucket>,
}

/// The durations of a tally that fall in one histogram bucket: how many, and their sum (ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket(pub i64, pub i64);

impl Bucket {
    /// The mean of its durations (none when it holds none).
    fn mean_ms(self) -> Option<u64> {
        (self.0 > 0).then(|| u64::try_from(self.1 / self.0).unwrap_or(0))
    }
}

impl TestTally {
    /// Counts (`sign` 1) or uncounts (-1) one run.
    fn add(&mut self, ran: &Ran, sign: i64) {
        let Ran(_, ms, flaky, _) = *ran;
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        self.runs += sign;
        self.flaky_runs += sign * i64::from(flaky);
        self.total_ms += sign * ms;
        self.add_to_bucket(duration_bucket(ran.1), Bucket(sign, sign * ms));
    }

    fn add_to_bucket(&mut self, bucket: u16, more: Bucket) {
        let held = self.buckets.entry(bucket).or_default();
        *held = Bucket(held.0 + more.0, held.1 + more.1);
        if held.0 == 0 {
            self.buckets.remove(&bucket);
        }
    }

    fn merge(&mut self, other: &TestTally) {
        self.runs += other.runs;
        self.flaky_runs += other.flaky_runs;
        self.total_ms += other.total_ms;
        for (bucket, more) in &other.buckets {
            self.add_to_bucket(*bucket, *more);
        }
    }

    /// The duration at quantile `q` (0..=1, nearest rank) as the mean of the durations in its
    /// histogram bucket: within 12.5% of the exact one, and exact when they are equal (a test
    /// that takes as long every run).
    pub fn quantile_ms(&self, q: f64) -> Option<u64> {
        let total: i64 = self.buckets.values().map(|b| b.0).sum();
        if total <= 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as i64).clamp(1, total);
        let mut seen = 0;
        let bucket = self.buckets.values().find(|b| {
            seen += b.0;
            seen >= rank
        })?;
        bucket.mean_ms()
    }

    /// The longest duration as the mean of the durations in the highest bucket: within 12.5%
    /// below it, and exact when they are equal.
    pub fn max_ms(&self) -> Option<u64> {
        self.buckets.values().next_back()?.mean_ms()
    }

    /// The mean duration, rounded down.
    pub fn mean_ms(&self) -> Option<u64> {
        (self.runs > 0).then(|| u64::try_from(self.total_ms / self.runs).unwrap_or(0))
    }
}

/// A test over a window, with the newest run that ran it (to name it by).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestOverWindow {
    /// The test.
    pub test_id: String,
    /// Its runs, flaky runs and durations.
    pub tally: TestTally,
    /// The newest run of the window that ran it.
    pub newest_run: String,
    /// When that run was created.
    pub newest_created_ms: u64,
    /// How its outcome changed over the window, when it failed or passed only on a retry in
    /// it (none: it ran in `tally.runs` runs and passed every one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flips: Option<Flips>,
}

/// A run folded into a rollup object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FoldedRun {
    run: String,
    created_ms: u64,
    /// Its settled files when folded.
    settled: u64,
    /// Whether it failed as a whole ([`Run::failed_as_a_whole`]).
    #[serde(rename = "x", default, skip_serializing_if = "std::ops::Not::not")]
    infra: bool,
}

impl FoldedRun {
    fn as_day_run(&self) -> DayRun<'_> {
        DayRun {
            run: &self.run,
            created_ms: self.created_ms,
            infra: self.infra,
        }
    }
}

/// One test in a rollup object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct RolledTest {
    #[serde(rename = "d")]
    tally: TestTally,
    /// The newest run that ran it: an index into the object's runs.
    #[serde(rename = "r")]
    newest: usize,
    /// The runs it did not run in, failed in, passed only on a retry in.
    #[serde(rename = "m", default, skip_serializing_if = "Marks::is_blank")]
    marks: Marks,
}

/// A rollup object: one day, scope and shard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct RollupShard {
    runs: Vec<FoldedRun>,
    tests: BTreeMap<String, RolledTest>,
}

/// A test a run ran (not skipped): its id, duration, whether it was flaky and whether it
/// failed (or errored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Ran(String, u64, bool, #[serde(default)] bool);

impl Ran {
    fn mark(&self) -> Mark {
        match (self.3, self.2) {
            (true, _) => Mark::Failed,
            (false, true) => Mark::Retried,
            (false, false) => Mark::Ran,
        }
    }
}

/// What a run folds in: each test it ran, by test id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct RunDurations {
    tests: Vec<Ran>,
}

impl RunDurations {
    /// The tests of one shard.
    fn of_shard(&self, shard: char) -> impl Iterator<Item = &Ran> {
        self.tests.iter().filter(move |r| r.0.starts_with(shard))
    }
}

impl RollupShard {
    /// Folds `run`'s durations in (its shard's part of `durations`), taking out `earlier`,
    /// those it was folded with before, and marks the tests `flipped` names as flipped on its
    /// commit; `false` when it holds the run at that count or later.
    fn fold(
        &mut self,
        run: &FoldedRun,
        shard: char,
        durations: &RunDurations,
        earlier: Option<&RunDurations>,
        flipped: Option<(&str, &HashSet<String>)>,
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
        for ran in earlier.into_iter().flat_map(|e| e.of_shard(shard)) {
            if let Some(test) = self.tests.get_mut(&ran.0) {
                test.tally.add(ran, -1);
                if test.tally.runs == 0 {
                    self.tests.remove(&ran.0);
                }
            }
        }
        let mut new = HashSet::new();
        for ran in durations.of_shard(shard) {
            let test = self.tests.entry(ran.0.clone()).or_insert_with(|| {
                new.insert(ran.0.clone());
                RolledTest {
                    newest: at,
                    ..RolledTest::default()
                }
            });
            test.tally.add(ran, 1);
            if self.runs[test.newest].created_ms < run.created_ms {
                test.newest = at;
            }
        }
        // Every test of the object, whether this run ran it or not: its marks say which runs.
        let here: HashMap<&str, Mark> = durations
            .of_shard(shard)
            .map(|r| (r.0.as_str(), r.mark()))
            .collect();
        let (at, runs) = (at as u32, self.runs.len() as u32);
        for (id, test) in &mut self.tests {
            let mark = here.get(id.as_str()).copied().unwrap_or(Mark::Absent);
            test.marks.set(at, mark, runs, new.contains(id));
            if let Some((commit, _)) = flipped.filter(|(_, tests)| tests.contains(id)) {
                test.marks.same_commit.insert(commit.to_string());
            }
        }
        true
    }
}

/// A rollup object as a listing names it: its key and version.
#[derive(Debug, Clone)]
struct Version {
    key: String,
    etag: String,
}

/// One day's rollup objects of a scope, by shard.
struct DayObjects {
    /// Days since the epoch.
    day: u64,
    objects: BTreeMap<char, Version>,
}

/// The longest block of days merged and kept as one: 2^6, 64 days.
const MAX_BLOCK_LEVEL: u32 = 6;
/// The shortest block kept, 2^2 days: a window holds at most two shorter ones (at its ends),
/// read from their days' objects, and not keeping them halves what a block made from nothing
/// puts.
const MIN_KEPT_LEVEL: u32 = 2;

/// The blocks covering the days `first..=last` (days since the epoch), in order, as (first
/// day, level): each 2^level days long and starting at a multiple of that, the longest that
/// fit. So a window is at most about 2 × [`MAX_BLOCK_LEVEL`] blocks, and the window of the
/// next day is the same blocks but at its ends.
fn blocks(first: u64, last: u64) -> Vec<(u64, u32)> {
    let mut blocks = Vec::new();
    let mut day = first;
    while day <= last {
        let fits = |level: u32| day.is_multiple_of(1 << level) && day + (1 << level) - 1 <= last;
        let level = (0..=MAX_BLOCK_LEVEL).rev().find(|&l| fits(l)).unwrap_or(0);
        blocks.push((day, level));
        day += 1 << level;
    }
    blocks
}

/// A settled run's fold: the run, what it adds, and what it takes out of an object that holds
/// it at an earlier count.
struct Fold<'a> {
    run: &'a Run,
    folded: FoldedRun,
    durations: RunDurations,
    /// The tests it and another run of its commit disagree on.
    flipped: Option<CommitFlips>,
    /// Earlier snapshots, read once however many objects need them.
    earlier: tokio::sync::Mutex<HashMap<u64, Arc<RunDurations>>>,
}

impl Store {
    /// Folds `run` into its day's duration rollups once all its registered files are settled
    /// (see the module's documentation); nothing while a file is unsettled, or when the run
    /// item says every rollup holds it as it is.
    pub async fn roll_durations(&self, run: &RunRef) -> Result<(), StoreError> {
        if self.durations_due(run, None).await?.is_none() {
            return Ok(());
        }
        match self.run_outcomes(run).await? {
            Some((shown, outcomes)) => self.fold_durations(&shown, outcomes).await,
            None => Ok(()),
        }
    }

    /// Whether `run` is to be folded (`shown`: as its results were read), and if so the count
    /// of settled files it was folded at before (0: never): not while a file is unsettled, nor
    /// when every rollup holds it as it is, nor when `shown` is not what the run is now.
    async fn durations_due(
        &self,
        run: &RunRef,
        shown: Option<&Run>,
    ) -> Result<Option<(Run, u64)>, StoreError> {
        let Some(item) = self.read_item("GetItem run", run.item_key(), true).await? else {
            return Ok(None);
        };
        let Some(current) = run_from_item(&item) else {
            return Ok(None);
        };
        let settled = current.files_settled();
        let rolled = get_n(&item, ROLLED).and_then(|r| u64::try_from(r).ok());
        let stale = shown.is_some_and(|s| {
            s.files_settled() != settled || s.files_registered != current.files_registered
        });
        // Past its retention (retention deletes it soon), its day's rollups are deleted too.
        let expired = current.expires_at <= now_ms() / 1000;
        if current.files_unsettled() > 0
            || settled == 0
            || rolled >= Some(settled)
            || stale
            || expired
        {
            return Ok(None);
        }
        Ok(Some((current, rolled.unwrap_or(0))))
    }

    /// Folds a settled run into its day's duration rollups from its results' `outcomes` as
    /// `shown` judged them ([`Store::run_outcomes`]); nothing when the run changed since or is
    /// folded as it is. The parse function hands over the outcomes it read for the run's
    /// comparison, so a settle reads the run once.
    pub async fn fold_durations(
        &self,
        shown: &Run,
        outcomes: Vec<TestOutcome>,
    ) -> Result<(), StoreError> {
        let run = &shown.run;
        let Some((current, rolled)) = self.durations_due(run, Some(shown)).await? else {
            return Ok(());
        };
        let settled = current.files_settled();
        let durations = RunDurations {
            tests: outcomes
                .into_iter()
                .filter(|o| o.status != Status::Skipped)
                .map(|o| Ran(o.test_id, o.duration_ms, o.flaky, o.status.is_failure()))
                .collect(),
        };
        let bytes = serde_json::to_vec(&durations)
            .map_err(|e| StoreError::permanent("PutObject durations", e.to_string()))?;
        self.put_derived(&durations_snapshot_key(run, settled), bytes)
            .await?;
        let flipped = self.commit_flips(&current, settled, &durations).await?;
        let fold = Fold {
            run: &current,
            folded: FoldedRun {
                run: run.run_key.to_string(),
                created_ms: current.created_ms,
                settled,
                infra: current.failed_as_a_whole(),
            },
            durations,
            flipped,
            earlier: tokio::sync::Mutex::default(),
        };
        let branch = current.metadata.branch.as_deref();
        let scopes = std::iter::once(None).chain(branch.map(Some));
        // Made first, so the stream holds futures rather than a closure over borrowed scopes
        // (which the compiler cannot prove `Send` for every lifetime).
        let fold = &fold;
        let folds: Vec<_> = scopes
            .flat_map(|scope| duration_rollup_shards().map(move |shard| (scope, shard)))
            .map(|(scope, shard)| async move {
                let made = self.fold_object(fold, scope, shard).await?;
                Ok::<_, StoreError>(made && scope.is_none())
            })
            .collect();
        let began_a_day = stream::iter(folds)
            .buffer_unordered(FOLDS_AT_ONCE)
            .try_collect::<Vec<bool>>()
            .await?
            .contains(&true);
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
        if recorded && rolled > 0 {
            let key = durations_snapshot_key(run, rolled);
            self.delete_object("DeleteObject durations snapshot", &key)
                .await?;
        }
        if began_a_day {
            self.prepare_default_window(&run.project, now_ms()).await;
        }
        Ok(())
    }

    /// Makes what the default window ([`DEFAULT_WINDOW_DAYS`], every branch) reads of the days
    /// before the one holding `now_ms`: each shard's kept merge of those days, and the blocks of
    /// days it is made of. A fold that began a day's rollups calls it (the first run of a new
    /// day, or a day's first run settling late), so that the first look at the flaky or the
    /// slowest tests, or at a test's page, on a new day reads kept merges instead of making
    /// them. Only logged when it fails: the first request that needs them makes them.
    async fn prepare_default_window(&self, project: &ProjectName, now_ms: u64) {
        let since = now_ms.saturating_sub(DEFAULT_WINDOW_DAYS * Granularity::Day.len_ms());
        let first = Granularity::Day.start(since);
        // Each shard's merge is let go as soon as it is kept, and today's objects are not
        // read: the parse function holds no more of the project's tests than a few shards'.
        let prepared = async {
            let days = self.listed_days(project, None, first, now_ms).await?;
            let past = days.split_last().map_or(&[][..], |(_, past)| past);
            let shards: Vec<_> = duration_rollup_shards()
                .map(|shard| self.past_days_of_shard(project, past, shard))
                .collect();
            stream::iter(shards)
                .buffer_unordered(SHARDS_AT_ONCE)
                .try_for_each(|_| async { Ok(()) })
                .await
        };
        if let Err(err) = prepared.await {
            tracing::warn!(project = %project, error = %err, "default window not prepared");
        }
    }

    /// The tests `run` (folded at `settled` as `durations`) and another run of its commit
    /// disagree on (`same_commit.rs`): the commit's other runs, each one's durations snapshot
    /// read unless neither failed a test. A snapshot that is gone belongs to a run deleted, or
    /// folded again since, whose fold compares it with this one.
    async fn commit_flips(
        &self,
        run: &Run,
        settled: u64,
        durations: &RunDurations,
    ) -> Result<Option<CommitFlips>, StoreError> {
        let mine: HashMap<&str, Mark> = durations
            .tests
            .iter()
            .map(|r| (r.0.as_str(), r.mark()))
            .collect();
        let this = CommitRun::of(run, settled, &mine);
        let Some((commit, others)) = self.runs_of_commit(run, &this).await? else {
            return Ok(None);
        };
        let mut flips = CommitFlips {
            commit,
            ..CommitFlips::default()
        };
        for other in others.iter().filter(|o| this.failed > 0 || o.failed > 0) {
            let Some(other_run) = other.run_ref(&run.run.project) else {
                continue;
            };
            let key = durations_snapshot_key(&other_run, other.settled);
            let Some(bytes) = self.read_derived(&key).await? else {
                continue;
            };
            let theirs: RunDurations = parse(&key, &bytes)?;
            let found = disagree(
                &this,
                &mine,
                other,
                theirs.tests.iter().map(|r| (r.0.as_str(), r.mark())),
            );
            let same_branch = this.branch.is_some() && this.branch == other.branch;
            for id in found {
                flips.any_branch.insert(id.to_string());
                if same_branch {
                    flips.same_branch.insert(id.to_string());
                }
            }
        }
        Ok(Some(flips))
    }

    /// Folds the run into one rollup object, reading it again as long as another run's fold
    /// lands between the read and the write; true when this fold made the object (the first
    /// of its day and shard).
    async fn fold_object(
        &self,
        fold: &Fold<'_>,
        branch: Option<&str>,
        shard: char,
    ) -> Result<bool, StoreError> {
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
                return Ok(false);
            }
            let earlier = match held {
                Some(settled) => Some(self.earlier_durations(fold, settled).await?),
                None => None,
            };
            let flipped = fold.flipped.as_ref().map(|f| match branch {
                None => (f.commit.as_str(), &f.any_branch),
                Some(_) => (f.commit.as_str(), &f.same_branch),
            });
            object.fold(
                &fold.folded,
                shard,
                &fold.durations,
                earlier.as_deref(),
                flipped,
            );
            let bytes = serde_json::to_vec(&object)
                .map_err(|e| StoreError::permanent("PutObject durations", e.to_string()))?;
            if self
                .put_if_unchanged("PutObject durations", &key, etag.as_deref(), bytes)
                .await?
            {
                return Ok(etag.is_none());
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

    /// Every test over the days from the one holding `first_ms` to the one holding `last_ms`,
    /// of every branch or of one: a listing of the days' objects (a day without runs has
    /// none), then each shard over the window ([`Store::shard_over_window`]), 8 at once.
    pub async fn window_tallies(
        &self,
        project: &ProjectName,
        branch: Option<&str>,
        first_ms: u64,
        last_ms: u64,
    ) -> Result<Vec<TestOverWindow>, StoreError> {
        let days = self.listed_days(project, branch, first_ms, last_ms).await?;
        let shards: Vec<_> = duration_rollup_shards()
            .map(|shard| self.shard_over_window(project, &days, shard))
            .collect();
        let shards: Vec<HashMap<String, TestOverWindow>> = stream::iter(shards)
            .buffer_unordered(SHARDS_AT_ONCE)
            .try_collect()
            .await?;
        Ok(shards.into_iter().flat_map(HashMap::into_values).collect())
    }

    /// One test over the days from the one holding `first_ms` to the one holding `last_ms`, of
    /// every branch or of one ([`Store::tests_over_window`]). `None` when no run of those days
    /// ran it.
    pub async fn test_tally(
        &self,
        project: &ProjectName,
        branch: Option<&str>,
        test_id: &str,
        first_ms: u64,
        last_ms: u64,
    ) -> Result<Option<TestOverWindow>, StoreError> {
        let ids = [test_id.to_string()];
        let mut tests = self
            .tests_over_window(project, branch, &ids, first_ms, last_ms)
            .await?;
        Ok(tests.remove(test_id))
    }

    /// Tests `ids` over the days from the one holding `first_ms` to the one holding `last_ms`,
    /// of every branch or of one: the shards holding them over the window
    /// ([`Store::shard_over_window`]), 8 at once. A test no run of those days ran is left out.
    pub async fn tests_over_window(
        &self,
        project: &ProjectName,
        branch: Option<&str>,
        ids: &[String],
        first_ms: u64,
        last_ms: u64,
    ) -> Result<HashMap<String, TestOverWindow>, StoreError> {
        let shards: std::collections::BTreeSet<char> =
            ids.iter().filter_map(|id| id.chars().next()).collect();
        if shards.is_empty() {
            return Ok(HashMap::new());
        }
        let days = self.listed_days(project, branch, first_ms, last_ms).await?;
        let shards: Vec<_> = shards
            .into_iter()
            .map(|shard| self.shard_over_window(project, &days, shard))
            .collect();
        let mut tests = HashMap::new();
        let mut shards = stream::iter(shards).buffer_unordered(SHARDS_AT_ONCE);
        while let Some(mut shard) = shards.try_next().await? {
            tests.extend(ids.iter().filter_map(|id| shard.remove_entry(id)));
        }
        Ok(tests)
    }

    /// The rollup objects of each day from the one holding `first_ms` to the one holding
    /// `last_ms`, oldest first (a day without runs has none): one listing of the scope's
    /// objects from the first day on, a ListObjectsV2 per 1,000 objects.
    async fn listed_days(
        &self,
        project: &ProjectName,
        branch: Option<&str>,
        first_ms: u64,
        last_ms: u64,
    ) -> Result<Vec<DayObjects>, StoreError> {
        let day_ms = Granularity::Day.len_ms();
        let (first, last) = (first_ms / day_ms, last_ms / day_ms);
        let mut days: BTreeMap<u64, BTreeMap<char, Version>> =
            (first..=last).map(|day| (day, BTreeMap::new())).collect();
        let scope = duration_rollups_of_scope(project, branch);
        // Keys are `{scope}{day:07}/{shard}`: those after `{scope}{day before first:07}~` (`~`
        // sorts after `/`) are of the first day on. Not after `{scope}{first:07}`, which S3
        // would read the same way, but which SeaweedFS, listing by directory, reads as past the
        // first day's directory.
        let after = first.checked_sub(1).map(|day| format!("{scope}{day:07}~"));
        for (key, etag) in self.list_tagged(&scope, after.as_deref()).await? {
            let Some((day, shard)) = key.strip_prefix(&scope).and_then(|k| k.split_once('/'))
            else {
                continue;
            };
            let (Ok(day), Some(shard)) = (day.parse::<u64>(), shard.chars().next()) else {
                continue;
            };
            if let Some(objects) = days.get_mut(&day) {
                objects.insert(shard, Version { key, etag });
            }
        }
        Ok(days
            .into_iter()
            .map(|(day, objects)| DayObjects { day, objects })
            .collect())
    }

    /// The tests of one shard over `days` (the last of them today): the days before today
    /// merged and kept ([`Store::past_days_of_shard`]), and today's object.
    async fn shard_over_window(
        &self,
        project: &ProjectName,
        days: &[DayObjects],
        shard: char,
    ) -> Result<HashMap<String, TestOverWindow>, StoreError> {
        let Some((today, past)) = days.split_last() else {
            return Ok(HashMap::new());
        };
        let mut tests = self.past_days_of_shard(project, past, shard).await?;
        if let Some(version) = today.objects.get(&shard) {
            // Keyed by the version listed: a run settling today changes the object's ETag.
            let cached = format!("{}@{}", version.key, version.etag);
            let today = match self.windows.get(&cached) {
                Some(today) => Some(today),
                None => self.read_rollup(&version.key).await?.map(|(today, bytes)| {
                    let today: Tests = Arc::new(today.into_iter().collect());
                    self.windows.put(cached, today.clone(), bytes);
                    today
                }),
            };
            if let Some(today) = today {
                absorb(&mut tests, (*today).clone());
            }
        }
        Ok(tests)
    }

    /// The tests of one shard over `past` (days before today), merged and kept
    /// ([`Store::kept_merge`]: a window moves a day a day, so it is made of blocks of days kept
    /// on their own, [`Store::merged_block`]).
    async fn past_days_of_shard(
        &self,
        project: &ProjectName,
        past: &[DayObjects],
        shard: char,
    ) -> Result<HashMap<String, TestOverWindow>, StoreError> {
        let (Some(first), Some(last)) = (past.first(), past.last()) else {
            return Ok(HashMap::new());
        };
        let objects: BTreeMap<u64, &Version> = past
            .iter()
            .filter_map(|day| Some((day.day, day.objects.get(&shard)?)))
            .collect();
        let versions: Vec<&Version> = objects.values().copied().collect();
        let blocks = blocks(first.day, last.day);
        let objects = &objects;
        self.kept_merge(project, &versions, None, move || async move {
            let mut merged = HashMap::new();
            for (start, level) in blocks {
                let block = self.merged_block(project, objects, start, level).await?;
                absorb(&mut merged, block);
            }
            Ok(merged)
        })
        .await
    }

    /// The merge of a shard's `objects` of the 2^`level` days from day `start`, kept in
    /// `windows/` (its first day's, which retention deletes with the day) under the hash of
    /// their versions, made from its two halves: a window of any length is a few such
    /// blocks, each made once (again only when a run of its days settles late). Blocks shorter
    /// than 2^[`MIN_KEPT_LEVEL`] days are read from their days' objects.
    fn merged_block<'a>(
        &'a self,
        project: &'a ProjectName,
        objects: &'a BTreeMap<u64, &'a Version>,
        start: u64,
        level: u32,
    ) -> futures_util::future::BoxFuture<'a, Result<HashMap<String, TestOverWindow>, StoreError>>
    {
        Box::pin(async move {
            let versions: Vec<&Version> = objects
                .range(start..start + (1 << level))
                .map(|(_, v)| *v)
                .collect();
            if level < MIN_KEPT_LEVEL || versions.len() < 2 {
                let keys = versions.iter().map(|v| v.key.clone()).collect();
                return self.merge_rollups(keys).await;
            }
            let kept_in = Some(start * Granularity::Day.len_ms());
            // One half after the other: a block made from nothing holds one merge per level
            // at most, not its every day's object at once.
            self.kept_merge(project, &versions, kept_in, move || async move {
                let half = 1 << (level - 1);
                let mut merged = self
                    .merged_block(project, objects, start, level - 1)
                    .await?;
                let second = self
                    .merged_block(project, objects, start + half, level - 1)
                    .await?;
                absorb(&mut merged, second);
                Ok(merged)
            })
            .await
        })
    }

    /// The merge of the rollup objects `versions`, read back from where it was kept under the
    /// hash of their versions, else made by `make` and kept: in `windows/` under day
    /// `block_day`'s prefix (a block), or among the views (a window, which moves daily).
    async fn kept_merge<F, Fut>(
        &self,
        project: &ProjectName,
        versions: &[&Version],
        block_day: Option<u64>,
        make: F,
    ) -> Result<HashMap<String, TestOverWindow>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<HashMap<String, TestOverWindow>, StoreError>>,
    {
        if versions.is_empty() {
            return Ok(HashMap::new());
        }
        let mut hash = Sha256::new();
        // The layout of what is kept, so a merge kept by older code is never read as this one.
        hash.update(KEPT_LAYOUT);
        for version in versions {
            hash.update(format!("{} {}\n", version.key, version.etag));
        }
        let hash = hex::encode(hash.finalize());
        let key = match block_day {
            Some(day) => duration_block_key(project, day, &hash),
            None => duration_window_key(project, &hash),
        };
        // Named by what it merges, a kept merge never changes: the process keeps it parsed.
        if let Some(merged) = self.windows.get(&key) {
            return Ok((*merged).clone());
        }
        if let Some(bytes) = self.read_derived(&key).await? {
            // A merge this code cannot read (kept by an older one) is made again over it: it is
            // a cache, and its name does not say its layout.
            match parse::<Vec<TestOverWindow>>(&key, &bytes) {
                Ok(merged) => {
                    let merged: HashMap<String, TestOverWindow> =
                        merged.into_iter().map(|t| (t.test_id.clone(), t)).collect();
                    self.windows.put(key, Arc::new(merged.clone()), bytes.len());
                    return Ok(merged);
                }
                Err(err) => tracing::warn!(object = %key, error = %err, "kept merge made again"),
            }
        }
        let merged = make().await?;
        let list: Vec<&TestOverWindow> = merged.values().collect();
        let bytes = serde_json::to_vec(&list)
            .map_err(|e| StoreError::permanent("PutObject durations", e.to_string()))?;
        let len = bytes.len();
        self.put_derived(&key, bytes).await?;
        self.windows.put(key, Arc::new(merged.clone()), len);
        Ok(merged)
    }

    /// The tests of the rollup objects at `keys` (oldest first), each merged over them.
    async fn merge_rollups(
        &self,
        keys: Vec<String>,
    ) -> Result<HashMap<String, TestOverWindow>, StoreError> {
        // In order: a test's flips join oldest first.
        let mut objects = stream::iter(keys)
            .map(|key| async move { self.read_rollup(&key).await })
            .buffered(OBJECTS_AT_ONCE);
        let mut tests = HashMap::new();
        while let Some(object) = objects.try_next().await? {
            if let Some((found, _)) = object {
                absorb(&mut tests, found);
            }
        }
        Ok(tests)
    }

    /// The tests of the rollup object at `key`, in the object's order (`None`: it is gone),
    /// and the object's size.
    async fn read_rollup(
        &self,
        key: &str,
    ) -> Result<Option<(Vec<(String, TestOverWindow)>, usize)>, StoreError> {
        let Some(bytes) = self.read_derived(key).await? else {
            return Ok(None);
        };
        let object = parse::<RollupShard>(key, &bytes)?;
        let runs = &object.runs;
        let day_runs = DayRuns::new(runs.iter().map(FoldedRun::as_day_run).collect());
        let tests = object
            .tests
            .into_iter()
            .map(|(id, test)| {
                let newest = &runs[test.newest.min(runs.len() - 1)];
                let flips = test
                    .marks
                    .is_marked()
                    .then(|| Flips::of_day(&day_runs, &test.marks));
                let test = TestOverWindow {
                    test_id: id.clone(),
                    tally: test.tally,
                    newest_run: newest.run.clone(),
                    newest_created_ms: newest.created_ms,
                    flips,
                };
                (id, test)
            })
            .collect();
        Ok(Some((tests, bytes.len())))
    }
}

/// Of the tests [`Store::seed_duration_day`] puts, each this many'th fails now and then.
#[cfg(feature = "test-support")]
pub const SEEDED_FAILING: usize = 100;

#[cfg(feature = "test-support")]
impl Store {
    /// Puts a day's duration rollups of `project` (every branch) as `runs` runs of `tests`
    /// tests each leave them, without ingesting the runs: for benchmarks of their reads. Test
    /// ids are hex digests of their number; durations vary with it; every [`SEEDED_FAILING`]th
    /// test fails in one run in ten. The bytes put.
    pub async fn seed_duration_day(
        &self,
        project: &ProjectName,
        day_ms: u64,
        tests: usize,
        runs: usize,
    ) -> Result<u64, StoreError> {
        let day = Granularity::Day.start(day_ms);
        let mut shards: BTreeMap<char, RollupShard> = BTreeMap::new();
        let folded: Vec<FoldedRun> = (0..runs)
            .map(|i| FoldedRun {
                run: format!("d{}-r{i:04}", day / Granularity::Day.len_ms()),
                created_ms: day + i as u64 * 60_000,
                settled: 1,
                infra: false,
            })
            .collect();
        for i in 0..tests {
            let id = Store::seeded_test_id(i);
            let ms = (i % 2_000) as u64 + 1;
            // Its runs take three durations in turn; one run in 997 is flaky.
            let mut tally = TestTally {
                flaky_runs: (runs / 997) as i64,
                ..TestTally::default()
            };
            for turn in 0..3u64 {
                let times = runs.saturating_sub(turn as usize).div_ceil(3) as i64;
                let took = ms + turn * ms / 4;
                tally.runs += times;
                tally.total_ms += times * took as i64;
                tally.add_to_bucket(duration_bucket(took), Bucket(times, times * took as i64));
            }
            let mut marks = Marks::default();
            if i.is_multiple_of(SEEDED_FAILING) {
                marks.failed = (0..runs as u32)
                    .filter(|r| (r + i as u32).is_multiple_of(10))
                    .collect();
            }
            let shard = shards.entry(id.chars().next().unwrap_or('0')).or_default();
            shard.tests.insert(
                id,
                RolledTest {
                    tally,
                    newest: runs.saturating_sub(1),
                    marks,
                },
            );
        }
        let mut bytes = 0;
        for (shard, mut object) in shards {
            object.runs = folded.clone();
            let body = serde_json::to_vec(&object)
                .map_err(|e| StoreError::permanent("PutObject durations", e.to_string()))?;
            bytes += body.len() as u64;
            let key = duration_rollup_key(project, day, None, shard);
            self.put_derived(&key, body).await?;
        }
        Ok(bytes)
    }

    /// The id of the `i`th test [`Store::seed_duration_day`] puts: the hex digest of `i`.
    pub fn seeded_test_id(i: usize) -> String {
        hex::encode(Sha256::digest(i.to_le_bytes()))
    }

    /// Every test over the window as merged from every object of its days, nothing kept: what
    /// a window cost to read before merges were kept, the baseline of those benchmarks.
    pub async fn window_tallies_unkept(
        &self,
        project: &ProjectName,
        first_ms: u64,
        last_ms: u64,
    ) -> Result<usize, StoreError> {
        let days = self.listed_days(project, None, first_ms, last_ms).await?;
        let keys = days
            .iter()
            .flat_map(|day| day.objects.values().map(|v| v.key.clone()))
            .collect();
        Ok(self.merge_rollups(keys).await?.len())
    }
}

/// Adds `more`, the runs after those of `tests`, to `tests`, test by test: the counts summed,
/// the flips joined, the newer newest run kept.
fn absorb(
    tests: &mut HashMap<String, TestOverWindow>,
    more: impl IntoIterator<Item = (String, TestOverWindow)>,
) {
    for (id, test) in more {
        match tests.entry(id) {
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(test);
            }
            std::collections::hash_map::Entry::Occupied(mut entry) => {
                let window = entry.get_mut();
                window.flips = match (window.flips.take(), test.flips) {
                    (None, None) => None,
                    (older, newer) => {
                        let older = older.unwrap_or_else(|| Flips::passes(ran(&window.tally)));
                        let newer = newer.unwrap_or_else(|| Flips::passes(ran(&test.tally)));
                        Some(older.then(newer))
                    }
                };
                window.tally.merge(&test.tally);
                if window.newest_created_ms < test.newest_created_ms {
                    window.newest_run = test.newest_run;
                    window.newest_created_ms = test.newest_created_ms;
                }
            }
        }
    }
}

/// The runs a tally counts, for [`Flips::passes`].
fn ran(tally: &TestTally) -> u64 {
    u64::try_from(tally.runs).unwrap_or(0)
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
            infra: false,
        }
    }

    /// A run's tests: id, duration, and flaky when the id ends in `f`.
    fn durations(tests: &[(&str, u64)]) -> RunDurations {
        RunDurations {
            tests: tests
                .iter()
                .map(|(id, ms)| Ran(id.to_string(), *ms, id.ends_with('f'), false))
                .collect(),
        }
    }

    /// What the object says of test `id`: runs, flaky runs, total, the newest run's name.
    fn of(object: &RollupShard, id: &str) -> Option<(i64, i64, i64, String)> {
        let t = object.tests.get(id)?;
        Some((
            t.tally.runs,
            t.tally.flaky_runs,
            t.tally.total_ms,
            object.runs[t.newest].run.clone(),
        ))
    }

    #[test]
    fn a_window_of_days_is_a_few_aligned_blocks_the_same_but_at_its_ends_the_next_day() {
        let covered = |blocks: &[(u64, u32)]| -> Vec<u64> {
            blocks
                .iter()
                .flat_map(|&(start, level)| start..start + (1 << level))
                .collect()
        };
        for (first, last) in [(0, 0), (5, 5), (3, 100), (20_000, 20_089), (64, 127)] {
            let b = blocks(first, last);
            assert_eq!(
                covered(&b),
                (first..=last).collect::<Vec<_>>(),
                "{first}..={last}"
            );
            assert!(b
                .iter()
                .all(|&(start, level)| start.is_multiple_of(1 << level)));
            assert!(b.len() <= 2 * MAX_BLOCK_LEVEL as usize + 2, "{b:?}");
        }
        assert_eq!(blocks(64, 127), [(64, 6)]);
        // 89 days, then the next day's 89: all but the blocks at the ends are the same.
        let (today, tomorrow) = (blocks(20_000, 20_088), blocks(20_001, 20_089));
        let shared = today.iter().filter(|b| tomorrow.contains(b)).count();
        assert!(shared + 8 >= today.len(), "{today:?} / {tomorrow:?}");
    }

    #[test]
    fn a_run_is_folded_once_per_count_of_settled_files_and_only_its_shard() {
        let mut object = RollupShard::default();
        let one = durations(&[("a1", 100), ("a2f", 50), ("b1", 7)]);
        assert!(object.fold(&run("r1", 10, 1), 'a', &one, None, None));
        assert!(
            !object.fold(&run("r1", 10, 1), 'a', &one, None, None),
            "folded again"
        );
        assert_eq!(object.tests.len(), 2, "only the shard's tests");
        assert_eq!(of(&object, "a1"), Some((1, 0, 100, "r1".into())));
        assert_eq!(of(&object, "a2f"), Some((1, 1, 50, "r1".into())));
        // A later file of the run: the earlier tests come out, the new ones go in.
        let two = durations(&[("a1", 300), ("a3", 9)]);
        assert!(object.fold(&run("r1", 10, 2), 'a', &two, Some(&one), None));
        assert_eq!(of(&object, "a1"), Some((1, 0, 300, "r1".into())));
        assert_eq!(of(&object, "a2f"), None, "no run has it any more");
        assert_eq!(of(&object, "a3"), Some((1, 0, 9, "r1".into())));
        // An older count arriving late changes nothing.
        assert!(!object.fold(&run("r1", 10, 1), 'a', &one, None, None));
        assert_eq!(of(&object, "a1"), Some((1, 0, 300, "r1".into())));
        assert_eq!(
            object.tests["a1"].tally.buckets.len(),
            1,
            "the old bucket is gone"
        );
    }

    #[test]
    fn the_newest_run_names_a_test_whatever_the_order_runs_are_folded_in() {
        let mut object = RollupShard::default();
        let tests = durations(&[("a1f", 10)]);
        object.fold(&run("late", 20, 1), 'a', &tests, None, None);
        object.fold(&run("early", 5, 1), 'a', &tests, None, None);
        assert_eq!(of(&object, "a1f"), Some((2, 2, 20, "late".into())));
    }

    #[test]
    fn durations_give_quantiles_within_an_eighth_exact_for_equal_ones_and_an_exact_mean() {
        let ran = |ms| Ran("a".into(), ms, false, false);
        let mut d = TestTally::default();
        for ms in [100, 200, 300, 301, 10_000] {
            d.add(&ran(ms), 1);
        }
        // 300 and 301 share a bucket: their mean.
        assert_eq!(d.quantile_ms(0.5), Some(300));
        assert_eq!(d.max_ms(), Some(10_000));
        assert_eq!(d.mean_ms(), Some(2_180));
        let mut e = d.clone();
        e.add(&ran(10_000), -1);
        assert_eq!(e.runs, 4);
        assert_eq!(e.max_ms(), Some(300));
        let mut steady = TestTally::default();
        for _ in 0..7 {
            steady.add(&ran(2_000), 1);
        }
        assert_eq!(
            (
                steady.quantile_ms(0.5),
                steady.quantile_ms(0.95),
                steady.max_ms()
            ),
            (Some(2_000), Some(2_000), Some(2_000)),
            "a test as long every run"
        );
    }
}
