//! The parse function's own CloudWatch metrics, in the embedded metric format: one JSON line on
//! stdout, which Lambda's log pipeline turns into a metric (no SDK call, no permission beyond
//! the logs the function already writes). Namespace `Verdict`, one dimension, `Table`: a stack
//! has one table, so the alarms of a stack watch their own.

use serde_json::{json, Value};

/// A file settled `failed` for good after it was claimed (the store refused a write, a bug,
/// too many claims): each one is an input Verdict could not ingest, whatever its content.
pub const FILES_FAILED_FOR_GOOD: &str = "FilesFailedForGood";
/// Uploaded files registered more than [`UNSETTLED_AFTER_MS`] ago that a sweep left unsettled.
pub const UNSETTLED_FILES: &str = "UnsettledFiles";
/// How old an unsettled file must be to count in [`UNSETTLED_FILES`].
pub const UNSETTLED_AFTER_MS: u64 = 30 * 60 * 1000;

/// The metric `name` = `value` for `table`, with `properties` (searchable in the logs, not
/// dimensions) beside it.
pub fn emf_line(table: &str, name: &str, value: u64, at_ms: u64, properties: Value) -> String {
    let mut line = json!({
        "_aws": {
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{
                "Namespace": "Verdict",
                "Dimensions": [["Table"]],
                "Metrics": [{"Name": name, "Unit": "Count"}],
            }],
        },
        "Table": table,
        name: value,
    });
    if let (Some(line), Value::Object(extra)) = (line.as_object_mut(), properties) {
        for (k, v) in extra {
            line.entry(k).or_insert(v);
        }
    }
    line.to_string()
}

/// Writes the metric line to stdout, where Lambda picks it up.
pub fn emit(table: &str, name: &str, value: u64, properties: Value) {
    println!(
        "{}",
        emf_line(table, name, value, verdict_store::now_ms(), properties)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_line_is_embedded_metric_format() {
        let line: Value = serde_json::from_str(&emf_line(
            "verdict",
            FILES_FAILED_FOR_GOOD,
            1,
            1_790_000_000_000,
            json!({"kind": "store", "Table": "not this"}),
        ))
        .unwrap();
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Verdict");
        assert_eq!(directive["Dimensions"], json!([["Table"]]));
        assert_eq!(directive["Metrics"][0]["Name"], FILES_FAILED_FOR_GOOD);
        assert_eq!(line["_aws"]["Timestamp"], 1_790_000_000_000u64);
        // Every dimension and metric named is a top-level member; properties never replace one.
        assert_eq!(line["Table"], "verdict");
        assert_eq!(line[FILES_FAILED_FOR_GOOD], 1);
        assert_eq!(line["kind"], "store");
    }
}
