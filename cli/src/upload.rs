//! `verdict upload`: hand a CI job's reports to Verdict.
//!
//! With `--wait` it reports what the run changed (see [`crate::wait`]).
//!
//! Exit codes: 0 uploaded (and, with `--wait`, every file parsed); 1 `--fail-on` and a test of
//! the run failed (`any`) or newly failed (`new`), or a file could not be parsed; 2 bad usage or
//! no report found; 3 the server refused or could not be reached; 4 `--wait` timed out before
//! every file was parsed.

use crate::ci;
use crate::client::{with_retries, ApiArgs, Client};
use clap::Args as ClapArgs;
use flate2::write::GzEncoder;
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use verdict_model::RunMetadata;

#[derive(ClapArgs)]
pub(crate) struct Args {
    #[command(flatten)]
    api: ApiArgs,
    /// Run key (default: derived from the CI environment so shards share it).
    #[arg(long)]
    run: Option<String>,
    /// Format of every file (default: detected from the content).
    #[arg(long)]
    format: Option<String>,
    /// Wait until the files are parsed (default 120 s) and print the result.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "120", value_name = "SECS")]
    wait: Option<u64>,
    /// Exit 1 when a test failed or errored or a file could not be parsed (`any`), or only
    /// when a test failed that did not fail in the run it is compared with (`new`); implies
    /// --wait.
    #[arg(long, value_enum, value_name = "WHEN")]
    fail_on: Option<FailOn>,
    /// The same as --fail-on=any.
    #[arg(long, hide = true)]
    fail_on_failures: bool,
    /// With --wait: write the Markdown summary to this file too (GitHub's $GITHUB_STEP_SUMMARY
    /// and, with buildkite-agent on the PATH, a Buildkite annotation are written on their own).
    #[arg(long, value_name = "PATH")]
    summary_file: Option<PathBuf>,
    /// The dashboard, for the summary's links to the run and its tests (default: the endpoint,
    /// which serves it).
    #[arg(long, env = "VERDICT_DASHBOARD_URL")]
    dashboard_url: Option<String>,
    /// With --wait: print the run (`GET /v1/runs/{run}`) as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Files, directories (searched for .xml, .trx, .json, .jsonl, .tap, .txt, optionally
    /// gzipped) or glob patterns.
    #[arg(required = true)]
    paths: Vec<String>,
}

/// When `verdict upload` fails the CI job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FailOn {
    /// A test failed or errored, or a file could not be parsed.
    Any,
    /// A test failed that did not fail in the base run (or a file could not be parsed).
    New,
}

/// Files larger than this are gzipped before upload (the server reads gzip).
const COMPRESS_OVER: usize = 1 << 20;
const REPORT_EXTENSIONS: [&str; 7] = ["xml", "trx", "json", "jsonl", "tap", "txt", "gz"];

fn find_reports(paths: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    for pattern in paths {
        let path = Path::new(pattern);
        if path.is_dir() {
            walk(path, &mut found).map_err(|e| format!("{pattern}: {e}"))?;
        } else if path.is_file() {
            found.push(path.to_path_buf());
        } else {
            let matches: Vec<PathBuf> = glob::glob(pattern)
                .map_err(|e| format!("{pattern}: {e}"))?
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            if matches.is_empty() {
                return Err(format!(
                    "{pattern}: no such file, directory or matching files"
                ));
            }
            found.extend(matches);
        }
    }
    found.retain(|p| !p.to_string_lossy().ends_with(".meta.json"));
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| REPORT_EXTENSIONS.contains(&e))
        {
            found.push(path);
        }
    }
    Ok(())
}

/// What one report is uploaded with: its run metadata, its run key when its sidecar names one,
/// and the test overrides by test id.
struct ForReport {
    metadata: RunMetadata,
    run_key: Option<String>,
    test_overrides: Value,
}

/// The metadata of the run from the CI environment (`detected`), with what a
/// `<report>.meta.json` sidecar says taking precedence: a person wrote it for this report, the
/// environment was guessed. (The `--run` flag still wins over the sidecar's `run_id`.) Overrides
/// keyed by a test's name are turned into test ids by reading the report here; keys that name
/// no test, and keys the sidecar does not know, are warnings on stderr.
fn with_sidecar(
    path: &Path,
    detected: &RunMetadata,
    format: Option<&str>,
) -> Result<ForReport, String> {
    let mut warnings = Vec::new();
    let Some(sidecar) = crate::parse::read_sidecar(path, &mut warnings)? else {
        return Ok(ForReport {
            metadata: detected.clone(),
            run_key: None,
            test_overrides: Value::Object(Default::default()),
        });
    };
    for w in warnings {
        eprintln!("verdict: {w}");
    }
    let sidecar_path = crate::parse::sidecar_path(path);
    let shown = sidecar_path.display();
    let mut merged = serde_json::to_value(detected).unwrap_or_default();
    if let (Some(m), Value::Object(written)) = (
        merged.as_object_mut(),
        serde_json::to_value(&sidecar.run).unwrap_or_default(),
    ) {
        m.extend(written);
        m.remove("run_key");
        m.remove("project");
    }
    let metadata = serde_json::from_value(merged).map_err(|e| format!("{shown}: {e}"))?;
    let by_id = if sidecar
        .test_overrides
        .keys()
        .all(|k| verdict_model::is_test_id(k))
    {
        sidecar.test_overrides.clone()
    } else {
        let format = format.and_then(verdict_formats::Format::parse);
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let report = verdict_formats::parse(
            std::io::BufReader::new(file),
            format,
            &verdict_formats::ParseLimits::DEFAULT,
        )
        .map_err(|e| {
            format!(
                "{}: {e} (read to match the test names of {shown})",
                path.display()
            )
        })?;
        let (by_id, unmatched) = sidecar.overrides_by_id(&report.results);
        for key in unmatched {
            eprintln!("verdict: {shown}: test_overrides key {key:?} names no test of the report");
        }
        by_id
    };
    Ok(ForReport {
        metadata,
        run_key: sidecar.run.run_key.as_deref().map(ci::sanitize),
        test_overrides: serde_json::to_value(by_id).unwrap_or_default(),
    })
}

/// The run key the sidecars name (`run_id`), when they name one; sidecars naming two runs
/// are an error, since one upload is one run.
fn sidecar_run_key(per_report: &[ForReport]) -> Result<Option<String>, String> {
    let keys: std::collections::BTreeSet<&str> = per_report
        .iter()
        .filter_map(|r| r.run_key.as_deref())
        .collect();
    match keys.len() {
        0 => Ok(None),
        1 => Ok(keys.first().map(|k| k.to_string())),
        _ => Err(format!(
            "the sidecars name different runs ({}): upload them separately, or pass --run",
            keys.into_iter().collect::<Vec<_>>().join(", ")
        )),
    }
}

pub(crate) fn run(args: &Args) -> ExitCode {
    match upload(args) {
        Ok(code) => code,
        Err((code, message)) => {
            eprintln!("verdict upload: {message}");
            ExitCode::from(code)
        }
    }
}

fn upload(args: &Args) -> Result<ExitCode, (u8, String)> {
    let reports = find_reports(&args.paths).map_err(|e| (2, e))?;
    if reports.is_empty() {
        return Err((2, "no report files found".into()));
    }
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let detected = ci::detect(&env, ci::now_secs(), ci::from_git);
    let per_report = reports
        .iter()
        .map(|path| with_sidecar(path, &detected.metadata, args.format.as_deref()))
        .collect::<Result<Vec<ForReport>, String>>()
        .map_err(|e| (2, e))?;
    let run_key = match args.run.as_deref() {
        Some(run) => ci::sanitize(run),
        None => sidecar_run_key(&per_report)
            .map_err(|e| (2, e))?
            .unwrap_or(detected.run_key),
    };
    let client = Client::new(&args.api, Duration::from_secs(300));
    let progress = std::io::stderr().is_terminal();
    let mut file_ids = Vec::new();
    for (i, (path, for_report)) in reports.iter().zip(per_report).enumerate() {
        let raw = std::fs::read(path).map_err(|e| (2, format!("{}: {e}", path.display())))?;
        let bytes = if raw.len() > COMPRESS_OVER && !raw.starts_with(&[0x1f, 0x8b]) {
            let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&raw)
                .and_then(|()| gz.finish())
                .map_err(|e| (2, format!("{}: {e}", path.display())))?
        } else {
            raw
        };
        if progress {
            eprint!(
                "\r[{}/{}] {} ({} bytes)…",
                i + 1,
                reports.len(),
                path.display(),
                bytes.len()
            );
        }
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut request = serde_json::json!({
            "run_key": run_key,
            "file_name": name,
            "size": bytes.len(),
            "metadata": for_report.metadata,
            "test_overrides": for_report.test_overrides,
        });
        if let Some(format) = &args.format {
            request["format"] = format.clone().into();
        }
        let created = with_retries(|| client.call("POST", "/v1/uploads", Some(&request)))
            .map_err(|e| (3, format!("{}: {e}", path.display())))?;
        with_retries(|| {
            client.put(
                created["url"].as_str().unwrap_or_default(),
                &created["headers"],
                &bytes,
            )
        })
        .map_err(|e| (3, format!("{}: {e}", path.display())))?;
        file_ids.push((
            path.clone(),
            created["file_id"].as_str().unwrap_or_default().to_string(),
        ));
    }
    if progress {
        eprintln!();
    }
    eprintln!("uploaded {} file(s) to run {run_key}", file_ids.len());
    let fail_on = args
        .fail_on
        .or(args.fail_on_failures.then_some(FailOn::Any));
    let Some(wait) = args.wait.or(fail_on.map(|_| 120)) else {
        return Ok(ExitCode::SUCCESS);
    };
    let dashboard = args.dashboard_url.as_deref().unwrap_or(&args.api.endpoint);
    crate::wait::wait_and_report(
        &client,
        &crate::wait::Waiting {
            run_key: &run_key,
            files: &file_ids,
            wait_secs: wait,
            fail_on,
            json: args.json,
            summary_file: args.summary_file.as_deref(),
            dashboard: dashboard.trim_end_matches('/'),
        },
    )
}
