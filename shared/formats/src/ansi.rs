//! Terminal colour codes in messages: JavaScript runners (Jest, Vitest, Playwright, Mocha)
//! write their assertion diffs coloured even into JSON reports. The codes are dropped so that
//! messages read as text and fingerprints do not depend on whether colour was on.

/// `text` without ANSI escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL|ESC \`, and
/// two-byte `ESC x`). Borrowed back unchanged when there is none.
pub(crate) fn strip(text: String) -> String {
    if !text.contains('\u{1b}') {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // Parameters and intermediates, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Sets an attempt's failure from a JavaScript error as the runners report it (a `message` and
/// a `stack`, which repeats the message): the message is the first line of the message, the
/// details the stack, or the message when there is no stack. Colour codes are dropped.
pub(crate) fn set_error(
    attempt: &mut verdict_model::Attempt,
    message: Option<String>,
    stack: Option<String>,
) {
    let message = message.map(strip);
    attempt.message = message.as_deref().and_then(crate::first_line);
    attempt.details = stack.map(strip).or(message);
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn should_drop_colour_codes_and_keep_text() {
        assert_eq!(
            strip("Error: \u{1b}[2mexpect(\u{1b}[22m\u{1b}[31mreceived\u{1b}[39m)".into()),
            "Error: expect(received)"
        );
        assert_eq!(
            strip("a\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{1b}\\b".into()),
            "alinkb"
        );
        assert_eq!(strip("plain".into()), "plain");
        assert_eq!(strip("cut \u{1b}[3".into()), "cut ");
    }
}
