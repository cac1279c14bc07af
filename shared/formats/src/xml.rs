//! A streaming XML walker shared by the XML formats.
//!
//! The walker reads events with quick-xml and keeps only what a format needs: the attributes of
//! the open elements above the current one (suites), and, for the elements a format asks to
//! capture (a `<testcase>`, a `<UnitTestResult>`), the whole subtree as a small [`Element`]
//! whose text is capped. Memory is thus bounded by one test's subtree and the nesting depth,
//! whatever the file size.
//!
//! What quick-xml leaves to its user is done here: an element left open at the end of the
//! input is a truncation error; nesting and node size are bounded; entities other than the
//! five predefined ones (and character references) are an error, never expanded; text that is
//! not UTF-8 is an error.

use crate::input::{Input, Tracker};
use crate::xml_names::name;
pub(crate) use crate::xml_names::Name;
use crate::{Ctx, ErrorKind, ParseError, Position};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use verdict_model::TRUNCATION_MARKER;

/// Text kept per captured element: more than any field of the model keeps, so the model's cap
/// decides what is stored and the marker shows.
const CAPTURED_TEXT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Default)]
pub(crate) struct Element {
    /// Local name (namespace prefix dropped).
    pub name: Name,
    /// Attributes by local name, values unescaped.
    pub attrs: Vec<(Name, String)>,
    /// Text and CDATA directly inside, concatenated and capped.
    pub text: String,
    pub children: Vec<Element>,
    /// Where the element starts.
    pub position: Option<Position>,
}

impl Element {
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(crate) fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of a child, or `None` when the child is absent or blank.
    pub(crate) fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).and_then(Element::text_opt)
    }

    pub(crate) fn text_opt(&self) -> Option<String> {
        (!self.text.trim().is_empty()).then(|| self.text.clone())
    }
}

/// The duration in attribute `attr`, in milliseconds, read by `parse`. Absent or blank is 0; a
/// value `parse` rejects is 0 with a warning naming the element, the attribute and the value.
pub(crate) fn duration_attr(
    el: &Element,
    attr: &str,
    parse: fn(&str) -> Option<u64>,
    ctx: &mut Ctx<'_>,
) -> u64 {
    match el.attr(attr) {
        Some(v) if !v.trim().is_empty() => parse(v).unwrap_or_else(|| {
            ctx.warn(
                el.position,
                format!(
                    "<{}> has a {attr} that is not a duration: {v:?}; counted as 0",
                    el.name
                ),
            );
            0
        }),
        _ => 0,
    }
}

/// What a format tells the walker.
pub(crate) trait Handler {
    /// Root element names this format accepts.
    fn roots(&self) -> &'static [&'static str];
    /// Whether an element named `name` (outside any captured element) is captured whole.
    fn capture(&self, name: &str) -> bool;
    /// A captured element, with the open elements above it.
    fn on_element(
        &mut self,
        ancestors: &[Element],
        element: Element,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), ParseError>;
    /// Called at the end of a well-formed document.
    fn finish(&mut self, _ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
        Ok(())
    }
}

pub(crate) fn walk(
    input: Input<'_>,
    ctx: &mut Ctx<'_>,
    handler: &mut dyn Handler,
) -> Result<(), ParseError> {
    let max_depth = ctx.limits.max_depth;
    let (buffered, tracker) = input.into_xml_reader();
    let mut reader = Reader::from_reader(buffered);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;
    config.trim_text(false);

    let mut open: Vec<Element> = Vec::new();
    let mut captured: Vec<Element> = Vec::new();
    let mut seen_root = false;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| xml_error(e, &reader, &tracker))?;
        match event {
            Event::Start(start) => {
                let position =
                    Some(tracker.position(reader.buffer_position() - buf_len_of(&start)));
                if open.len() + captured.len() >= max_depth {
                    return Err(ParseError::new(
                        ErrorKind::LimitExceeded,
                        position,
                        format!("elements nest deeper than {max_depth} levels"),
                    ));
                }
                let name = local_name(start.name().as_ref(), position)?;
                if !seen_root {
                    seen_root = true;
                    if !handler.roots().contains(&&*name) {
                        return Err(ParseError::new(
                            ErrorKind::UnknownFormat,
                            position,
                            format!(
                                "root element <{name}> is not one of <{}>",
                                handler.roots().join(">, <")
                            ),
                        ));
                    }
                }
                if captured.is_empty() && !handler.capture(&name) {
                    open.push(element(&start, name, position)?);
                } else {
                    captured.push(element(&start, name, position)?);
                }
            }
            Event::End(_) => {
                if let Some(done) = captured.pop() {
                    match captured.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => handler.on_element(&open, done, ctx)?,
                    }
                } else {
                    open.pop();
                }
            }
            Event::Text(text) => {
                if let Some(el) = captured.last_mut() {
                    if el.text.len() < CAPTURED_TEXT_BYTES {
                        // Resolved only for an error: a line and column cost a search.
                        let at = reader.buffer_position() - text.len() as u64;
                        let position = || Some(tracker.position(at));
                        let s = text.unescape().map_err(|e| xml_error_at(e, position()))?;
                        check_chars(&s, position)?;
                        push_capped(&mut el.text, &s);
                    }
                } else if !open.is_empty() || !seen_root {
                    // Text outside captured elements is not kept, but must still be text.
                    if std::str::from_utf8(&text).is_err() {
                        return Err(ParseError::new(
                            ErrorKind::Encoding,
                            Some(tracker.position(reader.buffer_position() - text.len() as u64)),
                            "invalid UTF-8 in text",
                        ));
                    }
                } else if !text.iter().all(u8::is_ascii_whitespace) {
                    return Err(ParseError::new(
                        ErrorKind::Malformed,
                        Some(tracker.position(reader.buffer_position() - text.len() as u64)),
                        "text after the end of the root element",
                    ));
                }
            }
            Event::CData(cdata) => {
                if let Some(el) = captured.last_mut() {
                    if el.text.len() < CAPTURED_TEXT_BYTES {
                        let s = std::str::from_utf8(&cdata).map_err(|_| {
                            ParseError::new(
                                ErrorKind::Encoding,
                                Some(tracker.position(reader.buffer_position())),
                                "invalid UTF-8 in CDATA",
                            )
                        })?;
                        check_chars(s, || Some(tracker.position(reader.buffer_position())))?;
                        push_capped(&mut el.text, s);
                    }
                }
            }
            Event::Empty(_) => unreachable!("expand_empty_elements is on"),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if let Some(el) = captured.last().or(open.last()) {
        return Err(ParseError::new(
            ErrorKind::Truncated,
            Some(tracker.position(reader.buffer_position())),
            format!(
                "the report ends inside <{}> opened at {}",
                el.name,
                el.position.map(|p| p.to_string()).unwrap_or_default()
            ),
        ));
    }
    if !seen_root {
        return Err(ParseError::new(
            ErrorKind::Malformed,
            None,
            "no root element",
        ));
    }
    handler.finish(ctx)
}

fn buf_len_of(start: &BytesStart<'_>) -> u64 {
    // `<` + content + `>`: where the tag began, from where the reader now is.
    start.len() as u64 + 2
}

/// A NUL is never text: a report holding one comes from a broken writer (or is binary), and
/// reading past it would misread it. Other control characters, also outside XML 1.0, are
/// kept: test output carries ANSI escapes and form feeds, and reporters write them as `&#x1C;`.
fn check_chars(s: &str, position: impl Fn() -> Option<Position>) -> Result<(), ParseError> {
    match memchr::memchr(0, s.as_bytes()) {
        Some(_) => Err(ParseError::new(
            ErrorKind::Encoding,
            position(),
            "character U+0000 (NUL) is not allowed in XML text",
        )),
        None => Ok(()),
    }
}

fn push_capped(dst: &mut String, s: &str) {
    let room = CAPTURED_TEXT_BYTES.saturating_sub(dst.len());
    if s.len() <= room {
        dst.push_str(s);
    } else {
        let mut cut = room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        dst.push_str(&s[..cut]);
        dst.push_str(TRUNCATION_MARKER);
    }
}

fn local_name(qname: &[u8], position: Option<Position>) -> Result<Name, ParseError> {
    let local = match memchr::memrchr(b':', qname) {
        Some(i) => &qname[i + 1..],
        None => qname,
    };
    std::str::from_utf8(local)
        .map(name)
        .map_err(|_| ParseError::new(ErrorKind::Encoding, position, "invalid UTF-8 in a name"))
}

fn element(
    start: &BytesStart<'_>,
    name: Name,
    position: Option<Position>,
) -> Result<Element, ParseError> {
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| {
            ParseError::new(
                ErrorKind::Malformed,
                position,
                format!("bad attribute in <{name}>: {e}"),
            )
        })?;
        let key = local_name(attr.key.as_ref(), position)?;
        let value = attr
            .unescape_value()
            .map_err(|e| xml_error_at(e, position))?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        text: String::new(),
        children: Vec::new(),
        position,
    })
}

fn xml_error<R>(e: quick_xml::Error, reader: &Reader<R>, tracker: &Tracker) -> ParseError {
    xml_error_at(e, Some(tracker.position(reader.error_position())))
}

fn xml_error_at(e: quick_xml::Error, position: Option<Position>) -> ParseError {
    use quick_xml::Error as E;
    match e {
        E::Io(io) => {
            // A bound says where its piece began; any other read error is where the reader is.
            let mut err = crate::input::io_error(&io);
            err.position = err.position.or(position);
            err
        }
        E::Escape(esc) => ParseError::new(
            ErrorKind::Entity,
            position,
            format!("{esc} (only the five predefined XML entities and character references are read; entities are never expanded)"),
        ),
        E::Encoding(enc) => ParseError::new(ErrorKind::Encoding, position, format!("invalid text: {enc}")),
        E::Syntax(syn) => {
            let kind = if matches!(
                syn,
                quick_xml::errors::SyntaxError::UnclosedTag
                    | quick_xml::errors::SyntaxError::UnclosedComment
                    | quick_xml::errors::SyntaxError::UnclosedCData
                    | quick_xml::errors::SyntaxError::UnclosedDoctype
                    | quick_xml::errors::SyntaxError::UnclosedPIOrXmlDecl
            ) {
                ErrorKind::Truncated
            } else {
                ErrorKind::Malformed
            };
            ParseError::new(kind, position, format!("malformed XML: {syn}"))
        }
        other => ParseError::new(ErrorKind::Malformed, position, format!("malformed XML: {other}")),
    }
}
