//! `GET /v1/runs/{run}/export?format=csv|json|junit`: a run's results in one response.

use crate::params::Query;
use crate::App;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use verdict_http::ApiError;
use verdict_store::{RunRef, TestRow};

/// Lambda answers at most 6 MB; an export larger than this asks the caller to page instead.
const MAX_EXPORT_BYTES: usize = 5_000_000;

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn xml_escape(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            other => other.to_string(),
        })
        .collect()
}

pub async fn export(app: &App, q: &Query<'_>, run: &RunRef) -> Result<Response<Body>, ApiError> {
    let format = q.get("format").unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "csv" | "json" | "junit") {
        return Err(ApiError::invalid("format", "must be csv, json or junit"));
    }
    let Some(found) = app.store.get_run(run).await? else {
        return Err(ApiError::not_found(format!("run {}", run.run_key)));
    };
    let mut rows: Vec<TestRow> = Vec::new();
    let mut start = None;
    let mut size = 0usize;
    loop {
        let page = app
            .store
            .list_results(run, &[], None, 1000, start.as_ref())
            .await?;
        for row in page.items {
            if found.shows(&row.contributors) {
                size += 200 + row.name.len() + row.message.as_ref().map_or(0, String::len);
                rows.push(row);
            }
        }
        if size > MAX_EXPORT_BYTES {
            return Err(ApiError::too_large(
                "the run is too large to export in one response; page through /tests instead",
            ));
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    rows.sort_by(|a, b| (&a.suite, &a.classname, &a.name).cmp(&(&b.suite, &b.classname, &b.name)));
    let (content_type, body) = match format.as_str() {
        "csv" => {
            let mut out = String::from(
                "test_id,suite,classname,name,status,flaky,duration_ms,attempts,message\n",
            );
            for r in &rows {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{}\n",
                    r.test_id,
                    csv_field(&r.suite),
                    csv_field(&r.classname),
                    csv_field(&r.name),
                    r.status,
                    r.flaky,
                    r.duration_ms,
                    r.attempts,
                    csv_field(r.message.as_deref().unwrap_or(""))
                ));
            }
            ("text/csv", out)
        }
        "junit" => {
            let failures = rows.iter().filter(|r| r.status == "failed").count();
            let errors = rows.iter().filter(|r| r.status == "error").count();
            let skipped = rows
                .iter()
                .filter(|r| matches!(r.status.as_str(), "skipped" | "xfailed"))
                .count();
            let time: u64 = rows.iter().map(|r| r.duration_ms).sum();
            let mut out = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">\n<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">\n",
                xml_escape(run.run_key.as_str()),
                rows.len(),
                time as f64 / 1000.0,
                xml_escape(run.run_key.as_str()),
                rows.len(),
                time as f64 / 1000.0,
            );
            for r in &rows {
                let message = xml_escape(r.message.as_deref().unwrap_or(""));
                let body = match r.status.as_str() {
                    "failed" => format!("<failure message=\"{message}\"/>"),
                    "error" => format!("<error message=\"{message}\"/>"),
                    "skipped" | "xfailed" => format!("<skipped message=\"{message}\"/>"),
                    _ => String::new(),
                };
                out.push_str(&format!(
                    "<testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">{body}</testcase>\n",
                    xml_escape(&r.classname),
                    xml_escape(&r.name),
                    r.duration_ms as f64 / 1000.0
                ));
            }
            out.push_str("</testsuite>\n</testsuites>\n");
            ("application/xml", out)
        }
        _ => {
            let items: Vec<serde_json::Value> = rows.iter().map(crate::row_json).collect();
            (
                "application/json",
                serde_json::json!({"run_id": run.run_key.as_str(), "tests": items}).to_string(),
            )
        }
    };
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}
