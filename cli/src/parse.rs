//! `verdict parse`: one JSON line per file, exit 2 when any file could not be parsed.
//!
//! Output contract (keep it stable):
//! `{"file", "format", "summary": {tests, passed, failed, errors, skipped, xfailed, xpassed,
//! flaky, duration_ms}, "warnings": [...], "tests": [...]}`, `tests` left out with `--summary`.

use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use verdict_formats::{Format, ParseLimits, Warning};
use verdict_model::{Sidecar, Summary, TestResult};

#[derive(clap::Args)]
pub struct Args {
    /// Report format, or `auto` to detect it from the content.
    #[arg(long, default_value = "auto", value_parser = parse_format)]
    format: FormatArg,
    /// Print only the summary of each file, not its tests.
    #[arg(long)]
    summary: bool,
    /// Report files (gzip accepted). A `<file>.meta.json` beside a file adds test tags and owners.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Clone, Copy)]
struct FormatArg(Option<Format>);

fn parse_format(s: &str) -> Result<FormatArg, String> {
    if s == "auto" {
        return Ok(FormatArg(None));
    }
    Format::parse(s).map(|f| FormatArg(Some(f))).ok_or_else(|| {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        format!("unknown format {s:?}; one of auto, {}", names.join(", "))
    })
}

#[derive(Serialize)]
struct FileOutput<'a> {
    file: String,
    format: &'static str,
    summary: Summary,
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tests: Option<&'a [TestResult]>,
}

pub fn run(args: &Args) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = false;
    for path in &args.files {
        match parse_file(path, args.format.0) {
            Ok((format, results, warnings)) => {
                let line = FileOutput {
                    file: path.display().to_string(),
                    format: format.as_str(),
                    summary: results.iter().collect(),
                    warnings: warnings.iter().map(Warning::to_string).collect(),
                    tests: (!args.summary).then_some(results.as_slice()),
                };
                let written = serde_json::to_writer(&mut out, &line)
                    .map_err(std::io::Error::from)
                    .and_then(|()| out.write_all(b"\n"));
                if let Err(e) = written {
                    eprintln!("verdict: cannot write output: {e}");
                    return ExitCode::from(2);
                }
            }
            Err(message) => {
                failed = true;
                let _ = out.flush();
                eprintln!("verdict: {}: {message}", path.display());
            }
        }
    }
    if out.flush().is_err() {
        return ExitCode::from(2);
    }
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

type Parsed = (Format, Vec<TestResult>, Vec<Warning>);

fn parse_file(path: &Path, format: Option<Format>) -> Result<Parsed, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let report =
        verdict_formats::parse(std::io::BufReader::new(file), format, &ParseLimits::DEFAULT)
            .map_err(|e| e.to_string())?;
    let mut results = report.results;
    let sidecar_path = sidecar_path(path);
    if sidecar_path.is_file() {
        let file = File::open(&sidecar_path)
            .map_err(|e| format!("cannot open sidecar {}: {e}", sidecar_path.display()))?;
        let sidecar = Sidecar::from_reader(std::io::BufReader::new(file))
            .map_err(|e| format!("sidecar {}: {e}", sidecar_path.display()))?;
        results.iter_mut().for_each(|r| sidecar.apply(r));
    }
    Ok((report.format, results, report.warnings))
}

/// `report.xml` → `report.xml.meta.json`.
pub fn sidecar_path(report: &Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".meta.json");
    PathBuf::from(name)
}
