//! The read paths of the query API. Each is one Query or GetItem per page on a key or an index;
//! a page's continuation is a [`Cursor`] of its listing (the API signs it).

use crate::attrs::{
    get_bool, get_s, get_strings, get_u64, n, s, Item, CREATED_MS, PK, PROJECT, RUN_KEY, SK,
};
use crate::cursor::{Cursor, ResultsListing, RunsListing};
use crate::keys::{
    branch_pk, test_id_of_sk, time_floor, time_of_sk, FileId, ProjectName, RunKey, RunRef,
    TEST_SK_PREFIX,
};
use crate::results::{attr as test_attr, PROBLEM_STATUSES};
use crate::runs::attr as run_attr;
use crate::runs::run_from_item;
use crate::{Run, RunStatus, Store, StoreError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{HashMap, HashSet};
use verdict_model::{Status, Trigger};

/// The most test partitions of a run one round of a page's Queries reads at once (all 16).
const WIDEST_ROUND: usize = 16;

/// One page of a listing `L`.
#[derive(Debug, Clone)]
pub struct Page<T, L> {
    /// What the page holds.
    pub items: Vec<T>,
    /// Where the next page starts (`None`: this was the last page).
    pub next: Option<Cursor<L>>,
}

/// A test result as listed (the full result is [`Store::get_result`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TestRow {
    /// The test's id (64 hex digits).
    pub test_id: String,
    /// The run it is a result of.
    pub run_key: String,
    /// The suite, class and name the report gave.
    pub suite: String,
    /// The class (or file) the test belongs to.
    pub classname: String,
    /// The test's name.
    pub name: String,
    /// The merged result's status.
    pub status: Status,
    /// Whether it passed after a failed attempt.
    pub flaky: bool,
    /// Its duration.
    pub duration_ms: u64,
    /// How many attempts the run made.
    pub attempts: u64,
    /// The source file the report named (absent from index entries).
    pub file: Option<String>,
    /// Who owns the test (absent from index entries).
    pub owner: Option<String>,
    /// Its tags (absent from index entries).
    pub tags: Vec<String>,
    /// The failure's message (a short excerpt in index entries).
    pub message: Option<String>,
    /// The failure's type (an exception class).
    pub failure_type: Option<String>,
    /// The failure's fingerprint: the same failure has the same one across runs.
    pub fingerprint: Option<String>,
    /// The run's branch.
    pub branch: Option<String>,
    /// The run's commit.
    pub commit_sha: Option<String>,
    /// When the run was created.
    pub created_ms: u64,
    /// The files that contributed to this result (test items only).
    #[serde(skip)]
    pub contributors: Vec<String>,
}

impl TestRow {
    /// A row that says only how test `test_id` (its name too) ended in run `run_key`, created
    /// at `created_ms`: one attempt, everything else empty.
    pub fn bare(test_id: &str, run_key: &str, status: Status, created_ms: u64) -> TestRow {
        TestRow {
            test_id: test_id.into(),
            run_key: run_key.into(),
            suite: String::new(),
            classname: String::new(),
            name: test_id.into(),
            status,
            flaky: false,
            duration_ms: 0,
            attempts: 1,
            file: None,
            owner: None,
            tags: Vec::new(),
            message: None,
            failure_type: None,
            fingerprint: None,
            branch: None,
            commit_sha: None,
            created_ms,
            contributors: Vec::new(),
        }
    }
}

/// A test item or index entry as a row (`None`: not a readable result).
pub(crate) fn test_row(item: &Item) -> Option<TestRow> {
    let text = |name| get_s(item, name).map(str::to_string);
    let created_ms = get_u64(item, CREATED_MS).max(
        // Index entries carry the time in their sort key only.
        get_s(item, test_attr::FP_SK)
            .and_then(time_of_sk)
            .unwrap_or(0),
    );
    Some(TestRow {
        // The item's sort key, which index entries carry too: an item pays for every byte.
        test_id: get_s(item, SK)
            .and_then(test_id_of_sk)
            .unwrap_or_default()
            .to_string(),
        run_key: get_s(item, PK)
            .and_then(RunRef::run_key_of_tests_pk)
            .unwrap_or_default()
            .to_string(),
        suite: text(test_attr::SUITE).unwrap_or_default(),
        classname: text(test_attr::CLASSNAME).unwrap_or_default(),
        name: text(test_attr::NAME).unwrap_or_default(),
        status: Status::parse(get_s(item, test_attr::STATUS)?)?,
        flaky: get_bool(item, test_attr::FLAKY),
        duration_ms: get_u64(item, test_attr::DURATION_MS),
        attempts: get_u64(item, test_attr::ATTEMPT_COUNT),
        file: text(test_attr::FILE),
        owner: text(test_attr::OWNER),
        tags: get_strings(item, test_attr::TAGS),
        message: text(test_attr::MESSAGE),
        failure_type: text(test_attr::FAILURE_TYPE),
        fingerprint: text(test_attr::FINGERPRINT),
        branch: text(test_attr::BRANCH),
        commit_sha: text(test_attr::COMMIT_SHA),
        created_ms,
        contributors: contributors(item),
    })
}

/// The files a test item's result was written by (the keys of its `contrib` map), which
/// [`Run::shows`](crate::Run::shows) judges it by.
pub(crate) fn contributors(item: &Item) -> Vec<String> {
    item.get(test_attr::CONTRIB)
        .and_then(|c| c.as_m().ok())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Runs one page of `query` in the order of `sort_attr`, turning each item into a row
/// (`None`: left out).
pub(crate) async fn page<T, L>(
    operation: &'static str,
    query: QueryFluentBuilder,
    sort_attr: &str,
    row: impl Fn(&Item) -> Option<T>,
) -> Result<Page<T, L>, StoreError> {
    let out = query
        .send()
        .await
        .map_err(|e| StoreError::from_sdk(operation, e))?;
    Ok(Page {
        items: out.items().iter().filter_map(row).collect(),
        next: Cursor::after(out.last_evaluated_key(), sort_attr),
    })
}

/// Filters of a failure's occurrences.
#[derive(Debug, Clone, Default)]
pub struct OccurrenceFilter {
    /// Only runs of this branch.
    pub branch: Option<String>,
    /// Only runs created at or after this.
    pub since_ms: Option<u64>,
    /// Only runs created at or before this.
    pub until_ms: Option<u64>,
    /// Oldest first (newest first unless set).
    pub oldest_first: bool,
}

/// Filters of a run's results listing.
#[derive(Debug, Clone, Default)]
pub struct ResultFilter {
    /// Only these statuses (none: every status).
    pub statuses: Vec<Status>,
    /// Only results that passed after a failed attempt.
    pub flaky_only: bool,
    /// Only names containing this.
    pub name_contains: Option<String>,
    /// Only results this file of the run contributed to.
    pub file: Option<FileId>,
}

impl ResultFilter {
    /// Whether every result the filter keeps is in the run's `problems` index.
    fn reads_problems(&self) -> bool {
        let statuses = &self.statuses;
        self.flaky_only
            || (!statuses.is_empty() && statuses.iter().all(|s| PROBLEM_STATUSES.contains(s)))
    }
}

/// Later than any run (the largest 13-digit time).
pub(crate) const TIME_MAX_MS: u64 = 9_999_999_999_999;

/// The index of a run's failed, errored, xpassed and flaky results.
pub(crate) const PROBLEMS_INDEX: &str = "problems";

/// Filters of the runs listing.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only runs of this branch.
    pub branch: Option<String>,
    /// Only runs with this trigger.
    pub trigger: Option<Trigger>,
    /// Only runs created at or after this.
    pub since_ms: Option<u64>,
    /// Only runs created before this.
    pub before_ms: Option<u64>,
    /// Only runs that stand so.
    pub status: Option<RunStatus>,
}

impl Store {
    /// Runs of a project newest first (the `runs` index, or `branch` with a branch), as the
    /// indexes project them: without the writers (`uncommitted`, `exclusive_writer`), which
    /// [`Run::shows`] needs read after the results anyway; [`Store::get_run`] reads one whole.
    pub async fn list_runs(
        &self,
        project: &ProjectName,
        filter: &RunFilter,
        limit: i32,
        start: Option<&Cursor<RunsListing>>,
    ) -> Result<Page<Run, RunsListing>, StoreError> {
        let (index, pk_name, sk_name, pk) = match &filter.branch {
            Some(branch) => (
                "branch",
                "branch_pk",
                "branch_sk",
                branch_pk(project, branch),
            ),
            None => ("runs", "runs_pk", "runs_sk", project.to_string()),
        };
        let start = start.and_then(|c| c.start_key(project, (pk_name, sk_name), pk.clone()));
        let mut query = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(format!(
                "{pk_name} = :pk AND {sk_name} BETWEEN :since AND :before"
            ))
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":since", s(time_floor(filter.since_ms.unwrap_or(0))))
            // `{ms}#` sorts before every run of that millisecond: "before" is exclusive.
            .expression_attribute_values(
                ":before",
                s(time_floor(filter.before_ms.unwrap_or(TIME_MAX_MS))),
            )
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start);
        let mut filters = Vec::new();
        if let Some(trigger) = &filter.trigger {
            filters.push("#trigger = :trigger");
            query = query
                .expression_attribute_names("#trigger", run_attr::TRIGGER)
                .expression_attribute_values(":trigger", s(trigger.as_str()));
        }
        if let Some(status) = filter.status {
            // [`Run::status`] as a filter: the settled-file counter against the registered one,
            // then the failure counters (every counter exists from the run's registration).
            let mut names = vec![
                ("#settled", run_attr::FILES_SETTLED),
                ("#registered", run_attr::FILES_REGISTERED),
            ];
            filters.push(match status {
                RunStatus::Pending => "#settled < #registered",
                RunStatus::Failed => {
                    "#settled = #registered AND \
                     (#failed > :zero OR #errors > :zero OR #files_failed > :zero)"
                }
                RunStatus::Passed => {
                    "#settled = #registered AND \
                     #failed = :zero AND #errors = :zero AND #files_failed = :zero"
                }
            });
            if status != RunStatus::Pending {
                names.extend([
                    ("#failed", "failed"),
                    ("#errors", "errors"),
                    ("#files_failed", run_attr::FILES_FAILED),
                ]);
                query = query.expression_attribute_values(":zero", n(0));
            }
            for (name, attribute) in names {
                query = query.expression_attribute_names(name, attribute);
            }
        }
        if !filters.is_empty() {
            query = query.filter_expression(filters.join(" AND "));
        }
        page("Query runs", query, sk_name, run_from_item).await
    }

    /// Test results of a run in test-id order, as `filter` narrows them. A filter on
    /// statuses that are all problems (failed, error, xpassed) or on flaky results reads the
    /// sparse `problems` index, so its pages are full however few of the run's tests failed.
    /// A page reads the run's test partitions in order from where the cursor left off, in
    /// rounds, each Query asking for what the page lacked when its round began: one partition,
    /// and while whole partitions leave the page short, 4 at once, then the rest at once. A
    /// small run, or a filter that keeps few, takes three or four round trips, not one per
    /// partition; a large run's page, whose partitions are larger than it, reads one partition
    /// at a time and nothing past the page. What a round reads past the page is left (the
    /// cursor follows the last row kept).
    pub async fn list_results(
        &self,
        run: &RunRef,
        filter: &ResultFilter,
        limit: i32,
        start: Option<&Cursor<ResultsListing>>,
    ) -> Result<Page<TestRow, ResultsListing>, StoreError> {
        let problems = filter.reads_problems();
        let sort_attr = if problems { test_attr::PROB_SK } else { SK };
        let start = start.and_then(|c| match problems {
            true => c.start_key_in(run, test_attr::PROB_SK),
            false => c.start_key(run),
        });
        let partitions = run.tests_pks();
        let mut next = start
            .as_ref()
            .and_then(|key| get_s(key, PK))
            .and_then(|pk| partitions.iter().position(|p| p == pk))
            .unwrap_or(0);
        let mut start = start;
        let mut rows = Vec::new();
        let full = usize::try_from(limit).unwrap_or(0);
        let mut width = 1;
        while next < partitions.len() {
            let want = limit - rows.len() as i32;
            let from_start = start.is_none();
            let round = &partitions[next..(next + width).min(partitions.len())];
            let queries = round
                .iter()
                .map(|pk| self.results_query(pk, filter, want, start.take()).send());
            let outs = futures_util::future::try_join_all(queries)
                .await
                .map_err(|e| StoreError::from_sdk("Query results", e))?;
            next += round.len();
            for (k, out) in outs.iter().enumerate() {
                let items = out.items();
                for (i, item) in items.iter().enumerate() {
                    let Some(row) = test_row(item) else { continue };
                    rows.push(row);
                    if rows.len() < full {
                        continue;
                    }
                    let ends_partition = i + 1 == items.len() && out.last_evaluated_key().is_none();
                    let last_partition =
                        ends_partition && k + 1 == round.len() && next == partitions.len();
                    let after = match out.last_evaluated_key() {
                        Some(last) if i + 1 == items.len() => Cursor::after(Some(last), sort_attr),
                        _ if last_partition => None,
                        _ => Cursor::after(Some(item), sort_attr),
                    };
                    return Ok(Page {
                        items: rows,
                        next: after,
                    });
                }
                // A partition that stopped at its Query's limit before the filter kept a full
                // page: the page ends short there, and the next goes on from where it stopped.
                if let Some(last) = out.last_evaluated_key() {
                    return Ok(Page {
                        items: rows,
                        next: Cursor::after(Some(last), sort_attr),
                    });
                }
            }
            // Partitions read whole that left the page short are smaller than it: the next
            // round reads more of them at once. One read from the cursor on says nothing of
            // the next's size.
            width = match from_start {
                true => (width * 4).min(WIDEST_ROUND),
                false => 1,
            };
        }
        Ok(Page {
            items: rows,
            next: None,
        })
    }

    /// One Query of a run's results in test partition `pk`, as `filter` narrows them.
    fn results_query(
        &self,
        pk: &str,
        filter: &ResultFilter,
        limit: i32,
        start: Option<Item>,
    ) -> QueryFluentBuilder {
        let problems = filter.reads_problems();
        let key = match problems {
            true => "pk = :pk",
            false => "pk = :pk AND begins_with(sk, :t)",
        };
        let mut query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression(key)
            .expression_attribute_values(":pk", s(pk))
            .limit(limit)
            .set_exclusive_start_key(start);
        query = match problems {
            true => query.index_name(PROBLEMS_INDEX),
            false => query.expression_attribute_values(":t", s(TEST_SK_PREFIX)),
        };
        let mut filters = Vec::new();
        if !filter.statuses.is_empty() {
            let names: Vec<String> = (0..filter.statuses.len())
                .map(|i| format!(":s{i}"))
                .collect();
            for (name, status) in names.iter().zip(&filter.statuses) {
                query = query.expression_attribute_values(name, s(status.as_str()));
            }
            filters.push(format!("#status IN ({})", names.join(", ")));
            query = query.expression_attribute_names("#status", test_attr::STATUS);
        }
        if filter.flaky_only {
            filters.push("flaky = :flaky".into());
            query = query.expression_attribute_values(":flaky", AttributeValue::Bool(true));
        }
        if let Some(q) = &filter.name_contains {
            filters.push("contains(#name, :q)".into());
            query = query
                .expression_attribute_names("#name", test_attr::NAME)
                .expression_attribute_values(":q", s(q));
        }
        if let Some(file) = &filter.file {
            // The files that wrote a result are the keys of its `contrib` map.
            filters.push("attribute_exists(#contrib.#file)".into());
            query = query
                .expression_attribute_names("#contrib", test_attr::CONTRIB)
                .expression_attribute_names("#file", file.as_str());
        }
        if !filters.is_empty() {
            query = query.filter_expression(filters.join(" AND "));
        }
        query
    }

    /// Keeps the rows their runs show ([`Run::shows`]). A test item (and its index entries) is
    /// written before its file commits: without this, a result of a file still being ingested
    /// (or one merging into a test another file wrote) would show half-merged.
    /// One BatchGetItem of the rows' run items per 100 runs.
    pub(crate) async fn settled_rows<L>(
        &self,
        project: &ProjectName,
        mut page: Page<TestRow, L>,
    ) -> Result<Page<TestRow, L>, StoreError> {
        let runs: HashSet<&str> = page.items.iter().map(|r| r.run_key.as_str()).collect();
        let keys: Vec<Item> = runs
            .iter()
            .filter_map(|key| {
                let run = RunRef {
                    project: project.clone(),
                    run_key: RunKey::parse(key).ok()?,
                };
                Some(run.item_key())
            })
            .collect();
        let runs: HashMap<String, Run> = self
            .batch_get(
                keys,
                &[PROJECT, RUN_KEY, CREATED_MS, run_attr::UNCOMMITTED],
                // Read after the rows and strongly consistent, as `Run::shows` needs.
                true,
            )
            .await?
            .iter()
            .filter_map(run_from_item)
            .map(|run| (run.run.run_key.to_string(), run))
            .collect();
        page.items
            .retain(|row| runs.get(&row.run_key).is_some_and(|run| run.shows_row(row)));
        Ok(page)
    }
}
