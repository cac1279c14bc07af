//! Names of things in the table and the bucket. Every key is built here, nowhere else, so the
//! layout documented in `docs/data-model.md` has one source.

use crate::attrs::{get_s, s, Item, PK, SK};
use std::collections::HashMap;
use std::fmt;

/// A name the caller chose that becomes part of a key: validated against a strict allowlist so a
/// key can never be ambiguous (no `#`, no `/`) nor too long for DynamoDB (2 KB partition key).
fn valid_name(name: &str, max: usize, extra: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// A project name: lowercase letters, digits and `-`, 1–64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectName(String);

impl ProjectName {
    /// The longest name.
    pub const MAX_LEN: usize = 64;

    /// A valid project name, or why not.
    pub fn parse(name: &str) -> Result<ProjectName, String> {
        if valid_name(name, Self::MAX_LEN, b"-") && name.bytes().all(|b| !b.is_ascii_uppercase()) {
            Ok(ProjectName(name.to_string()))
        } else {
            Err(format!(
                "project name {name:?} must be 1-{} characters of a-z, 0-9 and '-'",
                Self::MAX_LEN
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A run key: what shards of one CI pipeline share. Letters, digits, `.`, `_`, `-`, 1–128.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunKey(String);

impl RunKey {
    /// The longest key.
    pub const MAX_LEN: usize = 128;

    /// A valid run key, or why not.
    pub fn parse(key: &str) -> Result<RunKey, String> {
        if valid_name(key, Self::MAX_LEN, b"._-") {
            Ok(RunKey(key.to_string()))
        } else {
            Err(format!(
                "run key {key:?} must be 1-{} characters of A-Z, a-z, 0-9, '.', '_' and '-'",
                Self::MAX_LEN
            ))
        }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file id: 32 lowercase hex digits chosen by the server when the upload is registered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(String);

impl FileId {
    /// A valid file id, or why not.
    pub fn parse(id: &str) -> Result<FileId, String> {
        if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(FileId(id.to_string()))
        } else {
            Err(format!("file id {id:?} must be 32 lowercase hex digits"))
        }
    }

    /// A new random file id (128 bits from the OS).
    pub fn random() -> FileId {
        FileId(hex::encode(random_bytes::<16>()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Random bytes from the operating system's generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random generator is unavailable");
    bytes
}

/// Eight random hex digits: makes an object key that would otherwise repeat a new one.
pub(crate) fn hex_nonce() -> String {
    hex::encode(random_bytes::<4>())
}

/// One run of one project: the partition that holds the run, its files and content markers,
/// and the partitions of its test results.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunRef {
    /// The project.
    pub project: ProjectName,
    /// The run's key in the project.
    pub run_key: RunKey,
}

/// What a run's test items are spread by: the first digit of the test id (lower-case hex).
const TEST_PARTITIONS: &str = "0123456789abcdef";

impl RunRef {
    /// The partition of the run: its summary item, files and content markers.
    pub fn pk(&self) -> String {
        format!("{RUN_PK_PREFIX}{}#{}", self.project, self.run_key)
    }

    /// The partition of test `test_id`'s result in the run: the run's partition key and the
    /// test id's first digit. A run's results are written to 16 partition key values, so a
    /// large run, or many shards of one written at once, is not held to the rate AWS serves one
    /// of them at (1,000 write units a second); and, as test ids are hex, reading the
    /// partitions in [`RunRef::tests_pks`] order, each in sort-key order, reads the results in
    /// test-id order.
    pub(crate) fn tests_pk(&self, test_id: &str) -> String {
        format!("{}#{}", self.pk(), test_id.get(..1).unwrap_or_default())
    }

    /// The run key in the key of one of a run's test partitions (`R#{project}#{run_key}#{d}`,
    /// [`RunRef::tests_pk`]): neither a project name nor a run key holds `#`. Test items and
    /// their index entries carry it there only.
    pub(crate) fn run_key_of_tests_pk(pk: &str) -> Option<&str> {
        pk.split('#').nth(2)
    }

    /// The partitions of the run's test results, in test-id order.
    pub(crate) fn tests_pks(&self) -> Vec<String> {
        let pk = self.pk();
        TEST_PARTITIONS
            .chars()
            .map(|digit| format!("{pk}#{digit}"))
            .collect()
    }
}

/// One uploaded file of a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileRef {
    /// Its run.
    pub run: RunRef,
    /// Its id.
    pub file_id: FileId,
}

/// Where raw uploads live in the bucket. The parse function is notified for this prefix (and
/// for its own hand-offs, `handoffs.rs`) and writes nothing under it.
pub const RAW_PREFIX: &str = "raw/";

impl FileRef {
    /// `raw/{project}/{run_key}/{file_id}`: everything the parse function needs is in the key.
    pub fn object_key(&self) -> String {
        format!(
            "{RAW_PREFIX}{}/{}/{}",
            self.run.project, self.run.run_key, self.file_id
        )
    }

    /// The inverse of [`FileRef::object_key`].
    pub fn from_object_key(key: &str) -> Result<FileRef, String> {
        let rest = key
            .strip_prefix(RAW_PREFIX)
            .ok_or_else(|| format!("object key {key:?} is not under {RAW_PREFIX}"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let [project, run_key, file_id] = parts[..] else {
            return Err(format!(
                "object key {key:?} is not {RAW_PREFIX}<project>/<run key>/<file id>"
            ));
        };
        Ok(FileRef {
            run: RunRef {
                project: ProjectName::parse(project)?,
                run_key: RunKey::parse(run_key)?,
            },
            file_id: FileId::parse(file_id)?,
        })
    }
}

/// The key of an item: partition `pk`, sort `sk`.
pub(crate) fn item_key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

impl RunRef {
    /// The key of the run's summary item.
    pub(crate) fn item_key(&self) -> Item {
        item_key(self.pk(), SK_RUN.into())
    }

    /// The key of test `test_id`'s result item in the run.
    pub(crate) fn test_key(&self, test_id: &str) -> Item {
        item_key(self.tests_pk(test_id), test_sk(test_id))
    }
}

impl FileRef {
    /// The key of the file's item.
    pub(crate) fn item_key(&self) -> Item {
        item_key(self.run.pk(), file_sk(&self.file_id))
    }

    /// A file's reference from the keys of its item (`R#{project}#{run}`, `F#{id}`).
    pub(crate) fn from_item_keys(item: &Item) -> Option<FileRef> {
        let pk = get_s(item, PK)?.strip_prefix(RUN_PK_PREFIX)?;
        let (project, run_key) = pk.split_once('#')?;
        let file_id = get_s(item, SK)?.strip_prefix(FILE_SK_PREFIX)?;
        Some(FileRef {
            run: RunRef {
                project: ProjectName::parse(project).ok()?,
                run_key: RunKey::parse(run_key).ok()?,
            },
            file_id: FileId::parse(file_id).ok()?,
        })
    }
}

pub(crate) const RUN_PK_PREFIX: &str = "R#";
/// The partitions of first-seen items, one per test.
pub const FIRST_SEEN_PK_PREFIX: &str = "S#";
pub(crate) const UPLOAD_PK_PREFIX: &str = "U#";
pub(crate) const SK_RUN: &str = "RUN";
pub(crate) const FILE_SK_PREFIX: &str = "F#";
pub(crate) const TEST_SK_PREFIX: &str = "T#";

pub(crate) fn file_sk(file_id: &FileId) -> String {
    format!("{FILE_SK_PREFIX}{file_id}")
}

pub(crate) fn test_sk(test_id: &str) -> String {
    format!("{TEST_SK_PREFIX}{test_id}")
}

/// The test id of a test item's sort key (`None`: not a test item's).
pub(crate) fn test_id_of_sk(sk: &str) -> Option<&str> {
    sk.strip_prefix(TEST_SK_PREFIX)
}

/// The content marker of a run: the bytes' SHA-256.
pub(crate) fn content_sk(sha256: &str) -> String {
    format!("C#{sha256}")
}

/// The lookup item that finds a file from its id alone (`GET /v1/uploads/{file_id}`).
pub(crate) fn upload_key(file_id: &FileId) -> Item {
    item_key(format!("{UPLOAD_PK_PREFIX}{file_id}"), "UPLOAD".into())
}

/// Partitions of the sweep index: a few, so thousands of uploads a day never make one hot key.
const SWEEP_SHARDS: usize = 16;

/// The sweep index partition of a file.
pub(crate) fn sweep_pk(file_id: &FileId) -> String {
    let shard = usize::from(file_id.as_str().as_bytes()[0]) % SWEEP_SHARDS;
    format!("S#{shard:02}")
}

/// Every partition of the sweep index.
pub(crate) fn sweep_shards() -> impl Iterator<Item = String> {
    (0..SWEEP_SHARDS).map(|s| format!("S#{s:02}"))
}

/// The 13-digit time of a sort key ordered by time: string order is time order until the
/// year 2286.
pub(crate) fn time_prefix(ms: u64) -> String {
    format!("{ms:013}")
}

/// The lowest sort key of things at or after `ms` in an index ordered by [`time_sk`].
pub(crate) fn time_floor(ms: u64) -> String {
    format!("{}#", time_prefix(ms))
}

/// Sort key of everything ordered by run time: zero-padded milliseconds, then the run key, so
/// ties never collide and string order is time order.
pub(crate) fn time_sk(created_ms: u64, run_key: &RunKey) -> String {
    format!("{}#{run_key}", time_prefix(created_ms))
}

/// The time a [`time_sk`] (or a key that starts with one) was made from.
pub(crate) fn time_of_sk(sk: &str) -> Option<u64> {
    sk.split('#').next()?.parse().ok()
}

/// Sort key of a test result in an index ordered by run time: the run's [`time_sk`], then the
/// test id.
pub(crate) fn result_time_sk(created_ms: u64, run_key: &RunKey, test_id: &str) -> String {
    format!("{}#{test_id}", time_sk(created_ms, run_key))
}

/// Partition of the `branch` index: one project's runs of one branch.
pub(crate) fn branch_pk(project: &ProjectName, branch: &str) -> String {
    format!("{project}#{branch}")
}

/// Partition of the `fingerprint` index: one failure across the runs of a project, spread
/// over 16 values by the failing test's first digit as a run's results are. A red build fails
/// every test the same way: on one key value its index entries would be written at the rate
/// AWS serves one key (1,000 a second), slower than the run's results themselves.
pub(crate) fn fingerprint_pk(project: &ProjectName, fingerprint: &str, test_id: &str) -> String {
    let digit = test_id.get(..1).unwrap_or_default();
    format!("{project}#{fingerprint}#{digit}")
}

/// Every partition of one failure in the `fingerprint` index ([`fingerprint_pk`]).
pub(crate) fn fingerprint_pks(project: &ProjectName, fingerprint: &str) -> Vec<String> {
    TEST_PARTITIONS
        .chars()
        .map(|digit| format!("{project}#{fingerprint}#{digit}"))
        .collect()
}

/// Partition of the `uploads` index: one project's files in one state. A file's entry moves
/// with its state, so the files of any state are one Query away, newest first.
pub(crate) fn uploads_pk(project: &ProjectName, state: &str) -> String {
    format!("{project}#{state}")
}

/// Sort key of a file in the `uploads` index: its registration time, run and id.
pub(crate) fn uploads_sk(created_ms: u64, file: &FileRef) -> String {
    format!(
        "{}#{}",
        time_sk(created_ms, &file.run.run_key),
        file.file_id
    )
}

/// The partition of the project registry (every project is one item in it).
pub(crate) const PROJECTS_PK: &str = "PROJECTS";

/// A project's item in the registry, and the partition of its token listing.
pub(crate) fn project_sk(name: &ProjectName) -> String {
    format!("P#{name}")
}

/// Sort-key prefix of a project's token listing.
pub(crate) const TOKEN_LIST_PREFIX: &str = "K#";

/// A token's entry in its project's listing, by the token's public id.
pub(crate) fn token_list_key(project: &ProjectName, token_id: &str) -> Item {
    item_key(
        project_sk(project),
        format!("{TOKEN_LIST_PREFIX}{token_id}"),
    )
}

/// The item that finds a token from the hash of its secret.
pub(crate) fn token_lookup_key(hash: &str) -> Item {
    item_key(format!("K#{hash}"), "TOKEN".into())
}

/// A project's request counter for one minute.
pub(crate) fn rate_key(project: &ProjectName, minute: u64) -> Item {
    item_key(format!("RATE#{project}"), minute.to_string())
}

/// Where the sorted views of a run's results live in the bucket (nothing triggers on it).
pub const VIEWS_PREFIX: &str = "views/";

/// The periods rollups are kept for (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// An hour.
    Hour,
    /// A day, from midnight UTC.
    Day,
}

impl Granularity {
    /// The period's length.
    pub fn len_ms(self) -> u64 {
        match self {
            Granularity::Hour => 3_600_000,
            Granularity::Day => 86_400_000,
        }
    }

    /// The start of the period holding `ms`.
    pub fn start(self, ms: u64) -> u64 {
        ms - ms % self.len_ms()
    }

    fn letter(self) -> &'static str {
        match self {
            Granularity::Hour => "H",
            Granularity::Day => "D",
        }
    }

    /// The start of the period a [`rollup_sk`] of this granularity names.
    pub(crate) fn start_of_sk(self, sk: &str) -> Option<u64> {
        let number: u64 = sk.strip_prefix(self.letter())?.parse().ok()?;
        Some(number * self.len_ms())
    }
}

/// Partition of a project's rollups: all branches, or one branch (project names hold no `#`).
pub(crate) fn rollup_pk(project: &ProjectName, branch: Option<&str>) -> String {
    match branch {
        None => format!("D#{project}"),
        Some(branch) => format!("D#{project}#{branch}"),
    }
}

/// Sort key of the rollup of the period holding `ms`: its granularity's letter and the
/// period's number since the epoch, zero-padded so string order is time order.
pub(crate) fn rollup_sk(granularity: Granularity, ms: u64) -> String {
    format!("{}{:07}", granularity.letter(), ms / granularity.len_ms())
}

/// Partition of a project's failure rollups of test `test_id`, spread over 16 values by the
/// test id's first digit as a run's results are. A red build's failure roll writes an item per
/// failing test: on one key value it would go at the rate AWS serves one key (1,000 write units
/// a second, two per item in a transaction).
pub(crate) fn failure_rollup_pk(project: &ProjectName, test_id: &str) -> String {
    failure_rollup_shard_pk(project, test_id.get(..1).unwrap_or_default())
}

/// Every partition of a project's failure rollups ([`failure_rollup_pk`]).
pub(crate) fn failure_rollup_pks(project: &ProjectName) -> Vec<String> {
    TEST_PARTITIONS
        .chars()
        .map(|digit| failure_rollup_shard_pk(project, &digit.to_string()))
        .collect()
}

fn failure_rollup_shard_pk(project: &ProjectName, digit: &str) -> String {
    format!("G#{project}#{digit}")
}

/// Stands for "no fingerprint" in a failure rollup's sort key.
const NO_FINGERPRINT: &str = "-";

/// Sort key of a failure rollup: its day (as [`rollup_sk`] names it), the test, the failure
/// fingerprint and the branch when the run has one, so that a window of days is one key range.
/// The branch comes last, as it may hold `#`.
pub(crate) fn failure_rollup_sk(
    day_ms: u64,
    test_id: &str,
    fingerprint: Option<&str>,
    branch: Option<&str>,
) -> String {
    let day = rollup_sk(Granularity::Day, day_ms);
    let fingerprint = fingerprint.unwrap_or(NO_FINGERPRINT);
    match branch {
        None => format!("{day}#{test_id}#{fingerprint}"),
        Some(branch) => format!("{day}#{test_id}#{fingerprint}#{branch}"),
    }
}

/// Partition of the runs a failure (by fingerprint) showed in, by day: one key per failure,
/// written once per run that shows it, so even a failure in every run of a busy project's day
/// is a few write units a second.
pub(crate) fn failure_group_pk(project: &ProjectName, fingerprint: &str) -> String {
    format!("FG#{project}#{fingerprint}")
}

/// Sort key of a failure's runs on a day: the day (as [`rollup_sk`] names it), then `#{branch}`
/// for runs with a branch, so that a window of days is one key range.
pub(crate) fn failure_group_sk(day_ms: u64, branch: Option<&str>) -> String {
    let day = rollup_sk(Granularity::Day, day_ms);
    match branch {
        None => day,
        Some(branch) => format!("{day}#{branch}"),
    }
}

/// Partition of the runs of one commit of a project (`same_commit.rs`): an item per run.
pub(crate) fn commit_runs_pk(project: &ProjectName, commit: &str) -> String {
    format!("C#{project}#{commit}")
}

/// Where the snapshots of runs' failures live in the bucket (see `failure_rollups.rs`): kept
/// as long as their runs, unlike the views, which expire.
pub const SNAPSHOTS_PREFIX: &str = "rollups/";

/// The object key of the snapshot of a run's failures whose content hashes to `hash`.
pub(crate) fn failures_snapshot_key(run: &RunRef, hash: &str) -> String {
    format!("{}failures-{hash}", run_snapshots_prefix(run))
}

/// The prefix of every snapshot of a run.
pub(crate) fn run_snapshots_prefix(run: &RunRef) -> String {
    format!("{SNAPSHOTS_PREFIX}{}/{}/", run.project, run.run_key)
}

/// The object key of the snapshot of a run's durations folded into the duration rollups
/// when `settled` of its files were settled (see `duration_rollups.rs`).
pub(crate) fn durations_snapshot_key(run: &RunRef, settled: u64) -> String {
    format!("{}durations-{settled}", run_snapshots_prefix(run))
}

/// Where the duration rollups live in the bucket (see `duration_rollups.rs`): a project's by
/// scope (every branch, or one), then by day, so that a window's objects are one listing of its
/// scope from its first day (1,000 objects a page: about 60 days of 16 shards), and retention
/// lists each scope's days up to the first it keeps.
pub const DURATIONS_PREFIX: &str = "durations/";

/// The prefix of a project's duration rollups.
pub(crate) fn durations_prefix(project: &ProjectName) -> String {
    format!("{DURATIONS_PREFIX}{project}/")
}

/// The object key of the duration rollup of `project`'s tests whose id starts with `shard` (a
/// hex digit), on the day holding `day_ms`, for every branch or for one.
pub(crate) fn duration_rollup_key(
    project: &ProjectName,
    day_ms: u64,
    branch: Option<&str>,
    shard: char,
) -> String {
    format!(
        "{}{shard}",
        duration_rollups_of_day(project, day_ms, branch)
    )
}

/// The prefix of the duration rollups of `project` of every branch or of one (hex-encoded, as a
/// branch may hold `/`).
pub(crate) fn duration_rollups_of_scope(project: &ProjectName, branch: Option<&str>) -> String {
    let scope = match branch {
        None => "all".to_string(),
        Some(branch) => format!("b{}", hex::encode(branch)),
    };
    format!("{}{scope}/", durations_prefix(project))
}

/// The prefix of the duration rollups of `project` on the day holding `day_ms`, for every
/// branch or for one. The day is zero-padded, so key order within a scope is day order.
fn duration_rollups_of_day(project: &ProjectName, day_ms: u64, branch: Option<&str>) -> String {
    let day = day_ms / Granularity::Day.len_ms();
    format!("{}{day:07}/", duration_rollups_of_scope(project, branch))
}

/// The object key of the merge of some days' duration rollups of `project` whose versions
/// hash to `hash`: a cache, beside the runs' views (no run key holds `~`).
pub(crate) fn duration_window_key(project: &ProjectName, hash: &str) -> String {
    format!("{VIEWS_PREFIX}{project}/~durations/{hash}")
}

/// Where merges of blocks of days of the duration rollups are kept (see
/// `duration_rollups.rs`): caches that outlive the views' week, as a block is read for as long
/// as its days are in a window, and that retention deletes with their first day.
pub const WINDOWS_PREFIX: &str = "windows/";

/// The prefix of a project's kept blocks of duration rollups.
pub(crate) fn windows_prefix(project: &ProjectName) -> String {
    format!("{WINDOWS_PREFIX}{project}/")
}

/// The object key of the merge of the duration rollups of a block of days from the one holding
/// `day_ms`, whose objects' versions hash to `hash`.
pub(crate) fn duration_block_key(project: &ProjectName, day_ms: u64, hash: &str) -> String {
    let day = day_ms / Granularity::Day.len_ms();
    format!("{}{day:07}/{hash}", windows_prefix(project))
}

/// The day (its start) a [`duration_rollup_key`] under its scope's prefix
/// ([`duration_rollups_of_scope`]), or a kept block under [`windows_prefix`], is of.
pub(crate) fn day_of_duration_rollup_key(prefix: &str, key: &str) -> Option<u64> {
    let day: u64 = key.strip_prefix(prefix)?.split('/').next()?.parse().ok()?;
    Some(day * Granularity::Day.len_ms())
}

/// The shards of a project's duration rollups: the first digit of the test ids they hold.
pub(crate) fn duration_rollup_shards() -> impl Iterator<Item = char> {
    TEST_PARTITIONS.chars()
}

/// Where attempts' text kept apart from their test items lives in the bucket
/// (`verdict_model::KeptText`): kept as long as their runs.
pub const KEPT_TEXT_PREFIX: &str = "text/";

/// The object key of segment `segment` of the text `file` keeps apart: segments are numbered
/// in the file's order from 0.
pub fn kept_text_key(run: &RunRef, file: &FileId, segment: u32) -> String {
    format!("{}{file}/{segment:06}", run_kept_text_prefix(run))
}

/// The prefix of every segment of kept text of a run.
pub(crate) fn run_kept_text_prefix(run: &RunRef) -> String {
    format!("{KEPT_TEXT_PREFIX}{}/{}/", run.project, run.run_key)
}

/// The object key of one sorted view of a run.
pub fn view_key(run: &RunRef, name: &str) -> String {
    format!("{VIEWS_PREFIX}{}/{}/{name}", run.project, run.run_key)
}

/// The prefix of every raw object of a run.
pub(crate) fn run_objects_prefix(run: &RunRef) -> String {
    format!("{RAW_PREFIX}{}/{}/", run.project, run.run_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_s_test_partitions_read_in_order_give_test_id_order() {
        let run = RunRef {
            project: ProjectName::parse("acme").unwrap(),
            run_key: RunKey::parse("build-1").unwrap(),
        };
        let partitions = run.tests_pks();
        assert_eq!(partitions.len(), 16);
        let ids: Vec<String> = (0..500u32)
            .map(|i| {
                verdict_model::test_id(&verdict_model::TestIdentity {
                    suite: "s",
                    classname: &format!("pkg.C{}", i % 7),
                    file: None,
                    name: &format!("t{i}"),
                })
            })
            .collect();
        let mut by_partition = ids.clone();
        by_partition.sort_by_key(|id| {
            let at = partitions.iter().position(|p| *p == run.tests_pk(id));
            (at.expect("every test id has a partition"), id.clone())
        });
        let mut by_id = ids;
        by_id.sort();
        assert_eq!(by_partition, by_id);
        assert!(partitions.iter().all(|p| p.starts_with(&run.pk())));
    }

    #[test]
    fn object_keys_round_trip_and_reject_anything_else() {
        let file = FileRef {
            run: RunRef {
                project: ProjectName::parse("web-app").unwrap(),
                run_key: RunKey::parse("gh-123.4_5").unwrap(),
            },
            file_id: FileId::random(),
        };
        assert_eq!(FileRef::from_object_key(&file.object_key()).unwrap(), file);
        for bad in [
            "other/web-app/r/0123456789abcdef0123456789abcdef",
            "raw/web-app/r",
            "raw/Web/r/0123456789abcdef0123456789abcdef",
            "raw/web-app/r#x/0123456789abcdef0123456789abcdef",
            "raw/web-app/r/0123",
            "raw/web-app/r/0123456789abcdef0123456789abcdef/extra",
        ] {
            assert!(FileRef::from_object_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn run_keys_are_bounded_and_allowlisted() {
        assert!(RunKey::parse(&"a".repeat(128)).is_ok());
        assert!(RunKey::parse(&"a".repeat(129)).is_err());
        assert!(RunKey::parse("").is_err());
        assert!(RunKey::parse("a/b").is_err());
        assert!(RunKey::parse("a b").is_err());
    }
}
