//! How a file that one invocation cannot finish gets its next invocation at once, instead of
//! after Lambda's retries (two at most, a minute or two apart, then the failure queue) or the
//! next sweep (15 minutes).
//!
//! - A file that stopped at its checkpoint ([`Retry::Continue`]) hands itself off.
//! - A file that found the run's lone writer still writing gave its lease back
//!   ([`Retry::WaitingForWriter`]) and stops: nothing polls. The lone writer, once it commits
//!   (or fails), hands off every file of the run that was given back meanwhile. A file that
//!   gave its lease back just after the writer looked finds the writer gone when it looks
//!   again, and hands itself off.
//!
//! A hand-off is an object whose S3 notification invokes this function
//! ([`verdict_store::Handoff`]). Chains are bounded: Lambda stops a chain of invocations through
//! S3 after 16 (its recursive loop detection), so past `Settings::max_handoffs` a file goes back
//! to Lambda's retries and the sweep, which are not chains.

use crate::ingest::{HandOffWhy, Ingest, Outcome, Retry};
use tokio::time::Instant;
use verdict_store::{now_ms, FileId, FileRef, Handoff};

/// Ingests the object at `key` (a raw upload or a hand-off of one) as lease `owner`, in an
/// invocation that ends at `deadline`, and hands off what it leaves for another invocation.
pub async fn ingest_object(
    ingest: &Ingest,
    key: &str,
    owner: &str,
    deadline: Option<Instant>,
) -> Result<Outcome, Retry> {
    let (file, generation) = match Handoff::from_object_key(key) {
        None => match FileRef::from_object_key(key) {
            Ok(file) => (file, 0),
            Err(reason) => return Ok(Outcome::Skipped(reason)),
        },
        Some(Ok(handoff)) => (handoff.file, handoff.generation),
        Some(Err(reason)) => return Ok(Outcome::Skipped(reason)),
    };
    let next = Handoff {
        file: file.clone(),
        generation: generation + 1,
    };
    match ingest
        .ingest_key_until(&file.object_key(), owner, deadline)
        .await
    {
        Err(Retry::Continue { written }) => {
            hand_off_or_retry(ingest, &next, HandOffWhy::Continue { written }).await
        }
        Err(Retry::WaitingForWriter { writer }) => {
            if still_writing_alone(ingest, &file, &writer).await? {
                return Ok(Outcome::Waiting { writer });
            }
            hand_off_or_retry(ingest, &next, HandOffWhy::WriterDone { writer }).await
        }
        Ok(outcome) => {
            let kept_others_waiting = matches!(
                outcome,
                Outcome::Done {
                    wrote_alone: true,
                    ..
                } | Outcome::Failed(_)
            );
            if kept_others_waiting {
                hand_off_waiting(ingest, &next).await;
            }
            Ok(outcome)
        }
        Err(retry) => Err(retry),
    }
}

/// Hands `next` off, or, past the bound or when the hand-off cannot be put, asks Lambda to
/// retry the event (and the sweep comes after).
async fn hand_off_or_retry(
    ingest: &Ingest,
    next: &Handoff,
    why: HandOffWhy,
) -> Result<Outcome, Retry> {
    let retry = || match &why {
        HandOffWhy::Continue { written } => Retry::Continue { written: *written },
        HandOffWhy::WriterDone { writer } => Retry::WaitingForWriter {
            writer: writer.clone(),
        },
    };
    if next.generation > ingest.settings().max_handoffs {
        return Err(retry());
    }
    match ingest.store().hand_off(next).await {
        Ok(handoff) => Ok(Outcome::HandedOff { why, handoff }),
        Err(err) => {
            tracing::warn!(file = %next.file.object_key(), error = %err, "hand-off not put");
            Err(retry())
        }
    }
}

async fn still_writing_alone(
    ingest: &Ingest,
    file: &FileRef,
    writer: &FileId,
) -> Result<bool, Retry> {
    Ok(ingest
        .store()
        .get_run(&file.run)
        .await?
        .is_some_and(|run| run.written_alone_by(writer)))
}

/// Hands off the files of the run that `next.file` kept waiting. One that is missed (the put
/// failed) is ingested by the sweep.
async fn hand_off_waiting(ingest: &Ingest, next: &Handoff) {
    if next.generation > ingest.settings().max_handoffs {
        return;
    }
    let store = ingest.store();
    let waiting = match store.files_given_back(&next.file.run, now_ms()).await {
        Ok(files) => files,
        Err(err) => {
            tracing::warn!(run = %next.file.run.run_key, error = %err, "waiting files not listed");
            return;
        }
    };
    for file in waiting.into_iter().filter(|f| *f != next.file) {
        let handoff = Handoff {
            file,
            generation: next.generation,
        };
        if let Err(err) = store.hand_off(&handoff).await {
            tracing::warn!(file = %handoff.file.object_key(), error = %err, "hand-off not put");
        }
    }
}
