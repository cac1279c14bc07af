//! Runs every report of a supported format in `../shared/corpus` through the parsers.
//!
//! - No file may panic.
//! - Where the source ships an expected result, our counts must match it, except for the
//!   deliberate differences listed in `KNOWN_DIFFERENCES` (each with its reason; they are
//!   also written up in `docs/formats.md`).
//! - Files the source expects to be rejected must be rejected; files that fail to parse and
//!   have no expectation must be listed in `KNOWN_REJECTIONS` with the reason.
//!
//! With `VERDICT_CORPUS_REPORT=path` the per-format table is written to that file (see
//! `make corpus-report`).

use regex::Regex;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use verdict_formats::{Format, ParseLimits, Report};

/// Counts compared with expectations: tests, failed + errors, skipped (xfailed counts as
/// skipped, xpassed as passed, as the sources have no such statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    tests: u64,
    failed: u64,
    skipped: u64,
}

impl From<&Report> for Counts {
    fn from(r: &Report) -> Self {
        let s = r.summary;
        Counts {
            tests: s.tests,
            failed: s.failed + s.errors,
            skipped: s.skipped + s.xfailed,
        }
    }
}

/// Files whose counts differ from the source's expectation on purpose.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    ("gotest-json/GoTestTools__gotestfmt/containerssh.txt", "the same test name repeated without a failure in between: Verdict keeps each repetition as its own test (`name #2`), the source merges them"),
    ("gotest-json/GoTestTools__gotestfmt/syntax-error.txt", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("gotest-json/gotestyourself__gotestsum/cmd/testdata/input/go-test-build-failed.out", "Verdict makes a failed package with no failing test (build failure, panic in TestMain, a test that never reported) an `error` result; gotestsum counts only failures"),
    ("gotest-json/gotestyourself__gotestsum/cmd/testdata/input/go-test-json-panic-race-1.out", "Verdict makes a failed package with no failing test (build failure, panic in TestMain, a test that never reported) an `error` result; gotestsum counts only failures"),
    ("gotest-json/gotestyourself__gotestsum/cmd/testdata/input/go-test-json-panic-race-2.out", "Verdict makes a failed package with no failing test (build failure, panic in TestMain, a test that never reported) an `error` result; gotestsum counts only failures"),
    ("gotest-json/gotestyourself__gotestsum/cmd/testdata/input/go-test-setup-failed.out", "Verdict makes a failed package with no failing test (build failure, panic in TestMain, a test that never reported) an `error` result; gotestsum counts only failures"),
    ("gotest-json/gotestyourself__gotestsum/testjson/testdata/input/go-test-json-missing-test-fail.out", "Verdict makes a failed package with no failing test (build failure, panic in TestMain, a test that never reported) an `error` result; gotestsum counts only failures"),
    ("gotest-json/gotestyourself__gotestsum/testjson/testdata/input/go-test-json.out", "Verdict makes a failed package with no failing test (build failure, panic in TestMain, a test that never reported) an `error` result; gotestsum counts only failures"),
    ("gotest-json/jstemmer__go-junit-report/102-broken.gojson.txt", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("gotest-json/jstemmer__go-junit-report/109-bench.gojson.txt", "go-junit-report counts benchmarks as tests; Verdict does not"),
    ("junit/EnricoMi__publish-unit-test-result-action/junit-xml/mocha/latex-utensils.xml", "the same test name repeated without a failure in between: Verdict keeps each repetition as its own test (`name #2`), the source merges them"),
    ("junit/EnricoMi__publish-unit-test-result-action/junit-xml/no-attributes.xml", "status mapping of the source differs (skipped vs failed for the same element)"),
    ("junit/EnricoMi__publish-unit-test-result-action/junit-xml/no-cases-but-tests.xml", "suite attributes claim tests but there are no <testcase> elements: Verdict counts elements, never suite attributes"),
    ("junit/EnricoMi__publish-unit-test-result-action/junit-xml/non-junit.xml", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("junit/jenkinsci__xunit-plugin/googletest/testcase4/input.xml", "status mapping of the source differs (skipped vs failed for the same element)"),
    ("junit/jenkinsci__xunit-plugin/junit/testcase6/input.xml", "status mapping of the source differs (skipped vs failed for the same element)"),
    ("nunit/EnricoMi__publish-unit-test-result-action/nunit/nunit3/jenkins/NUnit-correct.xml", "NUnit status mapping differs: Verdict counts `executed=False`/Inconclusive as skipped and `Failed` with label `Error`/`Invalid` as error"),
    ("nunit/EnricoMi__publish-unit-test-result-action/nunit/nunit3/jenkins/NUnit-correct2.xml", "NUnit status mapping differs: Verdict counts `executed=False`/Inconclusive as skipped and `Failed` with label `Error`/`Invalid` as error"),
    ("nunit/EnricoMi__publish-unit-test-result-action/nunit/nunit3/jenkins/NUnit-issue17521.xml", "NUnit status mapping differs: Verdict counts `executed=False`/Inconclusive as skipped and `Failed` with label `Error`/`Invalid` as error"),
    ("nunit/EnricoMi__publish-unit-test-result-action/nunit/nunit3/jenkins/NUnit-issue6353.xml", "NUnit status mapping differs: Verdict counts `executed=False`/Inconclusive as skipped and `Failed` with label `Error`/`Invalid` as error"),
    ("nunit/EnricoMi__publish-unit-test-result-action/nunit/nunit3/jenkins/NUnit-sec1752-file.xml", "declares an external entity (XXE test): Verdict never expands entities and rejects the reference"),
    ("nunit/EnricoMi__publish-unit-test-result-action/nunit/nunit3/jenkins/NUnit-sec1752-https.xml", "declares an external entity (XXE test): Verdict never expands entities and rejects the reference"),
    ("nunit/jenkinsci__nunit-plugin/NUnit-issue6353.xml", "NUnit status mapping differs: Verdict counts `executed=False`/Inconclusive as skipped and `Failed` with label `Error`/`Invalid` as error"),
    ("nunit/jenkinsci__xunit-plugin/nunit/testcase15/input.xml", "NUnit status mapping differs: Verdict counts `executed=False`/Inconclusive as skipped and `Failed` with label `Error`/`Invalid` as error"),
    ("nunit/jenkinsci__xunit-plugin/nunit/testcase8/input.xml", "NUnit status mapping differs: Verdict counts `executed=False`/Inconclusive as skipped and `Failed` with label `Error`/`Invalid` as error"),
    ("nunit/jenkinsci__xunit-plugin/nunit3/testcase3/input.xml", "NUnit status mapping differs: Verdict counts `executed=False`/Inconclusive as skipped and `Failed` with label `Error`/`Invalid` as error"),
    ("tap/aghassemi__tap-xunit/input/fail/todo", "status mapping of the source differs (skipped vs failed for the same element)"),
    ("tap/tapjs__tap-parser/die.tap", "empty input: Verdict rejects an empty report rather than reporting 0 tests"),
    ("tap/tapjs__tap-parser/empty-buffered-child.tap", "TAP stream tap-parser reads differently: Verdict counts every test point (also after a plan, out of order, or inside a YAML block that was never closed) and warns on plan problems"),
    ("tap/tapjs__tap-parser/empty.tap", "empty input: Verdict rejects an empty report rather than reporting 0 tests"),
    ("tap/tapjs__tap-parser/out_err_mix.tap", "TAP stream tap-parser reads differently: Verdict counts every test point (also after a plan, out of order, or inside a YAML block that was never closed) and warns on plan problems"),
    ("tap/tapjs__tap-parser/out_of_order.tap", "TAP stream tap-parser reads differently: Verdict counts every test point (also after a plan, out of order, or inside a YAML block that was never closed) and warns on plan problems"),
    ("tap/tapjs__tap-parser/skip-all-with-assert.tap", "TAP stream tap-parser reads differently: Verdict counts every test point (also after a plan, out of order, or inside a YAML block that was never closed) and warns on plan problems"),
    ("trx/EnricoMi__publish-unit-test-result-action/trx/yami_YAMILEX_2015-10-24_04_18_59.trx", "status mapping of the source differs (skipped vs failed for the same element)"),
    ("trx/jenkinsci__mstest-plugin/DataDriven.2008.trx", "data-driven TRX: Verdict counts each data row (InnerResults) as a test and not the parent; the converter counts differently"),
    ("trx/jenkinsci__mstest-plugin/DataDriven.2013.trx", "data-driven TRX: Verdict counts each data row (InnerResults) as a test and not the parent; the converter counts differently"),
    ("trx/jenkinsci__mstest-plugin/ReportingOptions.2008.trx", "data-driven TRX: Verdict counts each data row (InnerResults) as a test and not the parent; the converter counts differently"),
    ("trx/jenkinsci__mstest-plugin/ReportingOptions.2013.trx", "data-driven TRX: Verdict counts each data row (InnerResults) as a test and not the parent; the converter counts differently"),
    ("trx/jenkinsci__mstest-plugin/webTestResult.trx", "status mapping of the source differs (skipped vs failed for the same element)"),
    ("xunit/EnricoMi__publish-unit-test-result-action/xunit/mstest/fixie.xml", "the same test name repeated without a failure in between: Verdict keeps each repetition as its own test (`name #2`), the source merges them"),
    ("xunit/EnricoMi__publish-unit-test-result-action/xunit/mstest/pickles.xml", "the same test name repeated without a failure in between: Verdict keeps each repetition as its own test (`name #2`), the source merges them"),
];

/// Files of a supported format that the parser rejects, with no expectation file saying so.
const KNOWN_REJECTIONS: &[(&str, &str)] = &[
    ("gotest-json/GoTestTools__gotestfmt/depdownloadfailed-cached.txt", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("gotest-json/GoTestTools__gotestfmt/depdownloadfailed.txt", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("gotest-json/GoTestTools__gotestfmt/gosum.txt", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("gotest-json/GoTestTools__gotestfmt/issue-21.txt", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("gotest-json/GoTestTools__gotestfmt/issue-47.txt", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("gotest-json/GoTestTools__gotestfmt/nopackages.txt", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("gotest-json/GoTestTools__gotestfmt/norevision.txt", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("gotest-json/mfridman__tparse/follow-verbose/test_05.jsonl", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("gotest-json/mfridman__tparse/prescan/test_04.txt", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("junit/catchorg__Catch2/junit.sw.approved.txt", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("junit/gfoidl__trx2junit/junit/no-junit.xml", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("junit/inorton__junit2html/junit-testrun.xml", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("junit/jenkinsci__junit-plugin/testXxe-oob.xml", "declares an external entity (XXE test): Verdict never expands entities and rejects the reference"),
    ("junit/jenkinsci__junit-plugin/testXxe-xxe.xml", "declares an external entity (XXE test): Verdict never expands entities and rejects the reference"),
    ("junit/lukejpreston__xunit-viewer/invalid.xml", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("junit/mikepenz__action-junit-report/corrupt-junit/e2e-tests/corrupt/target/sf-reports/TEST-test.CorruptTest.xml", "malformed or truncated XML in the corpus: rejected with position"),
    ("nunit/jenkinsci__nunit-plugin/NUnit-sec1752-file.xml", "declares an external entity (XXE test): Verdict never expands entities and rejects the reference"),
    ("nunit/jenkinsci__nunit-plugin/NUnit-sec1752-https.xml", "declares an external entity (XXE test): Verdict never expands entities and rejects the reference"),
    ("tap/TestAnything__testanything.github.io/tap/example-14.tap", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("tap/aghassemi__tap-xunit/bad/junk", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
    ("tap/aghassemi__tap-xunit/bad/upstream-failure", "not a test report (build log, prose, other XML root): rejected as an unknown format"),
];

/// Files the manifest files under one format whose content is another (their root element or
/// shape says which), with the reason: detection is right to read them as it does.
const KNOWN_MISFILED: &[(&str, &str)] = &[
    ("junit/allure-framework__allure2/junitdata/invalid.xml", "an Allure 1 `<test-suite>` (the source's negative sample), read by its root element as NUnit"),
    ("junit/lukejpreston__xunit-viewer/xunit-2-2.xml", "an NUnit 3 `<test-run>` document"),
    ("nunit/jenkinsci__nunit-plugin/NUnit-issue34452.xml", "a JUnit `<testsuite>` document"),
];

/// Groups of files rejected on purpose, by path prefix, with the reason.
const REJECTED_GROUPS: &[(&str, &str)] = &[
    ("mocha-json/Antontelesh__mochawesome-merge/", "mochawesome's own JSON (`stats`, `results`), not Mocha's json reporter: rejected naming its keys"),
    ("mocha-json/test-results-reporter__parser/mocha/awesome/", "mochawesome's own JSON (`stats`, `results`), not Mocha's json reporter: rejected naming its keys"),
    ("cucumber-json/cucumber__godog/cucumber/empty", "an empty JSON array: no format can be told from it (with `--format cucumber` it reads as 0 tests)"),
    ("cucumber-json/test-results-reporter__parser/cucumber/empty-suite.json", "an empty JSON array: no format can be told from it (with `--format cucumber` it reads as 0 tests)"),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

/// The format a corpus row is in: its manifest format, or for `other` its framework, where
/// Verdict reads it.
fn format_of(manifest_format: &str, framework: &str) -> Option<Format> {
    Some(match manifest_format {
        "jest-json" => Format::Jest,
        "mocha-json" => Format::Mocha,
        "cucumber-json" => Format::Cucumber,
        "other" if framework.starts_with("dart test --reporter json") => Format::Dart,
        "other" if framework.starts_with("RSpec --format json") => Format::Rspec,
        "other" if framework.starts_with("TestNG testng-results.xml") => Format::Testng,
        "junit" => Format::Junit,
        "trx" => Format::Trx,
        "nunit" => Format::Nunit,
        "xunit" => Format::Xunit,
        "ctrf" => Format::Ctrf,
        "buildkite-json" => Format::Buildkite,
        "tap" => Format::Tap,
        "gotest-json" => Format::Gotest,
        _ => return None,
    })
}

fn parse_path(path: &Path, format: Option<Format>) -> Result<Report, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let result = std::panic::catch_unwind(|| {
        verdict_formats::parse(BufReader::new(file), format, &ParseLimits::DEFAULT)
    });
    match result {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => panic!("parser panicked on {}", path.display()),
    }
}

/// The summary of a report as `verdict parse --summary` streams it.
fn tally_path(path: &Path) -> verdict_model::Summary {
    let file = File::open(path).unwrap();
    let mut tally = verdict_formats::Tally::default();
    verdict_formats::for_each_case(
        BufReader::new(file),
        None,
        &ParseLimits::DEFAULT,
        &mut |c| tally.add(c),
    )
    .unwrap();
    tally.summary()
}

/// Counts of a JUnit file written by a converting tool, counting `<testcase>`s as written.
fn junit_counts(path: &Path) -> Option<Counts> {
    let file = File::open(path).ok()?;
    let mut c = Counts {
        tests: 0,
        failed: 0,
        skipped: 0,
    };
    verdict_formats::for_each_case(
        BufReader::new(file),
        Some(Format::Junit),
        &ParseLimits::DEFAULT,
        &mut |case| {
            c.tests += 1;
            let last = case
                .attempts
                .iter()
                .map(|a| a.status)
                .max_by_key(|s| s.severity());
            match last {
                Some(s) if s.is_failure() => c.failed += 1,
                Some(verdict_model::Status::Skipped | verdict_model::Status::Xfailed) => {
                    c.skipped += 1;
                }
                _ => {}
            }
        },
    )
    .ok()?;
    Some(c)
}

fn has_indented_test_points(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| {
        t.lines().any(|l| {
            let trimmed = l.trim_start();
            trimmed.len() < l.len() && (trimmed.starts_with("ok") || trimmed.starts_with("not ok"))
        })
    })
}

enum Expectation {
    Counts(Counts, &'static str),
    Tests(u64, &'static str),
    Reject(&'static str),
    Accept(&'static str),
    /// An expectation file this test does not read (a duplicate of one it reads).
    Unused,
}

fn expectation(expected: &Path, notes: &str) -> Option<Expectation> {
    let name = expected.file_name()?.to_str()?;
    let text = || std::fs::read_to_string(expected).ok();
    if name.ends_with(".results.json") {
        let v: serde_json::Value = serde_json::from_str(&text()?).ok()?;
        let s = &v["stats"];
        let n = |k: &str| s[k].as_u64().unwrap_or(0);
        return Some(Expectation::Counts(
            Counts {
                tests: n("tests"),
                failed: n("tests_fail") + n("tests_error"),
                skipped: n("tests_skip"),
            },
            "publish-unit-test-result-action stats",
        ));
    }
    if name.ends_with(".exception") {
        return Some(Expectation::Reject(
            "publish-unit-test-result-action exception",
        ));
    }
    if name.ends_with(".results") || name.ends_with(".snap") {
        return Some(Expectation::Unused);
    }
    if name.ends_with(".md") {
        let re = Regex::new(r"\*\*(\d+)\*\* tests were completed in .*? with \*\*(\d+)\*\* passed, \*\*(\d+)\*\* failed and \*\*(\d+)\*\* skipped").unwrap();
        let t = text()?;
        let c = re.captures(&t)?;
        let n = |i: usize| c[i].parse::<u64>().unwrap();
        return Some(Expectation::Counts(
            Counts {
                tests: n(1),
                failed: n(3),
                skipped: n(4),
            },
            "dorny/test-reporter summary",
        ));
    }
    if name.ends_with(".test.cjs") {
        let t = text()?;
        let start = t.find("FinalResults {")?;
        let block = &t[start..start + t[start..].find("\n    },")?];
        let num = |k: &str| -> Option<u64> {
            let re = Regex::new(&format!(r#""{k}": (\d+),"#)).unwrap();
            re.captures(block).map(|c| c[1].parse().unwrap())
        };
        // tap-parser counts plan violations as failures and `not ok # TODO` as both a failure
        // and a todo, where Verdict warns and counts an xfail; so only the number of test
        // points is compared. A bail-out is one more (error) result here.
        let bailout = !block.contains("\"bailout\": false");
        return Some(Expectation::Tests(
            num("count")? + u64::from(bailout),
            "tap-parser FinalResults count",
        ));
    }
    if name.ends_with(".parser.json") {
        let v: serde_json::Value = serde_json::from_str(&text()?).ok()?;
        let mut c = Counts {
            tests: 0,
            failed: 0,
            skipped: 0,
        };
        for p in v["packages"].as_array().into_iter().flatten() {
            for t in p["testcases"].as_array().into_iter().flatten() {
                c.tests += 1;
                match t["result"].as_str() {
                    Some("FAIL") => c.failed += 1,
                    Some("SKIP") => c.skipped += 1,
                    _ => {}
                }
            }
        }
        return Some(Expectation::Counts(c, "gotestfmt parser result"));
    }
    if name.ends_with(".test.json") {
        return Some(if notes.contains("schema-valid=True") {
            Expectation::Accept("CTRF conformance vector, schema-valid")
        } else {
            Expectation::Unused
        });
    }
    if expected
        .to_str()?
        .contains("gotestsum/cmd/testdata/expected")
        || expected.to_str()?.contains("gotestsum/testjson")
    {
        let t = text()?;
        let re = Regex::new(
            r"DONE (\d+) tests?(?:, (\d+) skipped)?(?:, (\d+) failures?)?(?:, (\d+) errors?)?",
        )
        .unwrap();
        let Some(c) = re.captures(&t) else {
            // A text rendering without the DONE line (format/standard-verbose.out).
            return Some(Expectation::Unused);
        };
        let n = |i: usize| c.get(i).map_or(0, |m| m.as_str().parse::<u64>().unwrap());
        return Some(Expectation::Counts(
            Counts {
                tests: n(1),
                failed: n(3) + n(4),
                skipped: n(2),
            },
            "gotestsum summary",
        ));
    }
    junit_counts(expected)
        .map(|c| Expectation::Counts(c, "JUnit written by the source's converter"))
}

#[derive(Default)]
struct FormatStats {
    files: u64,
    parsed: u64,
    checked: u64,
    matched: u64,
    deliberate: u64,
    rejected_as_expected: u64,
}

#[test]
fn corpus_should_parse_without_panic_and_match_expectations() {
    let dir = corpus_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv"))
        .unwrap_or_else(|e| panic!("the corpus must be at {}: {e}", dir.display()));
    let known_diff: BTreeMap<&str, &str> = KNOWN_DIFFERENCES.iter().copied().collect();
    let known_reject: BTreeMap<&str, &str> = KNOWN_REJECTIONS.iter().copied().collect();
    let mut stats: BTreeMap<&str, FormatStats> = BTreeMap::new();
    let mut problems = Vec::new();

    for row in manifest.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let (path, fmt, source, expected, notes) = (
            cols[0],
            cols[1],
            cols[3],
            cols[6],
            cols.get(7).copied().unwrap_or(""),
        );
        let Some(format) = format_of(fmt, cols[2]) else {
            continue;
        };
        let st = stats.entry(fmt).or_default();
        st.files += 1;
        let parsed = parse_path(&dir.join(path), None);
        if let Ok(report) = &parsed {
            let streamed = tally_path(&dir.join(path));
            if streamed != report.summary {
                problems.push(format!(
                    "{path}: the streaming tally says {streamed:?}, the merged results {:?}",
                    report.summary
                ));
            }
            if report.format != format && !KNOWN_MISFILED.iter().any(|(p, _)| *p == path) {
                problems.push(format!(
                    "{path}: detected as {}, not {format}",
                    report.format
                ));
            }
        }
        if parsed.is_ok() {
            st.parsed += 1;
        }
        let owner = source.replace('/', "__");
        let mut checked = false;
        for exp in expected.split(';').filter(|e| !e.is_empty()) {
            let exp = exp.split('@').next().unwrap();
            let exp_path = dir.join("expected").join(&owner).join(exp);
            let Some(expectation) = expectation(&exp_path, notes) else {
                problems.push(format!(
                    "{path}: cannot read expectation {}",
                    exp_path.display()
                ));
                continue;
            };
            match (expectation, &parsed) {
                (Expectation::Unused, _) => {}
                (Expectation::Counts(want, what), Ok(report)) => {
                    if checked {
                        continue;
                    }
                    checked = true;
                    st.checked += 1;
                    let got = Counts::from(report);
                    if got == want {
                        st.matched += 1;
                    } else if known_diff.contains_key(path) {
                        st.deliberate += 1;
                    } else {
                        problems.push(format!("{path}: {what} says {want:?}, we count {got:?}"));
                    }
                }
                (Expectation::Tests(want, what), Ok(report)) => {
                    checked = true;
                    st.checked += 1;
                    if report.summary.tests == want {
                        st.matched += 1;
                    } else if known_diff.contains_key(path)
                        || has_indented_test_points(&dir.join(path))
                    {
                        // tap-parser counts a subtest block as one point of its parent;
                        // Verdict counts the leaves (the issue's rule: leaves are the tests).
                        st.deliberate += 1;
                    } else {
                        problems.push(format!(
                            "{path}: {what} says {want} tests, we count {}",
                            report.summary.tests
                        ));
                    }
                }
                (Expectation::Counts(_, what) | Expectation::Tests(_, what), Err(e)) => {
                    if !checked
                        && (known_diff.contains_key(path) || known_reject.contains_key(path))
                    {
                        checked = true;
                        st.checked += 1;
                        st.deliberate += 1;
                    } else if !checked {
                        checked = true;
                        st.checked += 1;
                        problems.push(format!("{path}: {what} has counts, we reject: {e}"));
                    }
                }
                (Expectation::Reject(_), Err(_)) => {
                    checked = true;
                    st.checked += 1;
                    st.matched += 1;
                    st.rejected_as_expected += 1;
                }
                (Expectation::Reject(what), Ok(_)) => {
                    checked = true;
                    st.checked += 1;
                    problems.push(format!("{path}: {what} expects a rejection, we accept"));
                }
                (Expectation::Accept(_), Ok(_)) => {
                    checked = true;
                    st.checked += 1;
                    st.matched += 1;
                }
                (Expectation::Accept(what), Err(e)) => {
                    checked = true;
                    st.checked += 1;
                    problems.push(format!("{path}: {what}, we reject: {e}"));
                }
            }
        }
        if let Err(e) = &parsed {
            let expected_rejection = notes.contains("schema-valid=False") || checked;
            let in_group = REJECTED_GROUPS.iter().any(|(p, _)| path.starts_with(p));
            if !expected_rejection && !known_reject.contains_key(path) && !in_group {
                problems.push(format!(
                    "{path}: rejected with no expectation saying so: {e}"
                ));
            }
        }
    }

    let pct = |a: u64, b: u64| {
        if b == 0 {
            "–".to_string()
        } else {
            format!("{:.0}%", 100.0 * a as f64 / b as f64)
        }
    };
    let mut table = String::from(
        "| format | files | parsed | with expected result | matching | deliberate differences | agreement (matching + deliberate) |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (fmt, s) in &stats {
        table.push_str(&format!(
            "| {fmt} | {} | {} ({}) | {} | {} ({}) | {} | {} |\n",
            s.files,
            s.parsed,
            pct(s.parsed, s.files),
            s.checked,
            s.matched,
            pct(s.matched, s.checked),
            s.deliberate,
            pct(s.matched + s.deliberate, s.checked)
        ));
    }
    println!("{table}");
    if let Ok(out) = std::env::var("VERDICT_CORPUS_REPORT") {
        std::fs::write(out, &table).unwrap();
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
