use sha2::{Digest, Sha256};

/// What identifies a test across runs, independent of the format it was read from.
///
/// The identity is `scope + "::" + name`, where `scope` is the class name when the report gives
/// one, else the source file, else the suite path joined with `/`. `name` is the full test name
/// including its parameters, so every parameter set is a test of its own. Durations, hostnames,
/// timestamps and the order of tests never enter it.
#[derive(Debug, Clone, Copy)]
pub struct TestIdentity<'a> {
    /// The suite path, joined.
    pub suite: &'a str,
    /// The class, when the report names one.
    pub classname: &'a str,
    /// The source file, when the report names one.
    pub file: Option<&'a str>,
    /// The full name, parameters included.
    pub name: &'a str,
}

impl TestIdentity<'_> {
    /// What the name is scoped by: the class, else the file, else the suite.
    pub fn scope(&self) -> &str {
        if !self.classname.is_empty() {
            self.classname
        } else if let Some(f) = self.file.filter(|f| !f.is_empty()) {
            f
        } else {
            self.suite
        }
    }
}

/// Whether `text` has the shape of a test id: 64 hex digits.
pub fn is_test_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Lower-case hex SHA-256 of the identity described on [`TestIdentity`].
pub fn test_id(identity: &TestIdentity<'_>) -> String {
    let mut h = Sha256::new();
    h.update(identity.scope().as_bytes());
    h.update(b"::");
    h.update(identity.name.as_bytes());
    to_hex(&h.finalize())
}

/// Lower-case hex, without the per-character iterator of `hex::encode` (ids are made for
/// every test of every report).
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// Splits a parametrized test name into its base name and parameters:
/// - a trailing bracket group: pytest `test_f[a-b]`, JUnit 4 `test[0]`;
/// - a trailing parenthesised group: NUnit/xUnit data rows `Test(1, 2)`, `M(x: 1)`;
/// - a leading JUnit 5 invocation index: `[1] x=1` (base name `[1]`, parameters `x=1`).
///
/// Names without parameters come back as `(name, None)`. Empty groups (`f()`) are not
/// parameters.
pub fn split_params(name: &str) -> (&str, Option<&str>) {
    let trimmed = name.trim_end();
    for (open, close) in [('[', ']'), ('(', ')')] {
        if trimmed.ends_with(close) {
            if let Some(start) = matching_open(trimmed, open, close) {
                let inner = &trimmed[start + 1..trimmed.len() - 1];
                if start > 0 && !inner.trim().is_empty() {
                    return (trimmed[..start].trim_end(), Some(inner));
                }
            }
        }
    }
    if let Some(rest) = trimmed.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            let index = &rest[..end];
            let params = rest[end + 1..].trim();
            if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) && !params.is_empty()
            {
                return (&trimmed[..end + 2], Some(params));
            }
        }
    }
    (name, None)
}

/// Byte index of the bracket that opens the group closed by the last character of `s`.
fn matching_open(s: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices().rev() {
        if c == close {
            depth += 1;
        } else if c == open {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(suite: &str, classname: &str, file: Option<&str>, name: &str) -> String {
        test_id(&TestIdentity {
            suite,
            classname,
            file,
            name,
        })
    }

    #[test]
    fn test_id_should_be_sha256_of_scope_and_name() {
        // echo -n 'pkg.Cls::test_a' | sha256sum
        assert_eq!(
            id("suite", "pkg.Cls", Some("f.py"), "test_a"),
            hex::encode(Sha256::digest(b"pkg.Cls::test_a"))
        );
    }

    #[test]
    fn test_id_should_ignore_suite_when_classname_known_and_fall_back_to_file_then_suite() {
        assert_eq!(id("a", "C", None, "t"), id("b", "C", Some("x"), "t"));
        assert_eq!(
            id("a", "", Some("f.go"), "t"),
            id("b", "", Some("f.go"), "t")
        );
        assert_ne!(id("a", "", None, "t"), id("b", "", None, "t"));
    }

    #[test]
    fn split_params_should_handle_each_style() {
        assert_eq!(split_params("test_f[a-b]"), ("test_f", Some("a-b")));
        assert_eq!(split_params("test_f[x[1]]"), ("test_f", Some("x[1]")));
        assert_eq!(split_params("test_f(1, 2)"), ("test_f", Some("1, 2")));
        assert_eq!(
            split_params("Ns.C.M(x: 1, y: \"a\")"),
            ("Ns.C.M", Some("x: 1, y: \"a\""))
        );
        assert_eq!(split_params("[1] x=1"), ("[1]", Some("x=1")));
        assert_eq!(split_params("plain"), ("plain", None));
        assert_eq!(split_params("f()"), ("f()", None));
        assert_eq!(split_params("[weird"), ("[weird", None));
        assert_eq!(split_params("(1)"), ("(1)", None));
    }
}
