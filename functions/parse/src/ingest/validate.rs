//! Pass 1: parse the whole object once, hashing its bytes and counting how many cases each
//! test has. A file that cannot be read is the file's fault (it fails for good); an object
//! that cannot be fetched is a retry.

use super::{joined, Ingest, Retry};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio_util::io::SyncIoBridge;
use verdict_formats::{for_each_case, ErrorKind, Format, Identities, ParseError};
use verdict_model::TestResult;
use verdict_store::{FileError, FileErrorKind};

/// What validation learns of a file.
pub(super) struct Validated {
    /// The object version read: pass 2 reads the same one.
    pub(super) etag: Option<String>,
    pub(super) format: Format,
    pub(super) sha256: String,
    pub(super) warnings: Vec<String>,
    /// How many cases each test has.
    pub(super) identities: Identities,
}

/// Hashes the bytes it passes on, and remembers whether the source failed (an I/O error from
/// S3 is transient; a decompression error in the same stream is the file's fault).
struct Tap<R> {
    inner: R,
    sha: Sha256,
    source_failed: Arc<AtomicBool>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.sha.update(&buf[..n]);
                Ok(n)
            }
            Err(e) => {
                self.source_failed.store(true, Ordering::Relaxed);
                Err(e)
            }
        }
    }
}

/// The file error of a parser error.
pub(super) fn file_error(err: &ParseError) -> FileError {
    let kind = match err.kind {
        ErrorKind::Empty => FileErrorKind::Empty,
        ErrorKind::UnknownFormat => FileErrorKind::UnknownFormat,
        ErrorKind::Malformed => FileErrorKind::Malformed,
        ErrorKind::Truncated => FileErrorKind::Truncated,
        ErrorKind::Encoding => FileErrorKind::Encoding,
        ErrorKind::Entity => FileErrorKind::Entity,
        ErrorKind::LimitExceeded => FileErrorKind::LimitExceeded,
        ErrorKind::TooLarge => FileErrorKind::TooLarge,
        ErrorKind::Io => FileErrorKind::Io,
    };
    FileError {
        kind,
        message: err.to_string(),
        line: err.position.and_then(|p| p.line),
        column: err.position.and_then(|p| p.column),
        offset: err.position.and_then(|p| p.offset),
    }
}

/// The format a client declared (`None`: detect it).
pub(super) fn declared_format(hint: Option<&str>) -> Result<Option<Format>, FileError> {
    match hint {
        None | Some("auto") => Ok(None),
        Some(name) => Format::parse(name).map(Some).ok_or_else(|| {
            FileError::of_file(
                FileErrorKind::UnknownFormat,
                format!("declared format {name:?} is not one Verdict reads"),
            )
        }),
    }
}

impl Ingest {
    /// Pass 1. `Ok(Err(..))` is the file's fault (permanent); `Err` is a retry.
    pub(super) async fn validate(
        &self,
        key: &str,
        format: Option<Format>,
    ) -> Result<Result<Validated, FileError>, Retry> {
        let object = self.open(key, None).await?;
        let etag = object.etag.clone();
        let limits = self.settings.limits;
        let failed = Arc::new(AtomicBool::new(false));
        let source_failed = failed.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut tap = Tap {
                inner: SyncIoBridge::new(object.body),
                sha: Sha256::new(),
                source_failed,
            };
            let mut identities = Identities::default();
            let parsed = for_each_case(&mut tap, format, &limits, &mut |case| {
                if let Some(mut result) = TestResult::from_case(case, &limits.text) {
                    identities.place(&mut result);
                }
            });
            let outcome = parsed.and_then(|outcome| {
                // The parser may stop at the end of the document: hash what follows too.
                std::io::copy(&mut tap, &mut std::io::sink())
                    .map_err(|e| ParseError::new(ErrorKind::Io, None, e.to_string()))?;
                Ok(outcome)
            });
            outcome.map(|outcome| Validated {
                etag,
                format: outcome.format,
                sha256: hex::encode(tap.sha.finalize()),
                warnings: outcome.warnings.iter().map(ToString::to_string).collect(),
                identities,
            })
        })
        .await;
        match joined(result)? {
            Ok(v) => Ok(Ok(v)),
            Err(_) if failed.load(Ordering::Relaxed) => {
                Err(Retry::Read(format!("reading {key} from the bucket failed")))
            }
            Err(err) => Ok(Err(file_error(&err))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_format_is_read_or_refused_by_name() {
        assert_eq!(declared_format(None), Ok(None));
        assert_eq!(declared_format(Some("auto")), Ok(None));
        assert_eq!(declared_format(Some("junit")), Ok(Some(Format::Junit)));
        let refused = declared_format(Some("excel")).unwrap_err();
        assert_eq!(refused.kind, FileErrorKind::UnknownFormat);
    }

    #[test]
    fn a_parser_error_keeps_its_kind_and_position() {
        let err = ParseError::new(
            ErrorKind::Truncated,
            Some(verdict_formats::Position {
                line: Some(3),
                column: Some(7),
                offset: Some(40),
            }),
            "ends inside <testsuite>",
        );
        let error = file_error(&err);
        assert_eq!(error.kind, FileErrorKind::Truncated);
        assert_eq!(
            (error.line, error.column, error.offset),
            (Some(3), Some(7), Some(40))
        );
        assert!(error.message.contains("ends inside"), "{}", error.message);
    }
}
