//! The tests a run and another run of its commit disagree on: one failed it, the other ran it
//! and did not. A test that does that is flaky whatever its history, and the pair may be days
//! apart (a rerun the next morning), so it is found as the second of the two runs is folded
//! into its day's duration rollups, and marked there ([`crate::flips::Marks::same_commit`]).
//!
//! Each folded run with a commit puts an item in the commit's partition (`C#{project}#{commit}`,
//! one per run: its settled count, branch, whether it failed as a whole and how many tests it
//! failed) after the snapshot of its durations, then reads the partition. Of two runs of one
//! commit folded at once, the second to put its item reads the other's, whose snapshot is
//! there by then: so every pair is compared at least once, by whichever run comes second (or
//! by both). A run failed by nothing (the common green run) needs no snapshot read against
//! another green one; a run that failed as a whole is no evidence of failing.

use crate::attrs::{get_bool, get_n, get_s, n, s, Item, CREATED_MS, EXPIRES_AT, KIND, PK, SK};
use crate::flips::Mark;
use crate::keys::{commit_runs_pk, ProjectName, RunKey, RunRef};
use crate::{Run, Store, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{HashMap, HashSet};

/// Runs of one commit a run is compared with at most, the newest: a commit built over and
/// over (a nightly run of a quiet branch) is compared with its latest builds, each read once.
pub(crate) const COMPARED_RUNS: usize = 16;

const KIND_COMMIT_RUN: &str = "commit_run";

mod attr {
    pub(crate) const SETTLED: &str = "settled";
    pub(crate) const BRANCH: &str = "branch";
    pub(crate) const INFRA: &str = "infra";
    pub(crate) const FAILED: &str = "failed";
}

/// A run of a commit, as its item in the commit's partition says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitRun {
    pub(crate) run_key: String,
    pub(crate) created_ms: u64,
    /// Its settled files when its durations were folded (names its snapshot).
    pub(crate) settled: u64,
    pub(crate) branch: Option<String>,
    /// Whether it failed as a whole (its failures are no evidence).
    pub(crate) infra: bool,
    /// Tests it failed (none when `infra`).
    pub(crate) failed: u64,
}

impl CommitRun {
    /// This run, in `project` (the project of the commit's partition it was read from).
    pub(crate) fn run_ref(&self, project: &ProjectName) -> Option<RunRef> {
        Some(RunRef {
            project: project.clone(),
            run_key: RunKey::parse(&self.run_key).ok()?,
        })
    }

    /// What a run of this commit is, folded at `settled`.
    pub(crate) fn of(run: &Run, settled: u64, marks: &HashMap<&str, Mark>) -> CommitRun {
        let infra = run.failed_as_a_whole();
        let failed = match infra {
            true => 0,
            false => marks.values().filter(|m| **m == Mark::Failed).count() as u64,
        };
        CommitRun {
            run_key: run.run.run_key.to_string(),
            created_ms: run.created_ms,
            settled,
            branch: run.metadata.branch.clone(),
            infra,
            failed,
        }
    }

    /// Whether it says a test that ended `mark` in it failed (`Some(true)`), ran and did not
    /// fail (`Some(false)`), or neither (not run, or failed in a run that failed as a whole).
    fn evidence(&self, mark: Mark) -> Option<bool> {
        match mark {
            Mark::Absent => None,
            Mark::Failed if self.infra => None,
            Mark::Failed => Some(true),
            Mark::Ran | Mark::Retried => Some(false),
        }
    }
}

/// The tests of one run flipped on its commit: against any other run of it, and against those
/// of its own branch.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CommitFlips {
    pub(crate) commit: String,
    pub(crate) any_branch: HashSet<String>,
    pub(crate) same_branch: HashSet<String>,
}

/// The tests `mine` (how each ended in `run`) and `theirs` (in `other`) disagree on.
pub(crate) fn disagree<'a>(
    run: &CommitRun,
    mine: &HashMap<&str, Mark>,
    other: &CommitRun,
    theirs: impl Iterator<Item = (&'a str, Mark)>,
) -> Vec<&'a str> {
    theirs
        .filter(|(id, mark)| {
            let here = mine.get(id).and_then(|m| run.evidence(*m));
            let there = other.evidence(*mark);
            matches!((here, there), (Some(a), Some(b)) if a != b)
        })
        .map(|(id, _)| id)
        .collect()
}

impl Store {
    /// Puts `run`'s item in its commit's partition and reads the commit's other runs, newest
    /// first, [`COMPARED_RUNS`] at most. None when the run names no commit.
    pub(crate) async fn runs_of_commit(
        &self,
        run: &Run,
        this: &CommitRun,
    ) -> Result<Option<(String, Vec<CommitRun>)>, StoreError> {
        let Some(commit) = run.metadata.commit_sha.clone() else {
            return Ok(None);
        };
        let pk = commit_runs_pk(&run.run.project, &commit);
        let mut item: Item = HashMap::from([
            (PK.to_string(), s(&pk)),
            (SK.to_string(), s(&this.run_key)),
            (KIND.to_string(), s(KIND_COMMIT_RUN)),
            (CREATED_MS.to_string(), n(this.created_ms)),
            (attr::SETTLED.to_string(), n(this.settled)),
            (attr::INFRA.to_string(), AttributeValue::Bool(this.infra)),
            (attr::FAILED.to_string(), n(this.failed)),
            // Its run's: when the run is gone, so is this, for free.
            (EXPIRES_AT.to_string(), n(run.expires_at)),
        ]);
        if let Some(branch) = &this.branch {
            item.insert(attr::BRANCH.to_string(), s(branch));
        }
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutItem commit run", e))?;
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(true);
        let mut others: Vec<CommitRun> = self
            .query_all_as("Query commit runs", query, |item| commit_run(&item))
            .await?
            .into_iter()
            .filter(|other| other.run_key != this.run_key)
            .collect();
        others.sort_by(|a, b| (b.created_ms, &b.run_key).cmp(&(a.created_ms, &a.run_key)));
        others.truncate(COMPARED_RUNS);
        Ok(Some((commit, others)))
    }
}

fn commit_run(item: &Item) -> Option<CommitRun> {
    Some(CommitRun {
        run_key: get_s(item, SK)?.to_string(),
        created_ms: u64::try_from(get_n(item, CREATED_MS)?).ok()?,
        settled: u64::try_from(get_n(item, attr::SETTLED)?).ok()?,
        branch: get_s(item, attr::BRANCH).map(str::to_string),
        infra: get_bool(item, attr::INFRA),
        failed: u64::try_from(get_n(item, attr::FAILED)?).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, infra: bool) -> CommitRun {
        CommitRun {
            run_key: name.into(),
            created_ms: 0,
            settled: 1,
            branch: None,
            infra,
            failed: 1,
        }
    }

    #[test]
    fn two_runs_disagree_where_one_failed_a_test_the_other_ran_without_failing() {
        use Mark::*;
        let mine = HashMap::from([("a", Failed), ("b", Ran), ("c", Failed), ("d", Retried)]);
        let theirs = [
            ("a", Ran),
            ("b", Failed),
            ("c", Failed),
            ("d", Ran),
            ("e", Failed),
        ];
        let found = disagree(
            &run("r1", false),
            &mine,
            &run("r2", false),
            theirs.into_iter(),
        );
        assert_eq!(found, ["a", "b"]);
        // A run that failed as a whole says nothing of its failures.
        let found = disagree(
            &run("r1", true),
            &mine,
            &run("r2", false),
            theirs.into_iter(),
        );
        assert_eq!(found, ["b"]);
        let found = disagree(
            &run("r1", false),
            &mine,
            &run("r2", true),
            theirs.into_iter(),
        );
        assert_eq!(found, ["a"]);
    }
}
