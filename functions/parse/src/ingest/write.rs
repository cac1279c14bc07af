//! Pass 2: parse the same object version again and write each test's result as soon as it is
//! complete, many writes in flight, each recording this file's delta. The run's lone writer
//! puts its items in bulk (merged into what a batch read is there, when files committed to the
//! run before it); a file sharing the run writes each test conditionally. Results
//! come in the same order on every read of the object, so an invocation that continues a file
//! skips the ones an earlier invocation wrote, and one whose writing time is up stops taking
//! new ones: what it wrote is then exactly the first so many.

use super::complete::Completion;
use super::kept::{Segment, Segments};
use super::validate::Validated;
use super::{joined, Ingest, Retry, Stops};
use futures_util::stream::{self, BoxStream, StreamExt};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::io::SyncIoBridge;
use verdict_formats::for_each_case;
use verdict_model::{Sidecar, Status, TestResult};
use verdict_store::{
    Delta, FileRef, Progress, RunContext, Writers, BATCH_GET_MAX, BATCH_WRITE_MAX,
};

/// Write units a batch of passing tests costs (25 items of under 1 KB).
const BATCH_WRITE_UNITS: usize = BATCH_WRITE_MAX;

/// The write units a test's item will take, about: 1 per KB of its names and attempts' text.
/// Writes in flight are bounded by these, not by their count, so that the writes an
/// invocation waits for at its checkpoint land as soon for a red build of long traces as for
/// passing tests.
fn write_units(result: &TestResult) -> usize {
    let text = |t: &Option<String>| t.as_ref().map_or(0, String::len);
    let bytes: usize = result
        .attempts
        .iter()
        .map(|a| {
            text(&a.message)
                + text(&a.failure_type)
                + text(&a.details)
                + text(&a.stdout)
                + text(&a.stderr)
                + 64
        })
        .sum::<usize>()
        + result.suite.len()
        + result.classname.len()
        + 2 * result.name.len()
        + 512;
    bytes.div_ceil(1024)
}

/// How pass 2 ended: with every result of the file written, or stopped (at its checkpoint
/// time, or by a write that failed for now) with the first [`Progress::written`] written.
/// Either way, what they add up to.
pub(super) enum Written {
    All(Progress),
    Stopped {
        progress: Progress,
        /// The transient error that stopped it, if one did.
        cause: Option<Retry>,
    },
}

/// Results written so far, folded into the file's progress in the file's order: a write that
/// lands before an earlier one waits here, so the progress is always a prefix of the file.
struct Prefix {
    progress: Progress,
    next: usize,
    landed: BTreeMap<usize, Landed>,
}

impl Prefix {
    fn add(&mut self, first: usize, written: Landed) {
        self.landed.insert(first, written);
        while let Some(landed) = self.landed.remove(&self.next) {
            self.next += landed.outcomes.len();
            let acc = &mut self.progress;
            for (status, flaky, duration_ms) in landed.outcomes {
                acc.written += 1;
                acc.counts.count(status, flaky, duration_ms);
            }
            acc.contribution = acc.contribution.plus(landed.contribution);
        }
    }
}

/// What the file's progress needs of a write that landed: each result's outcome and the sum of
/// their deltas; not the results, so the writes that land ahead of a
/// slow one (a throttled partition's) hold a few bytes a result while they wait in [`Prefix`].
struct Landed {
    outcomes: Vec<(Status, bool, u64)>,
    contribution: Delta,
}

impl Landed {
    fn of(written: impl IntoIterator<Item = (TestResult, Delta)>) -> Landed {
        let mut landed = Landed {
            outcomes: Vec::new(),
            contribution: Delta::default(),
        };
        for (result, delta) in written {
            landed
                .outcomes
                .push((result.status, result.flaky, result.duration_ms));
            landed.contribution = landed.contribution.plus(delta);
        }
        landed
    }
}

/// Writes of results from the `usize`-th (counted from where the invocation started) on.
type Writes<'a> = BoxStream<'a, Result<(usize, Landed), Retry>>;

impl Ingest {
    /// Streams complete results to concurrent writes, from the one after those `from` says
    /// were written, until the file ends or `stops.checkpoint`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn write_results(
        &self,
        key: &str,
        ctx: &RunContext,
        file: &FileRef,
        validated: Validated,
        overrides: &Sidecar,
        writers: &Writers,
        from: Progress,
        stops: Stops,
    ) -> Result<Written, Retry> {
        let object = self.open(key, validated.etag.as_deref()).await?;
        let (tx, rx) = tokio::sync::mpsc::channel::<TestResult>(self.settings.concurrency * 4);
        let limits = self.settings.limits;
        let format = validated.format;
        let mut completion = Completion::new(validated.identities);
        let reader = tokio::task::spawn_blocking(move || {
            for_each_case(
                SyncIoBridge::new(object.body),
                Some(format),
                &limits,
                &mut |case| {
                    let Some(result) = TestResult::from_case(case, &limits.text) else {
                        return;
                    };
                    if let Some(complete) = completion.add(result) {
                        // A closed channel means the writers stopped; the error surfaces there.
                        let _ = tx.blocking_send(complete);
                    }
                },
            )
            .map(|_| ())
        });

        let stop = AtomicBool::new(false);
        let skip = usize::try_from(from.written).unwrap_or(usize::MAX);
        // Every result passes through the segments of kept text, those written before too, so
        // that a segment is the same whichever invocation puts it (see `kept.rs`).
        let segments = Mutex::new(Segments::new(file, skip));
        // A segment that could not be put: nothing this invocation wrote may count as written.
        let unkept: Mutex<Option<Retry>> = Mutex::new(None);
        // An invocation takes at least a batch past the checkpoint: one whose reading past what
        // is written takes it there still moves the file on, and is not handed off for nothing.
        let mut taken = 0usize;
        let (stop, segments_ref, unkept_ref) = (&stop, &segments, &unkept);
        let results = stream_of(rx)
            .map(|mut result| {
                overrides.apply(&mut result);
                result
            })
            .then(move |mut result| async move {
                let closed = segments_ref.lock().expect("not poisoned").keep(&mut result);
                if let Some(segment) = closed {
                    if let Err(err) = self.put_segment(segment).await {
                        stop.store(true, Ordering::Relaxed);
                        unkept_ref.lock().expect("not poisoned").get_or_insert(err);
                    }
                }
                result
            })
            .skip(skip)
            .take_while(move |_| {
                taken += 1;
                if taken > BATCH_WRITE_MAX && Instant::now() >= stops.checkpoint {
                    stop.store(true, Ordering::Relaxed);
                }
                std::future::ready(!stop.load(Ordering::Relaxed))
            })
            .enumerate();
        let budget = InFlight::new(self.settings.concurrency * BATCH_WRITE_UNITS);
        let written = match *writers {
            Writers::Alone { merging } => {
                self.write_alone(results, ctx, file, &budget, merging, stops.retry_until)
            }
            Writers::Shared { .. } => self.write_shared(results, ctx, file, &budget),
        };
        // A write that fails stops the taking of results; the writes in flight all land (or
        // fail) before this ends.
        let mut written = written;
        let mut prefix = Prefix {
            progress: from,
            next: 0,
            landed: BTreeMap::new(),
        };
        let mut cause = None;
        while let Some(outcome) = written.next().await {
            match outcome {
                Ok((first, results)) => prefix.add(first, results),
                Err(err) => {
                    stop.store(true, Ordering::Relaxed);
                    cause.get_or_insert(err);
                }
            }
        }
        drop(written);
        let progress = prefix.progress;
        if let Some(err) = unkept.into_inner().expect("not poisoned") {
            return Err(err);
        }
        if let Some(last) = segments.into_inner().expect("not poisoned").last() {
            self.put_segment(last).await?;
        }
        match cause {
            Some(Retry::Store(err)) if err.is_transient() => Ok(Written::Stopped {
                progress,
                cause: Some(Retry::Store(err)),
            }),
            Some(err) => Err(err),
            // The reader runs on to the end of the object, sending nowhere; nothing waits for it.
            None if stop.load(Ordering::Relaxed) => Ok(Written::Stopped {
                progress,
                cause: None,
            }),
            None => {
                joined(reader.await)?
                    .map_err(|e| Retry::Read(format!("second read of {key} failed: {e}")))?;
                Ok(Written::All(progress))
            }
        }
    }

    async fn put_segment(&self, segment: Segment) -> Result<(), Retry> {
        Ok(self.store.put_kept_text(&segment.key, segment.body).await?)
    }

    /// The lone writer's path: bulk puts of 25; when `merging` (files committed results to the
    /// run before this one began), batches of 100, each read first and merged into what is
    /// there, then put 25 a request.
    fn write_alone<'a>(
        &'a self,
        results: impl futures_util::Stream<Item = (usize, TestResult)> + Send + 'a,
        ctx: &'a RunContext,
        file: &'a FileRef,
        budget: &'a InFlight,
        merging: bool,
        retry_until: Instant,
    ) -> Writes<'a> {
        let batch = match merging {
            true => BATCH_GET_MAX,
            false => BATCH_WRITE_MAX,
        };
        results
            .chunks(batch)
            .map(move |numbered| async move {
                let first = numbered[0].0;
                let batch: Vec<TestResult> = numbered.into_iter().map(|(_, r)| r).collect();
                let units = batch.iter().map(write_units).sum();
                let _in_flight = budget.take(units).await;
                // Bulk puts overwrite. No other file writes to the run until this one commits,
                // and no invocation of this file writes past its lease (`Settings::work_ms`),
                // so none puts over what the run's other files merged after the commit.
                let until = retry_until.into_std();
                let deltas = self
                    .store
                    .write_results_alone(ctx, &file.file_id, &batch, merging, until)
                    .await?;
                Ok((first, Landed::of(batch.into_iter().zip(deltas))))
            })
            .buffer_unordered(self.settings.concurrency)
            .boxed()
    }

    /// A shared run's path: one conditional write per test, merging with what is there.
    fn write_shared<'a>(
        &'a self,
        results: impl futures_util::Stream<Item = (usize, TestResult)> + Send + 'a,
        ctx: &'a RunContext,
        file: &'a FileRef,
        budget: &'a InFlight,
    ) -> Writes<'a> {
        results
            .map(move |(n, result)| async move {
                let _in_flight = budget.take(write_units(&result)).await;
                let delta = self.store.write_result(ctx, &file.file_id, &result).await?;
                Ok((n, Landed::of([(result, delta)])))
            })
            .buffer_unordered(self.settings.concurrency)
            .boxed()
    }
}

/// The write units a file may have in flight at once.
struct InFlight {
    units: Semaphore,
    total: usize,
}

impl InFlight {
    fn new(total: usize) -> InFlight {
        InFlight {
            units: Semaphore::new(total),
            total,
        }
    }

    /// Waits for `units` of the budget (all of it, for a write larger than the whole budget),
    /// given back when the permit drops.
    async fn take(&self, units: usize) -> tokio::sync::SemaphorePermit<'_> {
        let units = u32::try_from(units.clamp(1, self.total)).unwrap_or(1);
        self.units
            .acquire_many(units)
            .await
            .expect("the budget is never closed")
    }
}

fn stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    stream::poll_fn(move |cx| rx.poll_recv(cx))
}
