//! Streaming over the array of tests inside a JSON document: each element is deserialized,
//! handed over and dropped before the next is read, so memory is bounded by one test whatever
//! the size of the report. Errors carry serde_json's line and column.

use crate::input::Input;
use crate::{ErrorKind, ParseError, Position};
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// Reads the document, finds the array at `path` (object keys from the root; empty for a root
/// array) and calls `each` on every element. Returns how many elements there were; a document
/// without that array is a `malformed` error naming `what` and the path. An error returned by
/// `each` stops the parse and is reported at the element's position.
pub(crate) fn for_each_at<T, F>(
    input: Input<'_>,
    what: &str,
    path: &[&str],
    mut each: F,
) -> Result<u64, ParseError>
where
    T: DeserializeOwned,
    F: FnMut(T) -> Result<(), String>,
{
    for_each_in(input, what, &[path], |_, item| each(item))
}

/// As [`for_each_at`] over several arrays of the same document, in the order the document holds
/// them: `each` is told which of `paths` an element came from. The first path must be there;
/// the others are read when present.
pub(crate) fn for_each_in<T, F>(
    input: Input<'_>,
    what: &str,
    paths: &[&[&str]],
    mut each: F,
) -> Result<u64, ParseError>
where
    T: DeserializeOwned,
    F: FnMut(usize, T) -> Result<(), String>,
{
    let reader = input.into_json_reader();
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut found = vec![None; paths.len()];
    let targets: Vec<(usize, &[&str])> = paths.iter().copied().enumerate().collect();
    AtPath {
        targets,
        each: &mut each,
        found: &mut found,
        _t: PhantomData,
    }
    .deserialize(&mut de)
    .map_err(json_error)?;
    de.end().map_err(json_error)?;
    found[0].ok_or_else(|| {
        let path = paths[0];
        let at = if path.is_empty() {
            "a top-level array".to_string()
        } else {
            format!("a {} array", path.join("."))
        };
        ParseError::new(
            ErrorKind::Malformed,
            None,
            format!("{what} document without {at}"),
        )
    })
}

/// The arrays still looked for below the current value: which path each is, and the keys left.
struct AtPath<'p, 'f, T, F> {
    targets: Vec<(usize, &'p [&'p str])>,
    each: &'f mut F,
    found: &'f mut Vec<Option<u64>>,
    _t: PhantomData<T>,
}

impl<'de, T, F> DeserializeSeed<'de> for AtPath<'_, '_, T, F>
where
    T: DeserializeOwned,
    F: FnMut(usize, T) -> Result<(), String>,
{
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.targets.iter().any(|(_, rest)| rest.is_empty()) {
            d.deserialize_seq(self)
        } else {
            d.deserialize_map(self)
        }
    }
}

impl<'de, T, F> Visitor<'de> for AtPath<'_, '_, T, F>
where
    T: DeserializeOwned,
    F: FnMut(usize, T) -> Result<(), String>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.targets.first().and_then(|(_, rest)| rest.first()) {
            None => f.write_str("an array of tests"),
            Some(key) => write!(f, "an object with a \"{key}\" key"),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some(&(which, _)) = self.targets.iter().find(|(_, rest)| rest.is_empty()) else {
            return Err(serde::de::Error::custom(
                "an array where an object was expected",
            ));
        };
        let mut count = 0;
        while let Some(item) = seq.next_element::<T>()? {
            count += 1;
            (self.each)(which, item).map_err(serde::de::Error::custom)?;
        }
        self.found[which] = Some(count);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (each, found) = (self.each, self.found);
        while let Some(k) = map.next_key::<String>()? {
            let below: Vec<(usize, &[&str])> = self
                .targets
                .iter()
                .filter(|(_, rest)| rest.first() == Some(&k.as_str()))
                .map(|&(which, rest)| (which, &rest[1..]))
                .collect();
            if below.is_empty() {
                map.next_value::<IgnoredAny>()?;
            } else {
                map.next_value_seed(AtPath {
                    targets: below,
                    each: &mut *each,
                    found: &mut *found,
                    _t: PhantomData,
                })?;
            }
        }
        Ok(())
    }
}

/// Milliseconds as a JSON report writes them (a number, maybe fractional) to whole
/// milliseconds; negative, NaN and infinite values are 0.
pub(crate) fn ms(value: f64) -> u64 {
    seconds_or_ms(value, 1.0)
}

/// Seconds as a JSON report writes them to whole milliseconds, as [`ms`].
pub(crate) fn seconds(value: f64) -> u64 {
    seconds_or_ms(value, 1000.0)
}

fn seconds_or_ms(value: f64, scale: f64) -> u64 {
    let v = value * scale;
    if v.is_finite() && v > 0.0 {
        // `as` saturates at u64::MAX for values beyond it.
        v.round() as u64
    } else {
        0
    }
}

pub(crate) fn json_error(e: serde_json::Error) -> ParseError {
    use serde_json::error::Category;
    if e.classify() == Category::Io {
        return crate::input::io_error(&e.into());
    }
    let kind = match e.classify() {
        Category::Eof => ErrorKind::Truncated,
        Category::Io => ErrorKind::Io,
        Category::Syntax | Category::Data => ErrorKind::Malformed,
    };
    let position =
        (e.line() > 0).then(|| Position::line_column(e.line() as u64, e.column() as u64));
    // serde_json appends " at line L column C"; the position says that already.
    let text = e.to_string();
    let reason = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    ParseError::new(kind, position, reason)
}
