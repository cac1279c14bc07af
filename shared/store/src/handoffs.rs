//! Hand-offs: how an invocation of the parse function has a new invocation go on with a file,
//! without waiting for Lambda's retries (two at most, minutes apart) or the sweep (15 minutes).
//!
//! A hand-off is an empty object under [`HANDOFF_PREFIX`]. Its S3 notification invokes the parse
//! function like a raw upload's does, and its key names the file and how many hand-offs the
//! chain already made: `continue/{project}/{run_key}/{file_id}/{generation}-{nonce}`. The
//! nonce makes every hand-off a new object (S3 notifies each put; the local stack's trigger
//! sees new keys). The bucket's lifecycle removes them after a day; nothing reads them again.

use crate::keys::{hex_nonce, FileRef};
use crate::{FileState, RunRef, Store, StoreError};
use aws_sdk_s3::primitives::ByteStream;

/// Where hand-offs live in the bucket (the parse function is notified for it and `raw/`).
pub const HANDOFF_PREFIX: &str = "continue/";

/// One hand-off of a file to a new invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    /// The file to go on with.
    pub file: FileRef,
    /// How many hand-offs led to this one (1 for the first of a chain started by an upload).
    pub generation: u32,
}

impl Handoff {
    /// The hand-off named by an object key: `None` for a key outside [`HANDOFF_PREFIX`], an
    /// error for one inside it that is not a hand-off's.
    pub fn from_object_key(key: &str) -> Option<Result<Handoff, String>> {
        let rest = key.strip_prefix(HANDOFF_PREFIX)?;
        let parsed = (|| {
            let (file, last) = rest
                .rsplit_once('/')
                .ok_or_else(|| format!("hand-off key {key:?} names no file"))?;
            let generation = last
                .split_once('-')
                .and_then(|(g, _nonce)| g.parse().ok())
                .ok_or_else(|| {
                    format!("hand-off key {key:?} does not end in <generation>-<nonce>")
                })?;
            let file = FileRef::from_object_key(&format!("{}{file}", crate::RAW_PREFIX))?;
            Ok(Handoff { file, generation })
        })();
        Some(parsed)
    }

    /// A new object key for this hand-off.
    fn object_key(&self) -> String {
        let raw = self.file.object_key();
        let file = raw.strip_prefix(crate::RAW_PREFIX).unwrap_or(&raw);
        format!("{HANDOFF_PREFIX}{file}/{}-{}", self.generation, hex_nonce())
    }
}

impl Store {
    /// Puts a hand-off: its notification invokes the parse function for `handoff.file`.
    /// Answers the object's key.
    pub async fn hand_off(&self, handoff: &Handoff) -> Result<String, StoreError> {
        let key = handoff.object_key();
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(ByteStream::from_static(b""))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutObject hand-off", e))?;
        Ok(key)
    }

    /// The run's files that an invocation claimed and then gave back unfinished (they wait to be
    /// delivered again): `processing`, with no live lease at `now_ms`.
    pub async fn files_given_back(
        &self,
        run: &RunRef,
        now_ms: u64,
    ) -> Result<Vec<FileRef>, StoreError> {
        Ok(self
            .list_files(run)
            .await?
            .into_iter()
            .filter(|f| f.state == FileState::Processing && f.lease_until_ms <= now_ms)
            .map(|f| f.file)
            .collect())
    }

    /// Every hand-off key in the bucket. For the local stack's trigger emulation only.
    pub async fn list_handoff_keys(&self) -> Result<Vec<String>, StoreError> {
        self.list_keys(HANDOFF_PREFIX).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FileId, ProjectName, RunKey};

    #[test]
    fn hand_off_keys_round_trip_and_reject_anything_else() {
        let handoff = Handoff {
            file: FileRef {
                run: RunRef {
                    project: ProjectName::parse("web-app").unwrap(),
                    run_key: RunKey::parse("build-7").unwrap(),
                },
                file_id: FileId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            },
            generation: 3,
        };
        let key = handoff.object_key();
        assert!(key.starts_with("continue/web-app/build-7/0123456789abcdef0123456789abcdef/3-"));
        assert_ne!(key, handoff.object_key(), "every hand-off is a new object");
        assert_eq!(Handoff::from_object_key(&key), Some(Ok(handoff)));
        assert_eq!(Handoff::from_object_key("raw/web-app/build-7/x"), None);
        for bad in [
            "continue/web-app/build-7/0123456789abcdef0123456789abcdef",
            "continue/web-app/build-7/0123456789abcdef0123456789abcdef/x-1",
            "continue/web-app/0123456789abcdef0123456789abcdef/3-1",
        ] {
            assert!(
                matches!(Handoff::from_object_key(bad), Some(Err(_))),
                "{bad}"
            );
        }
    }
}
