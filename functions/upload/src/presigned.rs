//! Uploads through a presigned S3 PUT: `POST /v1/uploads` registers a file and answers with
//! the URL for its bytes; `GET /v1/uploads/{file_id}` tells what became of it.

use crate::access::uploader;
use crate::register::register;
use crate::validate::{
    check_file_name, check_format, check_metadata, check_overrides, check_sha256,
};
use crate::Limits;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use verdict_http::present::{file_json, run_ref};
use verdict_http::{authenticate, body_bytes, json, ApiError};
use verdict_model::{RunMetadata, TestOverride};
use verdict_store::{now_ms, FileId, FileRef, NewFile, Scope, Store};

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

pub(crate) async fn create_upload(
    store: &Store,
    limits: &Limits,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let (token, project) = uploader(store, limits, request).await?;
    let body: UploadRequest =
        serde_json::from_slice(body_bytes(request)).map_err(|e| ApiError::invalid("body", e))?;
    let run = run_ref(&token.project, &body.run_key)?;
    check_file_name(&body.file_name)?;
    check_sha256(body.sha256.as_deref())?;
    check_format(body.format.as_deref())?;
    check_metadata(&body.metadata, &token.project)?;
    check_overrides(&body.test_overrides)?;
    if body.size > limits.max_upload_bytes {
        return Err(ApiError::too_large(format!(
            "size {} is over the limit of {} bytes",
            body.size, limits.max_upload_bytes
        )));
    }
    let file = FileRef {
        run,
        file_id: FileId::random(),
    };
    let now = now_ms();
    register(
        store,
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
    let presigned = store
        .presign_put(&file.object_key(), body.size, limits.presign_ttl)
        .await?;
    let headers: serde_json::Map<String, serde_json::Value> = presigned
        .headers
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    let expires_ms = now + u64::try_from(limits.presign_ttl.as_millis()).unwrap_or(0);
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

pub(crate) async fn upload_state(
    store: &Store,
    request: &Request,
    file_id: &str,
) -> Result<Response<Body>, ApiError> {
    let token = authenticate(store, request, &[Scope::Upload, Scope::Read]).await?;
    let file_id = FileId::parse(file_id).map_err(|_| ApiError::not_found("upload"))?;
    let item = store
        .find_file(&token.project, &file_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("upload {file_id}")))?;
    Ok(json(StatusCode::OK, &file_json(&item)))
}
