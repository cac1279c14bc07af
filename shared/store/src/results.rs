//! Test result items: one per test and run, merged across the files of the run, each recording
//! what every contributing file changed in the run's counters.
//!
//! A write is conditioned on the item being exactly as we last saw it (absent, or at the
//! version we read). When the condition fails, DynamoDB hands back the current item
//! (`ReturnValuesOnConditionCheckFailure = ALL_OLD`): if our file is already a contributor the
//! write happened before (a redelivery or a crash after it) and its recorded delta is our
//! answer; otherwise we merge into what is there and try again.

use crate::attrs::EXPIRES_AT;
use crate::attrs::{get_bool, get_map, get_n, get_s, get_u64, item_size, n, s, Item};
use crate::attrs::{CREATED_MS, KIND, PK, PROJECT, RUN_KEY, SK};
use crate::batch::put_request;
use crate::counts::Delta;
use crate::ddb::conditional;
use crate::keys::{
    fingerprint_pk, history_pk, result_time_sk, test_sk, time_sk, FileId, RunRef, TEST_SK_PREFIX,
};
use crate::Run;
use crate::{Store, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use verdict_model::{Attempt, Limits, Status, Summary, TestResult};

/// The test item's own attributes (besides the common ones in `attrs.rs`). `iss_*`, `fp_*` and
/// `hist_*` are the keys of the sparse `issues`, `fingerprint` and `history` indexes.
pub(crate) mod attr {
    pub(crate) const TEST_ID: &str = "test_id";
    pub(crate) const SUITE: &str = "suite";
    pub(crate) const CLASSNAME: &str = "classname";
    pub(crate) const NAME: &str = "name";
    pub(crate) const BASE_NAME: &str = "base_name";
    pub(crate) const STATUS: &str = "status";
    pub(crate) const FLAKY: &str = "flaky";
    pub(crate) const DURATION_MS: &str = "duration_ms";
    pub(crate) const ATTEMPT_COUNT: &str = "attempt_count";
    pub(crate) const VERSION: &str = "version";
    pub(crate) const PARTS: &str = "parts";
    pub(crate) const CONTRIB: &str = "contrib";
    pub(crate) const HIST_PK: &str = "hist_pk";
    pub(crate) const HIST_SK: &str = "hist_sk";
    pub(crate) const PARAMS: &str = "params";
    pub(crate) const FILE: &str = "file";
    pub(crate) const MESSAGE: &str = "message";
    pub(crate) const FAILURE_TYPE: &str = "failure_type";
    pub(crate) const FINGERPRINT: &str = "fingerprint";
    pub(crate) const OWNER: &str = "owner";
    pub(crate) const BRANCH: &str = "branch";
    pub(crate) const COMMIT_SHA: &str = "commit_sha";
    pub(crate) const LINE: &str = "line";
    pub(crate) const TAGS: &str = "tags";
    pub(crate) const ISS_PK: &str = "iss_pk";
    pub(crate) const ISS_SK: &str = "iss_sk";
    pub(crate) const FP_PK: &str = "fp_pk";
    pub(crate) const FP_SK: &str = "fp_sk";
}

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

/// What one file says of a test: its attempts and the details that may differ between files.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Part {
    attempts: Vec<Attempt>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spans: Option<serde_json::Value>,
}

impl Part {
    fn of(result: &TestResult) -> Part {
        Part {
            attempts: result.attempts.clone(),
            tags: result.tags.clone(),
            owner: result.owner.clone(),
            file: result.file.clone(),
            line: result.line,
            spans: result.spans.clone(),
        }
    }
}

/// The merged result of a test from its parts, in file-id order so the outcome does not depend
/// on the order in which files arrived.
fn merge(identity: &TestResult, parts: &BTreeMap<String, Part>) -> Option<TestResult> {
    parts
        .values()
        .map(|part| {
            let mut r = TestResult {
                attempts: part.attempts.clone(),
                tags: part.tags.clone(),
                owner: part.owner.clone(),
                file: part.file.clone(),
                line: part.line,
                spans: part.spans.clone(),
                ..identity.clone()
            };
            r.derive();
            r
        })
        .reduce(|mut merged, r| {
            merged.absorb(r);
            merged
        })
}

/// Largest test item we write: DynamoDB's limit is 400 KB; the margin covers the estimate.
const MAX_ITEM_BYTES: usize = 350 * 1024;

/// Halves the text caps of every attempt until the item fits (the raw file keeps the text).
fn shrink(parts: &mut BTreeMap<String, Part>, round: u32) {
    let base = Limits::DEFAULT;
    let div = 1usize << round;
    let limits = Limits {
        name: base.name,
        message: base.message / div,
        failure_type: base.failure_type,
        details: base.details / div,
        output: base.output / div,
    };
    for part in parts.values_mut() {
        for attempt in &mut part.attempts {
            *attempt = std::mem::replace(attempt, Attempt::new(Status::Passed, 0)).capped(&limits);
        }
        if round >= 6 {
            // Thousands of attempts: keep the first and last hundred.
            let len = part.attempts.len();
            if len > 200 {
                part.attempts.drain(100..len - 100);
            }
        }
    }
}

struct Stored {
    parts: BTreeMap<String, Part>,
    contrib: BTreeMap<String, Delta>,
    version: i64,
}

fn stored(item: &Item) -> Result<Stored, StoreError> {
    let parts = get_s(item, attr::PARTS)
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| StoreError::permanent("read test item", format!("bad parts: {e}")))?
        .unwrap_or_default();
    let contrib = get_map(item, attr::CONTRIB)
        .map(|m| {
            m.iter()
                .filter_map(|(file, delta)| {
                    Some((file.clone(), Delta::from_item(delta.as_m().ok()?)))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Stored {
        parts,
        contrib,
        version: get_n(item, attr::VERSION).unwrap_or(0),
    })
}

fn contrib_attr(contrib: &BTreeMap<String, Delta>) -> AttributeValue {
    AttributeValue::M(
        contrib
            .iter()
            .map(|(k, d)| (k.clone(), d.to_attr()))
            .collect(),
    )
}

fn test_item(ctx: &RunContext, result: &TestResult, stored: &Stored) -> Item {
    let project = ctx.run.project.as_str();
    let mut item: Item = [
        (PK, s(ctx.run.pk())),
        (SK, s(test_sk(&result.test_id))),
        (KIND, s("test")),
        (PROJECT, s(project)),
        (RUN_KEY, s(ctx.run.run_key.as_str())),
        (attr::TEST_ID, s(&result.test_id)),
        (attr::SUITE, s(&result.suite)),
        (attr::CLASSNAME, s(&result.classname)),
        (attr::NAME, s(&result.name)),
        (attr::BASE_NAME, s(&result.base_name)),
        (attr::STATUS, s(result.status.as_str())),
        (attr::FLAKY, AttributeValue::Bool(result.flaky)),
        (attr::DURATION_MS, n(result.duration_ms)),
        (attr::ATTEMPT_COUNT, n(result.attempts.len())),
        (CREATED_MS, n(ctx.created_ms)),
        (EXPIRES_AT, n(ctx.expires_at)),
        (attr::VERSION, n(stored.version + 1)),
        (
            attr::PARTS,
            s(serde_json::to_string(&stored.parts).unwrap_or_default()),
        ),
        (attr::CONTRIB, contrib_attr(&stored.contrib)),
        (
            attr::HIST_PK,
            s(history_pk(&ctx.run.project, &result.test_id)),
        ),
        (attr::HIST_SK, s(time_sk(ctx.created_ms, &ctx.run.run_key))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let optional = [
        (attr::PARAMS, result.params.as_deref()),
        (attr::FILE, result.file.as_deref()),
        (attr::MESSAGE, result.message.as_deref()),
        (attr::FAILURE_TYPE, result.failure_type.as_deref()),
        (attr::FINGERPRINT, result.fingerprint.as_deref()),
        (attr::OWNER, result.owner.as_deref()),
        (attr::BRANCH, ctx.branch.as_deref()),
        (attr::COMMIT_SHA, ctx.commit_sha.as_deref()),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            item.insert(name.to_string(), s(v));
        }
    }
    if let Some(line) = result.line {
        item.insert(attr::LINE.into(), n(line));
    }
    if !result.tags.is_empty() {
        item.insert(
            attr::TAGS.into(),
            AttributeValue::L(result.tags.iter().map(s).collect()),
        );
    }
    // Failures and flaky passes of a project by time: a sparse index for the failures and flaky
    // endpoints (a passing test is not in it).
    if result.status.is_failure() || result.flaky {
        item.insert(attr::ISS_PK.into(), s(project));
        item.insert(
            attr::ISS_SK.into(),
            s(result_time_sk(
                ctx.created_ms,
                &ctx.run.run_key,
                &result.test_id,
            )),
        );
    }
    // Failed results by fingerprint: a sparse index, only failures are in it.
    if let (true, Some(fp)) = (result.status.is_failure(), &result.fingerprint) {
        item.insert(attr::FP_PK.into(), s(fingerprint_pk(&ctx.run.project, fp)));
        item.insert(
            attr::FP_SK.into(),
            s(result_time_sk(
                ctx.created_ms,
                &ctx.run.run_key,
                &result.test_id,
            )),
        );
    }
    item
}

impl Stored {
    fn empty() -> Stored {
        Stored {
            parts: BTreeMap::new(),
            contrib: BTreeMap::new(),
            version: 0,
        }
    }
}

/// The item that adds `file`'s part to the item as stored (`st`), cutting text until it fits,
/// with the file's delta and the stored version to condition on. The conditional write and the
/// bulk write of a file alone in its run both build their items here, so both write the same.
fn build(
    ctx: &RunContext,
    file: &FileId,
    result: &TestResult,
    mut st: Stored,
) -> (Item, Delta, i64) {
    let before = merge(result, &st.parts);
    st.parts.insert(file.to_string(), Part::of(result));
    let mut after = merge(result, &st.parts).expect("at least our part");
    let mut item = test_item(ctx, &after, &st);
    let mut round = 0;
    while item_size(&item) > MAX_ITEM_BYTES && round < 12 {
        round += 1;
        shrink(&mut st.parts, round);
        after = merge(result, &st.parts).expect("at least our part");
        item = test_item(ctx, &after, &st);
    }
    let delta = Delta::between(before.as_ref(), &after);
    st.contrib.insert(file.to_string(), delta);
    item.insert(attr::CONTRIB.into(), contrib_attr(&st.contrib));
    (item, delta, st.version)
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
            let st = match &current {
                Some(item) => stored(item)?,
                None => Stored::empty(),
            };
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

    /// Writes `file`'s results of tests no other file of the run touches, for a file that
    /// holds the run's exclusive writer ([`Store::begin_writes`]): the same items the
    /// conditional path builds, put with one unconditional BatchWriteItem of up to 25. Putting
    /// them again (a redelivery) writes the same items, so the effect is still exactly once;
    /// no other file writes to the run until this one commits.
    pub async fn write_results_alone(
        &self,
        ctx: &RunContext,
        file: &FileId,
        results: &[TestResult],
    ) -> Result<Vec<Delta>, StoreError> {
        let mut deltas = Vec::with_capacity(results.len());
        let mut requests = Vec::with_capacity(results.len());
        for result in results {
            let (item, delta, _) = build(ctx, file, result, Stored::empty());
            deltas.push(delta);
            requests.push(put_request(item));
        }
        self.batch_write(requests, 1).await?;
        Ok(deltas)
    }

    async fn get_test_item(&self, run: &RunRef, test_id: &str) -> Result<Option<Item>, StoreError> {
        self.read_key("GetItem test", run.pk(), test_sk(test_id))
            .await
    }

    /// One test's merged result in a run, in full (attempts and all their text).
    pub async fn get_result(
        &self,
        run: &RunRef,
        test_id: &str,
    ) -> Result<Option<(TestResult, Vec<String>)>, StoreError> {
        let Some(item) = self.get_test_item(run, test_id).await? else {
            return Ok(None);
        };
        let st = stored(&item)?;
        let contributors = st.contrib.keys().cloned().collect();
        let text = |name| get_s(&item, name).unwrap_or_default().to_string();
        let identity = TestResult::named(
            test_id.to_string(),
            text(attr::SUITE),
            text(attr::CLASSNAME),
            text(attr::NAME),
        );
        Ok(merge(&identity, &st.parts).map(|result| (result, contributors)))
    }

    /// The reconciler: recounts a run from its test items (one paginated Query of the run's
    /// partition). Equal to the run's summary once every file is settled; a difference means a
    /// file is still being ingested or something went wrong.
    pub async fn recount(&self, run: &RunRef) -> Result<Summary, StoreError> {
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(run.pk()))
            .expression_attribute_values(":prefix", s(TEST_SK_PREFIX))
            .projection_expression("#status, flaky, #duration")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#duration", attr::DURATION_MS)
            .consistent_read(true);
        let items = self.query_all("Query recount", query).await?;
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
