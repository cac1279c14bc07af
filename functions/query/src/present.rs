//! The JSON shapes of the query API's resources: a run, a test result as listed, a history
//! entry, a page. (A file and a summary have the shape both HTTP functions share, in
//! `verdict_http::present`.)

use serde_json::{json, Value};
use verdict_http::present::summary_json;
use verdict_http::rfc3339;
use verdict_store::{Run, TestRow};

/// A run as listed: its header, its summary and its file counters.
pub(crate) fn run_json(run: &Run) -> Value {
    let mut value = run_header_json(run);
    value["summary"] = summary_json(&run.summary);
    value["files"] = json!({
        "registered": run.files_registered,
        "done": run.files_done,
        "failed": run.files_failed,
        "duplicate": run.files_duplicate,
    });
    value
}

/// The run part of a run's own page.
pub(crate) fn run_header_json(run: &Run) -> Value {
    json!({
        "run_id": run.run.run_key.as_str(),
        "created_at": rfc3339(run.created_ms),
        "status": run.status().as_str(),
        "pass_rate": run.summary.pass_rate(),
        "metadata": metadata_json(run),
    })
}

/// What the upload said of the run, without what the path already names.
fn metadata_json(run: &Run) -> Value {
    let mut metadata = serde_json::to_value(&run.metadata).unwrap_or_default();
    if let Some(m) = metadata.as_object_mut() {
        m.remove("run_key");
        m.remove("project");
    }
    metadata
}

/// A test result as listed.
pub(crate) fn row_json(row: &TestRow) -> Value {
    json!({
        "test_id": row.test_id,
        "suite": row.suite,
        "classname": row.classname,
        "name": row.name,
        "status": row.status.as_str(),
        "flaky": row.flaky,
        "duration_ms": row.duration_ms,
        "attempts": row.attempts,
        "message": row.message,
        "failure_type": row.failure_type,
        "fingerprint": row.fingerprint,
    })
}

/// One run of a test's history.
pub(crate) fn history_json(row: &TestRow) -> Value {
    json!({
        "run_id": row.run_key,
        "created_at": rfc3339(row.created_ms),
        "classname": row.classname,
        "name": row.name,
        "branch": row.branch,
        "commit_sha": row.commit_sha,
        "status": row.status.as_str(),
        "flaky": row.flaky,
        "duration_ms": row.duration_ms,
        "fingerprint": row.fingerprint,
    })
}

/// A page of a listing.
pub(crate) fn page_json(items: Vec<Value>, next_cursor: Option<String>) -> Value {
    json!({ "items": Value::Array(items), "next_cursor": Value::from(next_cursor) })
}
