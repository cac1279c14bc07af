//! Bounds the memory the XML reader can be made to use, before it buffers anything.
//!
//! quick-xml buffers one whole event (a text node, a tag with its attributes, a comment, a
//! CDATA section, a DOCTYPE, a processing instruction) before handing it over, so a single
//! event of a gigabyte is a gigabyte of memory. The guard follows the same lexical structure on
//! the raw bytes as they are read, and fails the read as soon as one event grows past the cap.
//! It only needs to know where each event ends: `>` outside quotes for a tag, `-->` for a
//! comment, `]]>` for CDATA, `?>` for a processing instruction, the `>` after any internal
//! subset for a DOCTYPE; text ends at the next `<`.

/// The lexical state between two bytes of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    /// After `<`: the bytes seen so far of what follows (enough to tell the kinds apart).
    Open {
        seen: [u8; 8],
        len: u8,
    },
    Tag {
        quote: Option<u8>,
    },
    Comment,
    CData,
    Pi,
    Doctype {
        depth: u32,
        quote: Option<u8>,
    },
}

#[derive(Debug)]
pub(crate) struct NodeGuard {
    max: usize,
    state: State,
    /// Bytes of the current event so far.
    event: usize,
    /// The last three bytes, for the lookbehind of `-->`, `]]>` and `?>`.
    tail: [u8; 3],
}

impl NodeGuard {
    pub(crate) fn new(max: usize) -> NodeGuard {
        NodeGuard {
            max,
            state: State::Text,
            event: 0,
            tail: [0; 3],
        }
    }

    /// Follows `chunk`; once an event is longer than the cap, `Err` with where in the chunk the
    /// bytes counted so far end.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), usize> {
        let mut i = 0;
        while i < chunk.len() {
            // Skip to the next byte that can change the state, counting what is skipped.
            let skipped = match self.state {
                State::Text => memchr::memchr(b'<', &chunk[i..]),
                State::Tag { quote: None } => memchr::memchr3(b'>', b'"', b'\'', &chunk[i..]),
                State::Tag { quote: Some(q) } => memchr::memchr(q, &chunk[i..]),
                State::Comment | State::CData | State::Pi => memchr::memchr(b'>', &chunk[i..]),
                State::Open { .. } | State::Doctype { .. } => Some(0),
            };
            let Some(skip) = skipped else {
                return self.advance(&chunk[i..]).map_err(|()| chunk.len());
            };
            if skip > 0 {
                self.advance(&chunk[i..i + skip]).map_err(|()| i + skip)?;
                i += skip;
            }
            let byte = chunk[i];
            self.advance(&chunk[i..=i]).map_err(|()| i + 1)?;
            self.step(byte);
            i += 1;
        }
        Ok(())
    }

    /// Counts `bytes` into the current event and remembers the last three.
    fn advance(&mut self, bytes: &[u8]) -> Result<(), ()> {
        self.event += bytes.len();
        for &b in &bytes[bytes.len().saturating_sub(3)..] {
            self.tail = [self.tail[1], self.tail[2], b];
        }
        if self.event > self.max {
            return Err(());
        }
        Ok(())
    }

    /// Bytes of the event being read.
    pub(crate) fn current(&self) -> usize {
        self.event
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// The state after `byte` (already counted and in `tail`).
    fn step(&mut self, byte: u8) {
        let ends_with = |end: &[u8]| self.tail.ends_with(end);
        self.state = match self.state {
            State::Text => self.boundary(State::Open {
                seen: [0; 8],
                len: 0,
            }),
            State::Open { mut seen, len } => {
                seen[usize::from(len)] = byte;
                let seen_now = &seen[..=usize::from(len)];
                match classify(seen_now) {
                    Some(State::Tag { .. }) if byte == b'>' => self.boundary(State::Text),
                    Some(next) => next,
                    None if usize::from(len) + 1 == seen.len() => State::Doctype {
                        depth: 0,
                        quote: None,
                    },
                    None => State::Open { seen, len: len + 1 },
                }
            }
            State::Tag { quote: None } => match byte {
                b'>' => self.boundary(State::Text),
                q => State::Tag { quote: Some(q) },
            },
            State::Tag { quote: Some(_) } => State::Tag { quote: None },
            // The event counts from the byte after `<`: `!--` and `-->` may not overlap.
            State::Comment if ends_with(b"-->") && self.event >= 6 => self.boundary(State::Text),
            State::CData if ends_with(b"]]>") && self.event >= 11 => self.boundary(State::Text),
            State::Pi if ends_with(b"?>") && self.event >= 3 => self.boundary(State::Text),
            s @ (State::Comment | State::CData | State::Pi) => s,
            State::Doctype { depth, quote } => match (quote, byte) {
                (Some(q), b) if b == q => State::Doctype { depth, quote: None },
                (Some(_), _) => State::Doctype { depth, quote },
                (None, b'"' | b'\'') => State::Doctype {
                    depth,
                    quote: Some(byte),
                },
                (None, b'[') => State::Doctype {
                    depth: depth + 1,
                    quote,
                },
                (None, b']') => State::Doctype {
                    depth: depth.saturating_sub(1),
                    quote,
                },
                (None, b'>') if depth == 0 => self.boundary(State::Text),
                _ => State::Doctype { depth, quote },
            },
        };
    }

    /// An event ended: the next one starts counting from nothing.
    fn boundary(&mut self, next: State) -> State {
        self.event = 0;
        next
    }
}

/// What the bytes after `<` open, once they tell: `None` while they could still be more than
/// one kind.
fn classify(seen: &[u8]) -> Option<State> {
    const COMMENT: &[u8] = b"!--";
    const CDATA: &[u8] = b"![CDATA[";
    match seen.first()? {
        b'?' => Some(State::Pi),
        b'!' => {
            if seen == COMMENT {
                Some(State::Comment)
            } else if seen == CDATA {
                Some(State::CData)
            } else if COMMENT.starts_with(seen) || CDATA.starts_with(seen) {
                None
            } else {
                Some(State::Doctype {
                    depth: 0,
                    quote: None,
                })
            }
        }
        _ => Some(State::Tag { quote: None }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `doc`, fed in chunks of `chunk` bytes, stays under `max` per event.
    fn fits(doc: &[u8], max: usize, chunk: usize) -> bool {
        let mut guard = NodeGuard::new(max);
        doc.chunks(chunk).all(|c| guard.feed(c).is_ok())
    }

    #[test]
    fn events_under_the_cap_pass_in_any_chunking() {
        let doc = br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "x>y">]><r a="1>2" b='<'><!-- c > d -> --><![CDATA[ <x> ]> ]]>text<!----></r>"#;
        for chunk in 1..doc.len() {
            assert!(fits(doc, 40, chunk), "chunk {chunk}");
        }
    }

    #[test]
    fn a_near_end_marker_does_not_end_an_event() {
        for doc in [
            format!("<r><!--{}--></r>", "->".repeat(200)),
            format!("<r><![CDATA[{}]]></r>", "]>".repeat(200)),
        ] {
            assert!(!fits(doc.as_bytes(), 200, 5), "{doc}");
        }
    }

    #[test]
    fn every_kind_of_event_is_capped_even_with_angle_brackets_inside() {
        let filler = "<a>".repeat(100);
        for doc in [
            format!("<r><!--{filler}--></r>"),
            format!("<r><![CDATA[{filler}]]></r>"),
            format!("<!DOCTYPE r [{filler}]><r/>"),
            format!("<r a=\"{filler}\"/>"),
            format!("<?pi {filler}?><r/>"),
            format!("<r>{}</r>", "x".repeat(300)),
        ] {
            assert!(!fits(doc.as_bytes(), 200, 7), "{doc}");
            assert!(fits(doc.as_bytes(), 400, 7), "{doc}");
        }
    }
}
