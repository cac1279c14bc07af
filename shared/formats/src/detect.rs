//! Format detection by content: the XML root element, the JSON shape, TAP or test2json lines.

use crate::{ErrorKind, Format, ParseError};

pub(crate) fn detect(prefix: &[u8]) -> Result<Format, ParseError> {
    let text = String::from_utf8_lossy(prefix);
    let trimmed = text.trim_start();
    if trimmed.starts_with('<') {
        return match root_element(trimmed) {
            Some(root) => xml_format(root).ok_or_else(|| {
                unknown(format!(
                    "XML with root element <{root}> is not a test report format Verdict reads"
                ))
            }),
            None => Err(unknown(
                "XML without a root element in its first 64 KiB".to_string(),
            )),
        };
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let first_line = trimmed.lines().next().unwrap_or("");
        if is_test2json_line(first_line) {
            return Ok(Format::Gotest);
        }
        if is_dart_event(first_line) {
            return Ok(Format::Dart);
        }
        if let Some(shape) = json_shape(trimmed) {
            return json_format(&shape).ok_or_else(|| unknown(shape.describe()));
        }
    }
    let lines = || text.lines().map(str::trim_end).take(2000);
    if lines().any(is_test2json_line) {
        return Ok(Format::Gotest);
    }
    if lines().any(is_tap_line) {
        return Ok(Format::Tap);
    }
    if lines().any(|l| crate::summary::is_total_line(l.trim())) {
        return Ok(Format::Summary);
    }
    let shown: String = trimmed.chars().take(40).collect();
    Err(unknown(format!(
        "not a known test report format (starts with {shown:?})"
    )))
}

fn unknown(reason: String) -> ParseError {
    ParseError::new(ErrorKind::UnknownFormat, None, reason)
}

fn xml_format(root: &str) -> Option<Format> {
    let local = root.rsplit(':').next().unwrap_or(root);
    Some(match local {
        "testsuites" | "testsuite" | "testcase" => Format::Junit,
        "TestRun" => Format::Trx,
        "test-run" | "test-results" | "test-suite" => Format::Nunit,
        "assemblies" | "assembly" => Format::Xunit,
        "testng-results" => Format::Testng,
        _ => return None,
    })
}

/// The name of the first element, skipping the declaration, comments, processing
/// instructions and a DOCTYPE.
fn root_element(mut s: &str) -> Option<&str> {
    loop {
        s = s.trim_start();
        let rest = s.strip_prefix('<')?;
        if let Some(r) = rest.strip_prefix("!--") {
            s = &r[r.find("-->")? + 3..];
        } else if let Some(r) = rest.strip_prefix("!DOCTYPE") {
            // An internal subset (`[ <!ENTITY ...> ]`) holds `>` of its own.
            let subset_end = match (r.find('['), r.find('>')) {
                (Some(open), Some(gt)) if open < gt => open + r[open..].find(']')?,
                _ => 0,
            };
            s = &r[subset_end + r[subset_end..].find('>')? + 1..];
        } else if rest.starts_with('?') || rest.starts_with('!') {
            s = &rest[rest.find('>')? + 1..];
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(rest.len());
            return Some(&rest[..end]);
        }
    }
}

/// The top-level keys of a JSON document (of its first element, for an array), read from the
/// first 64 KiB without parsing the rest: enough to tell the JSON formats apart.
#[derive(Debug)]
struct JsonShape {
    array: bool,
    keys: Vec<String>,
}

impl JsonShape {
    fn has(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }

    fn describe(&self) -> String {
        let shown: Vec<&str> = self.keys.iter().take(8).map(String::as_str).collect();
        match (self.array, shown.is_empty()) {
            (true, true) => "a JSON array whose first element has no keys (or an empty array): \
                 the format cannot be told from it; name it with --format"
                .to_string(),
            (true, false) => format!(
                "a JSON array of objects with keys {shown:?} is not a test report format \
                 Verdict reads"
            ),
            (false, _) => format!(
                "a JSON document with top-level keys {shown:?} is not a test report format \
                 Verdict reads"
            ),
        }
    }
}

/// Which JSON format a shape is; the table in `docs/formats.md` ("Telling formats apart")
/// says the same.
fn json_format(s: &JsonShape) -> Option<Format> {
    if s.array {
        return if s.has("elements") || (s.has("keyword") && s.has("uri")) {
            Some(Format::Cucumber)
        } else if [
            "scope",
            "identifier",
            "result",
            "history",
            "location",
            "file_name",
            "failure_reason",
        ]
        .iter()
        .any(|k| s.has(k))
        {
            Some(Format::Buildkite)
        } else {
            None
        };
    }
    Some(
        if s.has("reportFormat") || (s.has("results") && !s.has("stats")) {
            Format::Ctrf
        } else if s.has("testResults") && s.keys.iter().any(|k| k.starts_with("num")) {
            Format::Jest
        } else if s.has("suites") && (s.has("config") || s.has("errors")) {
            Format::Playwright
        } else if s.has("stats")
            && ["tests", "passes", "failures", "pending"]
                .iter()
                .any(|k| s.has(k))
        {
            Format::Mocha
        } else if s.has("examples") && (s.has("version") || s.has("summary") || s.has("seed")) {
            Format::Rspec
        } else if s.has("testsuites") {
            Format::Gtest
        } else if s.has("exitcode") && (s.has("tests") || s.has("summary") || s.has("collectors")) {
            Format::PytestJson
        } else if s.has("data") {
            Format::Buildkite
        } else {
            return None;
        },
    )
}

/// Scans `text` (a JSON document, possibly cut short) for the keys of its root object, or of
/// the first element of its root array. `None` when it is not JSON of either shape.
fn json_shape(text: &str) -> Option<JsonShape> {
    let bytes = text.as_bytes();
    let array = bytes.first() == Some(&b'[');
    let key_depth = if array { 2 } else { 1 };
    let (mut depth, mut i, mut keys) = (0usize, 0usize, Vec::new());
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let end = i.min(bytes.len());
                let after = bytes[(i + 1).min(bytes.len())..]
                    .iter()
                    .find(|b| !b.is_ascii_whitespace());
                if depth == key_depth && after == Some(&b':') {
                    keys.push(String::from_utf8_lossy(&bytes[start..end]).into_owned());
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth + 1 == key_depth && array {
                    break; // the end of the first element
                }
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Some(JsonShape { array, keys })
}

/// The first line of a `dart test --reporter json` (and `flutter test --machine`) stream.
fn is_dart_event(line: &str) -> bool {
    let l = line.trim();
    l.starts_with('{')
        && l.contains("\"type\"")
        && (l.contains("\"protocolVersion\"")
            || l.contains("\"testStart\"")
            || l.contains("\"suite\""))
        && !l.contains("\"Action\"")
}

pub(crate) fn is_test2json_line(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with('{')
        && l.contains("\"Action\"")
        && serde_json::from_str::<serde_json::Value>(l).is_ok()
}

fn is_tap_line(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("TAP version ")
        || (l.starts_with("1..")
            && l[3..]
                .trim_start()
                .starts_with(|c: char| c.is_ascii_digit()))
        || l == "ok"
        || l.starts_with("ok ")
        || l == "not ok"
        || l.starts_with("not ok ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_detect_each_format() {
        let cases: &[(&str, Format)] = &[
            ("<?xml version=\"1.0\"?>\n<!-- hi --><testsuites>", Format::Junit),
            ("<testsuite name=\"x\">", Format::Junit),
            ("<TestRun xmlns=\"http://microsoft.com/schemas/VisualStudio/TeamTest/2010\">", Format::Trx),
            ("<test-run id=\"2\">", Format::Nunit),
            ("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><testsuite>", Format::Junit),
            ("{\"reportFormat\": \"CTRF\", \"specVersion\": \"1.0.0\"}", Format::Ctrf),
            ("<test-results>", Format::Nunit),
            ("<assemblies>", Format::Xunit),
            ("<testng-results total=\"1\">", Format::Testng),
            ("{\"results\": {\"tool\": {\"name\": \"x\"}, \"tests\": []}}", Format::Ctrf),
            ("[{\"scope\": \"a\", \"name\": \"b\"}]", Format::Buildkite),
            ("{\"data\": [{\"scope\": \"a\"}]}", Format::Buildkite),
            ("[{\"name\": \"b\", \"failure_reason\": \"r\"}]", Format::Buildkite),
            ("{\"numTotalTests\": 1, \"testResults\": []}", Format::Jest),
            ("{\"config\": {\"x\": {\"results\": 1}}, \"suites\": []}", Format::Playwright),
            ("{\"stats\": {\"tests\": 1}, \"tests\": []}", Format::Mocha),
            ("[{\"uri\": \"a.feature\", \"keyword\": \"Feature\", \"elements\": [{\"steps\": [{\"match\": {\"location\": \"x\"}}]}]}]", Format::Cucumber),
            ("{\"tests\": 1, \"name\": \"AllTests\", \"testsuites\": []}", Format::Gtest),
            ("{\"version\": \"3.12.0\", \"examples\": []}", Format::Rspec),
            ("{\"protocolVersion\":\"0.1.1\",\"runnerVersion\":\"1.2\",\"type\":\"start\",\"time\":0}\n", Format::Dart),
            ("{\"created\": 1.0, \"exitcode\": 0, \"summary\": {}, \"tests\": []}", Format::PytestJson),
            ("TAP version 13\n1..1\nok 1\n", Format::Tap),
            ("1..2\nok 1 - a\n", Format::Tap),
            ("build noise\n{\"Action\":\"run\",\"Test\":\"T\"}\n", Format::Gotest),
            ("Total Tests: 3\nPassed: 3\n", Format::Summary),
        ];
        for (text, want) in cases {
            assert_eq!(detect(text.as_bytes()).unwrap(), *want, "{text}");
        }
    }

    #[test]
    fn when_unknown_should_say_what_it_saw() {
        let e = detect(b"<html><body>").unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownFormat);
        assert!(e.reason.contains("<html>"), "{e}");
        assert_eq!(
            detect(b"hello world").unwrap_err().kind,
            ErrorKind::UnknownFormat
        );
        let e = detect(b"{\"name\": \"x\", \"scripts\": {}}").unwrap_err();
        assert!(
            e.reason.contains("top-level keys [\"name\", \"scripts\"]"),
            "{e}"
        );
        let e = detect(b"[]").unwrap_err();
        assert!(e.reason.contains("--format"), "{e}");
    }
}
