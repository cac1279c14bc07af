//! Rollups: what a project's runs add up to per hour and per day, for all branches and for each
//! branch, so that statistics and trends over any window read a few dozen items however many
//! runs it holds.
//!
//! A run's [`Tally`] changes as its files register and settle. [`Store::roll_run`] keeps the
//! rollups equal to the sum of their runs' current tallies with exactly-once effect: the run
//! item remembers the tally it last added (`rolled`) and the run state it was taken from
//! (`rolled_version`), and one transaction adds the difference to the rollups while it sets
//! both, on condition that neither the run nor its `rolled_version` moved since it was read.
//! A roll repeated, raced or redelivered adds nothing twice; a roll lost to a crash is made by
//! the next one, which reads the same run.

use crate::attrs::{get_map, get_n, n, s, Expr, Item, EXPIRES_AT, KIND, PROJECT, SK};
use crate::keys::{rollup_pk, rollup_sk, Granularity, ProjectName, RunRef};
use crate::runs::{attr as run_attr, run_from_item, Run, RunStatus};
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use std::collections::{BTreeMap, HashMap};
use verdict_model::Summary;

/// The run item's record of its last roll.
pub(crate) mod attr {
    /// The tally the rollups hold for the run (a map of [`super::Tally`]'s attributes).
    pub(crate) const ROLLED: &str = "rolled";
    /// [`super::version`] of the run state that tally was taken from.
    pub(crate) const ROLLED_VERSION: &str = "rolled_version";
}

/// A run's summed test duration is counted up to this (about 31 years): a report may claim any
/// duration, and sums of many runs must not overflow.
const MAX_RUN_DURATION_MS: u64 = 1_000_000_000_000;

/// Duration histogram buckets per doubling: a bucket is at most 1/8 wider than its floor.
const BUCKETS_PER_DOUBLING: u32 = 8;

/// The histogram bucket of a duration: 8 per doubling of `ms + 1`, so the bucket's top is
/// within 12.5% of any value in it.
pub fn duration_bucket(ms: u64) -> u16 {
    let v = ms.min(MAX_RUN_DURATION_MS) + 1;
    let exp = 63 - v.leading_zeros();
    // The three bits after the leading one (fewer for small values, padded with zeros).
    let fraction = if exp >= 3 {
        (v >> (exp - 3)) & 7
    } else {
        (v << (3 - exp)) & 7
    };
    (exp * BUCKETS_PER_DOUBLING + fraction as u32) as u16
}

/// The largest duration in `bucket` ([`duration_bucket`]'s inverse, rounded up).
pub fn duration_bucket_top(bucket: u16) -> u64 {
    let (exp, fraction) = (
        u32::from(bucket) / BUCKETS_PER_DOUBLING,
        u64::from(bucket) % 8,
    );
    // Values v in [ (8 + f) * 2^exp / 8, (9 + f) * 2^exp / 8 ); the duration is v - 1.
    let next = ((9 + fraction) << exp) >> 3;
    let floor = ((8 + fraction) << exp) >> 3;
    next.max(floor + 1) - 2
}

/// What runs add up to. A run's own tally counts it once; a rollup's is the sum of its runs'.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Runs.
    pub runs: i64,
    /// Runs settled `passed`.
    pub passed_runs: i64,
    /// Runs settled `failed`.
    pub failed_runs: i64,
    /// Runs with files still being ingested.
    pub pending_runs: i64,
    /// Settled runs with a test pass rate ([`Summary::pass_rate`]).
    pub rated_runs: i64,
    /// The sum of those runs' test pass rates, in thousandths (each rate has three decimals).
    pub pass_rate_milli: i64,
    /// Failed and errored tests.
    pub failed_tests: i64,
    /// Flaky tests.
    pub flaky_tests: i64,
    /// Tests.
    pub tests: i64,
    /// The runs' summed test durations.
    pub duration_ms: i64,
    /// How many runs' summed test durations fall in each [`duration_bucket`].
    pub durations: BTreeMap<u16, i64>,
}

const RUNS: &str = "runs";
const PASSED_RUNS: &str = "passed_runs";
const FAILED_RUNS: &str = "failed_runs";
const PENDING_RUNS: &str = "pending_runs";
const RATED_RUNS: &str = "rated_runs";
const PASS_RATE_MILLI: &str = "pass_rate_milli";
const FAILED_TESTS: &str = "failed_tests";
const FLAKY_TESTS: &str = "flaky_tests";
const TESTS: &str = "tests";
const DURATION_MS: &str = "duration_ms";
/// Histogram attributes are this prefix and the bucket, as `d042`.
const DURATION_BUCKET_PREFIX: &str = "d";

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Tally {
    /// What `run` adds to its hour and day as it stands. Pending runs count as runs, with their
    /// tests so far, but add no pass rate.
    pub fn of_run(run: &Run) -> Tally {
        let summary: &Summary = &run.summary;
        let status = run.status();
        let rate = match status {
            RunStatus::Pending => None,
            _ => summary.pass_rate(),
        };
        let duration = summary.duration_ms.min(MAX_RUN_DURATION_MS);
        Tally {
            runs: 1,
            passed_runs: i64::from(status == RunStatus::Passed),
            failed_runs: i64::from(status == RunStatus::Failed),
            pending_runs: i64::from(status == RunStatus::Pending),
            rated_runs: i64::from(rate.is_some()),
            pass_rate_milli: rate.map_or(0, |r| (r * 1000.0).round() as i64),
            failed_tests: to_i64(summary.failed + summary.errors),
            flaky_tests: to_i64(summary.flaky),
            tests: to_i64(summary.tests),
            duration_ms: to_i64(duration),
            durations: BTreeMap::from([(duration_bucket(duration), 1)]),
        }
    }

    /// Adds `other` times `sign` (1 or -1).
    pub fn add(&mut self, other: &Tally, sign: i64) {
        for ((_, mine), (_, theirs)) in self.fields_mut().into_iter().zip(other.fields()) {
            *mine += sign * theirs;
        }
        for (bucket, count) in &other.durations {
            *self.durations.entry(*bucket).or_default() += sign * count;
        }
        self.durations.retain(|_, count| *count != 0);
    }

    fn fields(&self) -> [(&'static str, i64); 10] {
        [
            (RUNS, self.runs),
            (PASSED_RUNS, self.passed_runs),
            (FAILED_RUNS, self.failed_runs),
            (PENDING_RUNS, self.pending_runs),
            (RATED_RUNS, self.rated_runs),
            (PASS_RATE_MILLI, self.pass_rate_milli),
            (FAILED_TESTS, self.failed_tests),
            (FLAKY_TESTS, self.flaky_tests),
            (TESTS, self.tests),
            (DURATION_MS, self.duration_ms),
        ]
    }

    fn fields_mut(&mut self) -> [(&'static str, &mut i64); 10] {
        [
            (RUNS, &mut self.runs),
            (PASSED_RUNS, &mut self.passed_runs),
            (FAILED_RUNS, &mut self.failed_runs),
            (PENDING_RUNS, &mut self.pending_runs),
            (RATED_RUNS, &mut self.rated_runs),
            (PASS_RATE_MILLI, &mut self.pass_rate_milli),
            (FAILED_TESTS, &mut self.failed_tests),
            (FLAKY_TESTS, &mut self.flaky_tests),
            (TESTS, &mut self.tests),
            (DURATION_MS, &mut self.duration_ms),
        ]
    }

    /// Every nonzero counter as an attribute name and value (histogram buckets included).
    fn attributes(&self) -> Vec<(String, i64)> {
        let counters = self.fields().into_iter().map(|(k, v)| (k.to_string(), v));
        let buckets = self
            .durations
            .iter()
            .map(|(b, c)| (format!("{DURATION_BUCKET_PREFIX}{b:03}"), *c));
        counters.chain(buckets).filter(|(_, v)| *v != 0).collect()
    }

    /// A tally read from the attributes [`Tally::attributes`] wrote (absent ones are zero).
    fn from_attributes(item: &Item) -> Tally {
        let mut tally = Tally::default();
        for (name, value) in tally.fields_mut() {
            *value = get_n(item, name).unwrap_or(0);
        }
        for (name, value) in item {
            let bucket = name
                .strip_prefix(DURATION_BUCKET_PREFIX)
                .and_then(|b| b.parse::<u16>().ok());
            if let (Some(bucket), Ok(count)) = (bucket, value.as_n()) {
                if let Ok(count) = count.parse::<i64>() {
                    if count != 0 {
                        tally.durations.insert(bucket, count);
                    }
                }
            }
        }
        tally
    }

    /// The top of the histogram bucket holding the run duration at quantile `q` (0..=1,
    /// nearest rank); `None` without runs.
    pub fn duration_quantile(&self, q: f64) -> Option<u64> {
        let total: i64 = self.durations.values().sum();
        if total <= 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as i64).clamp(1, total);
        let mut seen = 0;
        self.durations.iter().find_map(|(bucket, count)| {
            seen += count;
            (seen >= rank).then(|| duration_bucket_top(*bucket))
        })
    }

    /// The mean of the rated runs' pass rates, to three decimals; `None` without one.
    pub fn mean_pass_rate(&self) -> Option<f64> {
        (self.rated_runs > 0).then(|| {
            // Rounded half up in integers, so the answer never depends on float summation.
            let milli = (2 * self.pass_rate_milli + self.rated_runs) / (2 * self.rated_runs);
            milli as f64 / 1000.0
        })
    }
}

/// The state of a run a tally is taken from, as a number that grows with every change of it:
/// a run's counters change only when a file settles (`files_settled` grows) and its status
/// also when a file registers (`files_registered` grows).
fn version(run: &Run) -> u64 {
    run.files_registered + run.files_settled()
}

/// Rolls attempted at most before giving up for now (each lost race means another roll of
/// the same run moved it; the last file to settle rolls again).
const MAX_ROLL_ATTEMPTS: usize = 8;

impl Store {
    /// Brings the rollups of `run`'s hour and day (all branches, and its branch) up to the run
    /// as it stands now (see the module's documentation). Nothing to do for a run that is gone.
    pub async fn roll_run(&self, run: &RunRef) -> Result<(), StoreError> {
        for _ in 0..MAX_ROLL_ATTEMPTS {
            let Some(item) = self.read_item("GetItem run", run.item_key(), true).await? else {
                return Ok(());
            };
            let Some(current) = run_from_item(&item) else {
                return Ok(());
            };
            let rolled_version = get_n(&item, attr::ROLLED_VERSION);
            let version = version(&current);
            if rolled_version == Some(to_i64(version)) {
                return Ok(());
            }
            let rolled = get_map(&item, attr::ROLLED)
                .map(Tally::from_attributes)
                .unwrap_or_default();
            let now = Tally::of_run(&current);
            let mut change = now.clone();
            change.add(&rolled, -1);
            // The rollups already hold the run as it stands (a file registered in a run still
            // pending): nothing to write.
            if change == Tally::default() {
                return Ok(());
            }
            let items = self.roll_items(&current, &now, &change, version, rolled_version)?;
            match self.transact("TransactWriteItems roll", items).await? {
                Ok(()) => return Ok(()),
                // The run moved, or another roll took it: read it again.
                Err(_) => continue,
            }
        }
        Err(StoreError::transient(
            "TransactWriteItems roll",
            format!("run {} kept changing while it was rolled up", run.run_key),
        ))
    }

    /// The run's update (its new tally and version, on condition it is as read) and an ADD of
    /// `change` to each of its rollups.
    fn roll_items(
        &self,
        run: &Run,
        now: &Tally,
        change: &Tally,
        version: u64,
        rolled_version: Option<i64>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut e = Expr::default();
        let rolled: HashMap<String, AttributeValue> = now
            .attributes()
            .into_iter()
            .map(|(k, v)| (k, n(v)))
            .collect();
        let sets = [
            e.set(attr::ROLLED, AttributeValue::M(rolled)),
            e.set(attr::ROLLED_VERSION, n(version)),
        ];
        let mut condition = vec![
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
        condition.push(match rolled_version {
            None => format!("attribute_not_exists({})", e.name(attr::ROLLED_VERSION)),
            Some(v) => format!("{} = {}", e.name(attr::ROLLED_VERSION), e.value(n(v))),
        });
        let mut items = vec![self.transact_update(
            "TransactWriteItems roll",
            run.run.item_key(),
            format!("SET {}", sets.join(", ")),
            Some(condition.join(" AND ")),
            e,
        )?];
        let adds = change.attributes();
        let branch = run.metadata.branch.as_deref();
        // A rollup lives a day past the last of its runs.
        let expires_at = run.expires_at + 86_400;
        for granularity in [Granularity::Hour, Granularity::Day] {
            let start_ms = granularity.start(run.created_ms);
            for branch in std::iter::once(None).chain(branch.map(Some)) {
                let mut e = Expr::default();
                let sets = [
                    e.set(KIND, s("rollup")),
                    e.set(PROJECT, s(run.run.project.as_str())),
                    e.set(EXPIRES_AT, n(expires_at)),
                ];
                let added: Vec<String> = adds.iter().map(|(k, v)| e.add(k, n(*v))).collect();
                let key = crate::keys::item_key(
                    rollup_pk(&run.run.project, branch),
                    rollup_sk(granularity, start_ms),
                );
                items.push(self.transact_update(
                    "TransactWriteItems roll",
                    key,
                    format!("SET {} ADD {}", sets.join(", "), added.join(", ")),
                    None,
                    e,
                )?);
            }
        }
        Ok(items)
    }

    /// The rollups of `project` (of `branch`, or of all branches) at `granularity` whose
    /// periods start from `first_ms` to `last_ms`, both included, oldest first: one Query.
    pub async fn tallies(
        &self,
        project: &ProjectName,
        branch: Option<&str>,
        granularity: Granularity,
        first_ms: u64,
        last_ms: u64,
    ) -> Result<Vec<(u64, Tally)>, StoreError> {
        if last_ms < first_ms {
            return Ok(Vec::new());
        }
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
            .expression_attribute_values(":pk", s(rollup_pk(project, branch)))
            .expression_attribute_values(":first", s(rollup_sk(granularity, first_ms)))
            .expression_attribute_values(":last", s(rollup_sk(granularity, last_ms)));
        let items = self.query_all("Query rollups", query).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let start_ms = granularity.start_of_sk(crate::attrs::get_s(item, SK)?)?;
                Some((start_ms, Tally::from_attributes(item)))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_duration_is_at_most_its_buckets_top_and_within_an_eighth_of_it() {
        let mut last = 0;
        for ms in (0..5_000).chain([65_535, 1_000_000, 123_456_789, u64::MAX]) {
            let bucket = duration_bucket(ms);
            assert!(bucket >= last, "buckets grow with durations");
            last = bucket;
            let top = duration_bucket_top(bucket);
            let ms = ms.min(MAX_RUN_DURATION_MS);
            assert!(top >= ms, "{ms} ms in bucket {bucket} of top {top}");
            assert!(
                (top + 1) as f64 <= (ms + 1) as f64 * 1.125,
                "{ms} ms in bucket {bucket} of top {top}"
            );
            assert_eq!(
                duration_bucket(top),
                bucket,
                "{ms}: the top is in the bucket"
            );
        }
    }

    #[test]
    fn a_tally_added_then_taken_away_leaves_nothing() {
        let run = crate::settled_run(
            "r",
            0,
            Summary {
                tests: 3,
                passed: 2,
                failed: 1,
                duration_ms: 900,
                ..Summary::default()
            },
        );
        let one = Tally::of_run(&run);
        assert_eq!((one.failed_runs, one.rated_runs), (1, 1));
        assert_eq!(one.pass_rate_milli, 667);
        let mut sum = Tally::default();
        sum.add(&one, 1);
        sum.add(&one, 1);
        assert_eq!(sum.mean_pass_rate(), Some(0.667));
        assert_eq!(
            sum.duration_quantile(0.5),
            Some(duration_bucket_top(duration_bucket(900)))
        );
        sum.add(&one, -1);
        sum.add(&one, -1);
        assert_eq!(sum, Tally::default());
        assert_eq!(Tally::from_attributes(&HashMap::new()), Tally::default());
    }

    #[test]
    fn a_tally_reads_back_as_written() {
        let mut tally = Tally::of_run(&crate::settled_run("r", 0, Summary::default()));
        tally.durations.insert(7, 3);
        let item: Item = tally
            .attributes()
            .into_iter()
            .map(|(k, v)| (k, n(v)))
            .collect();
        assert_eq!(Tally::from_attributes(&item), tally);
    }
}
