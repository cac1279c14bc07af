//! Every kind of bad input gets a typed error naming the position and the reason.

use verdict_formats::{parse, ErrorKind, Format, ParseError, ParseLimits};

fn fail(bytes: &[u8], format: Option<Format>) -> ParseError {
    fail_with(bytes, format, &ParseLimits::DEFAULT)
}

fn fail_with(bytes: &[u8], format: Option<Format>, limits: &ParseLimits) -> ParseError {
    match parse(bytes, format, limits) {
        Ok(r) => panic!("accepted: {:?}", r.summary),
        Err(e) => e,
    }
}

#[test]
fn malformed_xml_should_name_line_and_column() {
    let e = fail(
        b"<testsuite>\n  <testcase name=\"a\">\n  </testsuite>\n",
        None,
    );
    assert_eq!(e.kind, ErrorKind::Malformed, "{e}");
    let p = e.position.unwrap();
    assert_eq!(p.line, Some(3), "{e}");
    assert!(p.column.is_some());
    assert!(e.to_string().starts_with("line 3, column"), "{e}");
}

#[test]
fn truncated_xml_should_be_truncated_not_zero_tests() {
    let e = fail(
        b"<testsuites><testsuite name=\"s\"><testcase name=\"a\"/>",
        None,
    );
    assert_eq!(e.kind, ErrorKind::Truncated, "{e}");
    assert!(e.reason.contains("<testsuite>"), "{e}");
    let e = fail(b"<testsuite><testcase name=\"a", None);
    assert_eq!(e.kind, ErrorKind::Truncated, "{e}");
}

#[test]
fn truncated_json_should_say_where() {
    let e = fail(b"{\"results\": {\"tool\": {\"name\": \"x\"}, \"tests\": [{\"name\": \"a\", \"status\": \"passed\",", None);
    assert_eq!(e.kind, ErrorKind::Truncated, "{e}");
    assert_eq!(e.position.unwrap().line, Some(1));
}

#[test]
fn empty_input_should_be_empty() {
    assert_eq!(fail(b"", None).kind, ErrorKind::Empty);
    assert_eq!(fail(b" \n\t\n", None).kind, ErrorKind::Empty);
}

#[test]
fn wrong_format_should_be_rejected() {
    assert_eq!(
        fail(b"<html><body/></html>", None).kind,
        ErrorKind::UnknownFormat
    );
    let e = fail(b"<TestRun><Results/></TestRun>", Some(Format::Junit));
    assert_eq!(e.kind, ErrorKind::UnknownFormat, "{e}");
    assert!(e.reason.contains("<TestRun>"), "{e}");
    assert_eq!(
        fail(b"just some text\n", None).kind,
        ErrorKind::UnknownFormat
    );
    assert_eq!(
        fail(b"[1, 2, 3]", Some(Format::Ctrf)).kind,
        ErrorKind::Malformed
    );
}

#[test]
fn entities_should_never_be_expanded() {
    let xxe = br#"<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<testsuite><testcase name="a"><failure>&xxe;</failure></testcase></testsuite>"#;
    let e = fail(xxe, None);
    assert_eq!(e.kind, ErrorKind::Entity, "{e}");
    assert_eq!(e.position.unwrap().line, Some(3));

    let laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<testsuite><testcase name="&lol2;"/></testsuite>"#;
    assert_eq!(fail(laughs, None).kind, ErrorKind::Entity);

    let ok = parse(
        &br#"<testsuite><testcase name="a &amp; b &lt;c&gt; &#233;"/></testsuite>"#[..],
        None,
        &ParseLimits::DEFAULT,
    )
    .unwrap();
    assert_eq!(ok.results[0].name, "a & b <c> é");
}

#[test]
fn nesting_deeper_than_the_limit_should_fail() {
    let mut xml = String::from("<testsuites>");
    for _ in 0..300 {
        xml.push_str("<testsuite>");
    }
    let e = fail(xml.as_bytes(), None);
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{e}");
    assert!(e.reason.contains("256"), "{e}");
}

#[test]
fn text_node_larger_than_the_limit_should_fail_before_buffering_it() {
    let limits = ParseLimits {
        max_node_bytes: 1024,
        ..ParseLimits::DEFAULT
    };
    let mut xml = String::from("<testsuite><testcase name=\"a\"><system-out>");
    xml.push_str(&"x".repeat(5000));
    xml.push_str("</system-out></testcase></testsuite>");
    let e = fail_with(xml.as_bytes(), None, &limits);
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{e}");
    let huge_attr = format!(
        "<testsuite><testcase name=\"{}\"/></testsuite>",
        "y".repeat(5000)
    );
    assert_eq!(
        fail_with(huge_attr.as_bytes(), None, &limits).kind,
        ErrorKind::LimitExceeded
    );
}

#[test]
fn long_text_within_the_limit_should_be_capped_with_a_marker() {
    let mut xml = String::from("<testsuite><testcase name=\"a\"><failure message=\"m\">");
    xml.push_str(&"z".repeat(200_000));
    xml.push_str("</failure></testcase></testsuite>");
    let r = parse(xml.as_bytes(), None, &ParseLimits::DEFAULT).unwrap();
    let details = r.results[0].details.as_deref().unwrap();
    assert!(details.len() < 33 * 1024, "{}", details.len());
    assert!(details.ends_with(verdict_model::TRUNCATION_MARKER));
}

#[test]
fn invalid_utf8_should_fail_with_position() {
    let e = fail(
        b"<testsuite><testcase name=\"a\"><failure>\xff\xfe bad</failure></testcase></testsuite>",
        None,
    );
    assert_eq!(e.kind, ErrorKind::Encoding, "{e}");
    assert!(e.position.is_some());
    let e = fail(b"TAP version 13\nok 1 - \xc3\x28\n", None);
    assert_eq!(e.kind, ErrorKind::Encoding, "{e}");
    assert_eq!(e.position.unwrap().line, Some(2));
}

#[test]
fn nul_in_text_should_fail() {
    let e = fail(
        b"<testsuite><testcase name=\"a\"><system-out>a\0b</system-out></testcase></testsuite>",
        None,
    );
    assert_eq!(e.kind, ErrorKind::Encoding, "{e}");
}

#[test]
fn non_numeric_time_should_warn_not_fail() {
    let r = parse(
        &b"<testsuite><testcase name=\"a\" time=\"1.2.3\"/><testcase name=\"b\" time=\"0,5\"/></testsuite>"[..],
        None,
        &ParseLimits::DEFAULT,
    )
    .unwrap();
    assert_eq!(r.summary.tests, 2);
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.summary.duration_ms, 500);
}

#[test]
fn bad_gzip_should_be_an_error() {
    let e = fail(&[0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef], None);
    assert!(
        matches!(e.kind, ErrorKind::Io | ErrorKind::Truncated),
        "{e}"
    );
}

#[test]
fn ctrf_missing_required_field_should_name_it() {
    let e = fail(
        br#"{"results": {"tool": {"name": "x"}, "tests": [{"status": "passed", "duration": 1}]}}"#,
        None,
    );
    assert_eq!(e.kind, ErrorKind::Malformed);
    assert!(e.reason.contains("name"), "{e}");
    let e = fail(br#"{"results": {"tool": {"name": "x"}, "tests": [{"name": "a", "status": "weird", "duration": 1}]}}"#, None);
    assert!(e.reason.contains("weird"), "{e}");
}

#[test]
fn gotest_without_events_should_fail() {
    let e = fail(b"{\"Action\": 5}\n", Some(Format::Gotest));
    assert_eq!(e.kind, ErrorKind::Malformed, "{e}");
}
