//! The failure branches of the handlers, in process: each store answers from a script, in
//! AWS's wire format, what AWS would answer (throttling, a cancelled transaction, a lost
//! lease), and the deployed handler code runs against it. No engine is needed.

use lambda_http::{Body, Request};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use verdict_parse_fn::ingest::{Ingest, Retry, Settings};
use verdict_store::{Answer, Store};
use verdict_tests::json_of;

const TOKEN: &str = "vdt_00000000000000000000000000000000000000000000000000000000000000aa";
const FILE_ID: &str = "0123456789abcdef0123456789abcdef";

/// The key a DynamoDB request names (`Key.pk`), or "".
fn pk(body: &Value) -> &str {
    body["Key"]["pk"]["S"].as_str().unwrap_or_default()
}

fn s(text: &str) -> Value {
    json!({ "S": text })
}

/// What a token lookup finds for [`TOKEN`], with `scope`.
fn token_item(scope: &str) -> Answer {
    let hash = hex::encode(Sha256::digest(TOKEN.as_bytes()));
    Answer::ok(&json!({"Item": {
        "hash": s(&hash), "project": s("acme"), "token_id": s("abc"), "scope": s(scope),
        "created_ms": {"N": "0"}, "revoked": {"BOOL": false},
    }}))
}

fn project_item() -> Answer {
    Answer::ok(&json!({"Item": {
        "project": s("acme"), "retention_days": {"N": "90"}, "enabled": {"BOOL": true},
        "created_ms": {"N": "0"},
    }}))
}

/// A transaction cancelled for these reasons, one per item (`None`: the item was fine).
fn cancelled(reasons: &[&str]) -> Answer {
    let reasons: Vec<Value> = reasons.iter().map(|code| json!({"Code": code})).collect();
    Answer::error(
        "TransactionCanceledException",
        json!({ "CancellationReasons": reasons }),
    )
}

fn throttled() -> Answer {
    Answer::error("ThrottlingException", json!({}))
}

fn request(method: &str, path: &str, body: &Value) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn response_of(response: lambda_http::Response<Body>) -> (u16, Value) {
    (response.status().as_u16(), json_of(response.body()))
}

async fn upload(store: Store, body: Value) -> (u16, Value) {
    let app = verdict_upload_fn::App {
        store,
        limits: verdict_upload_fn::Limits::default(),
    };
    response_of(verdict_upload_fn::handle(&app, request("POST", "/v1/uploads", &body)).await).await
}

fn new_upload() -> Value {
    json!({"run_key": "build-1", "file_name": "report.xml", "size": 100})
}

/// An uploader's requests up to registering its file, answered as AWS answers a valid token of
/// an enabled project within its rate.
fn uploader(operation: &str, body: &Value) -> Option<Answer> {
    match (operation, pk(body)) {
        ("GetItem", key) if key.starts_with("K#") => Some(token_item("upload")),
        ("GetItem", "PROJECTS") => Some(project_item()),
        ("UpdateItem", key) if key.starts_with("RATE#") => Some(Answer::ok(&json!({}))),
        _ => None,
    }
}

#[tokio::test]
async fn a_file_id_already_registered_answers_409() {
    let store = Store::scripted(|operation, body| {
        uploader(operation, body).unwrap_or_else(|| match operation {
            // The file item's condition (`attribute_not_exists(pk)`) failed.
            "TransactWriteItems" => cancelled(&["None", "ConditionalCheckFailed", "None"]),
            other => panic!("unexpected {other}"),
        })
    });
    let (status, body) = upload(store, new_upload()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already registered"),
        "{body}"
    );
}

#[tokio::test]
async fn a_throttled_table_answers_503_and_a_refused_call_500() {
    let store = Store::scripted(|_, _| throttled());
    let (status, body) = upload(store, new_upload()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable"))
    );

    let store = Store::scripted(|operation, body| {
        uploader(operation, body)
            .unwrap_or_else(|| Answer::error("AccessDeniedException", json!({})))
    });
    let (status, body) = upload(store, new_upload()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (500, Some("internal")),
        "{body}"
    );
    assert!(
        !body.to_string().contains("AccessDenied"),
        "the cause is logged, not shown"
    );
}

#[tokio::test]
async fn a_query_whose_read_is_throttled_answers_503() {
    let store = Store::scripted(|operation, body| match (operation, pk(body)) {
        ("GetItem", key) if key.starts_with("K#") => token_item("read"),
        _ => throttled(),
    });
    let app = verdict_query_fn::App {
        store,
        cursor_key: verdict_query_fn::CursorKey::new([3; 32]),
        answer_within: verdict_query_fn::ANSWER_WITHIN,
    };
    for path in [
        "/v1/runs",
        "/v1/runs/build-1",
        "/v1/runs/build-1/tests",
        "/v1/stats",
    ] {
        let response = verdict_query_fn::handle(&app, request("GET", path, &Value::Null)).await;
        let (status, body) = response_of(response).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some("unavailable")),
            "{path}"
        );
    }
    // A run key that cannot name a run is an invalid request, on every route that takes one.
    let response =
        verdict_query_fn::handle(&app, request("GET", "/v1/runs/a%23b", &Value::Null)).await;
    let (status, body) = response_of(response).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
}

const REPORT: &str = "<testsuite name=\"s\"><testcase classname=\"a.B\" name=\"ok\"/></testsuite>";

/// The file item of [`FILE_ID`] in `state`, leased to `owner`.
fn file_item(state: &str, owner: &str) -> Value {
    json!({
        "pk": s("R#acme#build-1"), "sk": s(&format!("F#{FILE_ID}")), "project": s("acme"),
        "run_key": s("build-1"), "file_id": s(FILE_ID), "name": s("r.xml"), "size": {"N": "70"},
        "state": s(state), "created_ms": {"N": "0"}, "claims": {"N": "1"},
        "lease_owner": s(owner), "lease_until": {"N": "99999999999999"},
    })
}

#[tokio::test]
async fn an_ingest_whose_lease_was_taken_over_before_its_commit_is_retried() {
    let store = Store::scripted(|operation, body| {
        let sk = body["Key"]["sk"]["S"].as_str().unwrap_or_default();
        match operation {
            "GetItem" if sk == "RUN" => Answer::ok(&json!({"Item": {
                "project": s("acme"), "run_key": s("build-1"), "created_ms": {"N": "0"},
                "files_registered": {"N": "1"}, "exclusive_writer": s(FILE_ID),
            }})),
            // Another invocation took the file over: it is still `processing`, not ours.
            "GetItem" => Answer::ok(&json!({"Item": file_item("processing", "the-other")})),
            "UpdateItem" if sk.starts_with("F#") => {
                Answer::ok(&json!({"Attributes": file_item("processing", "ours")}))
            }
            "UpdateItem" | "PutItem" | "BatchWriteItem" => Answer::ok(&json!({})),
            // The file's condition (`lease_owner` is ours) failed.
            "TransactWriteItems" => cancelled(&["ConditionalCheckFailed", "None"]),
            s3 if s3.starts_with("S3 GET") => Answer {
                status: 200,
                body: REPORT.to_string(),
            },
            other => panic!("unexpected {other}"),
        }
    });
    let ingest = Ingest::new(store, Settings::default());
    let result = ingest
        .ingest_key(&format!("raw/acme/build-1/{FILE_ID}"), "ours")
        .await;
    assert!(
        matches!(&result, Err(Retry::Read(reason)) if reason.contains("lost the lease")),
        "{result:?}"
    );
}
