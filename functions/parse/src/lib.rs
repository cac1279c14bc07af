//! The parse function is Verdict's ingester: where an upload becomes items. S3 notifies it of
//! each raw upload ([`events`]); [`ingest`] turns the file into test items with exactly-once
//! effect however often it is delivered; a file that needs more than one invocation is handed
//! off to the next ([`handoff`]); the scheduled [`sweep`] re-drives files whose event was lost.

#![warn(missing_docs)]

pub mod events;
pub mod handoff;
pub mod ingest;
pub mod metrics;
pub mod sweep;

pub use events::{created_event, object_keys, Event};
pub use sweep::{sweep_files, SweepRequest};

use ingest::{Ingest, Outcome, Retry};
use tokio::time::Instant;

/// Handles one invocation, which Lambda ends at `deadline`. `Err` makes Lambda retry the whole
/// event: only for transient failures, and only after every record was tried (the settled ones
/// answer at once next time).
pub async fn handle(
    ingest: &Ingest,
    event: Event,
    request_id: &str,
    deadline: Option<Instant>,
) -> Result<Vec<Outcome>, Retry> {
    match event {
        Event::S3(event) => {
            let keys = object_keys(&event, ingest.store().bucket());
            let results = futures_util::future::join_all(
                keys.iter()
                    .map(|key| handoff::ingest_object(ingest, key, request_id, deadline)),
            )
            .await;
            let mut outcomes = Vec::new();
            let mut retry = None;
            for (key, result) in keys.iter().zip(results) {
                match result {
                    Ok(outcome) => {
                        tracing::info!(key, ?outcome, "ingested");
                        outcomes.push(outcome);
                    }
                    Err(err) => {
                        tracing::warn!(key, error = %err, "will retry");
                        retry = Some(err);
                    }
                }
            }
            retry.map_or(Ok(outcomes), Err)
        }
        Event::Sweep { sweep } => sweep_files(ingest, &sweep, request_id, deadline).await,
        Event::S3Test { event } => {
            tracing::info!(event, "S3 test event ignored");
            Ok(Vec::new())
        }
    }
}

/// The instant of a Lambda context's deadline (milliseconds since the epoch).
pub fn deadline_at(epoch_ms: u64) -> Instant {
    Instant::now()
        + std::time::Duration::from_millis(epoch_ms.saturating_sub(verdict_store::now_ms()))
}
