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
use verdict_formats::{Format, ParseLimits, Tally, Warning};
use verdict_model::{Sidecar, Summary, TestResult};

#[derive(clap::Args)]
pub(crate) struct Args {
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

pub(crate) fn run(args: &Args) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = false;
    for path in &args.files {
        let parsed = if args.summary {
            summarize_file(path, args.format.0)
        } else {
            parse_file(path, args.format.0)
        };
        match parsed {
            Ok(p) => {
                let line = FileOutput {
                    file: path.display().to_string(),
                    format: p.format.as_str(),
                    summary: p.summary,
                    warnings: p.warnings,
                    tests: (!args.summary).then_some(p.results.as_slice()),
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

struct Parsed {
    format: Format,
    summary: Summary,
    /// Empty with `--summary`.
    results: Vec<TestResult>,
    warnings: Vec<String>,
}

fn open(path: &Path) -> Result<std::io::BufReader<File>, String> {
    File::open(path)
        .map(std::io::BufReader::new)
        .map_err(|e| format!("cannot open: {e}"))
}

fn parse_file(path: &Path, format: Option<Format>) -> Result<Parsed, String> {
    let report = verdict_formats::parse(open(path)?, format, &ParseLimits::DEFAULT)
        .map_err(|e| e.to_string())?;
    let mut results = report.results;
    let mut warnings: Vec<String> = report.warnings.iter().map(Warning::to_string).collect();
    if let Some(sidecar) = read_sidecar(path, &mut warnings)? {
        results.iter_mut().for_each(|r| sidecar.apply(r));
    }
    Ok(Parsed {
        format: report.format,
        summary: results.iter().collect(),
        results,
        warnings,
    })
}

fn summarize_file(path: &Path, format: Option<Format>) -> Result<Parsed, String> {
    let limits = ParseLimits::DEFAULT;
    let mut tally = Tally::default();
    let outcome =
        verdict_formats::for_each_case(open(path)?, format, &limits, &mut |case| tally.add(case))
            .map_err(|e| e.to_string())?;
    let mut warnings: Vec<String> = outcome.warnings.iter().map(Warning::to_string).collect();
    // A sidecar adds no counts, but its problems are the user's to see.
    read_sidecar(path, &mut warnings)?;
    Ok(Parsed {
        format: outcome.format,
        summary: tally.summary(),
        results: Vec::new(),
        warnings,
    })
}

/// The sidecar beside `path`, if there is one; the keys it ignored join `warnings`.
pub(crate) fn read_sidecar(
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<Option<Sidecar>, String> {
    let sidecar_path = sidecar_path(path);
    if !sidecar_path.is_file() {
        return Ok(None);
    }
    let file = File::open(&sidecar_path)
        .map_err(|e| format!("cannot open sidecar {}: {e}", sidecar_path.display()))?;
    let sidecar = Sidecar::from_reader(std::io::BufReader::new(file))
        .map_err(|e| format!("sidecar {}: {e}", sidecar_path.display()))?;
    warnings.extend(
        sidecar
            .warnings
            .iter()
            .map(|w| format!("sidecar {}: {w}", sidecar_path.display())),
    );
    Ok(Some(sidecar))
}

/// `report.xml` → `report.xml.meta.json`.
pub(crate) fn sidecar_path(report: &Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".meta.json");
    PathBuf::from(name)
}
