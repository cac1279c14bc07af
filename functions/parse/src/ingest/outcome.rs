//! What ingesting a file answers: an outcome that is final for the delivery, or a reason to
//! be retried.

use verdict_formats::Format;
use verdict_model::Summary;
use verdict_store::{FileError, FileId, FileState, StoreError};

/// What became of a file. Every variant is final for this delivery: acknowledge the event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Ingested: its results count in the run.
    Done {
        /// The format it was read as.
        format: Format,
        /// Its own results.
        counts: Summary,
        /// Whether it was the run's first writer, which the run's other files waited for.
        wrote_alone: bool,
    },
    /// It cannot be ingested, for the reason given.
    Failed(FileError),
    /// The same bytes as another file of the run.
    Duplicate {
        /// The file that counts instead.
        of: FileId,
    },
    /// An earlier delivery (or another invocation) already settled it.
    AlreadySettled(FileState),
    /// Nothing to ingest (an object outside the layout, no file item, a run already deleted).
    Skipped(String),
    /// Stopped short (out of time, or free to go on once the run's lone writer committed) and
    /// handed to a new invocation ([`verdict_store::Store::hand_off`]).
    HandedOff {
        /// Why it stopped.
        why: HandOffWhy,
        /// The hand-off's object key, whose notification invokes the next invocation.
        handoff: String,
    },
    /// Waits for the run's lone writer, which hands it off to a new invocation once it commits.
    Waiting {
        /// The file writing alone.
        writer: FileId,
    },
}

/// Why a file was handed to a new invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandOffWhy {
    /// It stopped at its checkpoint having written this many results: the next goes on.
    Continue {
        /// Results of the file written so far.
        written: u64,
    },
    /// It found the run's lone writer writing, which has committed since.
    WriterDone {
        /// The file that wrote alone.
        writer: FileId,
    },
}

/// Why a delivery must be retried.
#[derive(Debug, thiserror::Error)]
pub enum Retry {
    /// The store is briefly unavailable (or, for a permanent error, the file could not even be
    /// settled `failed`).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Another invocation holds the file's lease.
    #[error("file is being ingested by another invocation until {until_ms} ms")]
    Busy {
        /// When that lease expires.
        until_ms: u64,
    },
    /// The run's first file still writes alone; this one must wait its turn.
    #[error("file {writer} of the same run is still writing alone")]
    WaitingForWriter {
        /// The file writing alone.
        writer: FileId,
    },
    /// The invocation's time on the file ran out ([`crate::ingest::Settings::work_ms`]); the
    /// file is claimed again once its lease expires, and continued from its last checkpoint.
    #[error("the ingest did not finish within {work_ms} ms; retried once the lease expires")]
    OutOfTime {
        /// The time it had.
        work_ms: u64,
    },
    /// The invocation wrote what it could in its time ([`crate::ingest::Settings::checkpoint_ms`]),
    /// recorded how far it got and gave the lease back: the next delivery continues from there.
    #[error("{written} results written; the next delivery continues from there")]
    Continue {
        /// Results of the file written so far.
        written: u64,
    },
    /// The object could not be read, or changed under us.
    #[error("reading the object failed: {0}")]
    Read(String),
}
