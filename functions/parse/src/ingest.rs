//! Ingesting one raw file, with exactly-once effect however often it is delivered.
//!
//! 1. Claim the file item (a conditional update with a lease).
//! 2. Validate: parse the whole object once, hashing its bytes and counting how many cases each
//!    test has; a bad file is marked `failed` here, having written nothing else.
//! 3. Put the content marker: identical bytes already ingested in this run make it a `duplicate`.
//! 4. Parse again (the same object version) and write each test's merged result as soon as it is
//!    complete, many writes in flight, each recording this file's delta. The run's first
//!    writer writes alone (no other file writes to the run until it commits) and puts its items
//!    in bulk; any other file writes each test conditionally, merging with what is there.
//! 5. Commit: one transaction marks the file `done` and adds its deltas to the run's counters.
//!
//! A crash anywhere leaves the file `processing`; the next delivery (or the sweep, once the
//! lease expires) runs the same steps and every write already made answers with what it did.

use crate::faults::Faults;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio_util::io::SyncIoBridge;
use verdict_formats::{for_each_case, ErrorKind, Format, Identities, ParseError, ParseLimits};
use verdict_model::{Sidecar, Summary, TestResult};
use verdict_store::{
    now_ms, Claim, Delta, FileCommit, FileError, FileId, FileRef, FileState, RawObject, RunContext,
    SlowTest, Store, StoreError, Writers, BATCH_WRITE_MAX, SLOWEST_PER_FILE,
};

/// How ingestion behaves; the defaults are what the deployed function uses.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a claim on a file lasts: longer than the function's timeout, so a live
    /// invocation never loses its file, short enough that a crashed one's file is retried soon.
    pub lease_ms: u64,
    /// Test-item writes in flight at once.
    pub concurrency: usize,
    /// How long a file waits for the run's lone writer to commit before it gives its lease
    /// back and asks to be retried (under the function's 15-minute limit).
    pub writer_wait_ms: u64,
    pub limits: ParseLimits,
    /// A file claimed more often than this without settling is failed (`gave_up`), so no
    /// input is driven forever by Lambda's retries and the sweep (a file that kills its
    /// invocation, say by running it out of memory, is claimed again on every delivery).
    pub max_claims: u64,
}

/// How often a waiting file looks at the run's lone writer.
const WRITER_POLL: std::time::Duration = std::time::Duration::from_millis(200);

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lease_ms: 16 * 60 * 1000,
            concurrency: 32,
            writer_wait_ms: 10 * 60 * 1000,
            limits: ParseLimits::DEFAULT,
            max_claims: 8,
        }
    }
}

/// What became of a file. Every variant is final for this delivery: acknowledge the event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done {
        format: Format,
        counts: Summary,
    },
    Failed(FileError),
    Duplicate {
        of: FileId,
    },
    AlreadySettled(FileState),
    /// Nothing to ingest (an object outside the layout, no file item, a run already deleted).
    Skipped(String),
}

/// Why a delivery must be retried.
#[derive(Debug, thiserror::Error)]
pub enum Retry {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("file is being ingested by another invocation until {until_ms} ms")]
    Busy { until_ms: u64 },
    #[error("file {writer} of the same run is still writing alone")]
    WaitingForWriter { writer: FileId },
    #[error("reading the object failed: {0}")]
    Read(String),
    #[error("injected crash")]
    Crash,
}

pub struct Ingest {
    store: Store,
    settings: Settings,
    faults: Faults,
}

/// Hashes and counts the bytes it passes on, and remembers whether the source failed (an I/O
/// error from S3 is transient; a decompression error in the same stream is the file's fault).
struct Tap<R> {
    inner: R,
    sha: Sha256,
    source_failed: Arc<AtomicBool>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.sha.update(&buf[..n]);
                Ok(n)
            }
            Err(e) => {
                self.source_failed.store(true, Ordering::Relaxed);
                Err(e)
            }
        }
    }
}

/// What validation learns of a file.
struct Validated {
    etag: Option<String>,
    format: Format,
    sha256: String,
    warnings: Vec<String>,
    identities: Identities,
}

fn file_error(err: &ParseError) -> FileError {
    let kind = serde_json::to_value(err.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "malformed".into());
    FileError {
        kind,
        message: err.to_string(),
        line: err.position.and_then(|p| p.line),
        column: err.position.and_then(|p| p.column),
        offset: err.position.and_then(|p| p.offset),
    }
}

fn parse_format(hint: Option<&str>) -> Result<Option<Format>, FileError> {
    match hint {
        None | Some("auto") => Ok(None),
        Some(name) => Format::parse(name).map(Some).ok_or_else(|| {
            FileError::of_file(
                "unknown_format",
                format!("declared format {name:?} is not one Verdict reads"),
            )
        }),
    }
}

impl Ingest {
    pub fn new(store: Store, settings: Settings) -> Ingest {
        Ingest {
            store,
            settings,
            faults: Faults::none(),
        }
    }

    /// For tests: stop ("crash") after `faults` allows no more writes.
    pub fn with_faults(mut self, faults: Faults) -> Ingest {
        self.faults = faults;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Ingests the object at `key`, as invocation `owner` (the Lambda request id).
    pub async fn ingest_key(&self, key: &str, owner: &str) -> Result<Outcome, Retry> {
        self.ingest_key_waiting(key, owner, self.settings.writer_wait_ms)
            .await
    }

    /// [`Ingest::ingest_key`], waiting at most `writer_wait_ms` for a file writing alone in the
    /// run (the sweep does not wait: it drives that file itself).
    pub async fn ingest_key_waiting(
        &self,
        key: &str,
        owner: &str,
        writer_wait_ms: u64,
    ) -> Result<Outcome, Retry> {
        let file = match FileRef::from_object_key(key) {
            Ok(file) => file,
            Err(reason) => return Ok(Outcome::Skipped(reason)),
        };
        self.ingest(&file, key, owner, writer_wait_ms).await
    }

    async fn ingest(
        &self,
        file: &FileRef,
        key: &str,
        owner: &str,
        writer_wait_ms: u64,
    ) -> Result<Outcome, Retry> {
        let Some(run) = self.store.get_run(&file.run).await? else {
            return Ok(Outcome::Skipped(format!(
                "run {} of project {} does not exist (deleted by retention?)",
                file.run.run_key, file.run.project
            )));
        };
        self.faults.write()?;
        let item = match self
            .store
            .claim_file(file, owner, now_ms(), self.settings.lease_ms)
            .await?
        {
            Claim::Claimed(item) => item,
            Claim::Settled(state) => return Ok(Outcome::AlreadySettled(state)),
            Claim::Busy { until_ms } => return Err(Retry::Busy { until_ms }),
            Claim::Missing => {
                return Ok(Outcome::Skipped(format!(
                    "no file item for {key}: uploads are registered first"
                )))
            }
        };
        if item.claims > self.settings.max_claims {
            let error = FileError::of_file(
                "gave_up",
                format!(
                    "claimed {} times without settling (each delivery and sweep that found it \
                     unfinished); the raw object is kept",
                    item.claims
                ),
            );
            return self.give_up(file, owner, error).await;
        }
        // From here the file is ours: whatever goes wrong for good (the store refusing a write,
        // a bug) settles it `failed` and frees its run, rather than leaving it `processing`.
        let claimed = std::panic::AssertUnwindSafe(self.ingest_claimed(
            file,
            key,
            owner,
            writer_wait_ms,
            &run,
            &item,
        ));
        match futures_util::FutureExt::catch_unwind(claimed).await {
            Ok(Err(Retry::Store(err))) if !err.transient => {
                let error = FileError::of_file("store", err.to_string());
                self.give_up(file, owner, error).await
            }
            Ok(outcome) => outcome,
            Err(panic) => {
                let error = FileError::of_file(
                    "internal",
                    format!("ingest stopped on a bug: {}", panic_message(&*panic)),
                );
                self.give_up(file, owner, error).await
            }
        }
    }

    /// Settles a claimed file `failed` with `error` and lets its run's other files write. If
    /// even that write is refused, the error goes back to Lambda, which retries the event and
    /// then sends it to the failure queue (and its alarm).
    async fn give_up(
        &self,
        file: &FileRef,
        owner: &str,
        error: FileError,
    ) -> Result<Outcome, Retry> {
        tracing::error!(
            file = %file.object_key(),
            kind = %error.kind,
            message = %error.message,
            "file failed for good"
        );
        let ours = self.store.fail_file(file, owner, &error, now_ms()).await?;
        self.store.release_writer(file).await?;
        // Counted once it took effect: a refused settle is retried and would count again.
        if ours {
            crate::metrics::emit(
                self.store.table(),
                crate::metrics::FILES_FAILED_FOR_GOOD,
                1,
                serde_json::json!({"kind": error.kind, "file": file.object_key()}),
            );
        }
        self.settled(file, ours)
            .await
            .map(|o| o.unwrap_or(Outcome::Failed(error)))
    }

    async fn ingest_claimed(
        &self,
        file: &FileRef,
        key: &str,
        owner: &str,
        writer_wait_ms: u64,
        run: &verdict_store::Run,
        item: &verdict_store::FileItem,
    ) -> Result<Outcome, Retry> {
        let validated = match parse_format(item.format_hint.as_deref()) {
            Err(error) => Err(error),
            Ok(format) => match self.validate(key, format).await? {
                Err(error) => Err(error),
                Ok(v) => match &item.declared_sha256 {
                    Some(declared) if !declared.eq_ignore_ascii_case(&v.sha256) => {
                        Err(FileError::of_file(
                            "checksum",
                            format!(
                                "content SHA-256 is {}, the upload declared {declared}",
                                v.sha256
                            ),
                        ))
                    }
                    _ => Ok(v),
                },
            },
        };
        let validated = match validated {
            Ok(v) => v,
            Err(error) => {
                self.faults.write()?;
                return self
                    .settled(
                        file,
                        self.store.fail_file(file, owner, &error, now_ms()).await?,
                    )
                    .await
                    .map(|o| o.unwrap_or(Outcome::Failed(error)));
            }
        };

        self.faults.write()?;
        if let Some(other) = self
            .store
            .put_content_marker(file, &validated.sha256, run.expires_at)
            .await?
            .filter(|other| *other != file.file_id)
        {
            self.faults.write()?;
            let marked = self
                .store
                .mark_duplicate(file, owner, &validated.sha256, &other, now_ms())
                .await?;
            return self
                .settled(file, marked)
                .await
                .map(|o| o.unwrap_or(Outcome::Duplicate { of: other }));
        }

        self.faults.write()?;
        let alone = match self.store.begin_writes(file).await? {
            Writers::Alone => true,
            Writers::Shared { wait_for: None } => false,
            Writers::Shared {
                wait_for: Some(writer),
            } => {
                self.wait_for_writer(file, owner, writer, writer_wait_ms)
                    .await?;
                false
            }
        };

        let ctx = RunContext::from(run);
        let overrides = Sidecar {
            test_overrides: item.test_overrides.clone(),
            ..Sidecar::default()
        };
        let format = validated.format;
        let commit_base = FileCommit {
            format: format.to_string(),
            sha256: validated.sha256.clone(),
            counts: Summary::default(),
            contribution: Delta::default(),
            warnings: validated.warnings.clone(),
            slowest: Vec::new(),
        };
        let (counts, contribution, slowest) = self
            .write_results(key, &ctx, file, validated, &overrides, alone)
            .await?;
        self.faults.write()?;
        let commit = FileCommit {
            counts,
            contribution,
            slowest,
            ..commit_base
        };
        let committed = self
            .store
            .commit_file(file, owner, &commit, now_ms())
            .await?;
        self.settled(file, committed)
            .await
            .map(|o| o.unwrap_or(Outcome::Done { format, counts }))
    }

    /// After a settling write: `None` when ours took effect; otherwise what the file became
    /// meanwhile (another invocation took the lease over and settled it), or a retry.
    async fn settled(&self, file: &FileRef, ours: bool) -> Result<Option<Outcome>, Retry> {
        if ours {
            return Ok(None);
        }
        match self.store.get_file(file).await? {
            Some(item) if item.state.is_settled() => Ok(Some(Outcome::AlreadySettled(item.state))),
            _ => Err(Retry::Read("lost the lease on the file; retrying".into())),
        }
    }

    /// Waits until `writer`, writing alone in the run, has committed; past the wait, gives the
    /// lease back and asks to be retried.
    async fn wait_for_writer(
        &self,
        file: &FileRef,
        owner: &str,
        writer: FileId,
        wait_ms: u64,
    ) -> Result<(), Retry> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(wait_ms);
        loop {
            let still = self
                .store
                .get_run(&file.run)
                .await?
                .is_some_and(|run| run.written_alone_by(&writer));
            if !still {
                return Ok(());
            }
            // A lone writer that failed but could not free the run (its release was refused
            // for the moment): free it here, the run's other files need not wait for nothing.
            let writer_file = FileRef {
                run: file.run.clone(),
                file_id: writer.clone(),
            };
            if self
                .store
                .get_file(&writer_file)
                .await?
                .is_some_and(|w| w.state == FileState::Failed)
            {
                self.store.release_writer(&writer_file).await?;
                continue;
            }
            if std::time::Instant::now() >= deadline {
                self.store.release_file(file, owner).await?;
                return Err(Retry::WaitingForWriter { writer });
            }
            tokio::time::sleep(WRITER_POLL).await;
        }
    }

    async fn open(&self, key: &str, etag: Option<&str>) -> Result<RawObject, Retry> {
        self.store
            .open_raw(key, etag)
            .await?
            .ok_or_else(|| Retry::Read(format!("object {key} is not in the bucket (yet)")))
    }

    /// Pass 1. `Ok(Err(..))` is the file's fault (permanent); `Err` is a retry.
    async fn validate(
        &self,
        key: &str,
        format: Option<Format>,
    ) -> Result<Result<Validated, FileError>, Retry> {
        let object = self.open(key, None).await?;
        let etag = object.etag.clone();
        let limits = self.settings.limits;
        let failed = Arc::new(AtomicBool::new(false));
        let source_failed = failed.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut tap = Tap {
                inner: SyncIoBridge::new(object.body),
                sha: Sha256::new(),
                source_failed,
            };
            let mut identities = Identities::default();
            let parsed = for_each_case(&mut tap, format, &limits, &mut |case| {
                if let Some(mut result) = TestResult::from_case(case, &limits.text) {
                    identities.place(&mut result);
                }
            });
            let outcome = parsed.and_then(|outcome| {
                // The parser may stop at the end of the document: hash what follows too.
                std::io::copy(&mut tap, &mut std::io::sink())
                    .map_err(|e| ParseError::new(ErrorKind::Io, None, e.to_string()))?;
                Ok(outcome)
            });
            outcome.map(|outcome| Validated {
                etag,
                format: outcome.format,
                sha256: hex::encode(tap.sha.finalize()),
                warnings: outcome.warnings.iter().map(ToString::to_string).collect(),
                identities,
            })
        })
        .await;
        let result = joined(result)?;
        match result {
            Ok(v) => Ok(Ok(v)),
            Err(_) if failed.load(Ordering::Relaxed) => {
                Err(Retry::Read(format!("reading {key} from the bucket failed")))
            }
            Err(err) => Ok(Err(file_error(&err))),
        }
    }

    /// Pass 2: streams complete results to concurrent conditional writes. Returns the file's
    /// own counts and its contribution to the run.
    async fn write_results(
        &self,
        key: &str,
        ctx: &RunContext,
        file: &FileRef,
        validated: Validated,
        overrides: &Sidecar,
        alone: bool,
    ) -> Result<(Summary, Delta, Vec<SlowTest>), Retry> {
        let object = self.open(key, validated.etag.as_deref()).await?;
        let (tx, rx) = tokio::sync::mpsc::channel::<TestResult>(self.settings.concurrency * 4);
        let limits = self.settings.limits;
        let format = validated.format;
        // Pass 1 counted the cases of every test: a test is complete once it has them all.
        let expected = validated.identities;
        let reader = tokio::task::spawn_blocking(move || {
            let mut identities = Identities::default();
            let mut waiting: HashMap<String, (TestResult, u32)> = HashMap::new();
            let send = |result: TestResult| {
                // A closed channel means the writers stopped; the error surfaces there.
                let _ = tx.blocking_send(result);
            };
            for_each_case(
                SyncIoBridge::new(object.body),
                Some(format),
                &limits,
                &mut |case| {
                    let Some(mut result) = TestResult::from_case(case, &limits.text) else {
                        return;
                    };
                    let rerun = identities.place(&mut result);
                    let total = expected.cases(&result.test_id);
                    if total <= 1 {
                        return send(result);
                    }
                    let id = result.test_id.clone();
                    let done = match waiting.get_mut(&id) {
                        Some((merged, seen)) if rerun => {
                            merged.extend(result);
                            *seen += 1;
                            *seen >= total
                        }
                        _ => {
                            waiting.insert(id.clone(), (result, 1));
                            false
                        }
                    };
                    if done {
                        if let Some((mut merged, _)) = waiting.remove(&id) {
                            merged.derive();
                            send(merged);
                        }
                    }
                },
            )
            .map(|_| ())
        });

        let results = tokio_stream_of(rx).map(|mut result| {
            overrides.apply(&mut result);
            result
        });
        // Either way, a stream of written results with the delta each one made.
        let written: BoxStream<'_, Result<Vec<(TestResult, Delta)>, Retry>> = if alone {
            results
                .chunks(BATCH_WRITE_MAX)
                .map(|batch| async move {
                    // Bulk puts overwrite: an invocation that lost the file (its lease ran out
                    // under it) must not put over what the run's other files merged since the
                    // file committed. Checked before every batch, one read per 25 items.
                    let still_alone = self
                        .store
                        .get_run(&file.run)
                        .await?
                        .is_some_and(|run| run.written_alone_by(&file.file_id));
                    if !still_alone {
                        return Err(Retry::Read(
                            "the run is no longer written by this file alone; retrying".into(),
                        ));
                    }
                    self.faults.write()?;
                    let deltas = self
                        .store
                        .write_results_alone(ctx, &file.file_id, &batch)
                        .await?;
                    Ok(batch.into_iter().zip(deltas).collect())
                })
                .buffer_unordered(self.settings.concurrency)
                .boxed()
        } else {
            results
                .map(|result| async move {
                    self.faults.write()?;
                    let delta = self.store.write_result(ctx, &file.file_id, &result).await?;
                    Ok(vec![(result, delta)])
                })
                .buffer_unordered(self.settings.concurrency)
                .boxed()
        };
        let (counts, contribution, slowest) = written
            .try_fold(
                (Summary::default(), Delta::default(), Vec::new()),
                |(mut counts, mut contribution, mut slowest), written| async move {
                    for (result, delta) in written {
                        counts.add(&result);
                        keep_slowest(&mut slowest, &result);
                        contribution = contribution.plus(delta);
                    }
                    Ok((counts, contribution, slowest))
                },
            )
            .await?;
        joined(reader.await)?
            .map_err(|e| Retry::Read(format!("second read of {key} failed: {e}")))?;
        Ok((counts, contribution, slowest))
    }
}

/// A blocking task's result; its panic goes on as a panic of the ingest (which fails the file).
fn joined<T>(result: Result<T, tokio::task::JoinError>) -> Result<T, Retry> {
    match result {
        Ok(value) => Ok(value),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Retry::Read(format!("a parsing task was cancelled: {e}"))),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
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

fn tokio_stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    stream::poll_fn(move |cx| rx.poll_recv(cx))
}
