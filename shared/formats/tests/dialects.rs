//! One test per dialect rule: small reports written the way each producer writes them.

#[path = "support/by_name.rs"]
mod by_name;
use by_name::by_name;
use verdict_formats::{parse, Format, ParseLimits, Report};
use verdict_model::Status;

fn read(text: &str, format: Option<Format>) -> Report {
    parse(text.as_bytes(), format, &ParseLimits::DEFAULT).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn junit_should_count_elements_not_suite_attributes_at_any_depth() {
    let r = read(
        r#"<?xml version="1.0"?>
<testsuites tests="99" failures="0">
  <testsuite name="outer" tests="1">
    <testsuite name="inner" file="t/a.py">
      <testcase classname="a.B" name="ok" time="0.5"/>
      <testcase classname="a.B" name="bad" time="1.25"><failure message="boom" type="AssertionError">trace line 1
trace line 2</failure></testcase>
      <testcase classname="a.B" name="err"><error type="IOError"><![CDATA[stack <with> brackets]]></error></testcase>
      <testcase classname="a.B" name="skip"><skipped message="not today"/></testcase>
    </testsuite>
  </testsuite>
</testsuites>"#,
        None,
    );
    assert_eq!(r.format, Format::Junit);
    let s = r.summary;
    assert_eq!(
        (s.tests, s.passed, s.failed, s.errors, s.skipped),
        (4, 1, 1, 1, 1)
    );
    assert_eq!(s.duration_ms, 1750);
    let bad = by_name(&r, "bad");
    assert_eq!(bad.suite, "outer / inner");
    assert_eq!(bad.file.as_deref(), Some("t/a.py"));
    assert_eq!(bad.message.as_deref(), Some("boom"));
    assert_eq!(bad.failure_type.as_deref(), Some("AssertionError"));
    assert!(bad.details.as_deref().unwrap().contains("trace line 2"));
    assert!(bad.fingerprint.is_some());
    let err = by_name(&r, "err");
    assert_eq!(err.details.as_deref(), Some("stack <with> brackets"));
    assert_eq!(err.message.as_deref(), Some("stack <with> brackets"));
    assert_eq!(by_name(&r, "skip").message.as_deref(), Some("not today"));
}

#[test]
fn pytest_xfail_and_strict_xpass_should_map() {
    let r = read(
        r#"<testsuites><testsuite name="pytest">
<testcase classname="t" name="test_x"><skipped type="pytest.xfail" message="known bug"/></testcase>
<testcase classname="t" name="test_y"><failure message="[XPASS(strict)] should fail"/></testcase>
<testcase classname="t" name="test_p[a-b]" file="t.py" line="12"/>
</testsuite></testsuites>"#,
        None,
    );
    assert_eq!(by_name(&r, "test_x").status, Status::Xfailed);
    assert_eq!(by_name(&r, "test_y").status, Status::Failed);
    let p = by_name(&r, "test_p[a-b]");
    assert_eq!(
        (p.base_name.as_str(), p.params.as_deref(), p.line),
        ("test_p", Some("a-b"), Some(12))
    );
}

#[test]
fn pytest_rerunfailures_should_merge_into_one_flaky_result() {
    let r = read(
        r#"<testsuite name="pytest">
<testcase classname="t" name="test_flaky" time="0.1"><failure message="first"/></testcase>
<testcase classname="t" name="test_flaky" time="0.2"><failure message="second"/></testcase>
<testcase classname="t" name="test_flaky" time="0.3"/>
</testsuite>"#,
        None,
    );
    assert_eq!(r.summary.tests, 1);
    let t = &r.results[0];
    assert_eq!(
        (t.status, t.flaky, t.attempts.len(), t.duration_ms),
        (Status::Passed, true, 3, 600)
    );
    assert_eq!(t.message.as_deref(), Some("first"));
    assert_eq!(r.summary.flaky, 1);
}

#[test]
fn repeated_name_without_failure_should_be_separate_tests() {
    let r = read(
        r#"<testsuite name="testng">
<testcase classname="C" name="dataProvided"/>
<testcase classname="C" name="dataProvided"><failure message="row 2"/></testcase>
</testsuite>"#,
        None,
    );
    assert_eq!(r.summary.tests, 2);
    assert_eq!(by_name(&r, "dataProvided #2").status, Status::Failed);
}

#[test]
fn surefire_flaky_and_rerun_elements_should_become_attempts() {
    let r = read(
        r#"<testsuite name="S">
<testcase classname="C" name="flaky" time="0.3">
  <flakyFailure message="timing" type="java.lang.AssertionError" time="0.2"><stackTrace>at C.flaky(C.java:10)</stackTrace><system-out>o</system-out></flakyFailure>
  <flakyError message="npe" type="java.lang.NullPointerException"/>
</testcase>
<testcase classname="C" name="broken" time="0.1">
  <failure message="no" type="AssertionError"/>
  <rerunFailure message="still no" type="AssertionError"/>
  <rerunError message="now an error" type="IOException"/>
</testcase>
</testsuite>"#,
        None,
    );
    let flaky = by_name(&r, "flaky");
    assert_eq!(
        (flaky.status, flaky.flaky, flaky.attempts.len()),
        (Status::Passed, true, 3)
    );
    assert_eq!(flaky.duration_ms, 500);
    let broken = by_name(&r, "broken");
    assert_eq!(
        (broken.status, broken.flaky, broken.attempts.len()),
        (Status::Error, false, 3)
    );
    assert_eq!(broken.message.as_deref(), Some("now an error"));
    assert_eq!((r.summary.tests, r.summary.flaky), (2, 1));
}

#[test]
fn junit_properties_outputs_and_bad_time_should_be_read() {
    let r = read(
        r#"<testsuite name="S"><testcase classname="C" name="t" time="abc">
<properties><property name="owner" value="team-a"/><property name="tags" value="slow, db"/></properties>
<system-out>hello</system-out><system-err>oops</system-err>
</testcase></testsuite>"#,
        None,
    );
    let t = &r.results[0];
    assert_eq!(t.owner.as_deref(), Some("team-a"));
    assert_eq!(t.tags, vec!["slow", "db"]);
    assert_eq!(
        (t.stdout.as_deref(), t.stderr.as_deref()),
        (Some("hello"), Some("oops"))
    );
    assert_eq!(t.duration_ms, 0);
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].message.contains("\"abc\""),
        "{:?}",
        r.warnings
    );
    assert_eq!(r.warnings[0].position.unwrap().line, Some(1));
}

#[test]
fn trx_should_resolve_classes_defined_after_results_and_split_data_rows() {
    let r = read(
        r#"<?xml version="1.0" encoding="utf-8"?>
<TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
  <Results>
    <UnitTestResult testId="1" testName="Adds" outcome="Passed" duration="00:00:01.5000000"/>
    <UnitTestResult testId="2" testName="Fails" outcome="Failed" duration="00:00:00.0100000">
      <Output><StdOut>out</StdOut><ErrorInfo><Message>Assert.AreEqual failed</Message><StackTrace>at Calc.Fails() in Calc.cs:line 20</StackTrace></ErrorInfo></Output>
    </UnitTestResult>
    <UnitTestResult testId="3" testName="Rows" outcome="Failed" resultType="DataDrivenTest">
      <InnerResults>
        <UnitTestResult testId="3" testName="Rows (1)" outcome="Passed"/>
        <UnitTestResult testId="3" testName="Rows (2)" outcome="Failed"/>
      </InnerResults>
    </UnitTestResult>
    <UnitTestResult testId="4" testName="NotRun" outcome="NotExecuted"/>
    <UnitTestResult testId="5" testName="Timeout" outcome="Timeout"/>
  </Results>
  <TestDefinitions>
    <UnitTest id="1" name="Adds" storage="calc.dll"><TestMethod className="Calc.Tests, Calc, Version=1.0" name="Adds"/></UnitTest>
    <UnitTest id="2" name="Fails"><TestMethod className="Calc.Tests" name="Fails"/></UnitTest>
    <UnitTest id="3" name="Rows"><TestMethod className="Calc.Tests" name="Rows"/></UnitTest>
  </TestDefinitions>
</TestRun>"#,
        None,
    );
    assert_eq!(r.format, Format::Trx);
    let s = r.summary;
    assert_eq!(
        (s.tests, s.passed, s.failed, s.errors, s.skipped),
        (6, 2, 2, 1, 1)
    );
    let adds = by_name(&r, "Adds");
    assert_eq!(
        (adds.classname.as_str(), adds.duration_ms),
        ("Calc.Tests", 1500)
    );
    let fails = by_name(&r, "Fails");
    assert_eq!(fails.message.as_deref(), Some("Assert.AreEqual failed"));
    assert_eq!(fails.stdout.as_deref(), Some("out"));
    assert_eq!(by_name(&r, "Rows (2)").params.as_deref(), Some("2"));
}

#[test]
fn nunit3_should_map_results_and_labels() {
    let r = read(
        r#"<test-run id="2" testcasecount="99">
<test-suite type="Assembly" name="a.dll"><test-suite type="TestFixture" name="Calc" fullname="Ns.Calc">
  <test-case name="Adds" fullname="Ns.Calc.Adds" classname="Ns.Calc" result="Passed" duration="0.25"/>
  <test-case name="Fails(1,2)" fullname="Ns.Calc.Fails(1,2)" classname="Ns.Calc" result="Failed" duration="0.1">
    <failure><message>Expected 3</message><stack-trace>at Ns.Calc.Fails()</stack-trace></failure></test-case>
  <test-case name="Throws" classname="Ns.Calc" result="Failed" label="Error"/>
  <test-case name="Ignored" classname="Ns.Calc" result="Skipped" label="Ignored"><reason><message>later</message></reason></test-case>
</test-suite></test-suite></test-run>"#,
        None,
    );
    let s = r.summary;
    assert_eq!(
        (s.tests, s.passed, s.failed, s.errors, s.skipped),
        (4, 1, 1, 1, 1)
    );
    let f = by_name(&r, "Fails(1,2)");
    assert_eq!(
        (f.suite.as_str(), f.params.as_deref()),
        ("a.dll / Calc", Some("1,2"))
    );
    assert_eq!(f.message.as_deref(), Some("Expected 3"));
    assert_eq!(by_name(&r, "Ignored").message.as_deref(), Some("later"));
}

#[test]
fn nunit2_should_map_results_and_derive_class() {
    let r = read(
        r#"<test-results name="x" total="3"><test-suite name="a.dll"><results>
<test-case name="Ns.Calc.Adds" executed="True" result="Success" success="True" time="0.010"/>
<test-case name="Ns.Calc.Fails" executed="True" result="Failure" success="False" time="0.020"><failure><message><![CDATA[bad]]></message></failure></test-case>
<test-case name="Ns.Calc.Skip" executed="False" result="Ignored"><reason><message>no</message></reason></test-case>
<test-case name="Ns.Calc.Old" executed="True" success="True" time="0.001"/>
</results></test-suite></test-results>"#,
        None,
    );
    let s = r.summary;
    assert_eq!((s.tests, s.passed, s.failed, s.skipped), (4, 2, 1, 1));
    assert_eq!(by_name(&r, "Ns.Calc.Fails").classname, "Ns.Calc");
}

#[test]
fn xunit_v2_and_v1_should_read_results_and_traits() {
    let v2 = read(
        r#"<assemblies><assembly name="a.dll"><collection name="C">
<test name="Ns.T.Passes" type="Ns.T" method="Passes" time="0.5" result="Pass"><traits><trait name="Category" value="fast"/><trait name="Owner" value="ann"/></traits></test>
<test name="Ns.T.Fails(x: 1)" type="Ns.T" method="Fails" time="0.1" result="Fail"><failure exception-type="Xunit.EqualException"><message>Assert.Equal() Failure</message><stack-trace>at Ns.T.Fails()</stack-trace></failure></test>
<test name="Ns.T.Skips" type="Ns.T" method="Skips" time="0" result="Skip"><reason><![CDATA[flaky]]></reason></test>
</collection></assembly></assemblies>"#,
        None,
    );
    let s = v2.summary;
    assert_eq!((s.tests, s.passed, s.failed, s.skipped), (3, 1, 1, 1));
    let p = by_name(&v2, "Ns.T.Passes");
    assert_eq!(
        (p.tags.clone(), p.owner.as_deref()),
        (vec!["Category=fast".to_string()], Some("ann"))
    );
    assert_eq!(
        by_name(&v2, "Ns.T.Fails(x: 1)").failure_type.as_deref(),
        Some("Xunit.EqualException")
    );
    assert_eq!(by_name(&v2, "Ns.T.Skips").message.as_deref(), Some("flaky"));

    let v1 = read(
        r#"<assembly name="a.dll"><class name="Ns.T"><test name="Ns.T.A" type="Ns.T" method="A" result="Pass" time="0.1"/></class></assembly>"#,
        None,
    );
    assert_eq!((v1.format, v1.summary.passed), (Format::Xunit, 1));
}

#[test]
fn ctrf_should_read_tests_retries_and_suites() {
    let r = read(
        r#"{"reportFormat": "CTRF", "specVersion": "1.0.0", "results": {
  "tool": {"name": "playwright"},
  "summary": {"tests": 99},
  "tests": [
    {"name": "logs in", "status": "passed", "duration": 120, "suite": ["auth", "login"], "filePath": "e2e/a.spec.ts", "line": 4, "tags": ["@smoke"]},
    {"name": "flaky", "status": "passed", "duration": 50, "retries": 2, "flaky": true, "suite": "auth > misc"},
    {"name": "broken", "status": "failed", "duration": 10, "message": "expected 1", "trace": "at x:1:2",
     "retryAttempts": [{"attempt": 1, "status": "failed", "duration": 9, "message": "expected 1"}]},
    {"name": "later", "status": "pending", "duration": 0},
    {"name": "custom", "status": "other", "duration": 0, "somethingNew": {"kept": false}}
  ]}, "extra": {}}"#,
        None,
    );
    assert_eq!(r.format, Format::Ctrf);
    let s = r.summary;
    assert_eq!(
        (s.tests, s.passed, s.failed, s.skipped, s.flaky),
        (5, 2, 1, 2, 1)
    );
    let login = by_name(&r, "logs in");
    assert_eq!(
        (login.suite.as_str(), login.file.as_deref(), login.line),
        ("auth / login", Some("e2e/a.spec.ts"), Some(4))
    );
    assert_eq!(by_name(&r, "flaky").attempts.len(), 3);
    assert_eq!(by_name(&r, "flaky").suite, "auth / misc");
    assert_eq!(by_name(&r, "broken").attempts.len(), 2);
}

#[test]
fn buildkite_should_keep_history_spans() {
    let r = read(
        r#"[{"id": "1", "scope": "User#save", "name": "fails", "location": "./spec/user_spec.rb:24",
   "file_name": "./spec/user_spec.rb", "result": "failed", "failure_reason": "expected true",
   "failure_expanded": [{"expanded": ["got false"], "backtrace": ["spec/user_spec.rb:25"]}],
   "history": {"start_at": 1.0, "end_at": 1.5, "duration": 0.5, "children": [{"section": "sql", "duration": 0.1}]}},
  {"scope": "User#save", "name": "works", "result": "passed", "history": {"duration": 0.25}}]"#,
        None,
    );
    assert_eq!(r.format, Format::Buildkite);
    let f = by_name(&r, "fails");
    assert_eq!(
        (f.status, f.duration_ms, f.line),
        (Status::Failed, 500, Some(24))
    );
    assert_eq!(
        f.details.as_deref(),
        Some("got false\nspec/user_spec.rb:25")
    );
    assert_eq!(f.spans.as_ref().unwrap()["children"][0]["section"], "sql");
    assert_eq!(by_name(&r, "works").duration_ms, 250);
}

#[test]
fn tap_should_read_directives_escapes_yaml_and_subtests() {
    let r = read(
        "TAP version 14
1..7
ok 1 - plain
not ok 2 - broken
  ---
  message: 'values differ'
  duration_ms: 12
  ...
ok 3 - has \\# hash # SKIP no network
not ok 4 - later # TODO not written
ok 5 - surprise # todo
# Subtest: group
    ok 1 - leaf a
    not ok 2 - leaf b
    1..2
not ok 6 - group
ok 7 - title#skip is a title
",
        None,
    );
    assert_eq!(r.format, Format::Tap);
    let s = r.summary;
    assert_eq!(
        (s.tests, s.passed, s.failed, s.skipped, s.xfailed, s.xpassed),
        (8, 3, 2, 1, 1, 1)
    );
    let broken = by_name(&r, "broken");
    assert_eq!(
        (broken.message.as_deref(), broken.duration_ms),
        (Some("values differ"), 12)
    );
    assert_eq!(by_name(&r, "has # hash").status, Status::Skipped);
    assert_eq!(by_name(&r, "leaf b").suite, "group");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn tap_bail_out_and_plan_mismatch_should_not_be_silent() {
    let r = read(
        "1..3\nok 1 - a\nBail out! database down\nok 2 - never read\n",
        None,
    );
    assert_eq!((r.summary.tests, r.summary.errors), (2, 1));
    assert_eq!(
        by_name(&r, "Bail out!").message.as_deref(),
        Some("database down")
    );
    assert!(
        r.warnings.iter().any(|w| w.message.contains("plan says 3")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn gotest_json_should_read_events_among_noise() {
    let r = read(
        r##"go: downloading example.com/x v1.0.0
{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:12: got 1 want 2\n"}
{"Action":"fail","Package":"p","Test":"TestA","Elapsed":0.25}
{"Action":"run","Package":"p","Test":"TestB/sub"}
{"Action":"pass","Package":"p","Test":"TestB/sub","Elapsed":0.01}
{"Action":"run","Package":"p","Test":"TestC"}
{"Action":"output","Package":"p","Test":"TestC","Output":"    c_test.go:3: skipping: no db\n"}
{"Action":"skip","Package":"p","Test":"TestC"}
{"Action":"run","Package":"p","Test":"TestHang"}
{"Action":"fail","Package":"p","Elapsed":1.5}
{"Action":"output","Package":"q","Output":"# q\nq.go:4:2: undefined: x\n"}
{"Action":"fail","Package":"q","Elapsed":0}
"##,
        None,
    );
    assert_eq!(r.format, Format::Gotest);
    let s = r.summary;
    assert_eq!(
        (s.tests, s.passed, s.failed, s.errors, s.skipped),
        (5, 1, 1, 2, 1)
    );
    let a = by_name(&r, "TestA");
    assert_eq!((a.classname.as_str(), a.duration_ms), ("p", 250));
    assert_eq!(a.message.as_deref(), Some("a_test.go:12: got 1 want 2"));
    assert_eq!(by_name(&r, "TestHang").status, Status::Error);
    assert!(by_name(&r, "[package]")
        .message
        .as_deref()
        .unwrap()
        .contains("undefined: x"));
}

#[test]
fn summary_format_should_count_and_warn_on_mismatch() {
    let r = read(
        "Test run for x.dll\nTotal tests: 5\n     Passed: 3\n     Failed: 1\n    Skipped: 0\n",
        None,
    );
    assert_eq!(r.format, Format::Summary);
    let s = r.summary;
    assert_eq!((s.tests, s.passed, s.failed), (4, 3, 1));
    assert!(r.warnings[0].message.contains("total says 5"));
    let one_line = read(
        "Failed!  - Failed:     1, Passed:    10, Skipped:     2, Total:    13",
        Some(Format::Summary),
    );
    assert_eq!((one_line.summary.tests, one_line.summary.skipped), (13, 2));
}

#[test]
fn gzip_and_utf16_input_should_parse_the_same() {
    let xml = r#"<?xml version="1.0" encoding="UTF-16"?><testsuite name="s"><testcase classname="c" name="é"/></testsuite>"#;
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(xml.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let r = parse(utf16.as_slice(), None, &ParseLimits::DEFAULT).unwrap();
    assert_eq!(r.results[0].name, "é");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &utf16).unwrap();
    let r2 = parse(gz.finish().unwrap().as_slice(), None, &ParseLimits::DEFAULT).unwrap();
    assert_eq!(r2.results, r.results);
}

#[test]
fn test_ids_should_be_stable_across_formats_and_runs() {
    let a = read(
        r#"<testsuite name="run-1 on host-a" time="5"><testcase classname="pkg.C" name="t" time="1"/></testsuite>"#,
        None,
    );
    let b = read(
        r#"<testsuite name="run-2 on host-b" time="9"><testcase classname="pkg.C" name="t" time="3"><failure/></testcase></testsuite>"#,
        None,
    );
    assert_eq!(a.results[0].test_id, b.results[0].test_id);
    assert_eq!(a.results[0].test_id.len(), 64);
}

/// TestNG 7 writes a retried attempt as `status="SKIP" retried="true"` before the final one
/// (as in the corpus's `testng/multiple-suites-retries.xml`; Debian's TestNG 6.9 has no
/// retries), with configuration methods in between.
#[test]
fn testng_retried_attempts_should_be_earlier_failures_of_the_final_one() {
    let r = read(
        r#"<testng-results><suite name="S"><test name="T"><class name="a.B">
  <test-method is-config="true" name="beforeMethod" status="PASS" duration-ms="1"/>
  <test-method retried="true" name="pc" data-provider="json" status="SKIP" duration-ms="5">
    <params><param index="0"><value><![CDATA[x]]></value></param></params>
    <exception class="java.lang.AssertionError"><message><![CDATA[first try]]></message></exception>
  </test-method>
  <test-method is-config="true" name="beforeMethod" status="PASS" duration-ms="1"/>
  <test-method name="pc" data-provider="json" status="PASS" duration-ms="7">
    <params><param index="0"><value><![CDATA[x]]></value></param></params>
  </test-method>
  <test-method retried="true" name="lost" status="SKIP" duration-ms="2"/>
</class></test></suite></testng-results>"#,
        None,
    );
    assert_eq!(r.format, Format::Testng);
    assert_eq!(r.summary.tests, 2);
    let pc = by_name(&r, "pc[x]");
    assert!(pc.flaky);
    assert_eq!(pc.attempts.len(), 2);
    assert_eq!(pc.message.as_deref(), Some("first try"));
    assert_eq!(pc.duration_ms, 12);
    // A retried attempt with no final attempt after it is a failed result of its own.
    assert_eq!(by_name(&r, "lost").status, Status::Failed);
}
