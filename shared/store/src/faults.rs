//! Fault injection for the exactly-once tests (compiled only with the `test-support` feature):
//! a budget of DynamoDB writes after which the store stops as if the process had died, panics
//! as a bug would, or refuses a write for good as AWS refuses one the role may not make. It is
//! an SDK interceptor on the table's client, so the code under test is the deployed code.

use crate::Store;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What happens once the budget of writes is spent; `None` injects nothing.
#[derive(Debug, Clone, Default)]
pub struct Faults(Option<Arc<Budget>>);

#[derive(Debug)]
struct Budget {
    writes_left: AtomicUsize,
    then: Fault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Crash,
    Panic,
    Refused,
}

/// The operations that write to the table.
const WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

impl Faults {
    /// No faults.
    pub fn none() -> Faults {
        Faults(None)
    }

    /// Allows `writes` writes; every further write fails before it is sent, as the writes of a
    /// process that died would (a dispatch failure, transient to the caller).
    pub fn crash_after(writes: usize) -> Faults {
        Faults::budget(writes, Fault::Crash)
    }

    /// Allows `writes` writes, then the next one panics; later writes go through.
    pub fn panic_after(writes: usize) -> Faults {
        Faults::budget(writes, Fault::Panic)
    }

    /// Allows `writes` writes, then the next one is refused with a permanent error (as AWS
    /// answers a write the role is not allowed to make); later writes go through.
    pub fn refuse_after(writes: usize) -> Faults {
        Faults::budget(writes, Fault::Refused)
    }

    fn budget(writes: usize, then: Fault) -> Faults {
        Faults(Some(Arc::new(Budget {
            writes_left: AtomicUsize::new(writes),
            then,
        })))
    }
}

impl Store {
    /// This store, with `faults` injected into its table writes.
    pub fn with_faults(self, faults: Faults) -> Store {
        let Faults(Some(budget)) = faults else {
            return self;
        };
        self.with_table_interceptor(Injector(budget))
    }
}

#[derive(Debug)]
struct Injector(Arc<Budget>);

/// A write that is to "crash": it fails once its request is built, before it is sent.
#[derive(Debug, Clone)]
struct Crashing;

impl Storable for Crashing {
    type Storer = StoreReplace<Crashing>;
}

impl Intercept for Injector {
    fn name(&self) -> &'static str {
        "verdict-fault-injector"
    }

    // Not `read_before_execution`: it runs before the operation's configuration (its name) is
    // in the bag.
    fn read_before_serialization(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let is_write = cfg
            .load::<Metadata>()
            .is_some_and(|m| WRITES.contains(&m.name()));
        if !is_write {
            return Ok(());
        }
        let budget = &self.0;
        if budget
            .writes_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Ok(());
        }
        match budget.then {
            Fault::Crash => {
                cfg.interceptor_state().store_put(Crashing);
                Ok(())
            }
            // One fault, then the writes that settle the file go through.
            Fault::Panic => {
                budget.writes_left.store(usize::MAX, Ordering::SeqCst);
                panic!("injected panic")
            }
            Fault::Refused => {
                budget.writes_left.store(usize::MAX, Ordering::SeqCst);
                Err("AccessDeniedException: injected".into())
            }
        }
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match cfg.load::<Crashing>() {
            Some(_) => Err("injected crash: the process died before this write".into()),
            None => Ok(()),
        }
    }
}
