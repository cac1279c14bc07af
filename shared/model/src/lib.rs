//! Verdict's canonical model of a test run.
//!
//! Every report format is read into these types (by `verdict-formats`) and every other part of
//! Verdict (the store, the API, the CLI) speaks only these types. The rules that decide what a
//! test *is* — its identity, its final status across attempts, the fingerprint of its failure —
//! live here and nowhere else.

#![warn(missing_docs)]

mod fingerprint;
mod identity;
mod kept_text;
mod result;
mod run;
mod sidecar;
mod status;
mod summary;
mod text;

pub use fingerprint::failure_fingerprint;
pub use identity::{is_test_id, split_params, test_id, TestIdentity};
pub use kept_text::{AttemptText, KeptText, EXCERPT_BYTES, INLINE_TEXT_BYTES};
pub use result::{Attempt, TestCase, TestResult, MAX_DURATION_MS, SUITE_SEPARATOR};
pub use run::{RunMetadata, Trigger};
pub use sidecar::{Sidecar, SidecarError, TestOverride};
pub use status::Status;
pub use summary::Summary;
pub use text::{cap_text, Limits, TRUNCATION_MARKER};
