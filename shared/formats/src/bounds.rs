//! What a poison report may cost: one failed file, never the memory of the machine.
//!
//! Every reader buffers some piece of its input whole: the XML reader one event, serde_json one
//! string, the line formats one line; and gzip can turn a megabyte into gigabytes. Each of these
//! is bounded here on the raw bytes as they stream past, before anything is buffered; going over
//! a bound fails the read with a [`TooLarge`] that names the piece, the bound and where it began.

use crate::xml_guard::NodeGuard;
use crate::{ErrorKind, ParseError, Position};
use std::io::{self, Read};

/// The piece of input a reader buffers whole, and its bound in bytes.
#[derive(Debug)]
pub(crate) enum Bound {
    /// One XML event: text, a tag with its attributes, a comment, CDATA, a DOCTYPE.
    XmlEvent(NodeGuard),
    /// One JSON string (a key or a value; escapes count as written).
    JsonString(StringGuard),
    /// One line of a line format (`run`: its bytes so far).
    Line { max: usize, run: usize },
}

impl Bound {
    pub(crate) fn xml_event(max: usize) -> Bound {
        Bound::XmlEvent(NodeGuard::new(max))
    }

    pub(crate) fn line(max: usize) -> Bound {
        Bound::Line { max, run: 0 }
    }

    pub(crate) fn json_string(max: usize) -> Bound {
        Bound::JsonString(StringGuard {
            max,
            in_string: false,
            escaped: false,
            len: 0,
        })
    }

    /// Follows `chunk`; on going over, where the piece began, relative to the chunk's start
    /// (negative when it began in an earlier chunk).
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), i64> {
        let start = |end: usize, len: usize| end as i64 - len as i64;
        match self {
            Bound::XmlEvent(guard) => guard.feed(chunk).map_err(|end| start(end, guard.current())),
            Bound::JsonString(guard) => guard.feed(chunk).map_err(|(end, len)| start(end, len)),
            Bound::Line { max, run } => {
                let mut at = 0;
                for (i, part) in chunk.split(|&b| b == b'\n').enumerate() {
                    *run = if i == 0 {
                        *run + part.len()
                    } else {
                        part.len()
                    };
                    at += part.len() + usize::from(i > 0);
                    if *run > *max {
                        return Err(start(at, *run));
                    }
                }
                Ok(())
            }
        }
    }

    pub(crate) fn what(&self) -> &'static str {
        match self {
            Bound::XmlEvent(_) => {
                "a text node, tag with its attributes, comment, CDATA section or DOCTYPE"
            }
            Bound::JsonString(_) => "a JSON string",
            Bound::Line { .. } => "a line",
        }
    }

    pub(crate) fn max(&self) -> usize {
        match self {
            Bound::XmlEvent(guard) => guard.max(),
            Bound::JsonString(guard) => guard.max,
            Bound::Line { max, .. } => *max,
        }
    }
}

/// Follows JSON strings: the bytes between an opening quote and the unescaped closing one.
#[derive(Debug)]
pub(crate) struct StringGuard {
    max: usize,
    in_string: bool,
    escaped: bool,
    len: usize,
}

impl StringGuard {
    /// Follows `chunk`; on going over, where in it the string's bytes so far end, and how many
    /// there are.
    fn feed(&mut self, chunk: &[u8]) -> Result<(), (usize, usize)> {
        let mut i = 0;
        while i < chunk.len() {
            if !self.in_string {
                match memchr::memchr(b'"', &chunk[i..]) {
                    Some(at) => {
                        self.in_string = true;
                        self.len = 0;
                        i += at + 1;
                    }
                    None => return Ok(()),
                }
                continue;
            }
            if self.escaped {
                self.escaped = false;
                self.len += 1;
                i += 1;
                continue;
            }
            let rest = &chunk[i..];
            let (skip, end) = match memchr::memchr2(b'"', b'\\', rest) {
                Some(at) => (at, Some(rest[at])),
                None => (rest.len(), None),
            };
            self.len += skip;
            if self.len > self.max {
                return Err((i + skip, self.len));
            }
            i += skip;
            match end {
                Some(b'"') => self.in_string = false,
                Some(_) => {
                    self.escaped = true;
                    self.len += 1;
                }
                None => {}
            }
            i += usize::from(end.is_some());
        }
        Ok(())
    }
}

/// A piece of the input over its bound. Travels inside an `io::Error` from the reader to the
/// parser, which turns it into a `limit_exceeded` (or, for gzip, `too_large`) error.
#[derive(Debug)]
pub(crate) struct TooLarge {
    pub(crate) kind: ErrorKind,
    pub(crate) what: &'static str,
    pub(crate) max: u64,
    pub(crate) position: Option<Position>,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is larger than {} bytes", self.what, self.max)
    }
}

impl std::error::Error for TooLarge {}

impl TooLarge {
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }

    /// The parse error for a read that failed on a bound, if that is why it failed.
    pub(crate) fn from_io(error: &io::Error) -> Option<ParseError> {
        let too_large = error.get_ref()?.downcast_ref::<TooLarge>()?;
        Some(ParseError::new(
            too_large.kind,
            too_large.position,
            too_large.to_string(),
        ))
    }
}

/// Bounds what gzip may inflate to: at most `max_bytes`, and, once past `ratio_after` bytes,
/// at most `max_ratio` times the compressed bytes read (a bomb fails within its first
/// `ratio_after` bytes, not after gigabytes).
#[derive(Debug, Clone, Copy)]
pub struct InflationLimits {
    /// Largest inflated size.
    pub max_bytes: u64,
    /// Largest ratio of inflated to compressed bytes, once past `ratio_after`.
    pub max_ratio: u64,
    /// Inflated bytes before the ratio applies (small reports compress very well).
    pub ratio_after: u64,
}

/// Counts the compressed bytes the decoder reads.
pub(crate) struct Counted<R> {
    pub(crate) inner: R,
    pub(crate) count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// The decompressed stream, failing as soon as it passes the [`InflationLimits`].
pub(crate) struct Inflating<R> {
    pub(crate) inner: R,
    pub(crate) compressed: std::rc::Rc<std::cell::Cell<u64>>,
    pub(crate) out: u64,
    pub(crate) limits: InflationLimits,
}

impl<R: Read> Read for Inflating<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        let limits = self.limits;
        let over_ratio = self.out > limits.ratio_after
            && self.out > self.compressed.get().saturating_mul(limits.max_ratio);
        if self.out > limits.max_bytes || over_ratio {
            let what = if over_ratio {
                "the decompressed report (more than the ratio allowed to its compressed size)"
            } else {
                "the decompressed report"
            };
            let max = if over_ratio {
                self.compressed.get().saturating_mul(limits.max_ratio)
            } else {
                limits.max_bytes
            };
            return Err(TooLarge {
                kind: ErrorKind::TooLarge,
                what,
                max,
                position: None,
            }
            .into_io());
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fits(bound: &mut Bound, doc: &[u8], chunk: usize) -> bool {
        doc.chunks(chunk).all(|c| bound.feed(c).is_ok())
    }

    #[test]
    fn json_strings_are_bounded_with_escapes_and_any_chunking() {
        let doc = br#"{"a": "x\"yz", "b": ["\\", "12345678"]}"#;
        for chunk in 1..doc.len() {
            assert!(fits(&mut Bound::json_string(8), doc, chunk), "{chunk}");
            assert!(!fits(&mut Bound::json_string(7), doc, chunk), "{chunk}");
        }
        // Quotes inside a string do not end it.
        let long = format!("[\"{}\"]", "\\\"".repeat(100));
        assert!(!fits(&mut Bound::json_string(150), long.as_bytes(), 3));
    }

    #[test]
    fn lines_are_bounded_across_chunks() {
        let doc = b"ok 1\nok 22\nnot ok 333\n";
        for chunk in 1..doc.len() {
            assert!(fits(&mut Bound::line(10), doc, chunk), "{chunk}");
            assert!(!fits(&mut Bound::line(9), doc, chunk), "{chunk}");
        }
    }
}
