//! The integration-test harness: a fresh table and bucket per test on the local stack
//! (DynamoDB Local and SeaweedFS, started by `scripts/stack.sh run`, which `make test` uses),
//! helpers to register and upload files the way the upload function does, and table dumps.

use aws_lambda_events::s3::S3Event;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use verdict_model::RunMetadata;
use verdict_store::{FileId, FileRef, NewFile, ProjectName, RunKey, RunRef, Store, StoreConfig};

/// The fixed time at which test runs are registered, so dumps of separate tables compare equal.
pub const REGISTERED_MS: u64 = 1_790_000_000_000;

fn endpoint(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: integration tests run against the local stack; \
             run them with `make test` or `scripts/stack.sh run cargo test -p verdict-tests`"
        )
    })
}

/// A new, empty table and bucket of their own on the local stack.
pub async fn fresh_store() -> Store {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let suffix = format!(
        "{}-{n}-{}",
        std::process::id(),
        hex::encode(verdict_store::random_bytes::<4>())
    );
    let config = StoreConfig {
        table: format!("verdict-test-{suffix}"),
        bucket: format!("verdict-test-{suffix}"),
        dynamodb_endpoint: Some(endpoint("VERDICT_DYNAMODB_ENDPOINT")),
        s3_endpoint: Some(endpoint("VERDICT_S3_ENDPOINT")),
    };
    let store = Store::connect(&config).await;
    store.create_table().await.expect("create table");
    store.create_bucket().await.expect("create bucket");
    store
}

pub fn run_ref(project: &str, run_key: &str) -> RunRef {
    RunRef {
        project: ProjectName::parse(project).unwrap(),
        run_key: RunKey::parse(run_key).unwrap(),
    }
}

/// The `i`-th file id: deterministic, so the same scenario gives the same keys in every table.
pub fn file_id(i: usize) -> FileId {
    FileId::parse(&format!("{i:032x}")).unwrap()
}

pub fn metadata() -> RunMetadata {
    RunMetadata {
        branch: Some("main".into()),
        commit_sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
        ..RunMetadata::default()
    }
}

/// Registers a file as the upload function does and puts its bytes in the bucket.
pub async fn upload(store: &Store, run: &RunRef, i: usize, name: &str, bytes: &[u8]) -> FileRef {
    let file = register(store, run, i, name, bytes.len() as u64).await;
    store
        .put_raw(&file.object_key(), bytes.to_vec())
        .await
        .expect("put object");
    file
}

/// Registers a file as the upload function does, without uploading it.
pub async fn register(store: &Store, run: &RunRef, i: usize, name: &str, size: u64) -> FileRef {
    let file = FileRef {
        run: run.clone(),
        file_id: file_id(i),
    };
    store
        .register_file(
            &NewFile {
                file: file.clone(),
                name: name.into(),
                size,
                sha256: None,
                format: None,
                metadata: metadata(),
                retention_days: 30,
            },
            REGISTERED_MS,
        )
        .await
        .expect("register file");
    file
}

/// An S3 notification for `keys` as S3 sends it: keys form-encoded (space as `+`).
pub fn s3_event(bucket: &str, keys: &[String]) -> S3Event {
    let records: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| {
            let encoded: String = key
                .bytes()
                .map(|b| match b {
                    b' ' => "+".to_string(),
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    other => format!("%{other:02X}"),
                })
                .collect();
            serde_json::json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-21T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:TEST"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "R", "x-amz-id-2": "I"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "raw-uploads",
                    "bucket": {"name": bucket, "ownerIdentity": {"principalId": "O"}, "arn": format!("arn:aws:s3:::{bucket}")},
                    "object": {"key": encoded, "size": 1, "eTag": "e", "sequencer": "0A"}
                }
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).expect("valid S3 event")
}

/// Attributes that record how and when work happened, not what was ingested: leases, claim
/// counts, settle times. Everything else must be identical after any delivery history.
const BOOKKEEPING: [&str; 4] = ["lease_owner", "lease_until", "claims", "settled_ms"];

pub type Dump = (Vec<BTreeMap<String, serde_json::Value>>, Vec<String>);

/// Which file moved which counter: per-file deltas (`contribution` on file items, `contrib` on
/// test items). They depend on arrival order by nature (the second file to report a test adds
/// what it changed, not the test), so order-independence compares everything but them; their
/// sum, the run's counters, must still match. Redelivery and crash scenarios compare them too.
pub const ORDER_BOOKKEEPING: [&str; 2] = ["contribution", "contrib"];

/// The whole table and bucket, without bookkeeping attributes.
pub async fn dump(store: &Store) -> Dump {
    dump_without(store, &[]).await
}

/// [`dump`], also without the `extra` attributes.
pub async fn dump_without(store: &Store, extra: &[&str]) -> Dump {
    let (mut items, keys) = store.dump().await.expect("dump");
    for item in &mut items {
        for name in BOOKKEEPING.iter().chain(extra) {
            item.remove(*name);
        }
    }
    (items, keys)
}

/// Asserts that two dumps are equal, naming the first item that differs.
pub fn assert_same_dump(actual: &Dump, expected: &Dump, scenario: &str) {
    assert_eq!(actual.1, expected.1, "{scenario}: bucket contents differ");
    for (a, e) in actual.0.iter().zip(&expected.0) {
        assert_eq!(a, e, "{scenario}: item differs");
    }
    assert_eq!(
        actual.0.len(),
        expected.0.len(),
        "{scenario}: item counts differ"
    );
}
