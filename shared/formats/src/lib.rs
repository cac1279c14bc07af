//! Pure, streaming parsers for test-report formats.
//!
//! A parser takes a [`std::io::Read`] and hands each test case to a callback as soon as it is
//! read; it opens no file, makes no network call and knows nothing of AWS. [`parse`] collects
//! the cases into merged [`TestResult`]s for callers that want the whole report.
//!
//! Limits (see [`ParseLimits`]) bound what one report can make the parser hold: XML nesting
//! depth and the size of one text node or tag. Text kept per test is capped by the model's
//! [`Limits`].

#![warn(missing_docs)]

mod ansi;
mod bounds;
mod buildkite;
mod collect;
mod ctrf;
mod cucumber;
mod dart;
mod detect;
mod error;
mod gotest;
mod gtest;
mod input;
mod jest;
mod json;
mod junit;
mod mocha;
mod nunit;
mod playwright;
mod pytest_json;
mod rspec;
mod summary;
mod tap;
mod testng;
mod trx;
mod xml;
mod xml_guard;
mod xml_names;
mod xunit;

pub use bounds::InflationLimits;
pub use collect::{Collector, Identities, Placeable, Placement, Tally};
pub use error::{ErrorKind, ParseError, Position, Warning};

use std::io::Read;
use verdict_model::{Limits, Summary, TestCase, TestResult};

/// The report formats Verdict reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JUnit XML and its dialects (pytest, Surefire, Gradle, jest-junit, nextest, ...).
    Junit,
    /// Visual Studio TRX (VSTest, MSTest).
    Trx,
    /// NUnit 2 and NUnit 3 XML.
    Nunit,
    /// xUnit.net v1 and v2 XML.
    Xunit,
    /// Common Test Report Format JSON.
    Ctrf,
    /// Buildkite Test Engine JSON.
    Buildkite,
    /// Test Anything Protocol, versions 12 to 14.
    Tap,
    /// `go test -json` (test2json) output.
    Gotest,
    /// The plain `Total Tests: N / Passed: N / Failed: N` summary some runners print.
    Summary,
    /// Jest `--json` and Vitest `--reporter=json` (the same document shape).
    Jest,
    /// Mocha's `json` reporter.
    Mocha,
    /// Playwright Test's JSON reporter.
    Playwright,
    /// Cucumber JSON (cucumber-js, cucumber-jvm, cucumber-ruby).
    Cucumber,
    /// TestNG's `testng-results.xml`.
    Testng,
    /// GoogleTest `--gtest_output=json`.
    Gtest,
    /// RSpec `--format json`.
    Rspec,
    /// `dart test --reporter json` and `flutter test --machine` event streams.
    Dart,
    /// pytest-json-report (`pytest --json-report`).
    PytestJson,
}

impl Format {
    /// Every format, in detection order.
    pub const ALL: [Format; 18] = [
        Format::Junit,
        Format::Trx,
        Format::Nunit,
        Format::Xunit,
        Format::Ctrf,
        Format::Buildkite,
        Format::Tap,
        Format::Gotest,
        Format::Summary,
        Format::Jest,
        Format::Mocha,
        Format::Playwright,
        Format::Cucumber,
        Format::Testng,
        Format::Gtest,
        Format::Rspec,
        Format::Dart,
        Format::PytestJson,
    ];

    /// The format's name (what `format=` and `--format` take).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Junit => "junit",
            Format::Trx => "trx",
            Format::Nunit => "nunit",
            Format::Xunit => "xunit",
            Format::Ctrf => "ctrf",
            Format::Buildkite => "buildkite",
            Format::Tap => "tap",
            Format::Gotest => "gotest",
            Format::Summary => "summary",
            Format::Jest => "jest",
            Format::Mocha => "mocha",
            Format::Playwright => "playwright",
            Format::Cucumber => "cucumber",
            Format::Testng => "testng",
            Format::Gtest => "gtest",
            Format::Rspec => "rspec",
            Format::Dart => "dart",
            Format::PytestJson => "pytest-json",
        }
    }

    /// The format of a name.
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bounds on what one report may make the parser hold.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Deepest XML element nesting accepted (JUnit suites nest, but never this deep).
    pub max_depth: usize,
    /// Largest piece a reader buffers whole, in bytes, accepted before the report is rejected:
    /// one XML event (a text node, a tag with its attributes, a comment, CDATA, a DOCTYPE), one
    /// JSON string, one line of a line format.
    pub max_node_bytes: usize,
    /// What a gzip report may inflate to.
    pub inflation: InflationLimits,
    /// Caps on the text kept per test.
    pub text: Limits,
}

impl ParseLimits {
    /// What the deployed parser accepts.
    pub const DEFAULT: ParseLimits = ParseLimits {
        max_depth: 256,
        max_node_bytes: 16 * 1024 * 1024,
        // 4 GiB of text is minutes of parsing, within one invocation; real reports compress
        // 5-50 times, a bomb thousands of times.
        inflation: InflationLimits {
            max_bytes: 4 << 30,
            max_ratio: 200,
            ratio_after: 64 << 20,
        },
        text: Limits::DEFAULT,
    };
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits::DEFAULT
    }
}

/// What a streaming parse reports besides the cases it handed over.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The format read.
    pub format: Format,
    /// What was read past.
    pub warnings: Vec<Warning>,
}

/// A whole report read into merged results.
#[derive(Debug, Clone)]
pub struct Report {
    /// The format read.
    pub format: Format,
    /// The report's counts.
    pub summary: Summary,
    /// What was read past.
    pub warnings: Vec<Warning>,
    /// One merged result per test.
    pub results: Vec<TestResult>,
}

/// Reads a report and hands every test case to `on_case` as it is read. `format` is `None` to
/// detect the format from the content. Gzip input is decompressed, a BOM is dropped and UTF-16
/// or a declared legacy XML encoding is converted to UTF-8 first.
///
/// # Errors
/// A [`ParseError`] naming the position and the reason when the input is empty, of no known
/// format, malformed, truncated, not valid in its encoding, or beyond a [`ParseLimits`] bound.
/// Cases handed over before the error must be discarded by the caller: a report counts whole
/// or not at all.
pub fn for_each_case<R: Read>(
    reader: R,
    format: Option<Format>,
    limits: &ParseLimits,
    on_case: &mut dyn FnMut(TestCase),
) -> Result<Outcome, ParseError> {
    let input = input::Input::open(reader, limits)?;
    let format = match format {
        Some(f) => f,
        None => detect::detect(input.prefix())?,
    };
    let mut warnings = Vec::new();
    let mut ctx = Ctx {
        limits,
        warnings: &mut warnings,
        on_case,
    };
    match format {
        Format::Junit => junit::parse(input, &mut ctx)?,
        Format::Trx => trx::parse(input, &mut ctx)?,
        Format::Nunit => nunit::parse(input, &mut ctx)?,
        Format::Xunit => xunit::parse(input, &mut ctx)?,
        Format::Ctrf => ctrf::parse(input, &mut ctx)?,
        Format::Buildkite => buildkite::parse(input, &mut ctx)?,
        Format::Tap => tap::parse(input, &mut ctx)?,
        Format::Gotest => gotest::parse(input, &mut ctx)?,
        Format::Summary => summary::parse(input, &mut ctx)?,
        Format::Jest => jest::parse(input, &mut ctx)?,
        Format::Mocha => mocha::parse(input, &mut ctx)?,
        Format::Playwright => playwright::parse(input, &mut ctx)?,
        Format::Cucumber => cucumber::parse(input, &mut ctx)?,
        Format::Testng => testng::parse(input, &mut ctx)?,
        Format::Gtest => gtest::parse(input, &mut ctx)?,
        Format::Rspec => rspec::parse(input, &mut ctx)?,
        Format::Dart => dart::parse(input, &mut ctx)?,
        Format::PytestJson => pytest_json::parse(input, &mut ctx)?,
    }
    Ok(Outcome { format, warnings })
}

/// Reads a whole report into merged results (attempts of the same test become one result).
///
/// # Errors
/// As [`for_each_case`].
pub fn parse<R: Read>(
    reader: R,
    format: Option<Format>,
    limits: &ParseLimits,
) -> Result<Report, ParseError> {
    let mut collector = Collector::new(limits.text);
    let outcome = for_each_case(reader, format, limits, &mut |case| collector.add(case))?;
    let results = collector.finish();
    Ok(Report {
        format: outcome.format,
        summary: results.iter().collect(),
        warnings: outcome.warnings,
        results,
    })
}

/// What every parser is handed: the limits, where warnings go and where cases go.
pub(crate) struct Ctx<'a> {
    pub limits: &'a ParseLimits,
    pub warnings: &'a mut Vec<Warning>,
    pub on_case: &'a mut dyn FnMut(TestCase),
}

impl Ctx<'_> {
    pub(crate) fn warn(&mut self, position: Option<Position>, message: impl Into<String>) {
        // A report with a bad value in every test would otherwise grow the warnings without
        // bound; the first hundred say all there is to say.
        const MAX_WARNINGS: usize = 100;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(Warning {
                position,
                message: message.into(),
            });
        }
    }

    pub(crate) fn emit(&mut self, case: TestCase) {
        (self.on_case)(case);
    }
}

/// The first line of `text` that is not blank, trimmed: what a failure's message is when a
/// report gives only its whole text.
pub(crate) fn first_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// Seconds (as a report writes them) to whole milliseconds; `None` when not a non-negative
/// finite number. Accepts a decimal comma (`0,5`) and thousands separators (`1,234.5`), which
/// some locales put into Surefire and NUnit reports.
pub(crate) fn seconds_to_ms(text: &str) -> Option<u64> {
    let t = text.trim();
    let value: f64 = t.parse().ok().or_else(|| {
        let normalized = if t.contains('.') {
            t.replace(',', "")
        } else {
            t.replace(',', ".")
        };
        normalized.parse().ok()
    })?;
    (value.is_finite() && value >= 0.0).then(|| (value * 1000.0).round() as u64)
}
