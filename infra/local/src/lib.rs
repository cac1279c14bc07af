//! The local stack's glue: an HTTP server on loopback that hands each request to the same
//! handler the Lambda runs (converted to and from `lambda_http` types, as API Gateway does), and
//! a poller that plays S3's event notification by invoking the parse handler for every new
//! object under the raw prefix.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use lambda_http::{Body, RequestExt};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use verdict_parse_fn::ingest::Ingest;
use verdict_store::Store;

/// The API: each path goes to the function that serves it on AWS.
pub struct Api {
    pub upload: verdict_upload_fn::App,
    pub query: verdict_query_fn::App,
}

impl Api {
    /// The two HTTP functions, each with its own store (tests give each one that records
    /// its calls as that function's).
    pub fn new(upload: Store, query: Store, limits: verdict_upload_fn::Limits) -> Api {
        Api {
            upload: verdict_upload_fn::App {
                store: upload,
                limits,
            },
            query: verdict_query_fn::App {
                store: query,
                cursor_key: verdict_query_fn::CursorKey::new(verdict_store::random_bytes()),
                answer_within: verdict_query_fn::ANSWER_WITHIN,
            },
        }
    }

    async fn handle(&self, request: lambda_http::Request) -> lambda_http::Response<Body> {
        // Same split as the API Gateway routes in infra/template.yaml: the dashboard's pages and
        // assets go to the web function, the upload function's routes (method and path:
        // `GET /v1/uploads` is the query function's) to it, every other request to the query
        // function.
        let path = request.uri().path().to_string();
        let method = request.method().as_str().to_string();
        let upload = verdict_upload_fn::ROUTES
            .iter()
            .any(|(m, pattern)| *m == method && verdict_http::path_matches(pattern, &path));
        if method == "GET" && verdict_web_fn::serves(&path) {
            verdict_web_fn::handle(&request)
        } else if upload {
            verdict_upload_fn::handle(&self.upload, request).await
        } else {
            verdict_query_fn::handle(&self.query, request).await
        }
    }
}

fn query_map(query: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        map.entry(decode(k)).or_default().push(decode(v));
    }
    map
}

async fn to_lambda(
    request: hyper::Request<Incoming>,
) -> Result<lambda_http::Request, hyper::Error> {
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await?.to_bytes();
    let query = query_map(parts.uri.query());
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        Body::Binary(bytes.to_vec())
    };
    Ok(lambda_http::Request::from_parts(parts, body).with_query_string_parameters(query))
}

fn from_lambda(response: lambda_http::Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// Serves the API on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, api: Arc<Api>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let api = api.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let api = api.clone();
                async move {
                    let request = to_lambda(request).await?;
                    Ok::<_, hyper::Error>(from_lambda(api.handle(request).await))
                }
            });
            if let Err(err) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "connection ended");
            }
        });
    }
}

/// Plays S3's event notification: every `interval`, lists the raw prefix and the hand-offs and
/// invokes the parse handler with an S3 event for each object not seen before (retrying the
/// ones it asks to). Invocations run one at a time.
/// `store` lists the bucket as S3's notification would; `parse` is the parse function's.
pub async fn trigger_parse(store: Store, parse: Store, interval: Duration) {
    let ingest = Ingest::new(parse, verdict_parse_fn::ingest::Settings::default());
    let store = &store;
    let mut done: HashSet<String> = HashSet::new();
    let mut invocation = 0u64;
    loop {
        match new_objects(store, &done).await {
            Ok(new) => {
                for key in new {
                    invocation += 1;
                    let event = verdict_parse_fn::Event::S3(verdict_parse_fn::created_event(
                        store.bucket(),
                        std::slice::from_ref(&key),
                    ));
                    let request_id = format!("local-{invocation}");
                    match verdict_parse_fn::handle(&ingest, event, &request_id, None).await {
                        Ok(_) => {
                            done.insert(key);
                        }
                        Err(err) => tracing::warn!(key, error = %err, "parse will be retried"),
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "listing the bucket failed"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// The raw uploads and hand-offs not in `done`.
async fn new_objects(
    store: &Store,
    done: &HashSet<String>,
) -> Result<Vec<String>, verdict_store::StoreError> {
    let mut keys = store.list_raw_keys().await?;
    keys.extend(store.list_handoff_keys().await?);
    Ok(keys.into_iter().filter(|k| !done.contains(k)).collect())
}

const SAMPLES: [(&str, &str); 2] = [
    (
        "pytest.xml",
        include_str!("../../../events/samples/pytest.xml"),
    ),
    (
        "go-test.json",
        include_str!("../../../events/samples/go-test.json"),
    ),
];

/// A running local stack.
pub struct Dev {
    pub endpoint: String,
    pub upload_token: String,
    pub read_token: String,
    /// The dashboard, signed in with the read token.
    pub dashboard: String,
    /// What `make dev` prints: where it runs, the tokens, a `verdict upload` line to try.
    pub welcome: String,
}

/// Creates the table, the bucket, a `demo` project with an upload and a read token, writes the
/// tokens to `env_dir/dev.env`, starts the API on 127.0.0.1:`port` and the parse trigger, and
/// uploads sample reports (run `sample-1`), returning once they are settled. Everything runs on
/// spawned tasks.
pub async fn start_dev(
    config: &verdict_store::StoreConfig,
    port: u16,
    env_dir: &std::path::Path,
) -> Result<Dev, Box<dyn std::error::Error>> {
    use verdict_store::{now_ms, FileId, FileRef, NewFile, ProjectName, RunKey, RunRef, Scope};
    let store = Store::connect(config).await.keeping_windows();
    store.create_table().await?;
    store.create_bucket().await?;
    let project = ProjectName::parse("demo")?;
    store
        .create_project(&project, verdict_store::DEFAULT_RETENTION_DAYS, now_ms())
        .await?;
    let (upload_token, _) = store
        .create_token(&project, Scope::Upload, "make dev", now_ms())
        .await?;
    let (read_token, _) = store
        .create_token(&project, Scope::Read, "make dev", now_ms())
        .await?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    std::fs::create_dir_all(env_dir)?;
    let env_file = env_dir.join("dev.env");
    std::fs::write(
        &env_file,
        format!(
            "export VERDICT_ENDPOINT={endpoint}\nexport VERDICT_TOKEN={upload_token}\nexport VERDICT_READ_TOKEN={read_token}\n"
        ),
    )?;

    tokio::spawn(trigger_parse(
        store.clone(),
        store.clone(),
        Duration::from_millis(300),
    ));
    let api = Arc::new(Api::new(
        store.clone(),
        store.clone(),
        verdict_upload_fn::Limits::default(),
    ));
    tokio::spawn(serve(listener, api));

    let run = RunRef {
        project,
        run_key: RunKey::parse("sample-1")?,
    };
    for (name, text) in SAMPLES {
        let file = FileRef {
            run: run.clone(),
            file_id: FileId::random(),
        };
        let new = NewFile {
            file: file.clone(),
            name: name.into(),
            size: text.len() as u64,
            sha256: None,
            format: None,
            metadata: verdict_model::RunMetadata {
                branch: Some("main".into()),
                ..Default::default()
            },
            test_overrides: Default::default(),
            retention_days: verdict_store::DEFAULT_RETENTION_DAYS,
        };
        store.register_file(&new, now_ms()).await?;
        store
            .put_raw(&file.object_key(), text.as_bytes().to_vec())
            .await?;
    }
    // The welcome names the sample run and suggests a line that compares with it: it is
    // settled first (the trigger ingests it), or the line would race it.
    settled_within(&store, &run, Duration::from_secs(60)).await?;
    // The read token in the fragment, as `verdict admin token create --scope read` prints it.
    let dashboard = format!("{endpoint}/#token={read_token}");
    let welcome = format!(
        "Verdict is running at {endpoint}\n  dashboard: {dashboard}\n  project: demo (sample run: sample-1)\n  upload token: {upload_token}\n  read token:   {read_token}\n  (also in {}: `source {}`)\nTry:\n  {}\nCtrl-C stops everything.",
        env_file.display(),
        env_file.display(),
        try_line(&endpoint, &upload_token),
    );
    Ok(Dev {
        endpoint,
        upload_token,
        read_token,
        dashboard,
        welcome,
    })
}

/// Waits until every file registered to `run` is settled, for at most `limit`.
async fn settled_within(
    store: &Store,
    run: &verdict_store::RunRef,
    limit: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let run_now = store.get_run(run).await?;
        if run_now.is_some_and(|r| r.files_unsettled() == 0) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("run {} did not settle within {limit:?}", run.run_key).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `verdict upload` line `make dev` suggests.
pub fn try_line(endpoint: &str, token: &str) -> String {
    format!("target/debug/verdict upload --endpoint {endpoint} --token {token} --wait events/samples/pytest.xml")
}
