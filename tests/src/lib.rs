//! The integration-test harness: a fresh table and bucket per test on the local stack
//! (DynamoDB Local and SeaweedFS, started by `scripts/stack.sh run`, which `make test` uses),
//! helpers to register and upload files the way the upload function does, and table dumps.

pub mod cost;
pub mod fault_proxy;
pub mod limits;
pub mod reports;
pub mod under_limits;

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
    log_warnings();
    let store = Store::connect(&fresh_config()).await;
    store.create_table().await.expect("create table");
    store.create_bucket().await.expect("create bucket");
    store
}

/// The warnings the functions log (a sorted view not made, a lease not given back) go to the
/// output of the test that caused them, which is shown when it fails.
fn log_warnings() {
    use lambda_http::tracing::{subscriber, Level};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = subscriber::fmt()
            .with_max_level(Level::WARN)
            .with_test_writer()
            .try_init();
    });
}

/// A new connection to `store`'s table and bucket that calls DynamoDB at `dynamodb_endpoint`
/// (a proxy in front of the local stack's) and S3 as the local stack's.
pub async fn through_dynamodb(store: &Store, dynamodb_endpoint: &str) -> Store {
    Store::connect(&StoreConfig {
        table: store.table().to_string(),
        bucket: store.bucket().to_string(),
        dynamodb_endpoint: Some(dynamodb_endpoint.to_string()),
        s3_endpoint: fresh_config().s3_endpoint,
    })
    .await
}

/// An HTTP function's answer body as JSON (`null` when empty or not JSON).
pub fn json_of(body: &lambda_http::Body) -> serde_json::Value {
    let parsed = match body {
        lambda_http::Body::Text(t) => serde_json::from_str(t).ok(),
        lambda_http::Body::Binary(b) => serde_json::from_slice(b).ok(),
        _ => None,
    };
    parsed.unwrap_or(serde_json::Value::Null)
}

/// Unique table and bucket names on the local stack (not created).
pub fn fresh_config() -> StoreConfig {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let suffix = format!(
        "{}-{n}-{}",
        std::process::id(),
        hex::encode(verdict_store::random_bytes::<4>())
    );
    StoreConfig {
        table: format!("verdict-test-{suffix}"),
        bucket: format!("verdict-test-{suffix}"),
        dynamodb_endpoint: Some(endpoint("VERDICT_DYNAMODB_ENDPOINT")),
        s3_endpoint: Some(endpoint("VERDICT_S3_ENDPOINT")),
    }
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
    upload_at(store, run, i, name, bytes, REGISTERED_MS).await
}

/// [`upload`] at a given registration time.
pub async fn upload_at(
    store: &Store,
    run: &RunRef,
    i: usize,
    name: &str,
    bytes: &[u8],
    registered_ms: u64,
) -> FileRef {
    upload_with(store, run, i, name, bytes, registered_ms, metadata()).await
}

/// [`upload`] at a given registration time with the given run metadata.
pub async fn upload_with(
    store: &Store,
    run: &RunRef,
    i: usize,
    name: &str,
    bytes: &[u8],
    registered_ms: u64,
    metadata: RunMetadata,
) -> FileRef {
    let file = register_at(
        store,
        run,
        i,
        name,
        bytes.len() as u64,
        registered_ms,
        metadata,
    )
    .await;
    store
        .put_raw(&file.object_key(), bytes.to_vec())
        .await
        .expect("put object");
    file
}

/// A run's report files uploaded and each settled `done` before the next is registered, as CI
/// sends a run and then its reruns; the `k`th file is numbered `first_file + k`.
pub async fn upload_settled(
    ingest: &verdict_parse_fn::ingest::Ingest,
    store: &Store,
    run: &RunRef,
    first_file: usize,
    files: &[(&str, &[u8])],
    registered_ms: u64,
    metadata: &RunMetadata,
) {
    for (k, (name, bytes)) in files.iter().enumerate() {
        let file = upload_with(
            store,
            run,
            first_file + k,
            name,
            bytes,
            registered_ms,
            metadata.clone(),
        )
        .await;
        settle(ingest, &file.object_key()).await;
    }
}

/// Registers a file as the upload function does, without uploading it.
pub async fn register(store: &Store, run: &RunRef, i: usize, name: &str, size: u64) -> FileRef {
    register_at(store, run, i, name, size, REGISTERED_MS, metadata()).await
}

/// [`register`] at a given registration time with the given run metadata.
pub async fn register_at(
    store: &Store,
    run: &RunRef,
    i: usize,
    name: &str,
    size: u64,
    registered_ms: u64,
    metadata: RunMetadata,
) -> FileRef {
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
                metadata,
                test_overrides: Default::default(),
                retention_days: 30,
            },
            registered_ms,
        )
        .await
        .expect("register file");
    file
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
    let (mut items, mut keys) = store.dump().await.expect("dump");
    // Hand-offs are messages to the next invocation, not state: how many a history made
    // depends on its timing. Views and comparisons are made again by the first request that
    // finds none (one not made when its run settled, its store refusing, is only logged).
    keys.retain(|key| {
        !key.starts_with(verdict_store::HANDOFF_PREFIX)
            && !key.starts_with(verdict_store::VIEWS_PREFIX)
    });
    for item in &mut items {
        for name in BOOKKEEPING.iter().chain(extra) {
            item.remove(*name);
        }
        // A rollup's counters are ADDed to, up and down as its runs change: a counter at 0 is
        // the same as one never added to, and which ones were depends on the order of events.
        if is_rollup(item) {
            item.retain(|_, v| v.as_i64() != Some(0));
        }
    }
    // So is a failure rollup whose counters are all back at 0 (readers skip it).
    items.retain(|item| match item.get("kind").and_then(|k| k.as_str()) {
        Some("failure_rollup") => item.contains_key("failed") || item.contains_key("flaky"),
        Some("failure_runs") => item.contains_key("runs"),
        _ => true,
    });
    (items, keys)
}

fn is_rollup(item: &BTreeMap<String, serde_json::Value>) -> bool {
    matches!(
        item.get("kind").and_then(|k| k.as_str()),
        Some("rollup" | "failure_rollup" | "failure_runs")
    )
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

/// The API served on a free loopback port by the local stack's server, with the parse trigger
/// running, over a fresh table and bucket; a project `acme` with upload and read tokens and a
/// project `other` with an upload token.
pub struct LocalApi {
    pub store: Store,
    pub base: String,
    pub upload_token: String,
    pub read_token: String,
    pub other_token: String,
}

impl LocalApi {
    pub async fn start(limits: verdict_upload_fn::Limits) -> LocalApi {
        use verdict_store::{now_ms, Scope};
        // Keeping windows parsed, as the query function's store does (its clones share them,
        // so a test can make the API forget them: `Store::forget_kept_windows`).
        let store = fresh_store().await.keeping_windows();
        let acme = ProjectName::parse("acme").unwrap();
        let other = ProjectName::parse("other").unwrap();
        store.create_project(&acme, 30, now_ms()).await.unwrap();
        store.create_project(&other, 30, now_ms()).await.unwrap();
        let token = |p: &ProjectName, scope| {
            let store = store.clone();
            let p = p.clone();
            async move {
                store
                    .create_token(&p, scope, "test", now_ms())
                    .await
                    .unwrap()
                    .0
            }
        };
        let upload_token = token(&acme, Scope::Upload).await;
        let read_token = token(&acme, Scope::Read).await;
        let other_token = token(&other, Scope::Upload).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let api = std::sync::Arc::new(verdict_local::Api::new(
            store.clone().serving("upload"),
            store.clone().serving("query"),
            limits,
        ));
        tokio::spawn(verdict_local::serve(listener, api));
        tokio::spawn(verdict_local::trigger_parse(
            store.clone(),
            store.clone().serving("parse"),
            std::time::Duration::from_millis(100),
        ));
        LocalApi {
            store,
            base,
            upload_token,
            read_token,
            other_token,
        }
    }
}

impl LocalApi {
    /// `GET path` with `token`: status and JSON body.
    pub async fn get(&self, token: &str, path: &str) -> (u16, serde_json::Value) {
        http("GET", &format!("{}{path}", self.base), bearer(token), None).await
    }

    /// Every page of a list endpoint, following `next_cursor`.
    pub async fn walk(&self, token: &str, path: &str) -> Vec<serde_json::Value> {
        self.walk_list(token, path, "items").await
    }

    /// Every element of the list `list` of every page of `path`, following `next_cursor`.
    pub async fn walk_list(&self, token: &str, path: &str, list: &str) -> Vec<serde_json::Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = match &cursor {
                Some(c) => format!("{path}{sep}cursor={c}"),
                None => path.to_string(),
            };
            let (status, body) = self.get(token, &url).await;
            assert_eq!(status, 200, "{url}: {body}");
            items.extend(body[list].as_array().unwrap().iter().cloned());
            match body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return items,
            }
        }
    }
}

/// Ingests an uploaded file here, or waits while the local API's trigger does it; panics unless
/// it settles `done`.
pub async fn settle(ingest: &verdict_parse_fn::ingest::Ingest, key: &str) {
    settle_as(ingest, key, verdict_store::FileState::Done).await;
}

/// Ingests an uploaded file here, or waits while the local API's trigger does it; panics unless
/// it settles `state`, whichever of the two settled it.
pub async fn settle_as(
    ingest: &verdict_parse_fn::ingest::Ingest,
    key: &str,
    state: verdict_store::FileState,
) {
    assert_eq!(settled(ingest, key).await, state, "{key}");
}

/// Ingests an uploaded file here, or waits while the local API's trigger does it, until it is
/// settled; what it settled as.
pub async fn settled(
    ingest: &verdict_parse_fn::ingest::Ingest,
    key: &str,
) -> verdict_store::FileState {
    use verdict_parse_fn::ingest::{Outcome, Retry};
    use verdict_store::FileState;
    loop {
        return match ingest.ingest_key(key, "seed").await {
            Ok(Outcome::Done { .. }) => FileState::Done,
            Ok(Outcome::Failed(_)) => FileState::Failed,
            Ok(Outcome::Duplicate { .. }) => FileState::Duplicate,
            Ok(Outcome::AlreadySettled(state)) => state,
            Err(Retry::Busy { .. } | Retry::WaitingForWriter { .. } | Retry::Continue { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
            other => panic!("{key}: {other:?}"),
        };
    }
}

/// One invocation of the parse handler with an S3 notification of `key`.
pub async fn invoke(
    ingest: &verdict_parse_fn::ingest::Ingest,
    key: &str,
    request_id: &str,
) -> Result<verdict_parse_fn::ingest::Outcome, verdict_parse_fn::ingest::Retry> {
    use verdict_parse_fn::{created_event, handle, Event};
    let event = Event::S3(created_event(ingest.store().bucket(), &[key.to_string()]));
    handle(ingest, event, request_id, None)
        .await
        .map(|mut outcomes| outcomes.pop().expect("one record, one outcome"))
}

/// Delivers the hand-offs in the bucket not delivered before, as their S3 notifications
/// would, until a pass finds none: the outcomes, by file.
pub async fn deliver_handoffs(
    ingest: &verdict_parse_fn::ingest::Ingest,
    delivered: &mut Vec<String>,
) -> Vec<(FileRef, verdict_parse_fn::ingest::Outcome)> {
    let mut outcomes = Vec::new();
    loop {
        let keys = ingest.store().list_handoff_keys().await.unwrap();
        let new: Vec<String> = keys
            .into_iter()
            .filter(|k| !delivered.contains(k))
            .collect();
        if new.is_empty() {
            return outcomes;
        }
        for key in new {
            let file = verdict_store::Handoff::from_object_key(&key)
                .unwrap()
                .unwrap()
                .file;
            let request_id = format!("req-{}", delivered.len());
            let outcome = invoke(ingest, &key, &request_id).await;
            outcomes.push((file, outcome.unwrap_or_else(|e| panic!("{key}: {e}"))));
            delivered.push(key);
        }
    }
}

/// What a test's delivery loop delivers next for `file`, once the parse handler answered
/// `outcome`: the hand-off's key (as its S3 notification would), the file's own key for a file
/// that waits for its run's lone writer (as the sweep would, if the writer's hand-off were
/// lost), or nothing once the file is settled.
pub fn next_delivery(
    outcome: &verdict_parse_fn::ingest::Outcome,
    file: &FileRef,
) -> Option<String> {
    use verdict_parse_fn::ingest::Outcome;
    match outcome {
        Outcome::HandedOff { handoff, .. } => Some(handoff.clone()),
        Outcome::Waiting { .. } => Some(file.object_key()),
        _ => None,
    }
}

/// One HTTP exchange with a plain client: status and JSON body (Null when not JSON).
pub async fn http(
    method: &str,
    url: &str,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
) -> (u16, serde_json::Value) {
    let method = method.to_string();
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        let mut request = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(&url);
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        let result = match body {
            Some(bytes) => agent.run(request.body(bytes).unwrap()),
            None => agent.run(request.body(()).unwrap()),
        };
        let mut response = result.expect("HTTP exchange");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    })
    .await
    .unwrap()
}

pub fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("Authorization".into(), format!("Bearer {token}"))]
}

/// Ingests file `n` of `run`, 60 tests of its own, into the idle run until its first write of
/// a result is refused for good: the file fails after it began writing and stays among the
/// run's `uncommitted` files, so the run's later files share the run from then on. (It wrote
/// no result, so the run's recount still equals its counters.)
pub async fn leave_a_failed_writer(store: &Store, run: &RunRef, n: usize) {
    let names: Vec<String> = (0..60).map(|i| format!("failed.F.t{i}")).collect();
    let cases: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "passed")).collect();
    let writer = upload(store, run, n, "failed.xml", &reports::junit(&cases)).await;
    // Claim, marker, the refused claim to write first, the claim to write alone after the
    // others; then the refusal.
    let failing = verdict_parse_fn::ingest::Ingest::new(
        store
            .clone()
            .serving("parse")
            .with_faults(verdict_store::Faults::refuse_after(4)),
        verdict_parse_fn::ingest::Settings {
            concurrency: 1,
            ..verdict_parse_fn::ingest::Settings::default()
        },
    );
    let outcome = failing.ingest_key(&writer.object_key(), "failing").await;
    assert!(
        matches!(outcome, Ok(verdict_parse_fn::ingest::Outcome::Failed(_))),
        "{outcome:?}"
    );
    let found = store.get_run(run).await.unwrap().unwrap();
    assert!(found.uncommitted.contains(writer.file_id.as_str()));
    assert_eq!(found.exclusive_writer, None);
}

/// Whether an ingest stopped as a [`verdict_store::Faults::crash_after`] crash stops it: a
/// write that never left the process, a transient store error the delivery is retried for.
pub fn crashed(
    result: &Result<verdict_parse_fn::ingest::Outcome, verdict_parse_fn::ingest::Retry>,
) -> bool {
    matches!(
        result,
        Err(verdict_parse_fn::ingest::Retry::Store(err))
            if err.is_transient() && err.to_string().contains("injected crash")
    )
}
