//! Verdict's storage: one DynamoDB table and one S3 bucket. This is the only crate that imports
//! `aws_sdk_*`; everything above it speaks the model's types and the ones defined here.
//! The table layout (item types, keys, indexes, the access pattern each serves) is documented
//! in `docs/data-model.md`.

mod attrs;
mod batch;
#[cfg(feature = "test-support")]
mod calls;
mod counts;
mod error;
mod files;
mod keys;
mod projects;
mod queries;
mod raw;
mod results;
mod retention;
mod schema;
#[cfg(feature = "test-support")]
mod test_support;
mod views;

pub use attrs::to_json;
pub use batch::BATCH_WRITE_MAX;
pub use counts::{Delta, COUNTERS};
pub use error::StoreError;
pub use files::{
    Claim, FileCommit, FileError, FileItem, FileState, NewFile, Run, SlowTest, Writers,
    SLOWEST_PER_FILE,
};
pub use keys::{random_bytes, FileId, FileRef, ProjectName, RunKey, RunRef, RAW_PREFIX};
pub use projects::{Project, Scope, TokenInfo, DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS};
pub use queries::{Page, RunFilter, TestRow};
pub use raw::{Presigned, RawObject};
pub use results::RunContext;
pub use retention::{retention_cutoff, Deleted};
#[cfg(feature = "test-support")]
pub use test_support::{mean_item_size, raw_batch_write};
pub use views::{view_key, VIEWS_PREFIX};

use std::time::Duration;

/// Where the store lives. Endpoints are set only for the local stack (DynamoDB Local,
/// SeaweedFS); on AWS they come from the region.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub table: String,
    pub bucket: String,
    pub dynamodb_endpoint: Option<String>,
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
    /// When counting (the ingest benchmark): write capacity consumed by test-result writes,
    /// in thousandths of a WCU, as DynamoDB reports it (table plus indexes). Off in the
    /// functions: asking DynamoDB for it costs time on every write.
    pub(crate) result_wcu_milli: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
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
            result_wcu_milli: None,
        };
        #[cfg(feature = "test-support")]
        if let Ok(function) = std::env::var(calls::CALLS_FUNCTION) {
            return store.serving(&function);
        }
        store
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Counts the write capacity test-result writes consume ([`Store::result_wcu`]).
    pub fn counting_capacity(mut self) -> Store {
        self.result_wcu_milli = Some(Default::default());
        self
    }

    /// Write capacity units consumed so far by test-result writes (table and indexes), when
    /// counting.
    pub fn result_wcu(&self) -> Option<f64> {
        self.result_wcu_milli
            .as_ref()
            .map(|c| c.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1000.0)
    }

    /// What to ask DynamoDB to report of the capacity a write consumes.
    pub(crate) fn capacity_request(
        &self,
    ) -> Option<aws_sdk_dynamodb::types::ReturnConsumedCapacity> {
        self.result_wcu_milli
            .as_ref()
            .map(|_| aws_sdk_dynamodb::types::ReturnConsumedCapacity::Indexes)
    }

    /// Adds to the count of capacity consumed by test-result writes.
    pub(crate) fn count_result_wcu(&self, units: f64) {
        if let Some(counter) = &self.result_wcu_milli {
            counter.fetch_add(
                (units * 1000.0) as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
