//! `verdict upload --wait`: waits until every uploaded file settled, then says what the run
//! changed against its base (new failures, still failing and since when, fixed) and its summary,
//! writes the Markdown job summary where the CI shows one, and picks the exit code.

use crate::client::{with_retries, Client};
use crate::report::RunReport;
use crate::upload::FailOn;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// What to wait for and how to report it.
pub(crate) struct Waiting<'a> {
    pub(crate) run_key: &'a str,
    /// Each uploaded report and its file id.
    pub(crate) files: &'a [(PathBuf, String)],
    pub(crate) wait_secs: u64,
    pub(crate) fail_on: Option<FailOn>,
    /// Print `GET /v1/runs/{run}` instead of the text report.
    pub(crate) json: bool,
    pub(crate) summary_file: Option<&'a Path>,
    pub(crate) dashboard: &'a str,
}

/// Tests listed per change, and failed or flaky tests listed without a base.
const LISTED: u32 = 50;

/// Waits, reports, and answers the exit code (errors: the code and why).
pub(crate) fn wait_and_report(client: &Client, w: &Waiting<'_>) -> Result<ExitCode, (u8, String)> {
    let states = settled_files(client, w)?;
    let get = |path: String| with_retries(|| client.call("GET", &path, None)).map_err(|e| (3, e));
    let run_key = w.run_key;
    let run = get(format!("/v1/runs/{run_key}"))?;
    let compare = get(format!("/v1/runs/{run_key}/compare?limit={LISTED}"))?;
    let failed = get(format!(
        "/v1/runs/{run_key}/tests?status=failed,error&limit={LISTED}"
    ))?;
    let flaky = get(format!(
        "/v1/runs/{run_key}/tests?flaky=true&limit={LISTED}"
    ))?;
    let items = |v: &Value| v["items"].as_array().cloned().unwrap_or_default();
    let (failed, flaky) = (items(&failed), items(&flaky));
    let report = RunReport {
        run_key,
        run: &run,
        compare: &compare,
        failed: &failed,
        flaky: &flaky,
        dashboard: w.dashboard,
    };
    if w.json {
        println!("{run}");
    } else {
        print_files(&states);
        print!("{}", report.to_text());
    }
    let failing = report.run["run"]["status"] == "failed";
    write_summaries(&report.to_markdown(), failing, w.summary_file, run_key);
    let file_failed = states.iter().any(|(_, st)| st["state"] == "failed");
    let s = &run["summary"];
    let any = s["failed"].as_u64().unwrap_or(0) + s["errors"].as_u64().unwrap_or(0) > 0;
    let fails = match w.fail_on {
        None => false,
        Some(FailOn::Any) => any || file_failed,
        Some(FailOn::New) => report.new_failures() > 0 || file_failed,
    };
    Ok(if fails {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Each file's state once it settled (`done`, `failed` or `duplicate`).
fn settled_files(client: &Client, w: &Waiting<'_>) -> Result<Vec<(PathBuf, Value)>, (u8, String)> {
    let deadline = Instant::now() + Duration::from_secs(w.wait_secs);
    let mut states = Vec::new();
    for (path, id) in w.files {
        loop {
            let state = with_retries(|| client.call("GET", &format!("/v1/uploads/{id}"), None))
                .map_err(|e| (3, e))?;
            let settled = matches!(
                state["state"].as_str(),
                Some("done" | "failed" | "duplicate")
            );
            if settled {
                states.push((path.clone(), state));
                break;
            }
            if Instant::now() > deadline {
                let wait = w.wait_secs;
                return Err((4, format!("{}: not parsed within {wait} s", path.display())));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    Ok(states)
}

/// Prints what became of each file.
fn print_files(states: &[(PathBuf, Value)]) {
    for (path, state) in states {
        match state["state"].as_str() {
            Some("failed") => println!(
                "{}: FAILED to parse: {}",
                path.display(),
                state["error"]["message"].as_str().unwrap_or("?")
            ),
            Some("duplicate") => println!(
                "{}: duplicate of an earlier upload, not counted",
                path.display()
            ),
            _ => println!(
                "{}: {} tests, {} failed, {} errors",
                path.display(),
                state["counts"]["tests"],
                state["counts"]["failed"],
                state["counts"]["errors"]
            ),
        }
    }
}

/// Writes the Markdown where it is shown: GitHub Actions' step summary (appended, as GitHub
/// asks), a Buildkite annotation when `buildkite-agent` runs here, and `--summary-file`. A
/// summary that cannot be written is said on stderr and never fails the job.
fn write_summaries(markdown: &str, failing: bool, file: Option<&Path>, run_key: &str) {
    let warn = |what: &str, e: &dyn std::fmt::Display| eprintln!("verdict: {what}: {e}");
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(markdown.as_bytes()));
        if let Err(e) = appended {
            warn("GITHUB_STEP_SUMMARY", &e);
        }
    }
    if std::env::var_os("BUILDKITE").is_some() {
        let style = if failing { "error" } else { "success" };
        let annotated = Command::new("buildkite-agent")
            .args(["annotate", "--style", style, "--context"])
            .arg(format!("verdict-{run_key}"))
            .stdin(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(markdown.as_bytes())?;
                }
                child.wait()
            });
        match annotated {
            Ok(status) if status.success() => {}
            // Not on the PATH: the agent is not here to annotate with.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Ok(status) => warn("buildkite-agent annotate", &status),
            Err(e) => warn("buildkite-agent annotate", &e),
        }
    }
    if let Some(path) = file {
        if let Err(e) = std::fs::write(path, markdown) {
            warn(&path.display().to_string(), &e);
        }
    }
}
