//! Ingesting one raw file, with exactly-once effect however often it is delivered.
//!
//! 1. Claim the file item (a conditional update with a lease).
//! 2. Validate: parse the whole object once, hashing its bytes and counting how many cases each
//!    test has; a bad file is marked `failed` here, having written nothing else.
//! 3. Put the content marker: identical bytes already ingested in this run make it a `duplicate`.
//! 4. Parse again (the same object version) and write each test's merged result as soon as it is
//!    complete, many writes in flight, each recording this file's delta. A file that begins
//!    while no other file of the run is writing writes alone (no other file writes to the run
//!    until it commits) and puts its items in bulk (the run's first writer as they are, a later
//!    one merged into what it reads is there); a file that begins beside another writer writes
//!    each test conditionally, merging with what is there.
//! 5. Commit: one transaction marks the file `done` and adds its deltas to the run's counters.
//! 6. Roll the run up into its hour's and day's rollups (`Store::roll_run`) and, once all its
//!    files settled, its failures into their day's failure rollups (`Store::roll_failures`), on
//!    every delivery.
//! 7. Once the last file of a run is settled, from one read of its results: its comparison
//!    with its default base (`Store::make_comparison_from`), for a large run its sorted views
//!    (`Store::make_views`), and each test's duration folded into its day's duration rollups
//!    (`Store::fold_durations`).
//! 8. Once all its files settled, the fold if step 7 did not make it (`Store::roll_durations`),
//!    then the tests no earlier run had, as first seen there (`Store::record_first_seen`), both
//!    on every delivery until recorded.
//!
//! A crash anywhere leaves the file `processing`; the next delivery (or the sweep, once the
//! lease expires) runs the same steps and every write already made answers with what it did.

mod complete;
mod kept;
mod outcome;
mod settings;
mod validate;
mod write;

pub use outcome::{HandOffWhy, Outcome, Retry};
pub use settings::{Settings, Stops};

use validate::declared_format;
use verdict_model::{Sidecar, Summary};
use verdict_store::{
    now_ms, views_due, Claim, ClaimCount, Delta, FileCommit, FileError, FileErrorKind, FileId,
    FileItem, FileRef, FileState, Progress, RawObject, Run, RunContext, RunRef, Store, Writers,
    MAX_COMPARED_TESTS,
};
use write::Written;

/// Ingests files into one store.
pub struct Ingest {
    store: Store,
    settings: Settings,
}

impl Ingest {
    /// Ingests into `store`, as `settings` say.
    pub fn new(store: Store, settings: Settings) -> Ingest {
        Ingest { store, settings }
    }

    /// The store ingested into.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The settings ingested with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Ingests the object at `key`, as lease `owner` (one invocation's, see [`crate::handle`]), with as long
    /// as the settings give it.
    pub async fn ingest_key(&self, key: &str, owner: &str) -> Result<Outcome, Retry> {
        self.ingest_key_until(key, owner, None).await
    }

    /// [`Ingest::ingest_key`] in an invocation that ends at `deadline`.
    pub async fn ingest_key_until(
        &self,
        key: &str,
        owner: &str,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Outcome, Retry> {
        let file = match FileRef::from_object_key(key) {
            Ok(file) => file,
            Err(reason) => return Ok(Outcome::Skipped(reason)),
        };
        self.ingest(&file, key, owner, deadline).await
    }

    async fn ingest(
        &self,
        file: &FileRef,
        key: &str,
        owner: &str,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Outcome, Retry> {
        let outcome = self.settle(file, key, owner, deadline).await?;
        // Rolled up after every settle, and again on every delivery of a settled file: a roll
        // lost to a crash after the settle is made by the redelivery, and adds nothing twice.
        if !matches!(outcome, Outcome::Skipped(_)) {
            self.store.roll_run(&file.run).await?;
            self.store.roll_failures(&file.run).await?;
        }
        // Settled by this invocation (a redelivery of a settled file makes nothing again).
        if !matches!(outcome, Outcome::AlreadySettled(_) | Outcome::Skipped(_)) {
            self.derive_once_settled(&file.run).await;
        }
        // Folded above when this delivery settled the run; else (a fold cut off, a redelivery)
        // here, until done. Last, first seen: a first run of many tests puts as many
        // first-seen items, and what is above is not held up behind them.
        if !matches!(outcome, Outcome::Skipped(_)) {
            self.store.roll_durations(&file.run).await?;
            self.store.record_first_seen(&file.run).await?;
        }
        Ok(outcome)
    }

    /// Steps 1 to 5 of the module's documentation.
    async fn settle(
        &self,
        file: &FileRef,
        key: &str,
        owner: &str,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Outcome, Retry> {
        let Some(run) = self.store.get_run(&file.run).await? else {
            return Ok(Outcome::Skipped(format!(
                "run {} of project {} does not exist (deleted by retention?)",
                file.run.run_key, file.run.project
            )));
        };
        let stops = self.settings.stops(tokio::time::Instant::now(), deadline);
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
                FileErrorKind::GaveUp,
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
        let claimed =
            std::panic::AssertUnwindSafe(self.ingest_claimed(file, key, owner, &run, &item, stops));
        // Past `work_ms` the ingest is dropped where it stands, as a crash would leave it, and
        // the lease is kept: a request still in flight may land until the lease expires.
        let Ok(claimed) = tokio::time::timeout_at(
            stops.cut_off,
            futures_util::FutureExt::catch_unwind(claimed),
        )
        .await
        else {
            tracing::warn!(file = %file.object_key(), "out of time; retried once the lease expires");
            return Err(Retry::OutOfTime {
                work_ms: self.settings.work_ms,
            });
        };
        match claimed {
            Ok(Err(Retry::Store(err))) if !err.is_transient() => {
                let error = FileError::of_file(FileErrorKind::Store, err.to_string());
                self.give_up(file, owner, error).await
            }
            // Throttled past the SDK's retries, or the object unreadable for now: nothing of
            // ours is in flight any more (pass 2 lets its writes land before it returns), so the
            // lease goes back at once and the next delivery need not wait for it to expire.
            Ok(Err(err @ (Retry::Store(_) | Retry::Read(_)))) => {
                let count = claim_count(false, Some(&err));
                if let Err(release) = self.store.release_file(file, owner, count).await {
                    tracing::warn!(file = %file.object_key(), error = %release, "lease not given back");
                }
                Err(err)
            }
            Ok(outcome) => outcome,
            Err(panic) => {
                let error = FileError::of_file(
                    FileErrorKind::Internal,
                    format!("ingest stopped on a bug: {}", panic_message(&*panic)),
                );
                self.give_up(file, owner, error).await
            }
        }
    }

    /// Once the last file of a run is settled: its comparison with its default base, for a
    /// large run its sorted views, so that no request of the dashboard or of `verdict upload
    /// --wait` reads the whole run, and its durations folded into its day's rollups; the run's
    /// results are read once for all three. What is not made here is made by
    /// the first request that asks for it (the fold: by the step after, on every delivery), so
    /// a failure is only logged.
    async fn derive_once_settled(&self, run: &RunRef) {
        let made = async {
            let Some(run) = self.store.get_run(run).await? else {
                return Ok(());
            };
            if run.files_unsettled() > 0 {
                return Ok(());
            }
            // A large run's views are made from the same read as its outcomes.
            let read = match views_due(&run) {
                true => self.store.make_views(&run).await?,
                false => None,
            };
            let read = match read {
                Some(read) => Some(read),
                None => self.store.run_outcomes(&run.run).await?,
            };
            let Some((shown, outcomes)) = read else {
                return Ok(());
            };
            if let Some((base, _)) = self.store.default_base(&shown).await? {
                if shown.summary.tests.max(base.summary.tests) <= MAX_COMPARED_TESTS {
                    self.store
                        .make_comparison_from(&shown, &outcomes, &base)
                        .await?;
                }
            }
            self.store.fold_durations(&shown, outcomes).await
        };
        if let Err(err) = made.await {
            tracing::warn!(run = %run.run_key, error = %err, "comparison, sorted views or duration fold not made");
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
                serde_json::json!({"kind": error.kind.as_str(), "file": file.object_key()}),
            );
        }
        self.settled(file, ours)
            .await
            .map(|o| o.unwrap_or(Outcome::Failed(error)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn ingest_claimed(
        &self,
        file: &FileRef,
        key: &str,
        owner: &str,
        run: &Run,
        item: &FileItem,
        stops: Stops,
    ) -> Result<Outcome, Retry> {
        let validated = match declared_format(item.format_hint.as_deref()) {
            Err(error) => Err(error),
            Ok(format) => match self.validate(key, format).await? {
                Err(error) => Err(error),
                Ok(v) => match &item.declared_sha256 {
                    Some(declared) if !declared.eq_ignore_ascii_case(&v.sha256) => {
                        Err(FileError::of_file(
                            FileErrorKind::Checksum,
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
                return self
                    .settled(
                        file,
                        self.store.fail_file(file, owner, &error, now_ms()).await?,
                    )
                    .await
                    .map(|o| o.unwrap_or(Outcome::Failed(error)));
            }
        };

        if let Some(other) = self
            .store
            .put_content_marker(file, &validated.sha256, run.expires_at)
            .await?
            .filter(|other| *other != file.file_id)
        {
            let marked = self
                .store
                .mark_duplicate(file, owner, &validated.sha256, &other, now_ms())
                .await?;
            return self
                .settled(file, marked)
                .await
                .map(|o| o.unwrap_or(Outcome::Duplicate { of: other }));
        }

        let writers = self.store.begin_writes(file).await?;
        if let Writers::Shared {
            wait_for: Some(writer),
        } = &writers
        {
            self.wait_for_writer(file, owner, writer.clone()).await?;
        }
        let alone = matches!(writers, Writers::Alone { .. });

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
        };
        let from = item.progress.clone().unwrap_or_default();
        let before = from.written;
        let written = match self
            .write_results(
                key, &ctx, file, validated, &overrides, &writers, from, stops,
            )
            .await?
        {
            Written::All(progress) => progress,
            Written::Stopped { progress, cause } => {
                let advanced = progress.written > before;
                let count = claim_count(advanced, cause.as_ref());
                let ours = self
                    .store
                    .checkpoint_file(file, owner, &progress, count)
                    .await?;
                return match self.settled(file, ours).await? {
                    Some(outcome) => Ok(outcome),
                    // A write throttled past the SDK's retries: what was written stays written.
                    None => Err(match cause {
                        Some(cause) if !advanced => cause,
                        _ => Retry::Continue {
                            written: progress.written,
                        },
                    }),
                };
            }
        };
        let counts = written.counts;
        let written_count = written.written;
        let commit = FileCommit {
            counts,
            contribution: written.contribution,
            ..commit_base
        };
        let committed = match self.store.commit_file(file, owner, &commit, now_ms()).await {
            Ok(committed) => committed,
            Err(err) => {
                // Every result is written: the next delivery need only commit.
                let progress = Progress {
                    written: written_count,
                    counts,
                    contribution: commit.contribution,
                };
                let err = Retry::from(err);
                let count = claim_count(written_count > before, Some(&err));
                self.store
                    .checkpoint_file(file, owner, &progress, count)
                    .await?;
                return Err(err);
            }
        };
        self.settled(file, committed).await.map(|o| {
            o.unwrap_or(Outcome::Done {
                format,
                counts,
                wrote_alone: alone,
            })
        })
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

    /// Goes on once `writer`, writing alone in the run, has committed; until then gives the
    /// lease back and answers [`Retry::WaitingForWriter`]. No invocation waits for another:
    /// the lone writer hands the files it kept waiting on once it commits (`crate::handle`).
    async fn wait_for_writer(
        &self,
        file: &FileRef,
        owner: &str,
        writer: FileId,
    ) -> Result<(), Retry> {
        let still = self
            .store
            .get_run(&file.run)
            .await?
            .is_some_and(|run| run.written_alone_by(&writer));
        if !still {
            return Ok(());
        }
        // A lone writer that failed but could not free the run (its release was refused for
        // the moment): free it here, the run's other files need not wait for nothing.
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
            return Ok(());
        }
        self.store
            .release_file(file, owner, ClaimCount::NotTheFile)
            .await?;
        Err(Retry::WaitingForWriter { writer })
    }

    async fn open(&self, key: &str, etag: Option<&str>) -> Result<RawObject, Retry> {
        self.store
            .open_raw(key, etag)
            .await?
            .ok_or_else(|| Retry::Read(format!("object {key} is not in the bucket (yet)")))
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

/// How a claim that stopped short of settling counts toward the file's bound on claims: one
/// that wrote more starts the count over; one stopped by throttling (the table's rate, not the
/// file) does not count, so the sweep and Lambda's retries drive a file through a busy run
/// however long the run's partition stays busy, and `max_claims` still ends a file that keeps
/// getting nowhere on its own account.
fn claim_count(advanced: bool, cause: Option<&Retry>) -> ClaimCount {
    match cause {
        _ if advanced => ClaimCount::Advanced,
        Some(Retry::Store(err)) if err.is_throttled() => ClaimCount::NotTheFile,
        _ => ClaimCount::Counted,
    }
}
