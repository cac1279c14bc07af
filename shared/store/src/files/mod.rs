//! A run's files: the item of each upload and its life (`pending` → `processing` → `done` |
//! `failed` | `duplicate`). One file per job: what a file item holds ([`item`]), registering an
//! upload ([`register`]), the lease and the transactions that settle a file and move its run's
//! counters exactly once ([`lease`]), and the content marker that finds duplicates
//! ([`content`]).

mod content;
mod item;
mod lease;
mod listing;
mod progress;
mod register;

pub(crate) use item::attr;
pub use item::{FileError, FileErrorKind, FileItem, FileState};
pub use lease::{Claim, ClaimCount, FileCommit};
pub use progress::Progress;
pub use register::NewFile;
