//! Raw report objects in S3.

use crate::{Store, StoreError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use tokio::io::AsyncRead;

/// A raw object opened for streaming.
pub struct RawObject {
    pub body: Box<dyn AsyncRead + Send + Unpin>,
    pub size: u64,
    /// The object's version tag: a second read asks for this exact version.
    pub etag: Option<String>,
}

impl Store {
    /// Opens an object for streaming; `Ok(None)` when there is no such object. With `if_match`,
    /// only that exact version is read (a changed object is an error, never silently mixed).
    pub async fn open_raw(
        &self,
        key: &str,
        if_match: Option<&str>,
    ) -> Result<Option<RawObject>, StoreError> {
        let result = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_if_match(if_match.map(str::to_string))
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(RawObject {
                size: out
                    .content_length()
                    .and_then(|l| u64::try_from(l).ok())
                    .unwrap_or(0),
                etag: out.e_tag().map(str::to_string),
                body: Box::new(out.body.into_async_read()),
            })),
            Err(err) if matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                Ok(None)
            }
            Err(err) => Err(StoreError::from_sdk("GetObject", err)),
        }
    }

    /// Writes an object, refusing to overwrite one that exists (`If-None-Match: *`): raw
    /// uploads are write-once.
    pub async fn put_raw(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutObject", e))?;
        Ok(())
    }

    /// Whether an object exists.
    pub async fn raw_exists(&self, key: &str) -> Result<bool, StoreError> {
        match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(err) => Err(StoreError::from_sdk("HeadObject", err)),
        }
    }
}
