//! Direct uploads: `POST /v1/runs/{run_key}/files` takes small files in the request itself
//! (raw or multipart), optionally waiting (`?wait=SECS`) until they are parsed.

use crate::access::uploader;
use crate::register::register;
use crate::validate::{check_file_name, check_format, check_metadata};
use crate::{multipart, Limits};
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use verdict_http::present::{file_json, run_ref, summary_json};
use verdict_http::{body_bytes, json, query_param, ApiError};
use verdict_model::RunMetadata;
use verdict_store::{now_ms, FileId, FileItem, FileRef, NewFile, RunRef, Store};

/// One file of a direct upload.
struct DirectFile<'a> {
    name: String,
    bytes: &'a [u8],
}

pub(crate) async fn direct_upload(
    store: &Store,
    limits: &Limits,
    request: &Request,
    run_key: &str,
) -> Result<Response<Body>, ApiError> {
    let (token, project) = uploader(store, limits, request).await?;
    let run = run_ref(&token.project, run_key)?;
    let body = body_bytes(request);
    if body.len() > limits.max_direct_bytes {
        return Err(ApiError::too_large(format!(
            "a direct upload takes at most {} bytes; use POST /v1/uploads for larger files",
            limits.max_direct_bytes
        )));
    }
    let wait = query_param(request, "wait")
        .map(|w| {
            w.parse::<u64>()
                .map_err(|_| ApiError::invalid("wait", "must be seconds"))
        })
        .transpose()?
        .map(|w| w.min(limits.max_wait_seconds));
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
    check_metadata(&metadata, &token.project)?;
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
        register(
            store,
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
        store
            .put_raw(&file_ref.object_key(), file.bytes.to_vec())
            .await?;
        ids.push(file_ref.file_id);
    }
    let Some(seconds) = wait else {
        return Ok(accepted(&run, &ids));
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let files = store.list_files(&run).await?;
        let ours: Vec<&FileItem> = files
            .iter()
            .filter(|f| ids.contains(&f.file.file_id))
            .collect();
        if ours.iter().all(|f| f.state.is_settled()) {
            let summary = store
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_become_metadata_tags_and_a_format() {
        let fields: Vec<(String, String)> = [
            ("branch", "main"),
            ("commit_sha", "abc"),
            ("tag.os", "linux"),
            ("format", "junit"),
            ("name", "report.xml"),
            ("wait", "5"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (metadata, format) = metadata_from_fields(&fields).unwrap();
        assert_eq!(metadata.branch.as_deref(), Some("main"));
        assert_eq!(metadata.commit_sha.as_deref(), Some("abc"));
        assert_eq!(metadata.tags.get("os").map(String::as_str), Some("linux"));
        assert_eq!(format.as_deref(), Some("junit"));
        let unknown = [("colour".to_string(), "red".to_string())];
        let err = metadata_from_fields(&unknown).unwrap_err();
        assert!(err.message.starts_with("metadata"), "{err:?}");
    }
}
