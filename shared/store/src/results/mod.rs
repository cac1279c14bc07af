//! Test result items: one per test and run, merged across the files of the run, each recording
//! what every contributing file changed in the run's counters.
//!
//! A write is conditioned on the item being exactly as we last saw it (absent, or at the
//! version we read). When the condition fails, DynamoDB hands back the current item
//! (`ReturnValuesOnConditionCheckFailure = ALL_OLD`): if our file is already a contributor the
//! write happened before (a redelivery or a crash after it) and its recorded delta is our
//! answer; otherwise we merge into what is there and try again.

mod item;

pub(crate) use item::{attr, PROBLEM_STATUSES};

use crate::attrs::{get_bool, get_s, get_u64, n, s, Item, CREATED_MS, SK};
use crate::batch::{put_request, BATCH_WRITE_MAX};
use crate::counts::Delta;
use crate::ddb::conditional;
use crate::keys::{test_id_of_sk, test_sk, FileId, RunRef, TEST_SK_PREFIX};
use crate::Run;
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use std::collections::HashMap;
use verdict_model::{Status, Summary, TestResult};

use item::{build, merge, stored, Stored};

/// What a test item needs to know of its run.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The run.
    pub run: RunRef,
    /// When it was created (index sort keys use it).
    pub created_ms: u64,
    /// When its items expire (seconds, TTL).
    pub expires_at: u64,
    /// Its branch.
    pub branch: Option<String>,
    /// Its commit.
    pub commit_sha: Option<String>,
}

/// What says whether a run shows a result ([`Run::shows`]): the creation time of the run it
/// was written for, and the files that wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenBy {
    /// The creation time of the run it was written for.
    pub created_ms: u64,
    /// The files that wrote it.
    pub contributors: Vec<String>,
}

impl From<&Run> for RunContext {
    fn from(run: &Run) -> RunContext {
        RunContext {
            run: run.run.clone(),
            created_ms: run.created_ms,
            expires_at: run.expires_at,
            branch: run.metadata.branch.clone(),
            commit_sha: run.metadata.commit_sha.clone(),
        }
    }
}

/// What `file`'s result of a test merges into: the run's item for the test as read (`None`:
/// there is none).
fn merged_into(ctx: &RunContext, current: Option<&Item>) -> Result<Stored, StoreError> {
    Ok(match current {
        // An item of an earlier run under the same key, deleted by retention and waiting for
        // TTL: not ours to merge into, but to replace.
        Some(item) if get_u64(item, CREATED_MS) != ctx.created_ms => Stored {
            version: stored(item)?.version,
            ..Stored::empty()
        },
        Some(item) => stored(item)?,
        None => Stored::empty(),
    })
}

impl Store {
    /// Adds `file`'s result of a test to the run's item for that test, exactly once, and
    /// returns what it changed in the run's counters (the same answer on every redelivery).
    pub async fn write_result(
        &self,
        ctx: &RunContext,
        file: &FileId,
        result: &TestResult,
    ) -> Result<Delta, StoreError> {
        let mut current: Option<Item> = None;
        loop {
            let st = merged_into(ctx, current.as_ref())?;
            if let Some(delta) = st.contrib.get(file.as_str()) {
                return Ok(*delta);
            }
            let (item, delta, version) = build(ctx, file, result, st);

            let mut put = self
                .ddb
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            put = if current.is_none() {
                put.condition_expression("attribute_not_exists(pk)")
            } else {
                put.condition_expression("#version = :version")
                    .expression_attribute_names("#version", attr::VERSION)
                    .expression_attribute_values(":version", n(version))
            };
            current = match conditional("PutItem test", put.send().await)? {
                Ok(_) => return Ok(delta),
                Err(Some(old)) => Some(old),
                Err(None) => self.get_test_item(&ctx.run, &result.test_id).await?,
            };
        }
    }

    /// Writes `file`'s results for a file that holds the run's exclusive writer
    /// ([`Store::begin_writes`]): the same items the conditional path builds, put with
    /// unconditional BatchWriteItems of up to 25, all at once. No other file writes to the run
    /// until this one commits, and no invocation of this file writes past its lease.
    ///
    /// The run's first writer (`merging` false) puts its items as they are: no other file's
    /// part can be on them, and putting them again (a redelivery) writes the same items, so the
    /// effect is still exactly once. A file that began after others committed (`merging`)
    /// first reads the batch's items (one strongly consistent BatchGetItem of up to 100: a
    /// request per 100 tests, not per 25, as DynamoDB Local too serves larger reads for less
    /// per item) and merges into
    /// those there, which are the items it writes over; a result it already wrote (a
    /// redelivery) is not written again, its recorded delta is the answer. A request throttled
    /// whole is retried until `retry_until` (see `batch_write`).
    pub async fn write_results_alone(
        &self,
        ctx: &RunContext,
        file: &FileId,
        results: &[TestResult],
        merging: bool,
        retry_until: std::time::Instant,
    ) -> Result<Vec<Delta>, StoreError> {
        let mut found: HashMap<String, Item> = HashMap::new();
        if merging {
            let keys = results
                .iter()
                .map(|r| ctx.run.test_key(&r.test_id))
                .collect();
            for item in self.batch_get(keys, &[], true).await? {
                if let Some(id) = get_s(&item, SK).and_then(test_id_of_sk) {
                    found.insert(id.to_string(), item);
                }
            }
        }
        let mut deltas = Vec::with_capacity(results.len());
        let mut requests = Vec::with_capacity(results.len());
        for result in results {
            let st = merged_into(ctx, found.remove(&result.test_id).as_ref())?;
            if let Some(delta) = st.contrib.get(file.as_str()) {
                deltas.push(*delta);
                continue;
            }
            let (item, delta, _) = build(ctx, file, result, st);
            deltas.push(delta);
            requests.push(put_request(item));
        }
        if !requests.is_empty() {
            let batches = requests.len().div_ceil(BATCH_WRITE_MAX);
            self.batch_write(requests, batches, Some(retry_until))
                .await?;
        }
        Ok(deltas)
    }

    async fn get_test_item(&self, run: &RunRef, test_id: &str) -> Result<Option<Item>, StoreError> {
        self.read_key("GetItem test", run.tests_pk(test_id), test_sk(test_id))
            .await
    }

    /// One test's merged result in a run, in full (attempts and all their text, the text kept
    /// apart read back).
    pub async fn get_result(
        &self,
        run: &RunRef,
        test_id: &str,
    ) -> Result<Option<(TestResult, WrittenBy)>, StoreError> {
        let Some(item) = self.get_test_item(run, test_id).await? else {
            return Ok(None);
        };
        let mut st = stored(&item)?;
        for (file, part) in &mut st.parts {
            let file = FileId::parse(file)
                .map_err(|e| StoreError::permanent("read test item", format!("bad parts: {e}")))?;
            self.restore_text(run, &file, part.attempts_mut()).await?;
        }
        let by = WrittenBy {
            created_ms: get_u64(&item, CREATED_MS),
            contributors: st.contrib.keys().cloned().collect(),
        };
        let text = |name| get_s(&item, name).unwrap_or_default().to_string();
        let identity = TestResult::named(
            test_id.to_string(),
            text(attr::SUITE),
            text(attr::CLASSNAME),
            text(attr::NAME),
        );
        Ok(merge(&identity, &st.parts).map(|result| (result, by)))
    }

    /// The reconciler: recounts a run from its test items (one paginated Query of each of the
    /// run's test partitions; items of an earlier run under the same key, waiting for TTL, are
    /// left out). Equal to the run's summary once every file is settled; a difference means a
    /// file is still being ingested or something went wrong.
    pub async fn recount(&self, run: &RunRef) -> Result<Summary, StoreError> {
        let Some(found) = self.get_run(run).await? else {
            return Ok(Summary::default());
        };
        let query = |pk| {
            self.ddb
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .filter_expression("#created = :created")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":prefix", s(TEST_SK_PREFIX))
                .expression_attribute_values(":created", n(found.created_ms))
                .projection_expression("#status, flaky, #duration")
                .expression_attribute_names("#status", attr::STATUS)
                .expression_attribute_names("#duration", attr::DURATION_MS)
                .expression_attribute_names("#created", CREATED_MS)
                .consistent_read(true)
        };
        let items = self.query_tests("Query recount", run, query).await?;
        let mut summary = Summary::default();
        for item in &items {
            let status = get_s(item, attr::STATUS)
                .and_then(Status::parse)
                .ok_or_else(|| StoreError::permanent("recount", "test item without a status"))?;
            summary.count(
                status,
                get_bool(item, attr::FLAKY),
                get_u64(item, attr::DURATION_MS),
            );
        }
        Ok(summary)
    }
}
