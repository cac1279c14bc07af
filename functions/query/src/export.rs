//! `GET /v1/runs/{run}/export?format=csv|json|junit|html`: a run's results in one response.

use crate::compare::{compared, COMPARED_IN_PASSING};
use crate::html_report::{html_report, Changes};
use crate::pages::read_pages;
use crate::params::Query;
use crate::present::row_json;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use verdict_http::ApiError;
use verdict_model::Status;
use verdict_store::{ResultFilter, Run, RunRef, RunStatus, Store, TestRow};

/// What an export is written as (`format=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    Csv,
    Json,
    Junit,
    /// A page to keep ([`crate::html_report`]).
    Html,
}

impl ExportFormat {
    fn parse(text: &str) -> Option<ExportFormat> {
        match text {
            "csv" => Some(ExportFormat::Csv),
            "json" => Some(ExportFormat::Json),
            "junit" => Some(ExportFormat::Junit),
            "html" => Some(ExportFormat::Html),
            _ => None,
        }
    }
}

/// Lambda answers at most 6 MB; an export larger than this asks the caller to page instead.
const MAX_EXPORT_BYTES: usize = 5_000_000;

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Text as XML (and HTML) character data or an attribute value; control characters XML cannot
/// hold are dropped.
pub(crate) fn xml_escape(text: &str) -> String {
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

/// About how many bytes the results take in an export.
fn export_size<'a>(rows: impl Iterator<Item = &'a TestRow>) -> usize {
    rows.map(|r| 200 + r.name.len() + r.message.as_ref().map_or(0, String::len))
        .sum()
}

/// The run and every result it shows, or 404, or 413 past [`MAX_EXPORT_BYTES`].
async fn shown_rows(store: &Store, run: &RunRef) -> Result<(Run, Vec<TestRow>), ApiError> {
    let (rows, _) = read_pages(
        usize::MAX,
        // Before the run is read (after the rows, as `Run::shows` needs), a result of a file
        // still being ingested counts toward the size too.
        |rows: &[TestRow]| export_size(rows.iter()) > MAX_EXPORT_BYTES,
        |start| async move {
            store
                .list_results(run, &ResultFilter::default(), 1000, start.as_ref())
                .await
        },
    )
    .await?;
    let (found, rows) = store.shown_rows(run, rows).await?;
    let found = found.ok_or_else(|| ApiError::not_found(format!("run {}", run.run_key)))?;
    if export_size(rows.iter()) > MAX_EXPORT_BYTES {
        return Err(ApiError::too_large(
            "the run is too large to export in one response; page through /tests instead",
        ));
    }
    Ok((found, rows))
}

/// `GET /v1/runs/{run}/export`: the run's results as CSV, JSON, JUnit XML or an HTML page.
pub(crate) async fn export(
    store: &Store,
    q: &Query<'_>,
    run: &RunRef,
) -> Result<Response<Body>, ApiError> {
    let format = match q.get("format") {
        None => ExportFormat::Json,
        Some(f) => ExportFormat::parse(&f)
            .ok_or_else(|| ApiError::invalid("format", "must be csv, json, junit or html"))?,
    };
    let (found, mut rows) = shown_rows(store, run).await?;
    rows.sort_by(|a, b| (&a.suite, &a.classname, &a.name).cmp(&(&b.suite, &b.classname, &b.name)));
    let (content_type, body) = match format {
        ExportFormat::Csv => {
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
                    r.status.as_str(),
                    r.flaky,
                    r.duration_ms,
                    r.attempts,
                    csv_field(r.message.as_deref().unwrap_or(""))
                ));
            }
            ("text/csv", out)
        }
        ExportFormat::Junit => {
            let failures = rows.iter().filter(|r| r.status == Status::Failed).count();
            let errors = rows.iter().filter(|r| r.status == Status::Error).count();
            let skipped = rows
                .iter()
                .filter(|r| matches!(r.status, Status::Skipped | Status::Xfailed))
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
                let body = match r.status {
                    Status::Failed => format!("<failure message=\"{message}\"/>"),
                    Status::Error => format!("<error message=\"{message}\"/>"),
                    Status::Skipped | Status::Xfailed => {
                        format!("<skipped message=\"{message}\"/>")
                    }
                    Status::Passed | Status::Xpassed => String::new(),
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
        ExportFormat::Html => {
            // Against its default base once settled, as the run's page shows it.
            let compared = match found.status() {
                RunStatus::Pending => None,
                _ => compared(store, &found, None, COMPARED_IN_PASSING).await?,
            };
            let changes = compared.as_ref().map(|c| Changes {
                base: c.base(),
                comparison: c.comparison(),
            });
            (
                "text/html; charset=utf-8",
                html_report(&found, &rows, changes.as_ref()),
            )
        }
        ExportFormat::Json => {
            let items: Vec<serde_json::Value> = rows.iter().map(row_json).collect();
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
