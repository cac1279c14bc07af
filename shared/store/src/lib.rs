//! Verdict's storage: one DynamoDB table and one S3 bucket. This is the only crate that imports
//! `aws_sdk_*`; everything above it speaks the model's types and the ones defined here.
//! The table layout (item types, keys, indexes, the access pattern each serves) is documented
//! in `docs/data-model.md`.

#![warn(missing_docs)]

mod attrs;
mod batch;
#[cfg(feature = "test-support")]
mod calls;
#[cfg(feature = "test-support")]
mod capacity;
mod catalog;
mod comparison;
mod counts;
mod cursor;
mod ddb;
mod duration_rollups;
mod error;
mod failure_rollups;
#[cfg(feature = "test-support")]
mod faults;
mod files;
mod first_seen;
mod flips;
mod handoffs;
mod history;
mod kept_text;
mod keys;
mod occurrences;
mod outcomes;
mod projects;
mod queries;
mod rate;
mod raw;
mod results;
mod retention;
mod rollups;
mod runs;
mod same_commit;
mod schema;
#[cfg(feature = "test-support")]
mod scripted;
mod sweep;
#[cfg(feature = "test-support")]
mod test_support;
mod tokens;
mod views;
mod window_cache;
mod writers;

pub use attrs::to_json;
pub use batch::{BATCH_GET_MAX, BATCH_WRITE_MAX};
#[cfg(feature = "test-support")]
pub use capacity::CapacityCount;
pub use catalog::CatalogEntry;
pub use comparison::{
    compare, streak, BaseReason, Change, Comparison, Streak, MAX_COMPARED_TESTS, ROWS_KEPT,
    STREAKS_KEPT,
};
pub use counts::{Delta, COUNTERS};
pub use cursor::{Cursor, OccurrencesListing, ResultsListing, RunsListing, UploadsListing};
pub use duration_rollups::{Bucket, TestOverWindow, TestTally};
#[cfg(feature = "test-support")]
pub use duration_rollups::{DEFAULT_WINDOW_DAYS, SEEDED_FAILING};
pub use error::{Failure, StoreError};
pub use failure_rollups::FailureCount;
#[cfg(feature = "test-support")]
pub use faults::Faults;
pub use files::{
    Claim, ClaimCount, FileCommit, FileError, FileErrorKind, FileItem, FileState, NewFile, Progress,
};
pub use first_seen::FirstSeen;
pub use flips::{Flips, RunAt, SHOWN_RUNS};
pub use handoffs::{Handoff, HANDOFF_PREFIX};
pub use keys::{
    kept_text_key, random_bytes, view_key, FileId, FileRef, Granularity, ProjectName, RunKey,
    RunRef, DURATIONS_PREFIX, FIRST_SEEN_PK_PREFIX, KEPT_TEXT_PREFIX, RAW_PREFIX, SNAPSHOTS_PREFIX,
    VIEWS_PREFIX, WINDOWS_PREFIX,
};
pub use outcomes::TestOutcome;
pub use projects::{Project, DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS};
pub use queries::{OccurrenceFilter, Page, ResultFilter, RunFilter, TestRow};
pub use raw::{Presigned, RawObject};
pub use results::{RunContext, WrittenBy};
pub use retention::{retention_cutoff, Deleted};
pub use rollups::{duration_bucket, duration_bucket_top, Tally};
pub use runs::{Run, RunStatus};
#[cfg(feature = "test-support")]
pub use scripted::Answer;
#[cfg(feature = "test-support")]
pub use test_support::{
    index_keys, mean_item_size, raw_batch_write, red_build_failure, settled_run, Footprint,
    IndexKeys, RedBuildFailure,
};
pub use tokens::{Scope, TokenInfo};
pub use views::{views_due, Order, ViewSpec, MAX_SORTED_TESTS, VIEWS_AT_SETTLE_FROM_TESTS};
pub use writers::Writers;

use std::time::Duration;

/// Where the store lives. Endpoints are set only for the local stack (DynamoDB Local,
/// SeaweedFS); on AWS they come from the region.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The DynamoDB table.
    pub table: String,
    /// The S3 bucket.
    pub bucket: String,
    /// DynamoDB's endpoint, for a local stand-in.
    pub dynamodb_endpoint: Option<String>,
    /// S3's endpoint, for a local stand-in.
    pub s3_endpoint: Option<String>,
}

impl StoreConfig {
    /// `VERDICT_TABLE`, `VERDICT_BUCKET`, and optionally `VERDICT_DYNAMODB_ENDPOINT` and
    /// `VERDICT_S3_ENDPOINT`.
    pub fn from_env() -> Result<StoreConfig, String> {
        let required = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("environment variable {name} is not set"))
        };
        let optional = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Ok(StoreConfig {
            table: required("VERDICT_TABLE")?,
            bucket: required("VERDICT_BUCKET")?,
            dynamodb_endpoint: optional("VERDICT_DYNAMODB_ENDPOINT"),
            s3_endpoint: optional("VERDICT_S3_ENDPOINT"),
        })
    }
}

/// The table and the bucket, with clients built once and shared (they are cheap to clone).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) ddb: aws_sdk_dynamodb::Client,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) table: String,
    pub(crate) bucket: String,
    /// Duration rollups as parsed, kept for the process's next requests when turned on
    /// ([`Store::keeping_windows`]).
    pub(crate) windows: window_cache::WindowCache,
}

impl Store {
    /// Builds the clients from the AWS environment (region, credentials) and `config`.
    /// Throttling and 5xx answers are retried by the SDK with exponential backoff and jitter,
    /// up to 10 attempts.
    pub async fn connect(config: &StoreConfig) -> Store {
        let retry = aws_config::retry::RetryConfig::standard()
            .with_max_attempts(10)
            .with_initial_backoff(Duration::from_millis(50));
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(30))
            .build();
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(timeouts)
            .load()
            .await;
        let mut ddb = aws_sdk_dynamodb::config::Builder::from(&shared);
        if let Some(endpoint) = &config.dynamodb_endpoint {
            ddb = ddb.endpoint_url(endpoint);
        }
        let mut s3 = aws_sdk_s3::config::Builder::from(&shared);
        if let Some(endpoint) = &config.s3_endpoint {
            // Local S3 stand-ins serve buckets by path, not by host name.
            s3 = s3.endpoint_url(endpoint).force_path_style(true);
        }
        let store = Store {
            ddb: aws_sdk_dynamodb::Client::from_conf(ddb.build()),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            table: config.table.clone(),
            bucket: config.bucket.clone(),
            windows: Default::default(),
        };
        #[cfg(feature = "test-support")]
        if let Ok(function) = std::env::var(calls::CALLS_FUNCTION) {
            return store.serving(&function);
        }
        store
    }

    /// This store, keeping the duration rollups it reads parsed for its (and its clones')
    /// next requests: what the query function does (`window_cache.rs`).
    pub fn keeping_windows(self) -> Store {
        Store {
            windows: window_cache::WindowCache::on(),
            ..self
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
