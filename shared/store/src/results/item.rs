//! What a test item holds: each contributing file's part of the result, the merged result
//! they make, each file's delta, and the text cut down until the item fits DynamoDB's 400 KB.

use crate::attrs::{
    get_bool, get_map, get_n, get_s, get_strings, get_u64, item_size, n, s, Item, CREATED_MS,
    EXPIRES_AT, KIND, PK, SK,
};
use crate::counts::Delta;
use crate::keys::{fingerprint_pk, result_time_sk, test_sk, FileId};
use crate::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use verdict_model::{Attempt, Limits, Status, TestResult};

use super::RunContext;

/// The test item's own attributes (besides the common ones in `attrs.rs`). `fp_*` are the keys
/// of the sparse `fingerprint` index, `prob_sk` the sort key of the sparse `problems` index.
pub(crate) mod attr {
    /// On failure rollup items (a test item's test id is its sort key's).
    pub(crate) const TEST_ID: &str = "test_id";
    pub(crate) const SUITE: &str = "suite";
    pub(crate) const CLASSNAME: &str = "classname";
    pub(crate) const NAME: &str = "name";
    pub(crate) const STATUS: &str = "status";
    pub(crate) const FLAKY: &str = "flaky";
    pub(crate) const DURATION_MS: &str = "duration_ms";
    pub(crate) const ATTEMPT_COUNT: &str = "attempt_count";
    pub(crate) const VERSION: &str = "version";
    pub(crate) const PARTS: &str = "parts";
    pub(crate) const CONTRIB: &str = "contrib";
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
    pub(crate) const FP_PK: &str = "fp_pk";
    pub(crate) const FP_SK: &str = "fp_sk";
    pub(crate) const PROB_SK: &str = "prob_sk";
}

/// What one file says of a test: its attempts and the details that may differ between files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Part {
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
    /// Its attempts, for the text kept apart to be put back.
    pub(super) fn attempts_mut(&mut self) -> &mut [Attempt] {
        &mut self.attempts
    }

    /// The part of a file that ran the test once and said nothing but how it ended, with the
    /// test's tags, owner, file and line: what most tests' one part is. An item whose only part
    /// is this one stores no `parts` (its own attributes say it all: [`stored`] puts it back).
    fn plain(
        status: Status,
        duration_ms: u64,
        tags: Vec<String>,
        owner: Option<String>,
        file: Option<String>,
        line: Option<u32>,
    ) -> Part {
        Part {
            attempts: vec![Attempt::new(status, duration_ms)],
            tags,
            owner,
            file,
            line,
            spans: None,
        }
    }

    /// [`Part::plain`] with what the result says.
    fn plain_of(result: &TestResult) -> Part {
        Part::plain(
            result.status,
            result.duration_ms,
            result.tags.clone(),
            result.owner.clone(),
            result.file.clone(),
            result.line,
        )
    }

    /// [`Part::plain`] with what the item says.
    fn plain_in(item: &Item) -> Option<Part> {
        Some(Part::plain(
            Status::parse(get_s(item, attr::STATUS)?)?,
            get_u64(item, attr::DURATION_MS),
            get_strings(item, attr::TAGS),
            get_s(item, attr::OWNER).map(str::to_string),
            get_s(item, attr::FILE).map(str::to_string),
            get_n(item, attr::LINE).and_then(|l| u32::try_from(l).ok()),
        ))
    }

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
pub(super) fn merge(identity: &TestResult, parts: &BTreeMap<String, Part>) -> Option<TestResult> {
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

pub(super) struct Stored {
    pub(super) parts: BTreeMap<String, Part>,
    pub(super) contrib: BTreeMap<String, Delta>,
    pub(super) version: i64,
}

/// Reads what [`build`] wrote, putting back what it left implied: the part and the delta of a
/// test's one file when they are what the item's own attributes say.
pub(super) fn stored(item: &Item) -> Result<Stored, StoreError> {
    let mut contrib: BTreeMap<String, Delta> = get_map(item, attr::CONTRIB)
        .map(|m| {
            m.iter()
                .filter_map(|(file, delta)| {
                    Some((file.clone(), Delta::from_item(delta.as_m().ok()?)))
                })
                .collect()
        })
        .unwrap_or_default();
    // An empty delta is implied only alone: a file's delta is never empty when it is the
    // test's first (it adds the test), and only a later file's can be.
    let mut only = contrib.iter_mut();
    let status = get_s(item, attr::STATUS).and_then(Status::parse);
    if let (Some((_, delta)), None, Some(status)) = (only.next(), only.next(), status) {
        if delta.is_zero() {
            *delta = Delta::alone(
                status,
                get_bool(item, attr::FLAKY),
                get_u64(item, attr::DURATION_MS),
            );
        }
    }
    let parts = match get_s(item, attr::PARTS) {
        Some(parts) => serde_json::from_str(parts)
            .map_err(|e| StoreError::permanent("read test item", format!("bad parts: {e}")))?,
        None => contrib
            .keys()
            .next()
            .zip(Part::plain_in(item))
            .map(|(file, part)| BTreeMap::from([(file.clone(), part)]))
            .unwrap_or_default(),
    };
    Ok(Stored {
        parts,
        contrib,
        version: get_n(item, attr::VERSION).unwrap_or(0),
    })
}

/// The files' deltas, each as it is, but the test's one file's when it is what the result
/// alone adds to a run (an empty map: [`stored`] puts it back).
fn contrib_attr(contrib: &BTreeMap<String, Delta>, result: &TestResult) -> AttributeValue {
    let implied = Delta::alone(result.status, result.flaky, result.duration_ms);
    let alone = contrib.len() == 1;
    AttributeValue::M(
        contrib
            .iter()
            .map(|(k, d)| match alone && *d == implied {
                true => (k.clone(), AttributeValue::M(Default::default())),
                false => (k.clone(), d.to_attr()),
            })
            .collect(),
    )
}

/// Whether the item need not store its parts: one, and [`Part::plain_of`] the result.
fn parts_implied(parts: &BTreeMap<String, Part>, result: &TestResult) -> bool {
    parts.len() == 1 && parts.values().next() == Some(&Part::plain_of(result))
}

fn test_item(ctx: &RunContext, result: &TestResult, stored: &Stored) -> Item {
    let mut item: Item = [
        (PK, s(ctx.run.tests_pk(&result.test_id))),
        (SK, s(test_sk(&result.test_id))),
        (KIND, s("test")),
        (attr::SUITE, s(&result.suite)),
        (attr::CLASSNAME, s(&result.classname)),
        (attr::NAME, s(&result.name)),
        (attr::STATUS, s(result.status.as_str())),
        (attr::FLAKY, AttributeValue::Bool(result.flaky)),
        (attr::DURATION_MS, n(result.duration_ms)),
        (attr::ATTEMPT_COUNT, n(result.attempts.len())),
        (CREATED_MS, n(ctx.created_ms)),
        (EXPIRES_AT, n(ctx.expires_at)),
        (attr::VERSION, n(stored.version + 1)),
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
    if !parts_implied(&stored.parts, result) {
        item.insert(
            attr::PARTS.into(),
            s(serde_json::to_string(&stored.parts).unwrap_or_default()),
        );
    }
    if !result.tags.is_empty() {
        item.insert(
            attr::TAGS.into(),
            AttributeValue::L(result.tags.iter().map(s).collect()),
        );
    }
    // The run's results that are not plain passes or skips (failed, error, xpassed, flaky): a
    // sparse index in the run's partition, so a run's failures come in full pages.
    if is_problem(result) {
        item.insert(attr::PROB_SK.into(), s(test_sk(&result.test_id)));
    }
    // Failed results by fingerprint: a sparse index, only failures are in it.
    if let (true, Some(fp)) = (result.status.is_failure(), &result.fingerprint) {
        item.insert(
            attr::FP_PK.into(),
            s(fingerprint_pk(&ctx.run.project, fp, &result.test_id)),
        );
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

/// Whether a result is in the run's `problems` index: what a person triaging the run looks at.
pub(crate) fn is_problem(result: &TestResult) -> bool {
    PROBLEM_STATUSES.contains(&result.status) || result.flaky
}

/// The statuses the `problems` index holds every result of (with the flaky passes).
pub(crate) const PROBLEM_STATUSES: [Status; 3] = [Status::Failed, Status::Error, Status::Xpassed];

impl Stored {
    pub(super) fn empty() -> Stored {
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
pub(super) fn build(
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
    item.insert(attr::CONTRIB.into(), contrib_attr(&st.contrib, &after));
    (item, delta, st.version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attrs::item_size;
    use crate::keys::{ProjectName, RunKey, RunRef};
    use verdict_model::{KeptText, TestCase};

    /// A failing test of `make bench-scale`'s red build, its text kept apart as the parse
    /// function keeps it.
    fn red_build_result() -> TestResult {
        let failure = crate::red_build_failure();
        let mut attempt = Attempt::new(Status::Failed, 1500);
        attempt.message = Some(failure.message.into());
        attempt.failure_type = Some(failure.failure_type.into());
        attempt.details = Some(failure.details);
        attempt.stdout = Some(failure.stdout);
        let case = TestCase {
            suite: vec!["s".into()],
            classname: "com.example.Suite39".into(),
            name: "test_1999".into(),
            attempts: vec![attempt],
            ..TestCase::default()
        };
        let mut result = TestResult::from_case(case, &Limits::DEFAULT).unwrap();
        for attempt in &mut result.attempts {
            attempt.keep_text_apart(|_| KeptText {
                segment: 1,
                offset: 4_194_000,
                len: 2_631,
                fingerprint: None,
            });
        }
        result.derive();
        result
    }

    fn context() -> RunContext {
        RunContext {
            run: RunRef {
                project: ProjectName::parse("acme").unwrap(),
                run_key: RunKey::parse("build-1").unwrap(),
            },
            created_ms: 1_796_500_000_000,
            expires_at: 1_804_276_000,
            branch: Some("main".into()),
            commit_sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
        }
    }

    fn result(status: Status, duration_ms: u64, message: Option<&str>) -> TestResult {
        let mut attempt = Attempt::new(status, duration_ms);
        attempt.message = message.map(str::to_string);
        let case = TestCase {
            classname: "pkg.Things".into(),
            name: "test_one".into(),
            file: Some("pkg/things.py".into()),
            line: Some(12),
            tags: vec!["slow".into()],
            attempts: vec![attempt],
            ..TestCase::default()
        };
        TestResult::from_case(case, &Limits::DEFAULT).unwrap()
    }

    #[test]
    fn a_plain_test_s_one_part_and_delta_are_implied_and_read_back_as_built() {
        let ctx = context();
        let first = FileId::random();
        let plain = result(Status::Passed, 12, None);
        let (item, delta, _) = build(&ctx, &first, &plain, Stored::empty());
        assert!(!item.contains_key(attr::PARTS), "{item:#?}");
        assert_eq!(
            item[attr::CONTRIB].as_m().unwrap()[first.as_str()],
            AttributeValue::M(Default::default())
        );
        let st = stored(&item).unwrap();
        assert_eq!(
            st.parts,
            BTreeMap::from([(first.to_string(), Part::of(&plain))])
        );
        assert_eq!(st.contrib, BTreeMap::from([(first.to_string(), delta)]));

        // A second file's rerun: both parts and both deltas are stored, and read back.
        let second = FileId::random();
        let rerun = result(Status::Failed, 30, Some("boom"));
        let (merged, rerun_delta, _) = build(&ctx, &second, &rerun, st);
        assert!(merged.contains_key(attr::PARTS));
        let st = stored(&merged).unwrap();
        assert_eq!(
            st.parts,
            BTreeMap::from([
                (first.to_string(), Part::of(&plain)),
                (second.to_string(), Part::of(&rerun))
            ])
        );
        assert_eq!(
            st.contrib,
            BTreeMap::from([
                (first.to_string(), delta),
                (second.to_string(), rerun_delta)
            ])
        );
    }

    #[test]
    fn a_test_that_says_more_than_its_outcome_stores_its_part() {
        let ctx = context();
        let file = FileId::random();
        let failed = result(Status::Failed, 5, Some("expected 1, got 2"));
        let (item, delta, _) = build(&ctx, &file, &failed, Stored::empty());
        assert!(item.contains_key(attr::PARTS));
        let st = stored(&item).unwrap();
        assert_eq!(
            st.parts,
            BTreeMap::from([(file.to_string(), Part::of(&failed))])
        );
        assert_eq!(st.contrib, BTreeMap::from([(file.to_string(), delta)]));
    }

    #[test]
    fn a_failing_test_with_its_text_kept_apart_is_one_write_unit() {
        let (item, _, _) = build(
            &context(),
            &FileId::random(),
            &red_build_result(),
            Stored::empty(),
        );
        // Counted as this crate counts (a byte per digit of a number: more than AWS counts).
        let size = item_size(&item);
        assert!(size <= 1024, "{size} bytes: {item:#?}");
    }
}
