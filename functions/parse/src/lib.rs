//! The parse function is Verdict's ingester: where an upload becomes items. S3 notifies it of
//! each raw upload ([`events`]); [`ingest`] turns the file into test items with exactly-once
//! effect however often it is delivered; the scheduled [`sweep`] re-drives files whose event
//! was lost.

#![warn(missing_docs)]

pub mod events;
pub mod ingest;
pub mod metrics;
pub mod sweep;

pub use events::{created_event, object_keys, Event};
pub use sweep::{sweep_files, SweepRequest};

use ingest::{Ingest, Outcome, Retry};

/// Handles one invocation. `Err` makes Lambda retry the whole event: only for transient
/// failures, and only after every record was tried (the settled ones answer at once next time).
pub async fn handle(
    ingest: &Ingest,
    event: Event,
    request_id: &str,
) -> Result<Vec<Outcome>, Retry> {
    match event {
        Event::S3(event) => {
            let keys = object_keys(&event, ingest.store().bucket());
            let results = futures_util::future::join_all(
                keys.iter().map(|key| ingest.ingest_key(key, request_id)),
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
        Event::Sweep { sweep } => sweep_files(ingest, &sweep, request_id).await,
        Event::S3Test { event } => {
            tracing::info!(event, "S3 test event ignored");
            Ok(Vec::new())
        }
    }
}
