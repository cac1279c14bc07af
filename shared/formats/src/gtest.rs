//! GoogleTest JSON (`--gtest_output=json`): `testsuites[]`, each with `testsuite[]` tests.
//!
//! - A test is `classname` (the suite, `Ints/Param` for a parameterized one) and `name`
//!   (`Small/0`), as in GoogleTest's JUnit XML, so both outputs give the same test ids; the
//!   parameter's value (`value_param`) is not part of the name, whose `/0` index already
//!   tells the instances apart.
//! - `status: "NOTRUN"` (a `DISABLED_` test) and `result: "SKIPPED"` (`GTEST_SKIP`) are
//!   skipped; a test with `failures[]` failed, each failure's text one after another; any other
//!   is passed. `time` is `"0.012s"`.
//! - Text: GoogleTest escapes every byte of a non-ASCII UTF-8 character as its own `\u00XX`,
//!   so `ü` arrives as the two characters `Ã¼`. A string made only of characters up to U+00FF
//!   whose bytes are valid UTF-8 is decoded as those bytes, which is what the runner meant;
//!   any other string is kept as it is.

use crate::input::Input;
use crate::json::{for_each_at, seconds};
use crate::{first_line, Ctx, ParseError};
use serde::Deserialize;
use verdict_model::{Attempt, Status, TestCase};

#[derive(Deserialize)]
struct Suite {
    name: String,
    #[serde(default)]
    testsuite: Vec<GTest>,
}

#[derive(Deserialize)]
struct GTest {
    name: String,
    #[serde(default)]
    classname: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    failures: Vec<Failure>,
}

#[derive(Deserialize)]
struct Failure {
    #[serde(default)]
    failure: Option<String>,
}

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    for_each_at(input, "GoogleTest JSON", &["testsuites"], |suite: Suite| {
        let suite_name = utf8_bytes(suite.name);
        for t in suite.testsuite {
            let case = test_case(&suite_name, t, ctx);
            ctx.emit(case);
        }
        Ok(())
    })?;
    Ok(())
}

fn test_case(suite: &str, t: GTest, ctx: &mut Ctx<'_>) -> TestCase {
    let status = if !t.failures.is_empty() {
        Status::Failed
    } else if t.status.as_deref() == Some("NOTRUN") || t.result.as_deref() == Some("SKIPPED") {
        Status::Skipped
    } else {
        Status::Passed
    };
    let duration = match t
        .time
        .as_deref()
        .map(|s| s.trim_end_matches('s').parse::<f64>())
    {
        Some(Ok(v)) => seconds(v),
        Some(Err(_)) => {
            ctx.warn(
                None,
                format!("test {:?} has a time that is not a duration", t.name),
            );
            0
        }
        None => 0,
    };
    let mut attempt = Attempt::new(status, duration);
    let texts: Vec<String> = t
        .failures
        .into_iter()
        .filter_map(|f| f.failure.map(utf8_bytes))
        .collect();
    if let Some(first) = texts.first() {
        // The first line is `file:line`; what failed is the line after it.
        attempt.message = first_line(
            first
                .split_once('\n')
                .map_or(first.as_str(), |(_, rest)| rest),
        )
        .or_else(|| first_line(first));
        attempt.details = Some(texts.join("\n\n"));
    }
    TestCase {
        suite: vec![suite.to_string()],
        classname: t.classname.map_or_else(|| suite.to_string(), utf8_bytes),
        name: utf8_bytes(t.name),
        file: t.file,
        line: t.line,
        attempts: vec![attempt],
        ..TestCase::default()
    }
}

/// Undoes GoogleTest's byte-per-character escaping (see the module doc).
fn utf8_bytes(s: String) -> String {
    if s.is_ascii() || s.chars().any(|c| c as u32 > 0xFF) {
        return s;
    }
    let bytes: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
    String::from_utf8(bytes).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::utf8_bytes;

    #[test]
    fn should_decode_bytes_escaped_one_by_one_and_keep_real_latin1() {
        assert_eq!(utf8_bytes("gr\u{c3}\u{bc}\u{c3}\u{9f}e".into()), "grüße");
        assert_eq!(
            utf8_bytes("\u{e4}\u{b8}\u{96}\u{e7}\u{95}\u{8c}".into()),
            "世界"
        );
        // Not valid UTF-8 as bytes: the runner meant these characters.
        assert_eq!(utf8_bytes("caf\u{e9}".into()), "café");
        assert_eq!(utf8_bytes("世界".into()), "世界");
    }
}
