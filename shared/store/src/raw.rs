//! Raw report objects in S3, and ranged reads of any object.

use crate::{Store, StoreError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::list_objects_v2::builders::ListObjectsV2FluentBuilder;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::Object;
use tokio::io::AsyncRead;

/// A raw object opened for streaming.
pub struct RawObject {
    /// The bytes.
    pub body: Box<dyn AsyncRead + Send + Unpin>,
    /// Their size.
    pub size: u64,
    /// The object's version tag: a second read asks for this exact version.
    pub etag: Option<String>,
}

impl Store {
    /// Writes an object whole, over any there (`operation` names the call in errors).
    pub(crate) async fn put_object(
        &self,
        operation: &'static str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk(operation, e))?;
        Ok(())
    }

    /// An object's bytes and version tag; `None` when there is no such object.
    pub(crate) async fn read_tagged(
        &self,
        operation: &'static str,
        key: &str,
    ) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        self.get_object(operation, key, None).await
    }

    /// Writes an object only if it is still the version read (`etag`, from
    /// [`Store::read_tagged`]), or, without one, only if there is none: `false` when another
    /// writer came first (S3 answers 412, or 409 for a conditional write racing another).
    pub(crate) async fn put_if_unchanged(
        &self,
        operation: &'static str,
        key: &str,
        etag: Option<&str>,
        body: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let put = self.s3.put_object().bucket(&self.bucket).key(key);
        let put = match etag {
            Some(etag) => put.if_match(etag),
            None => put.if_none_match("*"),
        };
        match put.body(ByteStream::from(body)).send().await {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| matches!(r.status().as_u16(), 409 | 412)) =>
            {
                Ok(false)
            }
            Err(err) => Err(StoreError::from_sdk(operation, err)),
        }
    }

    /// Deletes an object (none there is no error).
    pub(crate) async fn delete_object(
        &self,
        operation: &'static str,
        key: &str,
    ) -> Result<(), StoreError> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk(operation, e))?;
        Ok(())
    }

    /// Bytes `first..end` of an object: `None` when there is no such object, fewer (or none)
    /// when it ends sooner.
    pub(crate) async fn read_range(
        &self,
        key: &str,
        first: u64,
        end: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let range = format!("bytes={first}-{}", end.saturating_sub(1));
        self.read_object("GetObject range", key, Some(range)).await
    }

    /// An object's bytes, or those of `range` (an HTTP range); `None` when there is no such
    /// object. A range past the object's end (S3 answers 416) is no bytes.
    pub(crate) async fn read_object(
        &self,
        operation: &'static str,
        key: &str,
        range: Option<String>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let read = self.get_object(operation, key, range).await?;
        Ok(read.map(|(bytes, _)| bytes))
    }

    /// [`Store::read_object`], with the object's version tag (none for a range past its end).
    async fn get_object(
        &self,
        operation: &'static str,
        key: &str,
        range: Option<String>,
    ) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        let result = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(err) if matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None)
            }
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 416) =>
            {
                return Ok(Some((Vec::new(), String::new())))
            }
            Err(err) => return Err(StoreError::from_sdk(operation, err)),
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::transient(operation, e.to_string()))?;
        Ok(Some((bytes.into_bytes().to_vec(), etag)))
    }

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
    /// uploads are write-once. A raw key names one registration, so an object already there
    /// (412) is this put's own, stored by an attempt whose response was lost.
    pub async fn put_raw(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let result = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .body(ByteStream::from(bytes))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 412) =>
            {
                Ok(())
            }
            Err(err) => Err(StoreError::from_sdk("PutObject", err)),
        }
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

/// A presigned request a client can make without credentials.
#[derive(Debug, Clone)]
pub struct Presigned {
    /// Where to send it.
    pub url: String,
    /// The HTTP method (`PUT`).
    pub method: String,
    /// Headers the client must send exactly as given (they are signed).
    pub headers: Vec<(String, String)>,
}

impl Store {
    /// A presigned PUT of `key` that signs the exact content length and `If-None-Match: *`, so
    /// the URL can neither upload another size nor overwrite an object.
    pub async fn presign_put(
        &self,
        key: &str,
        size: u64,
        expires_in: std::time::Duration,
    ) -> Result<Presigned, StoreError> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(expires_in)
            .map_err(|e| StoreError::permanent("presign", e.to_string()))?;
        let request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .if_none_match("*")
            .presigned(config)
            .await
            .map_err(|e| StoreError::from_sdk("presign PutObject", e))?;
        Ok(Presigned {
            url: request.uri().to_string(),
            method: request.method().to_string(),
            headers: request
                .headers()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }
}

impl Store {
    /// Every object key under the raw prefix. For the local stack's trigger emulation only: on
    /// AWS, S3 notifies the parse function of each new object.
    pub async fn list_raw_keys(&self) -> Result<Vec<String>, StoreError> {
        self.list_keys(crate::RAW_PREFIX).await
    }

    /// Every object key under `prefix`, all pages.
    pub(crate) async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let listed = self.list_tagged(prefix, None).await?;
        Ok(listed.into_iter().map(|(key, _)| key).collect())
    }

    /// Every object under `prefix` (with `after`, those whose key sorts after it), all pages,
    /// as its key and version tag, in key order.
    pub(crate) async fn list_tagged(
        &self,
        prefix: &str,
        after: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let listed = self.list_objects(prefix, after).await?;
        Ok(listed
            .iter()
            .filter_map(|o| {
                let key = o.key()?.to_string();
                Some((key, o.e_tag().unwrap_or_default().to_string()))
            })
            .collect())
    }

    /// The common prefixes one level under `prefix` (up to the next `/`), all pages, in order.
    pub(crate) async fn list_prefixes(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let listing = self.s3.list_objects_v2().prefix(prefix).delimiter("/");
        Ok(self
            .listing_pages(listing)
            .await?
            .into_iter()
            .flat_map(|page| page.common_prefixes.unwrap_or_default())
            .filter_map(|common| common.prefix)
            .collect())
    }

    /// Every object under `prefix` (with `after`, those whose key sorts after it), all pages,
    /// in key order.
    pub(crate) async fn list_objects(
        &self,
        prefix: &str,
        after: Option<&str>,
    ) -> Result<Vec<Object>, StoreError> {
        let listing = self
            .s3
            .list_objects_v2()
            .prefix(prefix)
            .set_start_after(after.map(str::to_string));
        Ok(self
            .listing_pages(listing)
            .await?
            .into_iter()
            .flat_map(|page| page.contents.unwrap_or_default())
            .collect())
    }

    /// Every page of a listing of the bucket.
    async fn listing_pages(
        &self,
        listing: ListObjectsV2FluentBuilder,
    ) -> Result<Vec<ListObjectsV2Output>, StoreError> {
        listing
            .bucket(&self.bucket)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| StoreError::from_sdk("ListObjectsV2", e))
    }
}
