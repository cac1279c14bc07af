//! Format detection by content: the XML root element, the JSON shape, TAP or test2json lines.

use crate::{ErrorKind, Format, ParseError};

pub fn detect(prefix: &[u8]) -> Result<Format, ParseError> {
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
    if trimmed.starts_with('[') && looks_like_buildkite(trimmed) {
        return Ok(Format::Buildkite);
    }
    if trimmed.starts_with('{') {
        let first_line = trimmed.lines().next().unwrap_or("");
        if is_test2json_line(first_line) {
            return Ok(Format::Gotest);
        }
        let ctrf_marker = trimmed.contains("\"reportFormat\"") && trimmed.contains("\"CTRF\"");
        if ctrf_marker
            || (trimmed.contains("\"results\"")
                && (trimmed.contains("\"tool\"") || trimmed.contains("\"tests\"")))
        {
            return Ok(Format::Ctrf);
        }
        if trimmed.contains("\"data\"") && looks_like_buildkite(trimmed) {
            return Ok(Format::Buildkite);
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

fn looks_like_buildkite(s: &str) -> bool {
    s.contains("\"scope\"")
        || s.contains("\"location\"")
        || s.contains("\"file_name\"")
        || s.contains("\"failure_reason\"")
}

pub fn is_test2json_line(line: &str) -> bool {
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
            ("{\"results\": {\"tool\": {\"name\": \"x\"}, \"tests\": []}}", Format::Ctrf),
            ("[{\"scope\": \"a\", \"name\": \"b\"}]", Format::Buildkite),
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
    }
}
