//! Fault injection for the exactly-once tests: a budget of writes after which ingestion stops
//! as if the process had died, panics as a bug would, or is refused for good as a write the
//! role may not make would be. The deployed function never sets one.

use crate::ingest::Retry;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use verdict_store::StoreError;

#[derive(Debug, Clone, Default)]
pub struct Faults(Option<Arc<Budget>>);

#[derive(Debug)]
struct Budget {
    writes_left: AtomicUsize,
    then: Fault,
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Crash,
    Panic,
    Refused,
}

impl Faults {
    pub fn none() -> Faults {
        Faults(None)
    }

    /// Allows `writes` writes, then every further write "crashes".
    pub fn crash_after(writes: usize) -> Faults {
        Faults::budget(writes, Fault::Crash)
    }

    /// Allows `writes` writes, then the next one panics.
    pub fn panic_after(writes: usize) -> Faults {
        Faults::budget(writes, Fault::Panic)
    }

    /// Allows `writes` writes, then every further write is refused with a permanent error
    /// (as AWS answers a write the role is not allowed to make).
    pub fn refuse_after(writes: usize) -> Faults {
        Faults::budget(writes, Fault::Refused)
    }

    fn budget(writes: usize, then: Fault) -> Faults {
        Faults(Some(Arc::new(Budget {
            writes_left: AtomicUsize::new(writes),
            then,
        })))
    }

    /// Called before every write to the store.
    pub(crate) fn write(&self) -> Result<(), Retry> {
        let Some(budget) = &self.0 else {
            return Ok(());
        };
        match budget
            .writes_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        {
            Ok(_) => Ok(()),
            Err(_) => match budget.then {
                Fault::Crash => Err(Retry::Crash),
                Fault::Panic => panic!("injected panic"),
                Fault::Refused => Err(Retry::Store(StoreError::permanent(
                    "BatchWriteItem",
                    "AccessDeniedException: injected",
                ))),
            },
        }
    }
}
