//! The upload path through real HTTP on the local stack: the API served by the local server,
//! presigned PUTs checked by SeaweedFS, the parse trigger running.

use serde_json::{json, Value};
use std::time::Duration;
use verdict_tests::{bearer, http, LocalApi};
use verdict_upload_fn::Limits;

const REPORT: &[u8] = b"<testsuite name=\"s\"><testcase classname=\"a.B\" name=\"ok\" time=\"0.5\"/><testcase classname=\"a.B\" name=\"bad\"><failure message=\"boom\"/></testcase></testsuite>";

fn json_body(value: &Value) -> (Vec<(String, String)>, Option<Vec<u8>>) {
    (
        vec![("Content-Type".into(), "application/json".into())],
        Some(serde_json::to_vec(value).unwrap()),
    )
}

async fn create(api: &LocalApi, token: &str, body: &Value) -> (u16, Value) {
    let (mut headers, body) = json_body(body);
    headers.extend(bearer(token));
    http("POST", &format!("{}/v1/uploads", api.base), headers, body).await
}

async fn put(created: &Value, bytes: &[u8]) -> u16 {
    let headers: Vec<(String, String)> = created["headers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("content-length"))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    http(
        "PUT",
        created["url"].as_str().unwrap(),
        headers,
        Some(bytes.to_vec()),
    )
    .await
    .0
}

async fn state_until_settled(api: &LocalApi, token: &str, file_id: &str) -> Value {
    for _ in 0..100 {
        let (status, state) = http(
            "GET",
            &format!("{}/v1/uploads/{file_id}", api.base),
            bearer(token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{state}");
        if matches!(
            state["state"].as_str(),
            Some("done" | "failed" | "duplicate")
        ) {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("file {file_id} never settled");
}

fn upload_request(run_key: &str, size: usize) -> Value {
    json!({"run_key": run_key, "file_name": "report.xml", "size": size,
           "metadata": {"branch": "main", "commit_sha": "abc123", "trigger": "ci"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn presigned_upload_is_parsed_and_its_state_visible() {
    let api = LocalApi::start(Limits::default()).await;
    let (status, created) = create(
        &api,
        &api.upload_token,
        &upload_request("build-1", REPORT.len()),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["method"], "PUT");
    assert!(created["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(put(&created, REPORT).await, 200);
    let file_id = created["file_id"].as_str().unwrap();
    let state = state_until_settled(&api, &api.read_token, file_id).await;
    assert_eq!(state["state"], "done", "{state}");
    assert_eq!(state["counts"]["tests"], 2);
    assert_eq!(state["counts"]["failed"], 1);
    assert_eq!(state["format"], "junit");

    // Test overrides (a sidecar's) reach the test they name.
    let ok = verdict_model::test_id(&verdict_model::TestIdentity {
        suite: "s",
        classname: "a.B",
        file: None,
        name: "ok",
    });
    let mut body = upload_request("build-2", REPORT.len());
    body["test_overrides"] = json!({ ok.clone(): {"tags": ["smoke"], "owner": "team-a"} });
    let (status, created) = create(&api, &api.upload_token, &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(put(&created, REPORT).await, 200);
    state_until_settled(&api, &api.read_token, created["file_id"].as_str().unwrap()).await;
    let (status, test) = http(
        "GET",
        &format!("{}/v1/runs/build-2/tests/{ok}", api.base),
        bearer(&api.read_token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{test}");
    assert_eq!(
        (test["tags"].clone(), test["owner"].clone()),
        (json!(["smoke"]), json!("team-a"))
    );
    body["test_overrides"] = json!({"not-a-test-id": {"owner": "x"}});
    assert_eq!(create(&api, &api.upload_token, &body).await.0, 400);

    // The URL signs the size and forbids overwriting; an expired one is refused by the store.
    let (_, other) = create(&api, &api.upload_token, &upload_request("build-1", 10)).await;
    assert_eq!(put(&other, b"0123456789abcdef").await, 403, "another size");
    assert_eq!(put(&other, b"0123456789").await, 200);
    assert_eq!(put(&other, b"0123456789").await, 412, "second PUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_url_is_refused() {
    let api = LocalApi::start(Limits {
        presign_ttl: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let (_, created) = create(
        &api,
        &api.upload_token,
        &upload_request("build-1", REPORT.len()),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(put(&created, REPORT).await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn direct_upload_with_wait_answers_with_the_summary() {
    let api = LocalApi::start(Limits::default()).await;
    let mut headers = bearer(&api.upload_token);
    headers.push(("Content-Type".into(), "application/xml".into()));
    let (status, body) = http(
        "POST",
        &format!(
            "{}/v1/runs/build-7/files?wait=20&name=r.xml&branch=main",
            api.base
        ),
        headers,
        Some(REPORT.to_vec()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["tests"], 2);
    assert_eq!(body["summary"]["failed"], 1);
    assert_eq!(body["files"][0]["name"], "r.xml");

    // Multipart: two files and the metadata as form fields; without wait, 202 and the ids.
    let boundary = "verdict-boundary";
    let mut multipart = Vec::new();
    for (name, filename, content) in [
        ("branch", None, &b"main"[..]),
        ("file", Some("one.xml"), REPORT),
        (
            "file",
            Some("two.xml"),
            b"<testsuite><testcase classname=\"x\" name=\"y\"/></testsuite>",
        ),
    ] {
        multipart.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
        );
        if let Some(f) = filename {
            multipart.extend(format!("; filename=\"{f}\"").as_bytes());
        }
        multipart.extend(b"\r\n\r\n");
        multipart.extend(content);
        multipart.extend(b"\r\n");
    }
    multipart.extend(format!("--{boundary}--\r\n").as_bytes());
    let mut headers = bearer(&api.upload_token);
    headers.push((
        "Content-Type".into(),
        format!("multipart/form-data; boundary={boundary}"),
    ));
    let (status, body) = http(
        "POST",
        &format!("{}/v1/runs/build-8/files", api.base),
        headers,
        Some(multipart),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["file_ids"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_scopes_and_projects_are_enforced() {
    let api = LocalApi::start(Limits::default()).await;
    let body = upload_request("build-1", 10);
    assert_eq!(create(&api, "vdt_nonsense", &body).await.0, 401);
    let (headers, json) = json_body(&body);
    let (status, error) = http("POST", &format!("{}/v1/uploads", api.base), headers, json).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(
        create(&api, &api.read_token, &body).await.0,
        403,
        "read token cannot upload"
    );

    let (_, created) = create(&api, &api.upload_token, &body).await;
    let file_id = created["file_id"].as_str().unwrap();
    let (status, _) = http(
        "GET",
        &format!("{}/v1/uploads/{file_id}", api.base),
        bearer(&api.other_token),
        None,
    )
    .await;
    assert_eq!(status, 404, "another project's file");
    let (status, state) = http(
        "GET",
        &format!("{}/v1/uploads/{file_id}", api.base),
        bearer(&api.upload_token),
        None,
    )
    .await;
    assert_eq!((status, state["state"].as_str()), (200, Some("pending")));

    // Revoked tokens stop working at once.
    let acme = verdict_store::ProjectName::parse("acme").unwrap();
    let tokens = api.store.list_tokens(&acme).await.unwrap();
    let upload = tokens
        .iter()
        .find(|t| t.scope == verdict_store::Scope::Upload)
        .unwrap();
    api.store
        .revoke_token(&acme, &upload.token_id)
        .await
        .unwrap();
    assert_eq!(create(&api, &api.upload_token, &body).await.0, 401);

    // A disabled project answers 503.
    let other = verdict_store::ProjectName::parse("other").unwrap();
    api.store
        .update_project(&other, None, Some(false))
        .await
        .unwrap();
    let (status, error) = create(&api, &api.other_token, &body).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (503, Some("unavailable"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_requests_are_refused_naming_the_field() {
    let api = LocalApi::start(Limits {
        max_upload_bytes: 1000,
        ..Limits::default()
    })
    .await;
    for run_key in ["../x", "a#b", "a%2Fb", "a b", "tab\t", &"k".repeat(2048)] {
        let (status, error) = create(&api, &api.upload_token, &upload_request(run_key, 10)).await;
        assert_eq!(status, 400, "{run_key:?}: {error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("run_key"),
            "{error}"
        );
    }
    let (status, error) = create(&api, &api.upload_token, &upload_request("ok", 1001)).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (413, Some("too_large"))
    );
    let mut body = upload_request("ok", 10);
    body["metadata"]["branch"] = "b".repeat(5000).into();
    let (status, error) = create(&api, &api.upload_token, &body).await;
    assert_eq!(status, 400);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("metadata.branch"),
        "{error}"
    );
    let mut body = upload_request("ok", 10);
    body["metadata"]["no_such_field"] = "x".into();
    assert_eq!(create(&api, &api.upload_token, &body).await.0, 400);
    let mut body = upload_request("ok", 10);
    body["format"] = "excel".into();
    assert_eq!(create(&api, &api.upload_token, &body).await.0, 400);
    let (status, _) = http(
        "GET",
        &format!("{}/v1/nothing", api.base),
        bearer(&api.upload_token),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_malformed_report_ends_failed_with_a_readable_error() {
    let api = LocalApi::start(Limits::default()).await;
    let bad = b"<testsuite>\n<testcase name=\"a\">\n</testsuit>\n";
    let (_, created) = create(
        &api,
        &api.upload_token,
        &upload_request("build-1", bad.len()),
    )
    .await;
    assert_eq!(put(&created, bad).await, 200);
    let state = state_until_settled(
        &api,
        &api.upload_token,
        created["file_id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(state["state"], "failed", "{state}");
    assert_eq!(state["error"]["kind"], "malformed");
    assert_eq!(state["error"]["line"], 3);
    assert!(
        state["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 3"),
        "{state}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_project_over_its_rate_gets_429() {
    let api = LocalApi::start(Limits {
        rate_per_minute: 3,
        ..Limits::default()
    })
    .await;
    let body = upload_request("build-1", 10);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(create(&api, &api.upload_token, &body).await.0);
    }
    // The minute may roll over between requests; at least one request is over the budget.
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s == 201).count() >= 3,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sample_api_gateway_events_reach_the_handler() {
    let api = LocalApi::start(Limits::default()).await;
    let app = verdict_upload_fn::App {
        store: api.store.clone().serving("upload"),
        limits: Limits::default(),
    };
    for name in ["apigw-create-upload.json", "apigw-get-upload.json"] {
        let text =
            std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let request = lambda_http::request::from_str(&text).unwrap();
        let response = verdict_upload_fn::handle(&app, request).await;
        // The sample token is well formed but unknown: the route is found and authentication runs.
        assert_eq!(response.status(), 401, "{name}");
    }
}
