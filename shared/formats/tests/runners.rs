//! Reports written by the real runners, run here on the samples under `tests/runners/`: each
//! test runs its runner, reads the report it wrote with format detection, and checks the counts
//! and the statuses against what the sample does (its comments say it), not against a file
//! written by hand.
//!
//! The runners come from `scripts/runners.sh install` (Debian, PyPI and npm; `make test`
//! runs it first).

#[path = "support/by_name.rs"]
mod by_name;
use by_name::by_name;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use verdict_formats::{parse, Format, ParseLimits, Report};
use verdict_model::Status;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn samples(runner: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/runners")
        .join(runner)
}

fn tools() -> PathBuf {
    let dir = root().join(".tools/runners");
    assert!(
        dir.join("venv/.done").exists() && dir.join("node/.done").exists(),
        "the test runners are not installed in {}: run scripts/runners.sh install (make test does)",
        dir.display()
    );
    dir
}

fn node_bin(name: &str) -> PathBuf {
    tools().join("node/node_modules/.bin").join(name)
}

fn python() -> PathBuf {
    tools().join("venv/bin/python")
}

/// A fresh directory for one runner's output.
fn out_dir(name: &str) -> PathBuf {
    let dir = root().join("target/runner-reports").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a runner; its exit status is not checked, since the samples fail on purpose, but the
/// report must have been written.
fn run(cmd: &mut Command, report: &Path) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    assert!(
        report.is_file() || std::fs::read_dir(report).is_ok_and(|mut d| d.next().is_some()),
        "{cmd:?} wrote no report at {}:\n{}\n{}",
        report.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(path: &Path, format: Format) -> Report {
    let file = std::fs::File::open(path).unwrap();
    let report = parse(std::io::BufReader::new(file), None, &ParseLimits::DEFAULT)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(report.format, format, "{} detected as", path.display());
    report
}

/// (tests, passed, failed, errors, skipped, xfailed, xpassed, flaky)
type Counts = (u64, u64, u64, u64, u64, u64, u64, u64);

fn counts(r: &Report) -> Counts {
    let s = r.summary;
    (
        s.tests, s.passed, s.failed, s.errors, s.skipped, s.xfailed, s.xpassed, s.flaky,
    )
}

fn ids(r: &Report) -> BTreeSet<&str> {
    r.results.iter().map(|t| t.test_id.as_str()).collect()
}

fn pytest(args: &[&str], report: &Path) {
    run(
        Command::new(python())
            .args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--reruns",
                "1",
            ])
            .args(args)
            .arg(samples("pytest")),
        report,
    );
}

#[test]
fn pytest_rerunfailures_attempts_are_one_test_in_junit_and_json() {
    let dir = out_dir("pytest");
    let (xml, json) = (dir.join("pytest.xml"), dir.join("pytest.json"));
    pytest(
        &[
            "-o",
            "junit_family=xunit2",
            &format!("--junitxml={}", xml.display()),
        ],
        &xml,
    );
    pytest(
        &[
            "--json-report",
            &format!("--json-report-file={}", json.display()),
        ],
        &json,
    );

    let junit = read(&xml, Format::Junit);
    // pytest ran 10 tests: 4 passed + 1 xpassed (JUnit cannot say xpassed), 2 failed, 1 error,
    // 1 skipped, 1 xfailed; the flaky one failed once, then passed.
    assert_eq!(counts(&junit), (10, 5, 2, 1, 1, 1, 0, 1));
    let flaky = by_name(&junit, "test_flaky_then_passes");
    assert!(flaky.flaky);
    assert_eq!(flaky.attempts.len(), 2);
    let fails = by_name(&junit, "test_fails");
    assert_eq!(fails.attempts.len(), 2, "the rerun is an attempt");
    assert!(fails.message.as_deref().unwrap().contains("one is not two"));

    let json = read(&json, Format::PytestJson);
    assert_eq!(counts(&json), (10, 4, 2, 1, 1, 1, 1, 1));
    assert_eq!(by_name(&json, "test_xpasses").status, Status::Xpassed);
    assert_eq!(
        by_name(&json, "test_skipped").message.as_deref(),
        Some("not on this machine")
    );
    assert_eq!(ids(&junit), ids(&json), "both outputs name the tests alike");
}

#[test]
fn xmlrunner_expected_failures_and_unexpected_successes() {
    let dir = out_dir("xmlrunner");
    run(
        Command::new(python())
            .arg(samples("xmlrunner").join("test_sample.py"))
            .arg(&dir),
        &dir,
    );
    // xmlrunner names its file after the class and the time: the only file there.
    let report = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .expect("a report")
        .unwrap()
        .path();
    let r = read(&report, Format::Junit);
    assert_eq!(counts(&r), (6, 1, 1, 1, 1, 1, 1, 0));
    assert_eq!(by_name(&r, "test_expected_failure").status, Status::Xfailed);
    assert_eq!(
        by_name(&r, "test_unexpected_success").status,
        Status::Xpassed
    );
}

/// Compiles a C++ sample with the system compiler.
fn compile(source: &Path, binary: &Path, libs: &[&str]) {
    let out = Command::new("g++")
        .args(["-std=c++17", "-o"])
        .arg(binary)
        .arg(source)
        .args(libs)
        .output()
        .expect("g++");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn catch2_mayfail_and_shouldfail_failures_are_expected() {
    let dir = out_dir("catch2");
    let binary = dir.join("sample");
    compile(&samples("catch2").join("sample.cpp"), &binary, &[]);
    let report = dir.join("catch2.xml");
    run(
        Command::new(&binary)
            .args(["-r", "junit", "-o"])
            .arg(&report),
        &report,
    );
    let r = read(&report, Format::Junit);
    // Catch2's JUnit reporter writes a passing [!mayfail]/[!shouldfail] test as plain passed.
    assert_eq!(counts(&r), (6, 3, 1, 0, 0, 2, 0, 0));
    assert_eq!(by_name(&r, "may fail and fails").status, Status::Xfailed);
    assert_eq!(by_name(&r, "should fail and fails").status, Status::Xfailed);
    assert_eq!(by_name(&r, "fails").status, Status::Failed);
}

#[test]
fn googletest_json_decodes_text_and_names_tests_as_its_xml_does() {
    let dir = out_dir("gtest");
    let binary = dir.join("sample");
    compile(
        &samples("gtest").join("sample.cpp"),
        &binary,
        &["-lgtest", "-lgtest_main", "-pthread"],
    );
    let (json, xml) = (dir.join("gtest.json"), dir.join("gtest.xml"));
    run(
        Command::new(&binary).arg(format!("--gtest_output=json:{}", json.display())),
        &json,
    );
    run(
        Command::new(&binary).arg(format!("--gtest_output=xml:{}", xml.display())),
        &xml,
    );
    let r = read(&json, Format::Gtest);
    assert_eq!(counts(&r), (7, 3, 2, 0, 2, 0, 0, 0));
    let fails = by_name(&r, "Fails");
    assert!(
        fails.details.as_deref().unwrap().contains("grüße, 世界"),
        "{:?}",
        fails.details
    );
    assert_eq!(
        fails.message.as_deref(),
        Some("Expected equality of these values:")
    );
    assert_eq!(by_name(&r, "Small/2").status, Status::Failed);
    assert_eq!(ids(&r), ids(&read(&xml, Format::Junit)));
}

fn jest_like(r: &Report) {
    assert_eq!(by_name(r, "outer › inner › fails").status, Status::Failed);
    let flaky = by_name(r, "outer › flaky then passes");
    assert!(flaky.flaky, "{flaky:?}");
    assert_eq!(by_name(r, "outer › to do").message.as_deref(), Some("todo"));
    assert_eq!(by_name(r, "outer › inner › passes").suite, "outer / inner");
}

#[test]
fn jest_json_with_retries_and_a_file_that_fails_to_load() {
    let dir = out_dir("jest");
    let report = dir.join("jest.json");
    let config = format!("{{\"rootDir\": {:?}}}", samples("jest").to_str().unwrap());
    run(
        Command::new(node_bin("jest"))
            .args(["--ci", "--json", "--config", &config])
            .arg(format!("--outputFile={}", report.display())),
        &report,
    );
    let r = read(&report, Format::Jest);
    assert_eq!(counts(&r), (7, 3, 1, 1, 2, 0, 0, 1));
    jest_like(&r);
    assert_eq!(by_name(&r, "outer › inner › fails").attempts.len(), 2);
    let broken = by_name(&r, "[test file]");
    assert_eq!(broken.status, Status::Error);
    assert!(
        broken
            .message
            .as_deref()
            .unwrap()
            .contains("Cannot find module"),
        "{broken:?}"
    );
}

#[test]
fn vitest_json_with_retries() {
    let dir = out_dir("vitest");
    let report = dir.join("vitest.json");
    run(
        Command::new(node_bin("vitest"))
            .current_dir(samples("vitest"))
            .args(["run", "--reporter=json"])
            .arg(format!("--outputFile={}", report.display())),
        &report,
    );
    let r = read(&report, Format::Jest);
    assert_eq!(counts(&r), (6, 3, 1, 0, 2, 0, 0, 1));
    jest_like(&r);
}

#[test]
fn mocha_json_with_retries_and_pending() {
    let dir = out_dir("mocha");
    let report = dir.join("mocha.json");
    run(
        Command::new(node_bin("mocha"))
            .args(["--reporter", "json", "--reporter-option"])
            .arg(format!("output={}", report.display()))
            .arg(samples("mocha").join("sample.spec.js")),
        &report,
    );
    let r = read(&report, Format::Mocha);
    assert_eq!(counts(&r), (5, 2, 1, 0, 2, 0, 0, 1));
    assert!(by_name(&r, "outer flaky then passes").flaky);
    assert!(by_name(&r, "outer inner fails")
        .message
        .as_deref()
        .unwrap()
        .contains("strictly equal"));
}

#[test]
fn playwright_json_with_projects_retries_and_expected_failures() {
    let dir = out_dir("playwright");
    let report = dir.join("playwright.json");
    run(
        Command::new(node_bin("playwright"))
            .current_dir(samples("playwright"))
            .args(["test", "--retries=1", "--reporter=json"])
            .env("NODE_PATH", tools().join("node/node_modules"))
            .env("PLAYWRIGHT_JSON_OUTPUT_NAME", &report),
        &report,
    );
    let r = read(&report, Format::Playwright);
    // Five specs in two projects.
    assert_eq!(counts(&r), (10, 4, 2, 0, 2, 2, 0, 2));
    let fails = by_name(&r, "outer › inner › fails [alpha]");
    assert_eq!(fails.attempts.len(), 2);
    assert!(
        !fails.message.as_deref().unwrap().contains('\u{1b}'),
        "colour codes removed: {:?}",
        fails.message
    );
    assert_eq!(
        by_name(&r, "outer › expected to fail [beta]").status,
        Status::Xfailed
    );
    assert!(by_name(&r, "outer › flaky then passes [beta]").flaky);
}

#[test]
fn cucumber_json_scenarios_take_their_worst_step() {
    let dir = out_dir("cucumber");
    let report = dir.join("cucumber.json");
    run(
        Command::new(node_bin("cucumber-js"))
            .current_dir(samples("cucumber"))
            .env("NODE_PATH", tools().join("node/node_modules"))
            .arg("--format")
            .arg(format!("json:{}", report.display())),
        &report,
    );
    let r = read(&report, Format::Cucumber);
    assert_eq!(counts(&r), (6, 2, 2, 1, 1, 0, 0, 0));
    let undefined = by_name(&r, "undefined");
    assert_eq!(undefined.status, Status::Error);
    assert_eq!(
        undefined.message.as_deref(),
        Some("When nobody wrote this step: step undefined")
    );
    assert_eq!(by_name(&r, "pending").tags, vec!["area", "wip"]);
    assert!(by_name(&r, "fails")
        .message
        .as_deref()
        .unwrap()
        .starts_with("When it breaks: "));
}

#[test]
fn rspec_json_pending_is_skipped() {
    let dir = out_dir("rspec");
    let report = dir.join("rspec.json");
    run(
        Command::new("rspec")
            .current_dir(samples("rspec"))
            .args(["--format", "json", "--out"])
            .arg(&report),
        &report,
    );
    let r = read(&report, Format::Rspec);
    assert_eq!(counts(&r), (4, 1, 1, 0, 2, 0, 0, 0));
    assert_eq!(
        by_name(&r, "Outer is pending").message.as_deref(),
        Some("not done")
    );
    assert_eq!(
        by_name(&r, "Outer inner fails").failure_type.as_deref(),
        Some("RSpec::Expectations::ExpectationNotMetError")
    );
}

#[test]
fn testng_results_with_data_providers_and_a_failing_setup() {
    let dir = out_dir("testng");
    let classes = dir.join("classes");
    let cp = "/usr/share/java/testng.jar:/usr/share/java/jcommander.jar:/usr/share/java/bsh.jar";
    let sources: Vec<PathBuf> = std::fs::read_dir(samples("testng").join("sample"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let out = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .args(["-cp", cp])
        .args(&sources)
        .output()
        .expect("javac");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = dir.join("out/testng-results.xml");
    run(
        Command::new("java")
            .args(["-cp", &format!("{}:{cp}", classes.display())])
            .args(["org.testng.TestNG", "-d"])
            .arg(dir.join("out"))
            .args(["-testclass", "sample.SampleTest,sample.BrokenSetupTest"]),
        &report,
    );
    let r = read(&report, Format::Testng);
    assert_eq!(counts(&r), (8, 3, 2, 1, 2, 0, 0, 0));
    assert_eq!(by_name(&r, "small[3]").status, Status::Failed);
    let setup = by_name(&r, "[setup] setUp");
    assert_eq!(setup.status, Status::Error);
    assert_eq!(setup.classname, "sample.BrokenSetupTest");
    assert_eq!(setup.message.as_deref(), Some("no database"));
    assert_eq!(by_name(&r, "skipped").message.as_deref(), Some("not here"));
}
