//! Property tests: truncated, mutated and random input never panics any parser, and memory
//! stays bounded — for small inputs and for a generated report of hundreds of megabytes.
//!
//! One `#[test]` runs everything in sequence so the counting allocator measures only the
//! parse under test.

#[path = "support/generate.rs"]
mod generate;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use verdict_formats::{for_each_case, parse, Format, ParseLimits};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only adds bookkeeping.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Peak bytes allocated while `f` runs, above what was allocated before.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

const SEEDS: &[(&str, &str)] = &[
    ("junit", r#"<?xml version="1.0"?><testsuites><testsuite name="s" file="f"><testcase classname="C" name="t[1]" time="0.1"><failure message="m" type="T">stack
at x:1</failure><system-out><![CDATA[out]]></system-out></testcase><testcase classname="C" name="u"><flakyFailure message="f"/><skipped/></testcase></testsuite></testsuites>"#),
    ("trx", r#"<TestRun><Results><UnitTestResult testId="1" testName="A" outcome="Failed" duration="00:00:01.0"><Output><ErrorInfo><Message>m</Message></ErrorInfo></Output><InnerResults><UnitTestResult testId="1" testName="A (1)" outcome="Passed"/></InnerResults></UnitTestResult></Results><TestDefinitions><UnitTest id="1"><TestMethod className="C" name="A"/></UnitTest></TestDefinitions></TestRun>"#),
    ("nunit", r#"<test-run><test-suite name="a"><test-case name="T(1)" classname="C" result="Failed" label="Error" duration="0.1"><failure><message>m</message></failure></test-case></test-suite></test-run>"#),
    ("xunit", r#"<assemblies><assembly name="a"><collection><test name="C.T" type="C" result="Fail" time="0.1"><failure exception-type="E"><message>m</message></failure><traits><trait name="a" value="b"/></traits></test></collection></assembly></assemblies>"#),
    ("ctrf", r#"{"results": {"tool": {"name": "x"}, "tests": [{"name": "a", "status": "failed", "duration": 1, "message": "m", "retries": 1, "suite": ["s"]}, {"name": "b", "status": "passed", "duration": 2, "retryAttempts": [{"status": "failed"}]}]}}"#),
    ("buildkite", r#"[{"scope": "S", "name": "n", "location": "f.rb:1", "result": "failed", "failure_reason": "r", "history": {"duration": 0.1}}]"#),
    ("tap", "TAP version 14\n1..3\nok 1 - a # SKIP x\nnot ok 2 - b\n  ---\n  message: m\n  ...\n# Subtest: s\n    ok 1 - c\n    1..1\nok 3 - s\nBail out! x\n"),
    ("gotest", "noise\n{\"Action\":\"run\",\"Package\":\"p\",\"Test\":\"T\"}\n{\"Action\":\"output\",\"Package\":\"p\",\"Test\":\"T\",\"Output\":\"x\\n\"}\n{\"Action\":\"fail\",\"Package\":\"p\",\"Test\":\"T\",\"Elapsed\":0.1}\n"),
    ("summary", "Total tests: 3\nPassed: 2\nFailed: 1\n"),
    ("jest", r#"{"numTotalTests": 2, "testResults": [{"name": "/a.test.js", "status": "failed", "message": "", "assertionResults": [{"ancestorTitles": ["d"], "title": "t", "status": "failed", "duration": 3, "failureMessages": ["Error: \u001b[31mboom\u001b[39m\n at x"], "invocations": 2, "retryReasons": ["first"]}, {"ancestorTitles": [], "title": "u", "status": "todo", "failureMessages": []}]}, {"name": "/b.test.js", "status": "failed", "message": "Test suite failed to run\nCannot find module", "assertionResults": []}]}"#),
    ("mocha", r#"{"stats": {"tests": 3}, "tests": [], "pending": [{"title": "p", "fullTitle": "d p", "file": "f.js", "err": {}}], "failures": [{"title": "f", "fullTitle": "d f", "duration": 1, "currentRetry": 1, "err": {"message": "m", "stack": "s"}}, {"title": "\"before all\" hook", "fullTitle": "d \"before all\" hook", "err": {"message": "h"}}], "passes": [{"title": "ok", "fullTitle": "d ok", "duration": 2, "currentRetry": 0, "err": {}}]}"#),
    ("playwright", r#"{"config": {}, "suites": [{"title": "a.spec.ts", "file": "a.spec.ts", "specs": [], "suites": [{"title": "d", "specs": [{"title": "t", "file": "a.spec.ts", "line": 3, "tags": ["@x"], "tests": [{"expectedStatus": "passed", "projectName": "p", "results": [{"status": "failed", "duration": 1, "error": {"message": "m", "stack": "s"}, "stdout": [{"text": "o"}]}, {"status": "passed", "duration": 2}]}]}]}]}], "errors": [{"message": "Error: no", "location": {"file": "b.spec.ts", "line": 1}}]}"#),
    ("cucumber", r#"[{"uri": "a.feature", "name": "F", "keyword": "Feature", "elements": [{"type": "background", "steps": [{"keyword": "Given ", "name": "g", "result": {"status": "passed", "duration": 1000000}}]}, {"type": "scenario", "name": "s", "line": 3, "tags": [{"name": "@t"}], "steps": [{"keyword": "When ", "name": "w", "result": {"status": "failed", "duration": 5, "error_message": "boom\nat x"}}]}]}]"#),
    ("testng", r#"<testng-results><suite name="S"><test name="T"><class name="a.B"><test-method is-config="true" name="setUp" status="FAIL" duration-ms="1"><exception class="E"><message><![CDATA[m]]></message></exception></test-method><test-method name="t" status="SKIP" retried="true" duration-ms="2"/><test-method name="t" status="PASS" duration-ms="3"><params><param index="0"><value><![CDATA[1]]></value></param></params></test-method></class></test></suite></testng-results>"#),
    ("gtest", r#"{"tests": 2, "name": "AllTests", "testsuites": [{"name": "S", "testsuite": [{"name": "T", "classname": "S", "status": "RUN", "result": "COMPLETED", "time": "0.5s", "failures": [{"failure": "f.cc:1\ngr\u00C3\u00BCn", "type": ""}]}, {"name": "U", "status": "NOTRUN", "time": "0s"}]}]}"#),
    ("rspec", r#"{"version": "3.12.0", "examples": [{"description": "a", "full_description": "G a", "status": "failed", "file_path": "./a_spec.rb", "line_number": 2, "run_time": 0.1, "exception": {"class": "E", "message": "m", "backtrace": ["x"]}}, {"description": "b", "status": "pending", "pending_message": "later"}]}"#),
    ("dart", "{\"protocolVersion\":\"0.1.1\",\"type\":\"start\",\"time\":0}\n{\"suite\":{\"id\":0,\"path\":\"t.dart\"},\"type\":\"suite\",\"time\":0}\n{\"test\":{\"id\":1,\"name\":\"g t\",\"suiteID\":0,\"line\":3},\"type\":\"testStart\",\"time\":1}\n{\"testID\":1,\"messageType\":\"print\",\"message\":\"hi\",\"type\":\"print\",\"time\":2}\n{\"testID\":1,\"error\":\"boom\",\"stackTrace\":\"at x\",\"isFailure\":true,\"type\":\"error\",\"time\":3}\n{\"testID\":1,\"result\":\"failure\",\"skipped\":false,\"hidden\":false,\"type\":\"testDone\",\"time\":4}\n{\"test\":{\"id\":2,\"name\":\"never\",\"suiteID\":0},\"type\":\"testStart\",\"time\":5}\n"),
    ("pytest-json", r#"{"created": 1.0, "exitcode": 1, "summary": {}, "tests": [{"nodeid": "t.py::C::a[x]", "lineno": 3, "outcome": "rerun", "setup": {"duration": 0.1, "outcome": "passed"}, "call": {"duration": 0.2, "outcome": "passed"}}, {"nodeid": "t.py::b", "outcome": "failed", "call": {"duration": 0.1, "outcome": "failed", "crash": {"message": "m"}, "longrepr": "tb", "stdout": "o"}}]}"#),
];

/// Small inputs never make the parser hold more than its fixed buffers (64 KiB read buffer,
/// 64 KiB format-detection prefix, the XML event buffer) and the results.
const SMALL_INPUT_PEAK: usize = 2 * 1024 * 1024;

fn no_panic_and_bounded(bytes: &[u8], format: Option<Format>) {
    let peak = peak_during(|| {
        let _ = parse(bytes, format, &ParseLimits::DEFAULT);
    });
    assert!(
        peak < SMALL_INPUT_PEAK,
        "peak {peak} bytes on {} input bytes",
        bytes.len()
    );
}

#[test]
fn parsers_should_not_panic_and_should_bound_memory() {
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    for f in Format::ALL {
        assert!(
            SEEDS.iter().any(|(name, _)| *name == f.as_str()),
            "no seed for {f}"
        );
    }
    for (name, seed) in SEEDS {
        let format = Format::parse(name);
        let seed = seed.as_bytes().to_vec();
        assert!(
            parse(seed.as_slice(), format, &ParseLimits::DEFAULT).is_ok(),
            "seed of {name} parses"
        );
        // Every format's seed is told apart from all the others by detection.
        let detected = parse(seed.as_slice(), None, &ParseLimits::DEFAULT).map(|r| r.format);
        assert_eq!(detected.ok(), format, "seed of {name} detected as");

        // Every truncation of the seed.
        for cut in 0..seed.len() {
            no_panic_and_bounded(&seed[..cut], format);
            no_panic_and_bounded(&seed[..cut], None);
        }
        // Random mutations: replace, insert or delete bytes.
        let s = seed.clone();
        runner
            .run(
                &(
                    proptest::collection::vec((0..s.len(), any::<u8>(), 0u8..3), 1..8),
                    any::<bool>(),
                ),
                move |(edits, auto)| {
                    let mut bytes = s.clone();
                    for (at, byte, op) in edits {
                        let at = at.min(bytes.len().saturating_sub(1));
                        match op {
                            0 if !bytes.is_empty() => bytes[at] = byte,
                            1 => bytes.insert(at, byte),
                            _ if !bytes.is_empty() => {
                                bytes.remove(at);
                            }
                            _ => {}
                        }
                    }
                    no_panic_and_bounded(&bytes, if auto { None } else { format });
                    Ok(())
                },
            )
            .unwrap();
        // Random bytes.
        runner
            .run(
                &proptest::collection::vec(any::<u8>(), 0..2048),
                move |bytes| {
                    no_panic_and_bounded(&bytes, format);
                    Ok(())
                },
            )
            .unwrap();
    }

    // A 300 MB generated report streams through in bounded memory: the peak does not grow
    // with the file. (The benchmark measures the 500 MB case's RSS; this is the assertion.)
    let small = streamed_peak(20_000);
    let large = streamed_peak(200_000);
    assert!(
        large < 16 * 1024 * 1024,
        "peak {large} bytes for a 200k-case report"
    );
    assert!(
        large < small * 2,
        "peak grows with size: {small} for 20k cases, {large} for 200k"
    );
}

fn streamed_peak(cases: usize) -> usize {
    let mut count = 0u64;
    let peak = peak_during(|| {
        for_each_case(
            generate::JunitGenerator::new(cases),
            None,
            &ParseLimits::DEFAULT,
            &mut |_| count += 1,
        )
        .unwrap();
    });
    assert!(count >= cases as u64);
    peak
}
