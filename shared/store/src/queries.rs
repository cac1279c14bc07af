//! The read paths of the query API. Each is one Query or GetItem per page on a key or an index;
//! a page's continuation is DynamoDB's `LastEvaluatedKey`, handed out as JSON (the API signs it).

use crate::attrs::{get_bool, get_s, get_u64, s, to_json, Item};
use crate::files::run_from_item;
use crate::keys::{ProjectName, RunKey, RunRef, SK_RUN, TEST_SK_PREFIX};
use crate::{Run, Store, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{HashMap, HashSet};
use verdict_model::Status;

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts (`None`: this was the last page).
    pub next: Option<serde_json::Value>,
}

/// A test result as listed (the full result is [`Store::get_result`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TestRow {
    pub test_id: String,
    pub run_key: String,
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub status: String,
    pub flaky: bool,
    pub duration_ms: u64,
    pub attempts: u64,
    pub message: Option<String>,
    pub failure_type: Option<String>,
    pub fingerprint: Option<String>,
    pub branch: Option<String>,
    pub commit_sha: Option<String>,
    pub created_ms: u64,
    /// The files that contributed to this result (test items only).
    #[serde(skip)]
    pub contributors: Vec<String>,
}

pub(crate) fn test_row(item: &Item) -> TestRow {
    let text = |name| get_s(item, name).map(str::to_string);
    let created_ms = get_u64(item, "created_ms").max(
        // Index entries carry the time in their sort key only.
        get_s(item, "hist_sk")
            .or_else(|| get_s(item, "iss_sk"))
            .and_then(|sk| sk.split('#').next())
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
    );
    TestRow {
        test_id: text("test_id").unwrap_or_default(),
        run_key: text("run_key").unwrap_or_default(),
        suite: text("suite").unwrap_or_default(),
        classname: text("classname").unwrap_or_default(),
        name: text("name").unwrap_or_default(),
        status: text("status").unwrap_or_default(),
        flaky: get_bool(item, "flaky"),
        duration_ms: get_u64(item, "duration_ms"),
        attempts: get_u64(item, "attempt_count"),
        message: text("message"),
        failure_type: text("failure_type"),
        fingerprint: text("fingerprint"),
        branch: text("branch"),
        commit_sha: text("commit_sha"),
        created_ms,
        contributors: item
            .get("contrib")
            .and_then(|c| c.as_m().ok())
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
    }
}

/// A `LastEvaluatedKey` from its JSON (keys hold only strings).
fn start_key(start: Option<&serde_json::Value>) -> Option<Item> {
    let map = start?.as_object()?;
    Some(
        map.iter()
            .filter_map(|(k, v)| Some((k.clone(), AttributeValue::S(v.as_str()?.to_string()))))
            .collect(),
    )
}

fn next_of(key: Option<&HashMap<String, AttributeValue>>) -> Option<serde_json::Value> {
    key.map(|k| serde_json::Value::Object(k.iter().map(|(n, v)| (n.clone(), to_json(v))).collect()))
}

/// Runs one page of `query`, turning each item into a row (`None`: left out).
async fn page<T>(
    operation: &'static str,
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    row: impl Fn(&Item) -> Option<T>,
) -> Result<Page<T>, StoreError> {
    let out = query
        .send()
        .await
        .map_err(|e| StoreError::from_sdk(operation, e))?;
    Ok(Page {
        items: out.items().iter().filter_map(row).collect(),
        next: next_of(out.last_evaluated_key()),
    })
}

/// Filters of the runs listing.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub branch: Option<String>,
    pub trigger: Option<String>,
    pub since_ms: Option<u64>,
    /// Only runs created before this (exclusive).
    pub until_ms: Option<u64>,
}

impl Store {
    /// Runs of a project newest first (the `runs` index, or `branch` with a branch).
    pub async fn list_runs(
        &self,
        project: &ProjectName,
        filter: &RunFilter,
        limit: i32,
        start: Option<&serde_json::Value>,
    ) -> Result<Page<Run>, StoreError> {
        let (index, pk_name, sk_name, pk) = match &filter.branch {
            Some(branch) => (
                "branch",
                "branch_pk",
                "branch_sk",
                format!("{project}#{branch}"),
            ),
            None => ("runs", "runs_pk", "runs_sk", project.to_string()),
        };
        let lower = format!("{:013}#", filter.since_ms.unwrap_or(0));
        let upper = format!("{:013}#", filter.until_ms.unwrap_or(9_999_999_999_999));
        let mut query = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(format!("{pk_name} = :pk AND {sk_name} BETWEEN :lo AND :hi"))
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":lo", s(lower))
            .expression_attribute_values(":hi", s(upper))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start_key(start));
        if let Some(trigger) = &filter.trigger {
            query = query
                .filter_expression("#trigger = :trigger")
                .expression_attribute_names("#trigger", "trigger")
                .expression_attribute_values(":trigger", s(trigger));
        }
        page("Query runs", query, run_from_item).await
    }

    /// Test results of a run in test-id order, optionally only some statuses and names
    /// containing `name_contains`.
    pub async fn list_results(
        &self,
        run: &RunRef,
        statuses: &[Status],
        name_contains: Option<&str>,
        limit: i32,
        start: Option<&serde_json::Value>,
    ) -> Result<Page<TestRow>, StoreError> {
        let mut query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :t)")
            .expression_attribute_values(":pk", s(run.pk()))
            .expression_attribute_values(":t", s(TEST_SK_PREFIX))
            .limit(limit)
            .set_exclusive_start_key(start_key(start));
        let mut filters = Vec::new();
        if !statuses.is_empty() {
            let names: Vec<String> = (0..statuses.len()).map(|i| format!(":s{i}")).collect();
            for (name, status) in names.iter().zip(statuses) {
                query = query.expression_attribute_values(name, s(status.as_str()));
            }
            filters.push(format!("#status IN ({})", names.join(", ")));
            query = query.expression_attribute_names("#status", "status");
        }
        if let Some(q) = name_contains {
            filters.push("contains(#name, :q)".into());
            query = query
                .expression_attribute_names("#name", "name")
                .expression_attribute_values(":q", s(q));
        }
        if !filters.is_empty() {
            query = query.filter_expression(filters.join(" AND "));
        }
        page("Query results", query, |i| Some(test_row(i))).await
    }

    /// One test across runs, newest first (the `history` index).
    pub async fn test_history(
        &self,
        project: &ProjectName,
        test_id: &str,
        branch: Option<&str>,
        since_ms: Option<u64>,
        limit: i32,
        start: Option<&serde_json::Value>,
    ) -> Result<Page<TestRow>, StoreError> {
        let mut query = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("history")
            .key_condition_expression("hist_pk = :pk AND hist_sk >= :since")
            .expression_attribute_values(":pk", s(format!("{project}#{test_id}")))
            .expression_attribute_values(":since", s(format!("{:013}#", since_ms.unwrap_or(0))))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start_key(start));
        if let Some(branch) = branch {
            query = query
                .filter_expression("branch = :branch")
                .expression_attribute_values(":branch", s(branch));
        }
        // Index entries do not repeat the test id: it is the key asked for.
        let page = page("Query history", query, |i| {
            Some(TestRow {
                test_id: test_id.to_string(),
                ..test_row(i)
            })
        })
        .await?;
        self.settled_rows(project, page).await
    }

    /// Failed and flaky results of a project created at or after `since_ms`, newest first
    /// (the sparse `issues` index).
    pub async fn issues_since(
        &self,
        project: &ProjectName,
        since_ms: u64,
        limit: i32,
        start: Option<&serde_json::Value>,
    ) -> Result<Page<TestRow>, StoreError> {
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("issues")
            .key_condition_expression("iss_pk = :pk AND iss_sk >= :since")
            .expression_attribute_values(":pk", s(project.as_str()))
            .expression_attribute_values(":since", s(format!("{since_ms:013}#")))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start_key(start));
        let page = page("Query issues", query, |i| Some(test_row(i))).await?;
        self.settled_rows(project, page).await
    }

    /// Keeps the rows their runs show ([`Run::shows`]). An index entry is written
    /// with its test item, before the file commits: without this, a result of a file still
    /// being ingested (or one merging into a test another file wrote) would show half-merged.
    /// One BatchGetItem of the rows' run items per 100 runs.
    async fn settled_rows(
        &self,
        project: &ProjectName,
        mut page: Page<TestRow>,
    ) -> Result<Page<TestRow>, StoreError> {
        let runs: HashSet<&str> = page.items.iter().map(|r| r.run_key.as_str()).collect();
        let keys: Vec<Item> = runs
            .iter()
            .filter_map(|key| {
                let run = RunRef {
                    project: project.clone(),
                    run_key: RunKey::parse(key).ok()?,
                };
                Some(self.key(run.pk(), SK_RUN.into()))
            })
            .collect();
        let runs: HashMap<String, Run> = self
            .batch_get(
                keys,
                &[
                    "project",
                    "run_key",
                    "done_files",
                    "files_registered",
                    "files_done",
                    "files_failed",
                    "files_duplicate",
                ],
            )
            .await?
            .iter()
            .filter_map(run_from_item)
            .map(|run| (run.run.run_key.to_string(), run))
            .collect();
        page.items.retain(|row| {
            runs.get(&row.run_key)
                .is_some_and(|run| run.shows(&row.contributors))
        });
        Ok(page)
    }
}
