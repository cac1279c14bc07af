//! Turns raw bytes into UTF-8 text the parsers can read, and keeps track of positions in it.
//!
//! Gzip is recognised by its magic bytes; a UTF-8 BOM is dropped; UTF-16 (by BOM, or by the
//! `<?` of an XML declaration written in UTF-16) and legacy encodings declared by an XML
//! declaration are converted to UTF-8. Plain UTF-8 passes through unchanged and is validated by
//! the parsers, so invalid bytes are an error, never silently replaced.

use crate::bounds::{Bound, Counted, Inflating, TooLarge};
use crate::{ErrorKind, ParseError, ParseLimits, Position};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::rc::Rc;

/// How much of the text format detection looks at.
pub(crate) const PREFIX_BYTES: usize = 64 * 1024;

/// Newline offsets remembered for turning a byte offset into a line and column. Errors are
/// found close to where the reader is, so the last 64 Ki lines are plenty.
const REMEMBERED_NEWLINES: usize = 64 * 1024;

pub(crate) struct Input<'r> {
    prefix: Vec<u8>,
    rest: Box<dyn Read + 'r>,
    /// The largest piece (XML event, JSON string, line) a reader may buffer whole.
    max_piece: usize,
}

impl<'r> Input<'r> {
    pub(crate) fn open<R: Read + 'r>(
        reader: R,
        limits: &ParseLimits,
    ) -> Result<Input<'r>, ParseError> {
        let mut reader: Box<dyn Read + 'r> = Box::new(reader);
        let mut head = read_prefix(&mut reader, PREFIX_BYTES)?;
        if head.starts_with(&[0x1f, 0x8b]) {
            let compressed = std::rc::Rc::default();
            let counted = Counted {
                inner: Cursor::new(head).chain(reader),
                count: std::rc::Rc::clone(&compressed),
            };
            reader = Box::new(Inflating {
                inner: flate2::read::MultiGzDecoder::new(counted),
                compressed,
                out: 0,
                limits: limits.inflation,
            });
            head = read_prefix(&mut reader, PREFIX_BYTES)?;
        }
        let joined: Box<dyn Read + 'r> = Box::new(Cursor::new(head.clone()).chain(reader));
        let decoded: Box<dyn Read + 'r> = match text_encoding(&head) {
            Encoding::Utf8 { bom } => {
                let mut r = joined;
                if bom {
                    io::copy(&mut (&mut r).take(3), &mut io::sink()).map_err(|e| io_error(&e))?;
                }
                r
            }
            Encoding::Other(enc) => Box::new(
                encoding_rs_io::DecodeReaderBytesBuilder::new()
                    .encoding(Some(enc))
                    .bom_override(true)
                    .build(joined),
            ),
        };
        let mut rest = decoded;
        let prefix = read_prefix(&mut rest, PREFIX_BYTES)?;
        if prefix.iter().all(u8::is_ascii_whitespace) {
            return Err(ParseError::new(
                ErrorKind::Empty,
                None,
                "the report is empty",
            ));
        }
        Ok(Input {
            prefix,
            rest,
            max_piece: limits.max_node_bytes,
        })
    }

    /// The first [`PREFIX_BYTES`] of the UTF-8 text.
    pub(crate) fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The whole text for the XML reader, with a tracker that turns byte offsets into line and
    /// column; no XML event may pass the piece bound (quick-xml buffers one whole).
    pub(crate) fn into_xml_reader(self) -> (BufReader<Tracked<'r>>, Tracker) {
        let bound = Bound::xml_event(self.max_piece);
        self.into_bounded_reader(Some(bound))
    }

    /// The whole text for serde_json, no string past the piece bound (it buffers one whole).
    pub(crate) fn into_json_reader(self) -> BufReader<Tracked<'r>> {
        let bound = Bound::json_string(self.max_piece);
        self.into_bounded_reader(Some(bound)).0
    }

    fn into_bounded_reader(self, bound: Option<Bound>) -> (BufReader<Tracked<'r>>, Tracker) {
        let tracker = Tracker::default();
        let tracked = Tracked {
            inner: Box::new(Cursor::new(self.prefix).chain(self.rest)),
            state: tracker.clone(),
            bound,
        };
        (BufReader::with_capacity(64 * 1024, tracked), tracker)
    }

    /// The whole text, line by line, for the line-based formats: each line with its number.
    /// Invalid UTF-8 is an error naming the line; so is a line past the piece bound.
    pub(crate) fn lines(self) -> impl Iterator<Item = Result<(u64, String), ParseError>> + 'r {
        let bound = Bound::line(self.max_piece);
        let (mut reader, _) = self.into_bounded_reader(Some(bound));
        let mut number = 0u64;
        let mut buf = Vec::new();
        std::iter::from_fn(move || {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => None,
                Ok(_) => {
                    number += 1;
                    while matches!(buf.last(), Some(b'\n' | b'\r')) {
                        buf.pop();
                    }
                    Some(match std::str::from_utf8(&buf) {
                        Ok(s) => Ok((number, s.to_string())),
                        Err(e) => Err(ParseError::new(
                            ErrorKind::Encoding,
                            Some(Position::line_column(number, e.valid_up_to() as u64 + 1)),
                            "invalid UTF-8",
                        )),
                    })
                }
                Err(e) => Some(Err(io_error(&e))),
            }
        })
    }
}

enum Encoding {
    Utf8 { bom: bool },
    Other(&'static encoding_rs::Encoding),
}

fn text_encoding(head: &[u8]) -> Encoding {
    match head {
        [0xEF, 0xBB, 0xBF, ..] => Encoding::Utf8 { bom: true },
        [0xFF, 0xFE, ..] | [b'<', 0, b'?', 0, ..] => Encoding::Other(encoding_rs::UTF_16LE),
        [0xFE, 0xFF, ..] | [0, b'<', 0, b'?', ..] => Encoding::Other(encoding_rs::UTF_16BE),
        _ => match declared_xml_encoding(head) {
            Some(enc) if enc != encoding_rs::UTF_8 && enc.is_ascii_compatible() => {
                Encoding::Other(enc)
            }
            _ => Encoding::Utf8 { bom: false },
        },
    }
}

/// The `encoding="..."` of an XML declaration at the start of `head`.
fn declared_xml_encoding(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let decl_end = head.iter().position(|&b| b == b'>')?;
    let decl = std::str::from_utf8(&head[..decl_end]).ok()?;
    let decl = decl.trim_start().strip_prefix("<?xml")?;
    let at = decl.find("encoding")?;
    let value = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = value.chars().next()?;
    let value = &value[1..];
    let end = value.find(quote)?;
    encoding_rs::Encoding::for_label(&value.as_bytes()[..end])
}

fn read_prefix(reader: &mut dyn Read, max: usize) -> Result<Vec<u8>, ParseError> {
    let mut buf = Vec::with_capacity(max.min(8192));
    reader
        .take(max as u64)
        .read_to_end(&mut buf)
        .map_err(|e| io_error(&e))?;
    Ok(buf)
}

pub(crate) fn io_error(e: &io::Error) -> ParseError {
    if let Some(too_large) = TooLarge::from_io(e) {
        return too_large;
    }
    let kind = match e.kind() {
        io::ErrorKind::UnexpectedEof => ErrorKind::Truncated,
        io::ErrorKind::InvalidData => ErrorKind::Encoding,
        _ => ErrorKind::Io,
    };
    ParseError::new(kind, None, format!("could not read the report: {e}"))
}

/// Offsets of recent newlines, shared between the reader that sees the bytes and the parser
/// that reports positions.
#[derive(Clone, Default)]
pub(crate) struct Tracker(Rc<RefCell<TrackState>>);

#[derive(Default)]
struct TrackState {
    read: u64,
    newlines_seen: u64,
    recent: VecDeque<u64>,
}

impl Tracker {
    /// Line and column of a byte offset in the text, when the offset is recent enough.
    pub(crate) fn position(&self, offset: u64) -> Position {
        let s = self.0.borrow();
        let forgotten = s.newlines_seen - s.recent.len() as u64;
        let before = s.recent.partition_point(|&nl| nl < offset);
        let line_start = match before {
            0 if forgotten > 0 => {
                return Position {
                    line: None,
                    column: None,
                    offset: Some(offset),
                }
            }
            0 => 0,
            n => s.recent[n - 1] + 1,
        };
        Position {
            line: Some(forgotten + before as u64 + 1),
            column: Some(offset - line_start + 1),
            offset: Some(offset),
        }
    }
}

pub(crate) struct Tracked<'r> {
    inner: Box<dyn Read + 'r>,
    state: Tracker,
    bound: Option<Bound>,
}

impl Tracked<'_> {
    /// Follows the bound over the chunk just read from `base`; past it, the error names where
    /// the piece began.
    fn check_bound(&mut self, chunk: &[u8], base: u64) -> io::Result<()> {
        let Some(bound) = &mut self.bound else {
            return Ok(());
        };
        bound.feed(chunk).map_err(|start| {
            let start = u64::try_from(base as i64 + start).unwrap_or(0);
            TooLarge {
                kind: ErrorKind::LimitExceeded,
                what: bound.what(),
                max: bound.max() as u64,
                position: Some(self.state.position(start)),
            }
            .into_io()
        })
    }

    /// Remembers the newlines of a chunk just read, for positions; returns the chunk's offset.
    fn record(&mut self, chunk: &[u8]) -> u64 {
        let mut s = self.state.0.borrow_mut();
        let base = s.read;
        for i in memchr::memchr_iter(b'\n', chunk) {
            if s.recent.len() == REMEMBERED_NEWLINES {
                s.recent.pop_front();
            }
            s.recent.push_back(base + i as u64);
            s.newlines_seen += 1;
        }
        s.read += chunk.len() as u64;
        base
    }
}

impl Read for Tracked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let base = self.record(&buf[..n]);
        self.check_bound(&buf[..n], base)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> String {
        let input = Input::open(bytes, &ParseLimits::DEFAULT).unwrap();
        let (mut r, _) = input.into_bounded_reader(None);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn when_gzip_should_decompress() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"<testsuite/>").unwrap();
        assert_eq!(text(&gz.finish().unwrap()), "<testsuite/>");
    }

    #[test]
    fn when_utf16_or_bom_should_convert() {
        let utf16le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("<a>é</a>".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(text(&utf16le), "<a>é</a>");
        let no_bom_be: Vec<u8> = "<?xml version=\"1.0\"?><a/>"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(text(&no_bom_be), "<?xml version=\"1.0\"?><a/>");
        assert_eq!(text(b"\xEF\xBB\xBF<a/>"), "<a/>");
    }

    #[test]
    fn when_declared_latin1_should_convert() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xe9</a>";
        assert!(text(bytes).ends_with("<a>é</a>"));
    }

    #[test]
    fn when_empty_should_fail() {
        assert_eq!(
            Input::open(&b"  \n"[..], &ParseLimits::DEFAULT)
                .err()
                .unwrap()
                .kind,
            ErrorKind::Empty
        );
        assert_eq!(
            Input::open(&b""[..], &ParseLimits::DEFAULT)
                .err()
                .unwrap()
                .kind,
            ErrorKind::Empty
        );
    }

    #[test]
    fn when_bad_gzip_should_fail_with_io_error() {
        let e = Input::open(&[0x1f, 0x8b, 8, 0, 1, 2, 3][..], &ParseLimits::DEFAULT)
            .err()
            .unwrap();
        assert!(
            matches!(e.kind, ErrorKind::Io | ErrorKind::Truncated),
            "{e:?}"
        );
    }

    #[test]
    fn tracker_should_give_line_and_column() {
        let input = Input::open(&b"ab\ncd\nef"[..], &ParseLimits::DEFAULT).unwrap();
        let (mut r, t) = input.into_bounded_reader(None);
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        assert_eq!(
            t.position(0),
            Position {
                line: Some(1),
                column: Some(1),
                offset: Some(0)
            }
        );
        assert_eq!(t.position(4).line, Some(2));
        assert_eq!(t.position(4).column, Some(2));
        assert_eq!(t.position(7).line, Some(3));
    }
}
