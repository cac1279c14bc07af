//! The upload function:
//! - `POST /v1/uploads` registers a file and answers with a presigned S3 PUT for its bytes;
//! - `POST /v1/runs/{run_key}/files` takes small files in the request itself (raw or multipart),
//!   optionally waiting (`?wait=SECS`) until they are parsed;
//! - `GET /v1/uploads/{file_id}` tells what became of a file.
//!
//! The project always comes from the token. Errors map to statuses in `verdict_http`.

mod multipart;

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use verdict_http::{authenticate, body_bytes, json, query_param, respond, ApiError};
use verdict_model::{RunMetadata, Summary, TestOverride};
use verdict_store::{
    now_ms, FileId, FileItem, FileRef, NewFile, Project, RunKey, RunRef, Scope, Store, TokenInfo,
};

/// What the function accepts; set from the environment on Lambda.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest declared size of a presigned upload (`VERDICT_MAX_UPLOAD_BYTES`, default 1 GiB).
    pub max_upload_bytes: u64,
    /// Largest body of a direct upload (5 MB: Lambda's 6 MB payload limit leaves room).
    pub max_direct_bytes: usize,
    /// How long a presigned URL lives (at most 15 minutes).
    pub presign_ttl: Duration,
    /// Requests per project per minute (`VERDICT_RATE_PER_MINUTE`, default 600).
    pub rate_per_minute: u32,
    /// Longest `?wait=` honoured, in seconds.
    pub max_wait_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_upload_bytes: 1 << 30,
            max_direct_bytes: 5 * 1000 * 1000,
            presign_ttl: Duration::from_secs(15 * 60),
            rate_per_minute: 600,
            max_wait_seconds: 30,
        }
    }
}

impl Limits {
    pub fn from_env() -> Result<Limits, String> {
        let mut limits = Limits::default();
        let number = |name: &str| -> Result<Option<u64>, String> {
            std::env::var(name)
                .ok()
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("{name}={v:?} is not a number"))
                })
                .transpose()
        };
        if let Some(v) = number("VERDICT_MAX_UPLOAD_BYTES")? {
            limits.max_upload_bytes = v;
        }
        if let Some(v) = number("VERDICT_RATE_PER_MINUTE")? {
            limits.rate_per_minute = u32::try_from(v).map_err(|e| e.to_string())?;
        }
        Ok(limits)
    }
}

pub struct App {
    pub store: Store,
    pub limits: Limits,
}

/// Handles one HTTP request.
pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(route(app, &request).await)
}

async fn route(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let path: Vec<&str> = request.uri().path().trim_matches('/').split('/').collect();
    let method = request.method();
    match (method, path.as_slice()) {
        (&Method::POST, ["v1", "uploads"]) => create_upload(app, request).await,
        (&Method::GET, ["v1", "uploads", file_id]) => upload_state(app, request, file_id).await,
        (&Method::POST, ["v1", "runs", run_key, "files"]) => {
            direct_upload(app, request, run_key).await
        }
        (_, ["v1", "uploads"] | ["v1", "uploads", _] | ["v1", "runs", _, "files"]) => {
            Err(ApiError::method_not_allowed())
        }
        _ => Err(ApiError::not_found(format!(
            "path {}",
            request.uri().path()
        ))),
    }
}

/// Authenticates an upload-scoped request and checks the project may ingest now; returns the
/// token and its project.
async fn uploader(app: &App, request: &Request) -> Result<(TokenInfo, Project), ApiError> {
    let token = authenticate(&app.store, request, &[Scope::Upload]).await?;
    let project = app
        .store
        .get_project(&token.project)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if !project.enabled {
        return Err(ApiError::unavailable(format!(
            "ingestion is switched off for project {}",
            project.name
        )));
    }
    if !app
        .store
        .take_rate(&token.project, now_ms(), app.limits.rate_per_minute)
        .await?
    {
        return Err(ApiError::rate_limited(format!(
            "more than {} requests a minute for project {}; retry in a minute",
            app.limits.rate_per_minute, token.project
        )));
    }
    Ok((token, project))
}

/// `POST /v1/uploads` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadRequest {
    run_key: String,
    file_name: String,
    size: u64,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    metadata: RunMetadata,
    /// Tags and owners for tests of this file, by test id (a sidecar's `test_overrides`).
    #[serde(default)]
    test_overrides: BTreeMap<String, TestOverride>,
}

const MAX_FILE_NAME: usize = 255;
const MAX_FIELD: usize = 1024;
const MAX_MESSAGE: usize = 4096;
const MAX_TAGS: usize = 50;

fn check_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.len() > max {
        return Err(ApiError::invalid(field, format!("longer than {max} bytes")));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Bounds every metadata field; the project comes from the token, never from the request.
fn check_metadata(metadata: &RunMetadata, token: &TokenInfo) -> Result<(), ApiError> {
    if metadata
        .project
        .as_deref()
        .is_some_and(|p| p != token.project.as_str())
    {
        return Err(ApiError::invalid(
            "metadata.project",
            "the project comes from the token",
        ));
    }
    let fields = [
        ("metadata.branch", &metadata.branch),
        ("metadata.commit_sha", &metadata.commit_sha),
        ("metadata.build_number", &metadata.build_number),
        ("metadata.build_url", &metadata.build_url),
        ("metadata.ci_provider", &metadata.ci_provider),
        ("metadata.job_id", &metadata.job_id),
        (
            "metadata.environment_fingerprint",
            &metadata.environment_fingerprint,
        ),
        ("metadata.agent_session_id", &metadata.agent_session_id),
    ];
    for (field, value) in fields {
        if let Some(v) = value {
            check_text(field, v, MAX_FIELD)?;
        }
    }
    if let Some(m) = &metadata.commit_message {
        check_text("metadata.commit_message", m, MAX_MESSAGE)?;
    }
    if metadata.tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(
            "metadata.tags",
            format!("more than {MAX_TAGS} tags"),
        ));
    }
    for (k, v) in &metadata.tags {
        check_text("metadata.tags", k, 128)?;
        check_text("metadata.tags", v, 256)?;
    }
    Ok(())
}

const MAX_OVERRIDES_BYTES: usize = 64 * 1024;

/// Test overrides: 64-hex test ids, bounded tags and owners, 64 KiB in all (they are stored on
/// the file item).
fn check_overrides(overrides: &BTreeMap<String, TestOverride>) -> Result<(), ApiError> {
    let size = serde_json::to_string(overrides).map_or(usize::MAX, |s| s.len());
    if size > MAX_OVERRIDES_BYTES {
        return Err(ApiError::invalid(
            "test_overrides",
            format!("larger than {MAX_OVERRIDES_BYTES} bytes"),
        ));
    }
    for (test_id, o) in overrides {
        if !verdict_model::is_test_id(test_id) {
            return Err(ApiError::invalid(
                "test_overrides",
                format!("{test_id:?} is not a test id"),
            ));
        }
        for tag in &o.tags {
            check_text("test_overrides.tags", tag, 128)?;
        }
        if let Some(owner) = &o.owner {
            check_text("test_overrides.owner", owner, 256)?;
        }
    }
    Ok(())
}

fn check_file_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::invalid("file_name", "is empty"));
    }
    check_text("file_name", name, MAX_FILE_NAME)
}

fn check_format(format: Option<&str>) -> Result<(), ApiError> {
    match format {
        None | Some("auto") => Ok(()),
        Some(f) if verdict_formats::Format::parse(f).is_some() => Ok(()),
        Some(f) => Err(ApiError::invalid(
            "format",
            format!("{f:?} is not one of auto, {}", format_names()),
        )),
    }
}

fn format_names() -> String {
    verdict_formats::Format::ALL
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_sha256(sha: Option<&str>) -> Result<(), ApiError> {
    match sha {
        Some(s) if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Err(ApiError::invalid("sha256", "must be 64 hex digits"))
        }
        _ => Ok(()),
    }
}

fn run_ref(token: &TokenInfo, run_key: &str) -> Result<RunRef, ApiError> {
    Ok(RunRef {
        project: token.project.clone(),
        run_key: RunKey::parse(run_key).map_err(|e| ApiError::invalid("run_key", e))?,
    })
}

async fn create_upload(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let (token, project) = uploader(app, request).await?;
    let body: UploadRequest =
        serde_json::from_slice(body_bytes(request)).map_err(|e| ApiError::invalid("body", e))?;
    let run = run_ref(&token, &body.run_key)?;
    check_file_name(&body.file_name)?;
    check_sha256(body.sha256.as_deref())?;
    check_format(body.format.as_deref())?;
    check_metadata(&body.metadata, &token)?;
    check_overrides(&body.test_overrides)?;
    if body.size > app.limits.max_upload_bytes {
        return Err(ApiError::too_large(format!(
            "size {} is over the limit of {} bytes",
            body.size, app.limits.max_upload_bytes
        )));
    }
    let file = FileRef {
        run,
        file_id: FileId::random(),
    };
    let now = now_ms();
    app.store
        .register_file(
            &NewFile {
                file: file.clone(),
                name: body.file_name,
                size: body.size,
                sha256: body.sha256.map(|s| s.to_ascii_lowercase()),
                format: body.format,
                metadata: body.metadata,
                test_overrides: body.test_overrides,
                retention_days: project.retention_days,
            },
            now,
        )
        .await?;
    let presigned = app
        .store
        .presign_put(&file.object_key(), body.size, app.limits.presign_ttl)
        .await?;
    let headers: serde_json::Map<String, serde_json::Value> = presigned
        .headers
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    let expires_ms = now + u64::try_from(app.limits.presign_ttl.as_millis()).unwrap_or(0);
    Ok(json(
        StatusCode::CREATED,
        &json!({
            "file_id": file.file_id.as_str(),
            "run_id": file.run.run_key.as_str(),
            "url": presigned.url,
            "method": presigned.method,
            "headers": headers,
            "expires_at": verdict_http::rfc3339(expires_ms),
        }),
    ))
}

fn file_json(item: &FileItem) -> serde_json::Value {
    json!({
        "file_id": item.file.file_id.as_str(),
        "run_id": item.file.run.run_key.as_str(),
        "name": item.name,
        "size": item.size,
        "state": item.state.as_str(),
        "format": item.format,
        "sha256": item.sha256,
        "counts": item.counts,
        "warnings": item.warnings,
        "duplicate_of": item.duplicate_of.as_ref().map(|f| f.as_str().to_string()),
        "error": item.error.as_ref().map(|e| json!({
            "kind": e.kind, "message": e.message, "line": e.line, "column": e.column, "offset": e.offset,
        })),
        "created_at": verdict_http::rfc3339(item.created_ms),
    })
}

async fn upload_state(
    app: &App,
    request: &Request,
    file_id: &str,
) -> Result<Response<Body>, ApiError> {
    let token = authenticate(&app.store, request, &[Scope::Upload, Scope::Read]).await?;
    let file_id = FileId::parse(file_id).map_err(|_| ApiError::not_found("upload"))?;
    let item = app
        .store
        .find_file(&token.project, &file_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("upload {file_id}")))?;
    Ok(json(StatusCode::OK, &file_json(&item)))
}

/// One file of a direct upload.
struct DirectFile<'a> {
    name: String,
    bytes: &'a [u8],
}

async fn direct_upload(
    app: &App,
    request: &Request,
    run_key: &str,
) -> Result<Response<Body>, ApiError> {
    let (token, project) = uploader(app, request).await?;
    let run = run_ref(&token, run_key)?;
    let body = body_bytes(request);
    if body.len() > app.limits.max_direct_bytes {
        return Err(ApiError::too_large(format!(
            "a direct upload takes at most {} bytes; use POST /v1/uploads for larger files",
            app.limits.max_direct_bytes
        )));
    }
    let wait = query_param(request, "wait")
        .map(|w| {
            w.parse::<u64>()
                .map_err(|_| ApiError::invalid("wait", "must be seconds"))
        })
        .transpose()?
        .map(|w| w.min(app.limits.max_wait_seconds));
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut files = Vec::new();
    if let Some(boundary) = multipart::boundary(content_type) {
        for part in multipart::parse(body, boundary).map_err(|e| ApiError::invalid("body", e))? {
            match part.filename {
                Some(name) => files.push(DirectFile {
                    name,
                    bytes: part.body,
                }),
                None => fields.push((
                    part.name,
                    String::from_utf8(part.body.to_vec())
                        .map_err(|_| ApiError::invalid("body", "a form field is not UTF-8"))?,
                )),
            }
        }
    } else {
        use lambda_http::RequestExt;
        if let Some(query) = request.query_string_parameters_ref() {
            for (k, v) in query.iter() {
                fields.push((k.to_string(), v.to_string()));
            }
        }
        let name = fields
            .iter()
            .find(|(k, _)| k == "name")
            .map_or_else(|| "report".to_string(), |(_, v)| v.clone());
        files.push(DirectFile { name, bytes: body });
    }
    if files.is_empty() {
        return Err(ApiError::invalid("body", "no file in the request"));
    }
    let (metadata, format) = metadata_from_fields(&fields)?;
    check_metadata(&metadata, &token)?;
    check_format(format.as_deref())?;
    let retention = project.retention_days;
    let mut ids = Vec::new();
    for file in &files {
        check_file_name(&file.name)?;
    }
    for file in files {
        let file_ref = FileRef {
            run: run.clone(),
            file_id: FileId::random(),
        };
        app.store
            .register_file(
                &NewFile {
                    file: file_ref.clone(),
                    name: file.name,
                    size: file.bytes.len() as u64,
                    sha256: None,
                    format: format.clone(),
                    metadata: metadata.clone(),
                    test_overrides: BTreeMap::new(),
                    retention_days: retention,
                },
                now_ms(),
            )
            .await?;
        app.store
            .put_raw(&file_ref.object_key(), file.bytes.to_vec())
            .await?;
        ids.push(file_ref.file_id);
    }
    let Some(seconds) = wait else {
        return Ok(accepted(&run, &ids));
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let files = app.store.list_files(&run).await?;
        let ours: Vec<&FileItem> = files
            .iter()
            .filter(|f| ids.contains(&f.file.file_id))
            .collect();
        if ours.iter().all(|f| f.state.is_settled()) {
            let summary = app
                .store
                .get_run(&run)
                .await?
                .map(|r| r.summary)
                .unwrap_or_default();
            return Ok(json(
                StatusCode::OK,
                &json!({
                    "run_id": run.run_key.as_str(),
                    "summary": summary_json(&summary),
                    "files": ours.iter().map(|f| file_json(f)).collect::<Vec<_>>(),
                }),
            ));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(accepted(&run, &ids));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn summary_json(summary: &Summary) -> serde_json::Value {
    serde_json::to_value(summary).unwrap_or_default()
}

fn accepted(run: &RunRef, ids: &[FileId]) -> Response<Body> {
    json(
        StatusCode::ACCEPTED,
        &json!({
            "run_id": run.run_key.as_str(),
            "file_ids": ids.iter().map(FileId::as_str).collect::<Vec<_>>(),
        }),
    )
}

/// Run metadata and format from form fields (or query parameters) named like the JSON fields.
fn metadata_from_fields(
    fields: &[(String, String)],
) -> Result<(RunMetadata, Option<String>), ApiError> {
    let mut metadata = serde_json::Map::new();
    let mut tags = serde_json::Map::new();
    let mut format = None;
    for (key, value) in fields {
        match key.as_str() {
            "name" | "wait" => {}
            "format" => format = Some(value.clone()),
            k if k.starts_with("tag.") => {
                tags.insert(k["tag.".len()..].to_string(), value.clone().into());
            }
            k => {
                metadata.insert(k.to_string(), value.clone().into());
            }
        }
    }
    if !tags.is_empty() {
        metadata.insert("tags".into(), tags.into());
    }
    let metadata =
        serde_json::from_value(metadata.into()).map_err(|e| ApiError::invalid("metadata", e))?;
    Ok((metadata, format))
}

/// The route table, for the infrastructure check: method and path pattern of every route.
pub const ROUTES: [(&str, &str); 3] = [
    ("POST", "/v1/uploads"),
    ("GET", "/v1/uploads/{file_id}"),
    ("POST", "/v1/runs/{run_key}/files"),
];

#[cfg(test)]
mod tests {
    use super::*;

    async fn app() -> App {
        App {
            // Never reached: every request below stops before the store.
            store: Store::unreachable().await,
            limits: Limits::default(),
        }
    }

    fn request(method: &str, path: &str) -> Request {
        lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::Empty)
            .unwrap()
    }

    #[tokio::test]
    async fn routes_is_exactly_what_the_router_serves() {
        let app = app().await;
        for (method, path) in ROUTES {
            let path = path
                .replace("{file_id}", "0123456789abcdef0123456789abcdef")
                .replace("{run_key}", "build-1");
            // Served: authentication runs (and fails without a token).
            assert_eq!(
                handle(&app, request(method, &path)).await.status(),
                401,
                "{method} {path}"
            );
            // Another method on a served path is 405, not 404.
            let other = if method == "GET" { "POST" } else { "GET" };
            assert_eq!(
                handle(&app, request(other, &path)).await.status(),
                405,
                "{other} {path}"
            );
        }
        for (method, path) in [
            ("GET", "/v1/uploadz"),
            ("POST", "/v1/runs/x/other"),
            ("GET", "/"),
        ] {
            assert_eq!(
                handle(&app, request(method, path)).await.status(),
                404,
                "{method} {path}"
            );
        }
    }
}
