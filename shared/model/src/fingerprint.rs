use sha2::{Digest, Sha256};

/// How many lines of the stack or details enter the fingerprint: the top frames say where the
/// error comes from; deeper frames vary with the test runner and add nothing.
const DETAIL_LINES: usize = 8;

/// What every volatile piece becomes: which kind it was does not matter for grouping.
const PLACEHOLDER: &[u8] = b"<v>";

/// A short, stable hash of a failure: 16 hex digits of SHA-256 over the failure type, the
/// message and the top lines of the stack, with volatile data (see [`volatile_at`]) replaced by
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
    normalize(ty, |piece| h.update(piece));
    h.update([0]);
    normalize(msg, |piece| h.update(piece));
    h.update([0]);
    normalize(&top, |piece| h.update(piece));
    Some(crate::identity::to_hex(&h.finalize()[..8]))
}

/// Hands `text` to `out` in pieces, with every volatile piece replaced by [`PLACEHOLDER`].
///
/// One pass, left to right: at each position the kinds of [`volatile_at`] are tried in order,
/// the first that matches is replaced, and the scan goes on after it. Inside a word, only its
/// first byte and a drive letter before a colon (its last byte) can start volatile data, so the
/// rest of a word is skipped whole.
fn normalize(text: &str, mut out: impl FnMut(&[u8])) {
    let b = text.as_bytes();
    let (mut copied, mut i) = (0, 0);
    while i < b.len() {
        let found = if is_word(b[i]) {
            let word_start = i == 0 || !is_word(b[i - 1]);
            let last = run_end(b, i, |&c| is_word(c)) - 1;
            let found = word_start
                .then(|| volatile_at(text, i).map(|end| (i, end)))
                .flatten()
                .or_else(|| windows_temp_path(text, last).map(|end| (last, end)));
            if found.is_none() {
                i = last;
            }
            found
        } else if matches!(b[i], b'/' | b'@' | b':') {
            volatile_at(text, i).map(|end| (i, end))
        } else {
            None
        };
        match found {
            Some((start, end)) => {
                out(&b[copied..start]);
                out(PLACEHOLDER);
                copied = end;
                i = end;
            }
            None => i += 1,
        }
    }
    out(&b[copied..]);
}

/// The end of the volatile piece starting at byte `i` of `text`, if one starts there; `i` is
/// the start of a word or a byte that is not a word byte. The kinds, tried in this order so that
/// the specific shapes (a UUID, a timestamp) win over the general ones (a number after a colon):
/// 1. a UUID (`123e4567-e89b-12d3-a456-426614174000`);
/// 2. a date, with an optional time and zone (`2024-01-02`, `2024-01-02T03:04:05.123+01:00`),
///    or a time of day (`03:04:05`, `03:04:05,250`);
/// 3. a temp path (`/tmp/…`, `/var/folders/…`, `/private/var/folders/…`, `C:\Temp\…`,
///    `C:\Windows\Temp\…`, `C:\Users\<user>\AppData\Local\Temp\…`) up to a space, quote or colon;
/// 4. a hex address (`0x7ffe01`) or object hash (`Foo@1a2b3c4d`, 6 hex digits or more);
/// 5. a duration (`35ms`, `2.5 s`, `3 minutes`);
/// 6. line and column numbers (`:10:5`, `line 12`, `Line: 7`).
///
/// "Word" is ASCII `[0-9A-Za-z_]`; the shapes that end with a word byte must end the word there
/// (`123ms` is a duration, `123msx` is not).
///
/// Fingerprints are stored, so this definition must not drift: the tests check it against the
/// regular expression it replaced (written out in the tests), on generated text.
fn volatile_at(text: &str, i: usize) -> Option<usize> {
    let b = text.as_bytes();
    match b[i] {
        b'/' => temp_unix_path(text, i),
        b'@' => object_hash(b, i),
        b':' => line_column(b, i),
        b'0'..=b'9' => uuid(b, i)
            .or_else(|| date_time(b, i))
            .or_else(|| time_of_day(b, i))
            .or_else(|| hex_address(b, i))
            .or_else(|| duration(text, i)),
        b'A'..=b'Z' | b'a'..=b'z' => uuid(b, i)
            .or_else(|| windows_temp_path(text, i))
            .or_else(|| line_number(b, i)),
        _ => None,
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Whether a word ends at byte `j` (the byte before it is a word byte in every caller).
fn word_ends(b: &[u8], j: usize) -> bool {
    b.get(j).is_none_or(|&c| !is_word(c))
}

/// The end of the run of bytes from `j` that satisfy `pred`.
fn run_end(b: &[u8], j: usize, pred: impl Fn(&u8) -> bool) -> usize {
    j + b[j.min(b.len())..].iter().take_while(|c| pred(c)).count()
}

/// Whether exactly `n` bytes from `j` satisfy `pred` (what follows is the caller's business).
#[inline]
fn has(b: &[u8], j: usize, n: usize, pred: impl Fn(&u8) -> bool) -> bool {
    b.get(j..j + n).is_some_and(|s| s.iter().all(pred))
}

/// Groups of exactly `lens` digits (or hex digits) joined by `sep`, from `i`; their end.
/// Inlined, like the other kinds' first checks: nearly every word fails on its first bytes,
/// and the scan asks at every word.
#[inline]
fn groups(b: &[u8], i: usize, lens: &[usize], sep: u8, hex: bool) -> Option<usize> {
    let pred = |c: &u8| {
        if hex {
            c.is_ascii_hexdigit()
        } else {
            c.is_ascii_digit()
        }
    };
    let mut j = i;
    for (k, &len) in lens.iter().enumerate() {
        if k > 0 {
            if b.get(j) != Some(&sep) {
                return None;
            }
            j += 1;
        }
        if !has(b, j, len, pred) {
            return None;
        }
        j += len;
    }
    Some(j)
}

/// An optional fraction of a second (`.123`, `,5`) at `j`; the end either way.
fn fraction(b: &[u8], j: usize, separators: &[u8]) -> usize {
    match b.get(j) {
        Some(c) if separators.contains(c) && has(b, j + 1, 1, u8::is_ascii_digit) => {
            run_end(b, j + 1, u8::is_ascii_digit)
        }
        _ => j,
    }
}

#[inline]
fn uuid(b: &[u8], i: usize) -> Option<usize> {
    groups(b, i, &[8, 4, 4, 4, 12], b'-', true).filter(|&j| word_ends(b, j))
}

/// `2024-01-02`, then optionally `T03:04`, `:05`, `.123` and a zone (`Z`, `+01:00`, `-0530`).
fn date_time(b: &[u8], i: usize) -> Option<usize> {
    let date = groups(b, i, &[4, 2, 2], b'-', false)?;
    if !matches!(b.get(date), Some(b'T' | b' ')) {
        return Some(date);
    }
    let Some(mut j) = groups(b, date + 1, &[2, 2], b':', false) else {
        return Some(date);
    };
    if b.get(j) == Some(&b':') && has(b, j + 1, 2, u8::is_ascii_digit) {
        j = fraction(b, j + 3, b".,");
    }
    match b.get(j) {
        Some(b'Z') => Some(j + 1),
        Some(b'+' | b'-') if has(b, j + 1, 2, u8::is_ascii_digit) => {
            let k = j + 3;
            if b.get(k) == Some(&b':') && has(b, k + 1, 2, u8::is_ascii_digit) {
                Some(k + 3)
            } else if has(b, k, 2, u8::is_ascii_digit) {
                Some(k + 2)
            } else {
                Some(j)
            }
        }
        _ => Some(j),
    }
}

fn time_of_day(b: &[u8], i: usize) -> Option<usize> {
    groups(b, i, &[2, 2, 2], b':', false).map(|j| fraction(b, j, b".,"))
}

/// The end of a path's remaining characters from `j`: up to a space, a quote or a colon.
fn path_rest(text: &str, j: usize) -> usize {
    text[j..]
        .char_indices()
        .find(|&(_, c)| c.is_whitespace() || matches!(c, '\'' | '`' | ':'))
        .map_or(text.len(), |(k, _)| j + k)
}

fn temp_unix_path(text: &str, i: usize) -> Option<usize> {
    let rest = &text[i..];
    ["/private/var/folders/", "/var/folders/", "/tmp/"]
        .into_iter()
        .find(|prefix| rest.starts_with(prefix))
        .map(|prefix| path_rest(text, i + prefix.len()))
}

/// `C:\Temp\…`, `C:\Windows\Temp\…`, `C:\Users\<user>\AppData\Local\Temp\…`.
#[inline]
fn windows_temp_path(text: &str, i: usize) -> Option<usize> {
    let b = text.as_bytes();
    if b[i].is_ascii_alphabetic() && b.get(i + 1) == Some(&b':') && b.get(i + 2) == Some(&b'\\') {
        windows_temp_dir(text, i + 3)
    } else {
        None
    }
}

/// The rest of a Windows temp path, from after its drive (`C:\`).
fn windows_temp_dir(text: &str, j: usize) -> Option<usize> {
    let b = text.as_bytes();
    let rest = &text[j..];
    let temp_dir_end = if let Some(user) = rest.strip_prefix("Users\\") {
        let user_len = user
            .find(|c: char| c == '\\' || c.is_whitespace())
            .unwrap_or(user.len());
        let after = &user[user_len..];
        (user_len > 0 && after.starts_with("\\AppData\\Local\\Temp"))
            .then(|| text.len() - after.len() + "\\AppData\\Local\\Temp".len())
    } else {
        ["Windows\\Temp", "Temp"]
            .into_iter()
            .find(|dir| rest.starts_with(dir))
            .map(|dir| j + dir.len())
    }?;
    (b.get(temp_dir_end) == Some(&b'\\')).then(|| path_rest(text, temp_dir_end + 1))
}

fn hex_address(b: &[u8], i: usize) -> Option<usize> {
    if !(b[i] == b'0' && b.get(i + 1) == Some(&b'x')) {
        return None;
    }
    let end = run_end(b, i + 2, u8::is_ascii_hexdigit);
    (end > i + 2 && word_ends(b, end)).then_some(end)
}

fn object_hash(b: &[u8], i: usize) -> Option<usize> {
    let end = run_end(b, i + 1, u8::is_ascii_hexdigit);
    (end >= i + 7 && word_ends(b, end)).then_some(end)
}

/// `35ms`, `2.5 s`, `3 minutes`: a number, one optional space, a unit that ends a word.
fn duration(text: &str, i: usize) -> Option<usize> {
    const UNITS: [&str; 10] = [
        "ns", "µs", "us", "ms", "s", "sec", "secs", "seconds", "minutes", "min",
    ];
    let b = text.as_bytes();
    let number = fraction(b, run_end(b, i, u8::is_ascii_digit), b".");
    let unit_at = match text[number..].chars().next() {
        Some(c) if c.is_whitespace() => number + c.len_utf8(),
        _ => number,
    };
    UNITS
        .into_iter()
        .find(|unit| text[unit_at..].starts_with(unit) && word_ends(b, unit_at + unit.len()))
        .map(|unit| unit_at + unit.len())
}

/// `:10`, `:10:5`: colon-number groups, as many as end a word (`:10:5x` is `:10` then `:5x`).
fn line_column(b: &[u8], i: usize) -> Option<usize> {
    let (mut last, mut before_last) = (None, None);
    let mut j = i;
    while b.get(j) == Some(&b':') && has(b, j + 1, 1, u8::is_ascii_digit) {
        j = run_end(b, j + 1, u8::is_ascii_digit);
        (before_last, last) = (last, Some(j));
    }
    // A group followed by another group ends at a colon, which ends a word.
    last.filter(|&end| word_ends(b, end)).or(before_last)
}

/// `line 12`, `Line: 7`.
#[inline]
fn line_number(b: &[u8], i: usize) -> Option<usize> {
    if !(matches!(b[i], b'L' | b'l') && b.get(i + 1..i + 4) == Some(b"ine")) {
        return None;
    }
    let number = match b.get(i + 4..i + 6) {
        Some(b": ") => i + 6,
        _ if b.get(i + 4) == Some(&b' ') => i + 5,
        _ => return None,
    };
    let end = run_end(b, number, u8::is_ascii_digit);
    (end > number).then_some(end)
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

    /// The regular expression the hand-written scanner replaced, kept here as its definition:
    /// fingerprints already stored were computed with it, so both must agree on every text.
    fn regex_normalize(text: &str) -> String {
        use std::sync::LazyLock;
        static VOLATILE: LazyLock<regex::Regex> = LazyLock::new(|| {
            regex::Regex::new(concat!(
                r"(?-u:\b)[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?-u:\b)",
                r"|(?-u:\b)[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?|(?-u:\b)[0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?",
                r"|(?:/private)?/var/folders/[^\s'`:]*|/tmp/[^\s'`:]*|[A-Za-z]:\\(?:Users\\[^\\\s]+\\AppData\\Local\\Temp|Windows\\Temp|Temp)\\[^\s'`:]*",
                r"|(?-u:\b)0x[0-9a-fA-F]+(?-u:\b)|@[0-9a-fA-F]{6,}(?-u:\b)",
                r"|(?-u:\b)[0-9]+(?:\.[0-9]+)?\s?(?:ns|µs|us|ms|s|sec|secs|seconds|minutes|min)(?-u:\b)",
                r"|(?::[0-9]+)+(?-u:\b)|(?-u:\b)[Ll]ine:? [0-9]+",
            ))
            .expect("pattern is valid")
        });
        VOLATILE
            .replace_all(text, regex::NoExpand("<v>"))
            .into_owned()
    }

    fn scanner_normalize(text: &str) -> String {
        let mut out = Vec::new();
        normalize(text, |piece| out.extend_from_slice(piece));
        String::from_utf8(out).expect("pieces are cut at ASCII bytes")
    }

    /// Pieces that make and break every kind of volatile data, and their edges.
    const PIECES: &[&str] = &[
        "0",
        "1",
        "12",
        "123",
        "2024",
        "9999",
        "07",
        "123e4567",
        "e89b",
        "426614174000",
        "deadbeef",
        "ABCDEF",
        "ff",
        "g",
        "x",
        "0x",
        "0x7ffe01",
        "-",
        "--",
        ":",
        "::",
        ".",
        ",",
        "T",
        " ",
        "  ",
        "\t",
        "\n",
        "\u{a0}",
        "\u{2009}",
        "Z",
        "+",
        "+01:00",
        "-0530",
        "ns",
        "µs",
        "us",
        "ms",
        "s",
        "sec",
        "secs",
        "seconds",
        "minutes",
        "min",
        "mins",
        "/",
        "/tmp/",
        "/var/folders/",
        "/private",
        "/private/var/folders/",
        "C:\\",
        "c:\\",
        "Users\\",
        "bob",
        "\\",
        "\\AppData\\Local\\Temp",
        "Windows\\Temp",
        "Temp",
        "Temp\\",
        "@",
        "@1a2b3c",
        "Foo",
        "Line",
        "line",
        "line:",
        "Line: ",
        "ine",
        "'",
        "`",
        "\"",
        "_",
        "é",
        "日本",
        "a",
        "at ",
        "(",
        ")",
        "file.py",
        "java:42",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

        #[test]
        fn scanner_should_normalize_as_the_regex_did(
            picks in proptest::collection::vec(0..PIECES.len(), 0..24)
        ) {
            let text: String = picks.iter().map(|&p| PIECES[p]).collect();
            proptest::prop_assert_eq!(scanner_normalize(&text), regex_normalize(&text), "text: {:?}", text);
        }

        #[test]
        fn scanner_should_normalize_any_text_as_the_regex_did(text in "\\PC{0,40}") {
            proptest::prop_assert_eq!(scanner_normalize(&text), regex_normalize(&text));
        }
    }

    #[test]
    fn scanner_should_normalize_each_kind_as_documented() {
        for (text, want) in [
            ("id 123e4567-e89b-12d3-a456-426614174000.", "id <v>."),
            (
                "at 2024-01-02T03:04:05.123+01:00 and 2024-01-02 x",
                "at <v> and <v> x",
            ),
            ("03:04:05,250 start", "<v> start"),
            ("open /private/var/folders/x/y:1", "open <v><v>"),
            ("C:\\Users\\bob\\AppData\\Local\\Temp\\a b", "<v> b"),
            ("ptr 0x7ffe01 obj Foo@1a2b3c4d", "ptr <v> obj Foo<v>"),
            (
                "took 35ms, 2.5 s, 3 minutes; not abc123ms",
                "took <v>, <v>, <v>; not abc123ms",
            ),
            ("t.py:10:5x Line: 7", "t.py<v>:5x <v>"),
        ] {
            assert_eq!(scanner_normalize(text), want, "{text:?}");
            assert_eq!(regex_normalize(text), want, "{text:?}");
        }
    }
}
