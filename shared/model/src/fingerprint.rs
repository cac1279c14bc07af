use regex::Regex;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// One pass over the text replaces everything that changes between two occurrences of the same
/// error, in this order of alternatives: UUIDs, timestamps, temp paths, hex addresses and
/// object hashes, durations, and line (and column) numbers. At each position the leftmost
/// alternative that matches wins, so the specific shapes (a UUID, a timestamp) take precedence
/// over the general ones (a number after a colon).
static VOLATILE: LazyLock<Regex> = LazyLock::new(|| {
    // ASCII word boundaries and digit classes keep the search in the lazy DFA (Unicode `\b`
    // makes it fall back to a slower engine on every failure message).
    Regex::new(concat!(
        r"(?-u:\b)[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?-u:\b)",
        r"|(?-u:\b)[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?|(?-u:\b)[0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?",
        r"|(?:/private)?/var/folders/[^\s'`:]*|/tmp/[^\s'`:]*|[A-Za-z]:\\(?:Users\\[^\\\s]+\\AppData\\Local\\Temp|Windows\\Temp|Temp)\\[^\s'`:]*",
        r"|(?-u:\b)0x[0-9a-fA-F]+(?-u:\b)|@[0-9a-fA-F]{6,}(?-u:\b)",
        r"|(?-u:\b)[0-9]+(?:\.[0-9]+)?\s?(?:ns|µs|us|ms|s|sec|secs|seconds|minutes|min)(?-u:\b)",
        r"|(?::[0-9]+)+(?-u:\b)|(?-u:\b)[Ll]ine:? [0-9]+",
    ))
    .expect("fingerprint pattern is valid")
});

/// How many lines of the stack or details enter the fingerprint: the top frames say where the
/// error comes from; deeper frames vary with the test runner and add nothing.
const DETAIL_LINES: usize = 8;

/// Every volatile piece becomes the same placeholder: which kind it was does not matter for
/// grouping, and a literal replacement needs no capture groups (the fast path of the engine).
fn normalize(text: &str) -> std::borrow::Cow<'_, str> {
    VOLATILE.replace_all(text, regex::NoExpand("<v>"))
}

/// A short, stable hash of a failure: 16 hex digits of SHA-256 over the failure type, the
/// message and the top lines of the stack, with volatile data (see `VOLATILE`) replaced by
/// placeholders. The same error at another line or in another run has the same fingerprint;
/// a different message or type has another. `None` when there is nothing to fingerprint.
pub fn failure_fingerprint(
    failure_type: Option<&str>,
    message: Option<&str>,
    details: Option<&str>,
) -> Option<String> {
    let ty = failure_type.unwrap_or("").trim();
    let msg = message.unwrap_or("").trim();
    let top: String = details
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(DETAIL_LINES)
        .collect::<Vec<_>>()
        .join("\n");
    if ty.is_empty() && msg.is_empty() && top.is_empty() {
        return None;
    }
    let mut h = Sha256::new();
    h.update(normalize(ty).as_bytes());
    h.update([0]);
    h.update(normalize(msg).as_bytes());
    h.update([0]);
    h.update(normalize(&top).as_bytes());
    Some(crate::identity::to_hex(&h.finalize()[..8]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(msg: &str, details: &str) -> String {
        failure_fingerprint(Some("AssertionError"), Some(msg), Some(details)).unwrap()
    }

    #[test]
    fn same_error_at_another_line_should_group() {
        assert_eq!(
            fp(
                "expected true",
                "at foo (src/a.js:10:5)\nat bar (src/b.js:3:1)"
            ),
            fp(
                "expected true",
                "at foo (src/a.js:42:7)\nat bar (src/b.js:9:1)"
            )
        );
        assert_eq!(
            fp("boom", "File \"t.py\", line 12, in test_x"),
            fp("boom", "File \"t.py\", line 99, in test_x")
        );
    }

    #[test]
    fn volatile_data_should_not_change_fingerprint() {
        assert_eq!(
            fp("id 123e4567-e89b-12d3-a456-426614174000 at 2024-01-02T03:04:05Z took 35ms", ""),
            fp("id 00000000-1111-2222-3333-444444444444 at 2026-11-21T22:11:00.123+01:00 took 2.5 s", "")
        );
        assert_eq!(
            fp("ptr 0xdeadbeef obj Foo@1a2b3c4d", ""),
            fp("ptr 0x7ffe01 obj Foo@99aa88bb77", "")
        );
        assert_eq!(
            fp("cannot open /tmp/pytest-of-ci/pytest-12/test_a0/x.txt", ""),
            fp("cannot open /tmp/pytest-of-bob/pytest-7/test_a1/x.txt", "")
        );
    }

    #[test]
    fn different_errors_should_not_group() {
        assert_ne!(
            fp("expected 1 to equal 2", ""),
            fp("connection refused", "")
        );
        assert_ne!(
            failure_fingerprint(Some("TypeError"), Some("x"), None),
            failure_fingerprint(Some("ValueError"), Some("x"), None)
        );
    }

    #[test]
    fn nothing_to_fingerprint_should_be_none() {
        assert_eq!(failure_fingerprint(None, Some("  "), None), None);
        assert_eq!(fp("a", "").len(), 16);
    }
}
