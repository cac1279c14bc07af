//! Fault injection for the exactly-once tests: a budget of writes after which ingestion stops
//! as if the process had died. The deployed function never sets a budget.

use crate::ingest::Retry;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Faults(Option<Arc<AtomicUsize>>);

impl Faults {
    pub fn none() -> Faults {
        Faults(None)
    }

    /// Allows `writes` writes, then every further write "crashes".
    pub fn crash_after(writes: usize) -> Faults {
        Faults(Some(Arc::new(AtomicUsize::new(writes))))
    }

    /// Called before every write to the store.
    pub(crate) fn write(&self) -> Result<(), Retry> {
        match &self.0 {
            None => Ok(()),
            Some(left) => left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .map(|_| ())
                .map_err(|_| Retry::Crash),
        }
    }
}
