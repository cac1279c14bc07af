//! A test across the runs of its project, read from the runs themselves: a page of the
//! project's (or a branch's) runs, then the test's item in each, by key. No index holds every
//! result of a test a second time: that index entry was half of what a passing result cost to
//! write and keep (`docs/cost.md`), and each of its rows is a test item's projection anyway.
//! Several tests read across the same runs share the runs' page ([`Store::results_in_runs`]).

use crate::attrs::{CREATED_MS, PK, SK};
use crate::cursor::{Cursor, RunsListing};
use crate::keys::ProjectName;
use crate::queries::{test_row, Page, RunFilter, TestRow};
use crate::results::attr as test_attr;
use crate::{Run, Store, StoreError};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use std::collections::HashMap;

/// What a history row needs of a test item: all but the parts (the item's bulk).
const ROW_ATTRIBUTES: [&str; 19] = [
    PK,
    SK,
    CREATED_MS,
    test_attr::SUITE,
    test_attr::CLASSNAME,
    test_attr::NAME,
    test_attr::STATUS,
    test_attr::FLAKY,
    test_attr::DURATION_MS,
    test_attr::ATTEMPT_COUNT,
    test_attr::FILE,
    test_attr::OWNER,
    test_attr::TAGS,
    test_attr::MESSAGE,
    test_attr::FAILURE_TYPE,
    test_attr::FINGERPRINT,
    test_attr::BRANCH,
    test_attr::COMMIT_SHA,
    test_attr::CONTRIB,
];

/// Keys one BatchGetItem reads (DynamoDB's most).
const KEYS_PER_READ: usize = 100;
/// BatchGetItems in flight at once.
const READS_IN_FLIGHT: usize = 16;

impl Store {
    /// Test `test_id` in the runs `filter` keeps, newest first: one page of at most `runs` runs
    /// ([`Store::list_runs`]), then the test's item in each. A run the test is not in (or that
    /// does not show its result yet) gives no row, so a page holds at most `runs` rows, and
    /// may hold none while more runs follow.
    pub async fn test_history(
        &self,
        project: &ProjectName,
        test_id: &str,
        filter: &RunFilter,
        runs: i32,
        start: Option<&Cursor<RunsListing>>,
    ) -> Result<Page<TestRow, RunsListing>, StoreError> {
        let listed = self.list_runs(project, filter, runs, start).await?;
        let rows = self
            .results_in_runs(project, &listed.items, &[test_id.to_string()])
            .await?
            .pop()
            .unwrap_or_default();
        Ok(Page {
            items: rows,
            next: listed.next,
        })
    }

    /// Each of `test_ids` in each of `runs` (runs of `project`), as the runs show them: per
    /// test, its rows in the order of `runs`. One eventually consistent BatchGetItem per 100
    /// (test, run) pairs, 16 at once, then the runs' items read after them ([`Run::shows`]).
    pub async fn results_in_runs(
        &self,
        project: &ProjectName,
        runs: &[Run],
        test_ids: &[String],
    ) -> Result<Vec<Vec<TestRow>>, StoreError> {
        let keys: Vec<_> = test_ids
            .iter()
            .flat_map(|id| runs.iter().map(move |run| run.run.test_key(id)))
            .collect();
        let chunks: Vec<Vec<_>> = keys.chunks(KEYS_PER_READ).map(<[_]>::to_vec).collect();
        let items: Vec<Vec<_>> = stream::iter(chunks)
            .map(|chunk| self.batch_get(chunk, &ROW_ATTRIBUTES, false))
            .buffer_unordered(READS_IN_FLIGHT)
            .try_collect()
            .await?;
        let rows = items.iter().flatten().filter_map(test_row).collect();
        let shown = self
            .settled_rows(
                project,
                Page::<TestRow, RunsListing> {
                    items: rows,
                    next: None,
                },
            )
            .await?
            .items;
        let run_order: HashMap<&str, usize> = runs
            .iter()
            .enumerate()
            .map(|(i, run)| (run.run.run_key.as_str(), i))
            .collect();
        let test_order: HashMap<&str, usize> = test_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let mut per_test = vec![Vec::new(); test_ids.len()];
        for row in shown {
            if let Some(&i) = test_order.get(row.test_id.as_str()) {
                per_test[i].push(row);
            }
        }
        for rows in &mut per_test {
            rows.sort_by_key(|row| run_order.get(row.run_key.as_str()).copied());
        }
        Ok(per_test)
    }
}
