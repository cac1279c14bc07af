//! A run's summary item: what its files added up to, how many of them settled, and which file
//! writes alone in it.

use crate::attrs::{get_s, get_u64, Item, CREATED_MS, EXPIRES_AT, PROJECT, RUN_KEY};
use crate::counts::{summary_from, COUNTERS};
use crate::keys::{FileId, ProjectName, RunKey, RunRef};
use crate::{Store, StoreError, TestRow};
use std::collections::HashSet;
use verdict_model::{RunMetadata, Summary};

/// The run item's own attributes (besides [`crate::counts::COUNTERS`] and the common ones in
/// `attrs.rs`).
pub(crate) mod attr {
    pub(crate) const METADATA: &str = "metadata";
    pub(crate) const RUNS_PK: &str = "runs_pk";
    pub(crate) const RUNS_SK: &str = "runs_sk";
    pub(crate) const BRANCH: &str = "branch";
    pub(crate) const BRANCH_PK: &str = "branch_pk";
    pub(crate) const BRANCH_SK: &str = "branch_sk";
    pub(crate) const COMMIT_SHA: &str = "commit_sha";
    pub(crate) const TRIGGER: &str = "trigger";
    pub(crate) const FILES_REGISTERED: &str = "files_registered";
    pub(crate) const FILES_DONE: &str = "files_done";
    pub(crate) const FILES_FAILED: &str = "files_failed";
    pub(crate) const FILES_DUPLICATE: &str = "files_duplicate";
    /// Files settled in any way: `files_done + files_failed + files_duplicate`, kept as one
    /// counter so a query filter can compare it with `files_registered`.
    pub(crate) const FILES_SETTLED: &str = "files_settled";
    pub(crate) const EXCLUSIVE_WRITER: &str = "exclusive_writer";
    /// Set with `exclusive_writer` when that file began after others committed results: it
    /// merges into them ([`crate::Writers::Alone`]).
    pub(crate) const EXCLUSIVE_MERGING: &str = "exclusive_merging";
    pub(crate) const WRITERS_STARTED: &str = "writers_started";
    /// String set: the files that began writing test items and have not committed.
    pub(crate) const UNCOMMITTED: &str = "uncommitted";
}

/// A run's summary item.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Which run.
    pub run: RunRef,
    /// When its first file was registered.
    pub created_ms: u64,
    /// Seconds since the epoch (DynamoDB TTL).
    pub expires_at: u64,
    /// What the first file's upload said of the run.
    pub metadata: RunMetadata,
    /// The run's counters: every `done` file's contribution.
    pub summary: Summary,
    /// Files registered in the run.
    pub files_registered: u64,
    /// Files settled `done`.
    pub files_done: u64,
    /// Files settled `failed`.
    pub files_failed: u64,
    /// Files settled `duplicate`.
    pub files_duplicate: u64,
    /// The file writing alone in the run (see [`Store::begin_writes`]), until it commits.
    pub exclusive_writer: Option<FileId>,
    /// The files that began writing test items ([`Store::begin_writes`]) and have not
    /// committed: still writing, or failed part-way. Its size is bounded by the files written at
    /// once plus those that failed after writing, not by the run's files.
    pub uncommitted: HashSet<String>,
}

/// Where a run stands, as lists and CI show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Every file settled, no test failed or errored, no file failed.
    Passed,
    /// Every file settled, and a test failed or errored, or a file could not be read.
    Failed,
    /// Files are still being ingested.
    Pending,
}

impl RunStatus {
    /// The status a name (its [`RunStatus::as_str`]) names.
    pub fn parse(name: &str) -> Option<RunStatus> {
        [RunStatus::Passed, RunStatus::Failed, RunStatus::Pending]
            .into_iter()
            .find(|s| s.as_str() == name)
    }

    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Passed => "passed",
            RunStatus::Failed => "failed",
            RunStatus::Pending => "pending",
        }
    }
}

/// A run where at least this share of its tests failed broke as a whole (infrastructure, a
/// broken build): its failures say nothing about one test, so they are no flips.
const INFRA_FAILED_SHARE: f64 = 0.8;
/// ...counted for runs of at least this many tests (a one-test run that fails is that test).
const INFRA_MIN_TESTS: u64 = 10;

impl Run {
    /// Whether the run failed as a whole (see [`INFRA_FAILED_SHARE`]).
    pub fn failed_as_a_whole(&self) -> bool {
        let s = &self.summary;
        s.tests >= INFRA_MIN_TESTS
            && (s.failed + s.errors) as f64 >= INFRA_FAILED_SHARE * s.tests as f64
    }

    /// Whether a result the files `contributors` wrote may be shown: when each of them has
    /// committed. A result touched by a file still being ingested is left out until that file
    /// is done, and one touched by a file that failed after writing part of its results is
    /// never shown, so no half-merged result is ever shown.
    ///
    /// Only for a run item read *after* the results it judges ([`Store::shown_rows`]): a file
    /// joins `uncommitted` before its first write, so any contributor of a result read earlier
    /// is either still there or has committed. A run item read before the results would not
    /// know a file that began writing in between.
    ///
    /// `created_ms` is the creation time of the run the result was written for: a result of an
    /// earlier run under the same key, deleted by retention and waiting for TTL, is never shown.
    pub fn shows(&self, created_ms: u64, contributors: &[String]) -> bool {
        created_ms == self.created_ms && contributors.iter().all(|f| !self.uncommitted.contains(f))
    }

    /// [`Run::shows`] for a row.
    pub fn shows_row(&self, row: &TestRow) -> bool {
        self.shows(row.created_ms, &row.contributors)
    }

    /// Whether `file` writes alone in the run ([`Store::begin_writes`]), until it commits.
    pub fn written_alone_by(&self, file: &FileId) -> bool {
        self.exclusive_writer.as_ref() == Some(file)
    }

    /// Files that are `done`, `failed` or `duplicate`.
    pub fn files_settled(&self) -> u64 {
        self.files_done + self.files_failed + self.files_duplicate
    }

    /// Files that are neither `done`, `failed` nor `duplicate` yet.
    pub fn files_unsettled(&self) -> u64 {
        self.files_registered.saturating_sub(self.files_settled())
    }

    /// `pending` while files are still being ingested, then `failed` or `passed`.
    pub fn status(&self) -> RunStatus {
        if self.files_unsettled() > 0 {
            RunStatus::Pending
        } else if self.summary.failed + self.summary.errors > 0 || self.files_failed > 0 {
            RunStatus::Failed
        } else {
            RunStatus::Passed
        }
    }
}

/// A run item as read (`None`: not a readable run item).
pub(crate) fn run_from_item(item: &Item) -> Option<Run> {
    let run = RunRef {
        project: ProjectName::parse(get_s(item, PROJECT)?).ok()?,
        run_key: RunKey::parse(get_s(item, RUN_KEY)?).ok()?,
    };
    Some(Run {
        run,
        created_ms: get_u64(item, CREATED_MS),
        expires_at: get_u64(item, EXPIRES_AT),
        metadata: get_s(item, attr::METADATA)
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default(),
        summary: summary_from(COUNTERS.map(|k| get_u64(item, k))),
        files_registered: get_u64(item, attr::FILES_REGISTERED),
        files_done: get_u64(item, attr::FILES_DONE),
        files_failed: get_u64(item, attr::FILES_FAILED),
        files_duplicate: get_u64(item, attr::FILES_DUPLICATE),
        exclusive_writer: get_s(item, attr::EXCLUSIVE_WRITER).and_then(|id| FileId::parse(id).ok()),
        uncommitted: item
            .get(attr::UNCOMMITTED)
            .and_then(|v| v.as_ss().ok())
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default(),
    })
}

impl Store {
    /// A run's summary item (strongly consistent).
    pub async fn get_run(&self, run: &RunRef) -> Result<Option<Run>, StoreError> {
        let item = self.read_item("GetItem run", run.item_key(), true).await?;
        Ok(item.as_ref().and_then(run_from_item))
    }

    /// Keeps the `rows` of `run` that it shows, judged by its run item read now, after the
    /// rows were read ([`Run::shows`]); with that run item (`None`: the run is gone, and
    /// nothing of it is shown).
    pub async fn shown_rows(
        &self,
        run: &RunRef,
        mut rows: Vec<TestRow>,
    ) -> Result<(Option<Run>, Vec<TestRow>), StoreError> {
        let found = self.get_run(run).await?;
        rows.retain(|r| found.as_ref().is_some_and(|f| f.shows_row(r)));
        Ok((found, rows))
    }

    /// The run items of `runs` of a project that exist (BatchGetItem, 100 keys each; eventually
    /// consistent, as listings are).
    pub async fn get_runs(
        &self,
        project: &ProjectName,
        runs: impl IntoIterator<Item = RunKey>,
    ) -> Result<Vec<Run>, StoreError> {
        let keys: Vec<Item> = runs
            .into_iter()
            .map(|run_key| {
                RunRef {
                    project: project.clone(),
                    run_key,
                }
                .item_key()
            })
            .collect();
        Ok(self
            .batch_get(keys, &[], false)
            .await?
            .iter()
            .filter_map(run_from_item)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(registered: u64, done: u64, failed_files: u64, failed_tests: u64) -> Run {
        Run {
            run: RunRef {
                project: ProjectName::parse("p").unwrap(),
                run_key: RunKey::parse("r").unwrap(),
            },
            created_ms: 0,
            expires_at: 0,
            metadata: RunMetadata::default(),
            summary: Summary {
                failed: failed_tests,
                ..Summary::default()
            },
            files_registered: registered,
            files_done: done,
            files_failed: failed_files,
            files_duplicate: 0,
            exclusive_writer: None,
            uncommitted: HashSet::new(),
        }
    }

    #[test]
    fn a_run_failed_as_a_whole_when_most_of_a_large_run_failed() {
        let run = |tests, failed| {
            crate::settled_run(
                "r",
                0,
                verdict_model::Summary {
                    tests,
                    failed,
                    ..verdict_model::Summary::default()
                },
            )
        };
        assert!(run(100, 80).failed_as_a_whole());
        assert!(!run(100, 79).failed_as_a_whole());
        assert!(!run(5, 5).failed_as_a_whole(), "too small a run to say");
    }

    #[test]
    fn a_run_is_pending_until_every_file_settled_then_failed_by_tests_or_files() {
        assert_eq!(run(2, 1, 0, 0).status(), RunStatus::Pending);
        assert_eq!(run(2, 1, 0, 3).status(), RunStatus::Pending);
        assert_eq!(run(2, 2, 0, 0).status(), RunStatus::Passed);
        assert_eq!(run(2, 2, 0, 1).status(), RunStatus::Failed);
        assert_eq!(run(2, 1, 1, 0).status(), RunStatus::Failed);
    }
}
