use serde::Serialize;

/// Where in a report something was found. Line and column are 1-based and count in the text
/// after decompression and conversion to UTF-8; `offset` is a byte offset in that text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    /// 1-based line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// 1-based column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// Byte offset from the start of the (decompressed) input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl Position {
    /// At a line.
    pub fn line(line: u64) -> Position {
        Position {
            line: Some(line),
            column: None,
            offset: None,
        }
    }

    /// At a line and column.
    pub fn line_column(line: u64, column: u64) -> Position {
        Position {
            line: Some(line),
            column: Some(column),
            offset: None,
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column, self.offset) {
            (Some(l), Some(c), _) => write!(f, "line {l}, column {c}"),
            (Some(l), None, _) => write!(f, "line {l}"),
            (None, _, Some(o)) => write!(f, "byte {o}"),
            _ => f.write_str("unknown position"),
        }
    }
}

/// Why a report could not be read. Exhaustive on purpose: the ingester maps every kind to the
/// file error it stores, so a new kind must be given a stored name there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No content at all (or only whitespace).
    Empty,
    /// The content matches no supported format (or not the one asked for).
    UnknownFormat,
    /// Not well-formed in its format: bad XML, bad JSON, a required field missing.
    Malformed,
    /// The input ends inside the document.
    Truncated,
    /// Bytes that are not valid text in the document's encoding.
    Encoding,
    /// An entity other than the five XML predefines it (no expansion, no external fetch).
    Entity,
    /// Deeper nesting or a larger piece (XML event, JSON string, line) than
    /// [`crate::ParseLimits`] allows.
    LimitExceeded,
    /// A compressed report that inflates past the size or the ratio [`crate::ParseLimits`]
    /// allows (a gzip bomb).
    TooLarge,
    /// The input could not be read (decompression failed, I/O error).
    Io,
}

/// A report that could not be read: what went wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}{reason}", position.map(|p| format!("{p}: ")).unwrap_or_default())]
pub struct ParseError {
    /// What kind of problem.
    pub kind: ErrorKind,
    /// Where, when the parser knows.
    pub position: Option<Position>,
    /// What went wrong, for a person.
    pub reason: String,
}

impl ParseError {
    /// An error of `kind` at `position`.
    pub fn new(kind: ErrorKind, position: Option<Position>, reason: impl Into<String>) -> Self {
        ParseError {
            kind,
            position,
            reason: reason.into(),
        }
    }
}

/// A soft problem: the report was read, but something in it was not understood (an
/// unparseable `time`, a plan that does not match the tests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Where, when the parser knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// What was not understood.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some(p) => write!(f, "{p}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}
