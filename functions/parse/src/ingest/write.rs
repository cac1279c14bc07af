//! Pass 2: parse the same object version again and write each test's result as soon as it is
//! complete, many writes in flight, each recording this file's delta. The run's lone writer
//! puts its items in bulk; a file sharing the run writes each test conditionally. Results
//! come in the same order on every read of the object, so an invocation that continues a file
//! skips the ones an earlier invocation wrote, and one whose writing time is up stops taking
//! new ones: what it wrote is then exactly the first so many.

use super::complete::Completion;
use super::validate::Validated;
use super::{joined, Ingest, Retry};
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::time::Instant;
use tokio_util::io::SyncIoBridge;
use verdict_formats::for_each_case;
use verdict_model::{Sidecar, TestResult};
use verdict_store::{
    Delta, FileRef, Progress, RunContext, SlowTest, BATCH_WRITE_MAX, SLOWEST_PER_FILE,
};

/// How pass 2 ended: with every result of the file written, or stopped at its checkpoint
/// time with the first [`Progress::written`] written. Either way, what they add up to.
pub(super) enum Written {
    All(Progress),
    Stopped(Progress),
}

impl Ingest {
    /// Streams complete results to concurrent writes, from the one after those `from` says
    /// were written, until the file ends or `checkpoint_at`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn write_results(
        &self,
        key: &str,
        ctx: &RunContext,
        file: &FileRef,
        validated: Validated,
        overrides: &Sidecar,
        alone: bool,
        from: Progress,
        checkpoint_at: Instant,
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

        let stopped = AtomicBool::new(false);
        let skip = usize::try_from(from.written).unwrap_or(usize::MAX);
        let results = stream_of(rx)
            .skip(skip)
            .take_while(|_| {
                let in_time = Instant::now() < checkpoint_at;
                if !in_time {
                    stopped.store(true, Ordering::Relaxed);
                }
                std::future::ready(in_time)
            })
            .map(|mut result| {
                overrides.apply(&mut result);
                result
            });
        let written = if alone {
            self.write_alone(results, ctx, file)
        } else {
            self.write_shared(results, ctx, file)
        };
        // The writes in flight all land before this ends, so every result taken is written.
        let progress = written
            .try_fold(from, |mut acc, written| async move {
                for (result, delta) in written {
                    acc.written += 1;
                    acc.counts.add(&result);
                    keep_slowest(&mut acc.slowest, &result);
                    acc.contribution = acc.contribution.plus(delta);
                }
                Ok(acc)
            })
            .await?;
        if stopped.load(Ordering::Relaxed) {
            // The reader runs on to the end of the object, sending nowhere; nothing waits for it.
            return Ok(Written::Stopped(progress));
        }
        joined(reader.await)?
            .map_err(|e| Retry::Read(format!("second read of {key} failed: {e}")))?;
        Ok(Written::All(progress))
    }

    /// The lone writer's path: bulk puts of 25.
    fn write_alone<'a>(
        &'a self,
        results: impl futures_util::Stream<Item = TestResult> + Send + 'a,
        ctx: &'a RunContext,
        file: &'a FileRef,
    ) -> BoxStream<'a, Result<Vec<(TestResult, Delta)>, Retry>> {
        results
            .chunks(BATCH_WRITE_MAX)
            .map(move |batch| async move {
                // Bulk puts overwrite. No other file writes to the run until this one commits,
                // and no invocation of this file writes past its lease (`Settings::work_ms`),
                // so none puts over what the run's other files merged after the commit.
                let deltas = self
                    .store
                    .write_results_alone(ctx, &file.file_id, &batch)
                    .await?;
                Ok(batch.into_iter().zip(deltas).collect())
            })
            .buffer_unordered(self.settings.concurrency)
            .boxed()
    }

    /// A shared run's path: one conditional write per test, merging with what is there.
    fn write_shared<'a>(
        &'a self,
        results: impl futures_util::Stream<Item = TestResult> + Send + 'a,
        ctx: &'a RunContext,
        file: &'a FileRef,
    ) -> BoxStream<'a, Result<Vec<(TestResult, Delta)>, Retry>> {
        results
            .map(move |result| async move {
                let delta = self.store.write_result(ctx, &file.file_id, &result).await?;
                Ok(vec![(result, delta)])
            })
            .buffer_unordered(self.settings.concurrency)
            .boxed()
    }
}

/// Keeps the file's slowest tests, slowest first (ties by test id, so the list is the same
/// whatever the order of writes).
fn keep_slowest(slowest: &mut Vec<SlowTest>, result: &TestResult) {
    slowest.push(SlowTest {
        test_id: result.test_id.clone(),
        name: result.name.clone(),
        duration_ms: result.duration_ms,
    });
    slowest.sort_by(|a, b| {
        b.duration_ms
            .cmp(&a.duration_ms)
            .then_with(|| a.test_id.cmp(&b.test_id))
    });
    slowest.truncate(SLOWEST_PER_FILE);
}

fn stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    stream::poll_fn(move |cx| rx.poll_recv(cx))
}
