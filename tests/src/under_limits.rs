//! One run's files ingested at once behind the limits proxy (`limits.rs`), as the limits tests
//! and `make bench-scale` both do: the files uploaded into a fresh table, every one delivered
//! concurrently until it settles (a delivery asked to retry is retried, as Lambda's retries and
//! the sweep would), and what it took.

use crate::fault_proxy::FaultProxy;
use crate::limits::{IndexKey, Limits, LimitsReport};
use crate::{fresh_config, fresh_store, run_ref, upload};
use futures_util::future::join_all;
use std::time::{Duration, Instant};
use verdict_parse_fn::ingest::{Ingest, Outcome, Retry, Settings};
use verdict_parse_fn::{created_event, handle, Event};
use verdict_store::{FileRef, FileState, RunRef, Store, StoreConfig};

/// What an ingest of one run's files did.
#[derive(Debug)]
pub struct Ingested {
    /// The table and bucket reached directly (no proxy), to look at afterwards.
    pub store: Store,
    /// The run the files went into.
    pub run: RunRef,
    /// What the limits refused and charged (nothing without them).
    pub report: LimitsReport,
    /// Deliveries that continued a file an earlier one had stopped.
    pub continued: u64,
    /// From the first delivery to the last file settled.
    pub elapsed: Duration,
    /// When each file settled, from the first delivery, in the order the files were given.
    pub settled_after: Vec<Duration>,
}

/// Uploads `files` into run `build-1` of a fresh table and delivers them all at once with
/// `settings`, through a proxy enforcing `limits` (none: straight to the engine).
pub async fn ingest_at_once(
    files: &[(String, Vec<u8>)],
    limits: Option<Limits>,
    settings: Settings,
) -> Ingested {
    let direct = fresh_store().await;
    let proxy = match limits {
        Some(limits) => {
            let upstream = fresh_config().dynamodb_endpoint.unwrap();
            Some(FaultProxy::start_limited(&upstream, limits, IndexKey::of_table()).await)
        }
        None => None,
    };
    let store = match &proxy {
        Some(proxy) => Store::connect(&StoreConfig {
            table: direct.table().to_string(),
            bucket: direct.bucket().to_string(),
            dynamodb_endpoint: Some(proxy.endpoint.clone()),
            s3_endpoint: fresh_config().s3_endpoint,
        })
        .await
        .serving("parse"),
        None => direct.clone(),
    };
    let run = run_ref("acme", "build-1");
    let mut uploaded = Vec::new();
    for (i, (name, bytes)) in files.iter().enumerate() {
        uploaded.push(upload(&direct, &run, i, name, bytes).await);
    }
    let ingest = Ingest::new(store, settings);
    let start = Instant::now();
    let delivered = join_all(uploaded.iter().map(|f| deliver(&ingest, f, start))).await;
    let elapsed = start.elapsed();
    // A delivery that gave up after its commit (in a roll) is settled by the next one.
    for (outcome, _, _) in &delivered {
        assert!(
            matches!(
                outcome,
                Outcome::Done { .. } | Outcome::AlreadySettled(FileState::Done)
            ),
            "{outcome:?}"
        );
    }
    Ingested {
        store: direct,
        run,
        report: proxy.map(|p| p.limits_report()).unwrap_or_default(),
        continued: delivered.iter().map(|(_, c, _)| c).sum(),
        elapsed,
        settled_after: delivered.iter().map(|(_, _, at)| *at).collect(),
    }
}

/// Delivers `file` until it is settled: its outcome, how many deliveries continued where the
/// one before stopped, and when it settled (from `start`).
async fn deliver(ingest: &Ingest, file: &FileRef, start: Instant) -> (Outcome, u64, Duration) {
    let mut continued = 0;
    for attempt in 0..10_000 {
        let event = Event::S3(created_event(ingest.store().bucket(), &[file.object_key()]));
        match handle(ingest, event, &format!("req-{}-{attempt}", file.file_id)).await {
            Ok(mut outcomes) => {
                let outcome = outcomes.pop().expect("one record, one outcome");
                return (outcome, continued, start.elapsed());
            }
            Err(Retry::Continue { .. }) => continued += 1,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("file {} never settled", file.file_id)
}
