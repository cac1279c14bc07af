/// The text that ends a field cut to its cap. The raw report, kept whole, has the rest.
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// Caps on the free text a test result carries. A report can hold megabytes of output per test;
/// what Verdict keeps must fit a DynamoDB item (400 KB), so each field is cut with a marker and
/// the raw report (kept whole in S3) stays the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Each of a test's names (suite, classname, name, file, owner, each tag): its id is made
    /// from the whole name first, so two tests whose names differ past the cap stay apart.
    pub name: usize,
    /// An attempt's message.
    pub message: usize,
    /// An attempt's failure type.
    pub failure_type: usize,
    /// An attempt's details (stack trace).
    pub details: usize,
    /// An attempt's stdout and stderr, each.
    pub output: usize,
}

impl Limits {
    /// 1 KiB per name, 8 KiB message, 512 B type, 32 KiB stack/details, 16 KiB each of stdout
    /// and stderr: a result stays under 80 KiB of text even when every field is full.
    pub const DEFAULT: Limits = Limits {
        name: 1024,
        message: 8 * 1024,
        failure_type: 512,
        details: 32 * 1024,
        output: 16 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Cuts `text` to at most `max` bytes (on a character boundary) and appends the truncation
/// marker. Text within the cap is returned unchanged.
pub fn cap_text(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(TRUNCATION_MARKER);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_text_fits_should_be_unchanged() {
        assert_eq!(cap_text("abc".into(), 3), "abc");
    }

    #[test]
    fn when_text_is_long_should_cut_on_char_boundary_with_marker() {
        let s = cap_text("héllo".into(), 2);
        assert_eq!(s, "h…[truncated]");
        let s = cap_text("abcdef".into(), 4);
        assert_eq!(s, "abcd…[truncated]");
    }
}
