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

/// Handles one invocation of request `request_id`, which Lambda ends at `deadline`. `Err`
/// makes Lambda retry the whole event: only for transient failures, and only after every record
/// was tried (the settled ones answer at once next time).
pub async fn handle(
    ingest: &Ingest,
    event: Event,
    request_id: &str,
    deadline: Option<Instant>,
) -> Result<Vec<Outcome>, Retry> {
    let owner = &lease_owner(request_id);
    match event {
        Event::S3(event) => {
            let keys = object_keys(&event, ingest.store().bucket());
            let results = futures_util::future::join_all(
                keys.iter()
                    .map(|key| handoff::ingest_object(ingest, key, owner, deadline)),
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
        Event::Sweep { sweep } => sweep_files(ingest, &sweep, owner, deadline).await,
        Event::S3Test { event } => {
            tracing::info!(event, "S3 test event ignored");
            Ok(Vec::new())
        }
    }
}

/// The lease owner of this invocation: its request id and a random nonce. Not the request id
/// alone: Lambda's event queue may deliver one event twice, and a retry keeps the request id,
/// so two invocations at once can share it, and two holders of one lease would both write as
/// if alone (the run's lone writer putting over what other files merged after its commit).
fn lease_owner(request_id: &str) -> String {
    let nonce = u64::from_le_bytes(verdict_store::random_bytes::<8>());
    format!("{request_id}/{nonce:016x}")
}

/// The instant of a Lambda context's deadline (milliseconds since the epoch).
pub fn deadline_at(epoch_ms: u64) -> Instant {
    Instant::now()
        + std::time::Duration::from_millis(epoch_ms.saturating_sub(verdict_store::now_ms()))
}
