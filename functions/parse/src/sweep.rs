//! The scheduled sweep: re-drives files whose event was lost (or whose invocations died), and
//! fails uploads whose bytes never arrived.

use crate::handoff::ingest_object;
use crate::ingest::{Ingest, Outcome, Retry};
use crate::metrics;
use serde::Deserialize;
use tokio::time::Instant;
use verdict_store::{now_ms, Claim, FileError, FileErrorKind, FileRef, FileState};

#[derive(Debug, Default, Deserialize)]
/// What a sweep looks at.
pub struct SweepRequest {
    /// Files registered less than this long ago are left alone (their event may be in flight).
    #[serde(default = "default_grace_seconds")]
    pub grace_seconds: u64,
    /// A file still `pending` without an object after this long is marked `failed`.
    #[serde(default = "default_abandon_seconds")]
    pub abandon_seconds: u64,
}

fn default_grace_seconds() -> u64 {
    15 * 60
}

fn default_abandon_seconds() -> u64 {
    24 * 3600
}

/// Re-drives unsettled files older than the grace period: those whose object arrived are
/// ingested (a live lease makes the claim say busy, and the file is left to its owner); those
/// whose object never arrived are marked failed once abandoned. The sweep never waits for a
/// file writing alone in a run: it drives that file itself, so a file that must wait for it is
/// tried again once the others are through (and else by the next sweep). A file that stops at
/// its checkpoint is handed off (`handoff.rs`) like a delivered one; files left when the
/// invocation nears its `deadline` are the next sweep's.
pub async fn sweep_files(
    ingest: &Ingest,
    request: &SweepRequest,
    owner: &str,
    deadline: Option<Instant>,
) -> Result<Vec<Outcome>, Retry> {
    let now = now_ms();
    let store = ingest.store();
    let files = store
        .unsettled_files(now.saturating_sub(request.grace_seconds * 1000))
        .await?;
    let mut outcomes = Vec::new();
    let mut waiting = Vec::new();
    // Uploaded files this pass could not settle (busy, or waiting for their run's lone writer).
    let mut left = Vec::new();
    for file in files {
        if !time_for_a_file(ingest, deadline) {
            left.push(file);
            continue;
        }
        let key = file.object_key();
        if store.raw_exists(&key).await? {
            match ingest_object(ingest, &key, owner, deadline).await {
                Ok(Outcome::Waiting { .. }) => waiting.push(file),
                Ok(outcome) => outcomes.push(outcome),
                Err(Retry::Busy { .. } | Retry::OutOfTime { .. } | Retry::Continue { .. }) => {
                    left.push(file);
                }
                Err(err) => return Err(err),
            }
        } else if let Some(outcome) = abandon(ingest, &file, request, owner, now).await? {
            outcomes.push(outcome);
        }
    }
    // Their lone writer may have been driven above (and handed them off already: the second
    // delivery finds them busy or settled).
    for file in waiting {
        if !time_for_a_file(ingest, deadline) {
            left.push(file);
            continue;
        }
        match ingest_object(ingest, &file.object_key(), owner, deadline).await {
            Ok(Outcome::Waiting { .. }) => left.push(file),
            Ok(outcome) => outcomes.push(outcome),
            Err(Retry::Busy { .. } | Retry::OutOfTime { .. } | Retry::Continue { .. }) => {
                left.push(file);
            }
            Err(err) => return Err(err),
        }
    }
    let mut stuck = 0;
    for file in &left {
        if store.get_file(file).await?.is_some_and(|item| {
            !item.state.is_settled() && item.created_ms + metrics::UNSETTLED_AFTER_MS <= now
        }) {
            stuck += 1;
        }
    }
    metrics::emit(
        store.table(),
        metrics::UNSETTLED_FILES,
        stuck,
        serde_json::json!({}),
    );
    tracing::info!(settled = outcomes.len(), stuck, "sweep finished");
    Ok(outcomes)
}

/// Whether a file started now would get any time before its checkpoint.
fn time_for_a_file(ingest: &Ingest, deadline: Option<Instant>) -> bool {
    let now = Instant::now();
    ingest.settings().stops(now, deadline).checkpoint > now
}

async fn abandon(
    ingest: &Ingest,
    file: &FileRef,
    request: &SweepRequest,
    owner: &str,
    now: u64,
) -> Result<Option<Outcome>, Retry> {
    let store = ingest.store();
    let Some(item) = store.get_file(file).await? else {
        return Ok(None);
    };
    if item.state != FileState::Pending || item.created_ms + request.abandon_seconds * 1000 > now {
        return Ok(None);
    }
    let Claim::Claimed(_) = store.claim_file(file, owner, now, 60_000).await? else {
        return Ok(None);
    };
    let error = FileError::of_file(
        FileErrorKind::NotUploaded,
        format!(
            "no object arrived within {} s of the upload being registered",
            request.abandon_seconds
        ),
    );
    store.fail_file(file, owner, &error, now).await?;
    Ok(Some(Outcome::Failed(error)))
}
