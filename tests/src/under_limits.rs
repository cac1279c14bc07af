//! One run's files ingested at once behind the limits proxy (`limits.rs`), as the limits tests
//! and `make bench-scale` both do: the files uploaded into a fresh table, every one delivered
//! until it settles (a delivery asked to retry is retried, as Lambda's retries and the sweep
//! would, sooner: [`retry_delay`]), at most [`INVOCATIONS`] at once as the deployed function's
//! reserved concurrency allows, and what it took.

use crate::fault_proxy::FaultProxy;
use crate::limits::{Limits, LimitsReport};
use crate::{fresh_config, fresh_store, run_ref, through_dynamodb, upload};
use futures_util::future::join_all;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use verdict_parse_fn::ingest::{HandOffWhy, Ingest, Outcome, Retry, Settings};
use verdict_parse_fn::{created_event, handle, Event};
use verdict_store::{FileRef, FileState, RunRef, Store};

/// Deliveries at once: the parse function's reserved concurrency (`ParseConcurrency` in
/// `infra/template.yaml`).
pub const INVOCATIONS: usize = 20;

/// How long a file waits before its delivery after `failed` deliveries in a row asked to retry
/// (throttled, busy, out of time): 50 ms, doubling to 3.2 s, less up to half (spread by the
/// file, so that files refused together do not come back together). Lambda retries an event a
/// minute after a function error, then two, and the sweep comes every 15 minutes; here an
/// invocation lasts 20 s rather than 15 minutes, and retries come sooner still. With 50 ms
/// every time, 200 files refused on the run item's partition came back 1,500 times a second,
/// each delivery reading that item several times: the reads starved one another and no file
/// settled (a retry storm AWS's minute-long retries do not make).
fn retry_delay(file: &FileRef, failed: u32) -> Duration {
    let full = 50u64 << failed.min(6);
    let last = file.file_id.as_str().bytes().last().unwrap_or(0);
    let spread = u64::from(last) * (u64::from(failed) + 7);
    Duration::from_millis(full - spread % (full / 2 + 1))
}

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
    /// Deliveries asked to retry, by why.
    pub retries: BTreeMap<&'static str, u64>,
    /// From the first delivery to the last file settled.
    pub elapsed: Duration,
    /// When each file settled, from the first delivery, in the order the files were given.
    pub settled_after: Vec<Duration>,
    /// What became of each file, in the same order.
    pub outcomes: Vec<Outcome>,
}

/// Uploads `files` into run `build-1` of a fresh table and delivers them all at once with
/// `settings`, through a proxy enforcing `limits` (none: straight to the engine). Each of the
/// [`INVOCATIONS`] has a client of its own, as each Lambda instance has (the SDK's budget of
/// retries is per client).
pub async fn ingest_at_once(
    files: &[(String, Vec<u8>)],
    limits: Option<Limits>,
    settings: Settings,
) -> Ingested {
    let direct = fresh_store().await;
    let proxy = match limits {
        Some(limits) => {
            let upstream = fresh_config().dynamodb_endpoint.unwrap();
            Some(FaultProxy::start_limited(&upstream, limits, verdict_store::index_keys()).await)
        }
        None => None,
    };
    let mut instances = Vec::new();
    for _ in 0..INVOCATIONS {
        let store = match &proxy {
            Some(proxy) => through_dynamodb(&direct, &proxy.endpoint)
                .await
                .serving("parse"),
            None => direct.clone(),
        };
        instances.push(Ingest::new(store, settings.clone()));
    }
    let run = run_ref("acme", "build-1");
    let mut uploaded = Vec::new();
    for (i, (name, bytes)) in files.iter().enumerate() {
        uploaded.push(upload(&direct, &run, i, name, bytes).await);
    }
    let start = Instant::now();
    let idle = tokio::sync::Mutex::new(instances);
    let invocations = tokio::sync::Semaphore::new(INVOCATIONS);
    let retries = std::sync::Mutex::default();
    let delivered = join_all(
        uploaded
            .iter()
            .map(|f| deliver(f, start, &invocations, &idle, &retries)),
    )
    .await;
    Ingested {
        store: direct,
        run,
        report: proxy.map(|p| p.limits_report()).unwrap_or_default(),
        continued: delivered.iter().map(|(_, c, _)| c).sum(),
        retries: retries.into_inner().unwrap(),
        elapsed: start.elapsed(),
        settled_after: delivered.iter().map(|(_, _, at)| *at).collect(),
        outcomes: delivered.into_iter().map(|(o, _, _)| o).collect(),
    }
}

impl Ingested {
    /// Whether every file was ingested (a delivery that stopped after its commit, in a roll,
    /// is settled by the next one).
    pub fn all_done(&self) -> bool {
        self.outcomes.iter().all(|o| {
            matches!(
                o,
                Outcome::Done { .. } | Outcome::AlreadySettled(FileState::Done)
            )
        })
    }
}

/// Delivers `file` until it is settled, each delivery on one of the `idle` instances (at most
/// `invocations` at once): its outcome, how many deliveries continued where the one before
/// stopped, and when it settled (from `start`).
async fn deliver(
    file: &FileRef,
    start: Instant,
    invocations: &tokio::sync::Semaphore,
    idle: &tokio::sync::Mutex<Vec<Ingest>>,
    retries: &std::sync::Mutex<BTreeMap<&'static str, u64>>,
) -> (Outcome, u64, Duration) {
    let mut continued = 0;
    let mut failed = 0;
    let mut key = file.object_key();
    for attempt in 0..10_000 {
        let slot = invocations.acquire().await.expect("never closed");
        let ingest = idle.lock().await.pop().expect("an instance per slot");
        let event = Event::S3(created_event(ingest.store().bucket(), &[key.clone()]));
        let handled = handle(
            &ingest,
            event,
            &format!("req-{}-{attempt}", file.file_id),
            None,
        )
        .await;
        idle.lock().await.push(ingest);
        drop(slot);
        match handled {
            Ok(mut outcomes) => {
                let outcome = outcomes.pop().expect("one record, one outcome");
                let Some(next) = crate::next_delivery(&outcome, file) else {
                    return (outcome, continued, start.elapsed());
                };
                let kind = match &outcome {
                    Outcome::HandedOff {
                        why: HandOffWhy::Continue { .. },
                        ..
                    } => {
                        continued += 1;
                        "handed off to continue"
                    }
                    Outcome::HandedOff { .. } => "handed off by the lone writer",
                    _ => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        "waiting for the lone writer"
                    }
                };
                *retries.lock().unwrap().entry(kind).or_default() += 1;
                key = next;
                failed = 0;
            }
            Err(retry) => {
                *retries.lock().unwrap().entry(kind(&retry)).or_default() += 1;
                match retry {
                    Retry::Continue { .. } => {
                        continued += 1;
                        failed = 0;
                    }
                    _ => {
                        tokio::time::sleep(retry_delay(file, failed)).await;
                        failed += 1;
                    }
                }
            }
        }
    }
    panic!("file {} never settled", file.file_id)
}

/// What a delivery asked to retry for, in a word.
fn kind(retry: &Retry) -> &'static str {
    match retry {
        Retry::Continue { .. } => "continue",
        Retry::Busy { .. } => "busy",
        Retry::WaitingForWriter { .. } => "waiting for the lone writer",
        Retry::OutOfTime { .. } => "out of time",
        Retry::Store(err) if err.is_throttled() => "throttled",
        Retry::Store(_) => "store",
        Retry::Read(_) => "read",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_store::FileId;

    #[test]
    fn a_refused_file_waits_longer_each_time_up_to_a_bound_and_files_spread() {
        let file = |id: &str| FileRef {
            run: crate::run_ref("acme", "build-1"),
            file_id: FileId::parse(id).unwrap(),
        };
        let a = file("0000000000000000000000000000000a");
        let b = file("0000000000000000000000000000000f");
        for failed in 0..12 {
            let full = Duration::from_millis(50 << failed.min(6));
            let delay = retry_delay(&a, failed);
            assert!(delay <= full && delay >= full / 2, "{failed}: {delay:?}");
        }
        assert!(retry_delay(&a, 6) > retry_delay(&a, 0) * 16);
        assert!(
            retry_delay(&a, 1_000) <= Duration::from_millis(3_200),
            "bounded"
        );
        assert_ne!(
            retry_delay(&a, 3),
            retry_delay(&b, 3),
            "files refused together spread"
        );
    }
}
