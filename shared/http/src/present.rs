//! The one JSON shape of each resource the upload and query functions both serve: a file (an
//! upload), a summary, and the run a path names.

use crate::{rfc3339, ApiError};
use serde_json::{json, Value};
use verdict_model::Summary;
use verdict_store::{Delta, FileItem, FileState, ProjectName, RunKey, RunRef};

/// A run's (or a file's) counters.
pub fn summary_json(summary: &Summary) -> Value {
    serde_json::to_value(summary).unwrap_or_default()
}

/// A file: what `GET /v1/uploads/{file_id}` answers, and each file of a run.
pub fn file_json(item: &FileItem) -> Value {
    json!({
        "file_id": item.file.file_id.as_str(),
        "run_id": item.file.run.run_key.as_str(),
        "name": item.name,
        "size": item.size,
        "state": item.state.as_str(),
        "format": item.format,
        "sha256": item.sha256,
        "counts": item.counts.as_ref().map(summary_json),
        "effect": effect_json(item),
        "warnings": item.warnings,
        "duplicate_of": item.duplicate_of.as_ref().map(|f| f.as_str()),
        "error": item.error.as_ref().map(|e| json!({
            "kind": e.kind.as_str(),
            "message": e.message,
            "line": e.line,
            "column": e.column,
            "offset": e.offset,
        })),
        "created_at": rfc3339(item.created_ms),
    })
}

/// What a settled file changed in its run: the tests it added, those it merged into a result
/// another file of the run wrote first (a shard's retry, a rerun), and the bytes it skipped as
/// a copy of another file (`null` until the file settles).
fn effect_json(item: &FileItem) -> Value {
    if !item.state.is_settled() {
        return Value::Null;
    }
    let tests = item.counts.as_ref().map_or(0, |c| c.tests);
    let inserted = item.contribution.map_or(0, Delta::tests_added);
    let skipped = match item.state {
        FileState::Duplicate => item.size,
        _ => 0,
    };
    json!({
        "tests_inserted": inserted,
        "tests_merged": tests.saturating_sub(inserted),
        "duplicate_bytes_skipped": skipped,
    })
}

/// The run of `project` a request names: a run key that cannot name a run is an invalid
/// request (400, naming `run_key`), wherever it appears.
pub fn run_ref(project: &ProjectName, run_key: &str) -> Result<RunRef, ApiError> {
    Ok(RunRef {
        project: project.clone(),
        run_key: RunKey::parse(run_key).map_err(|e| ApiError::invalid("run_key", e))?,
    })
}
