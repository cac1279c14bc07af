//! The write capacity test-result writes consume, as DynamoDB reports it (table plus indexes),
//! for the ingest benchmark (compiled only with the `test-support` feature). An SDK interceptor
//! asks DynamoDB for the figure on each write of test items and adds it up, so the functions
//! never pay for asking.

use crate::attrs::SK;
use crate::keys::TEST_SK_PREFIX;
use crate::Store;
use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Write capacity consumed so far by the test-result writes of a counting store.
#[derive(Debug, Clone, Default)]
pub struct CapacityCount(Arc<AtomicU64>);

impl CapacityCount {
    /// Write capacity units consumed so far.
    pub fn units(&self) -> f64 {
        self.0.load(Ordering::Relaxed) as f64 / 1000.0
    }

    fn add(&self, units: f64) {
        self.0.fetch_add((units * 1000.0) as u64, Ordering::Relaxed);
    }
}

impl Store {
    /// This store, counting the write capacity its test-result writes consume.
    pub fn counting_capacity(self) -> (Store, CapacityCount) {
        let count = CapacityCount::default();
        (self.with_table_interceptor(Counter(count.clone())), count)
    }
}

#[derive(Debug)]
struct Counter(CapacityCount);

/// A write of test items whose consumed capacity was asked for.
#[derive(Debug, Clone)]
struct Counted;

impl Storable for Counted {
    type Storer = StoreReplace<Counted>;
}

fn is_test_item(item: &HashMap<String, AttributeValue>) -> bool {
    item.get(SK)
        .and_then(|v| v.as_s().ok())
        .is_some_and(|sk| sk.starts_with(TEST_SK_PREFIX))
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "verdict-capacity-counter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        let counted = if let Some(put) = input.downcast_mut::<PutItemInput>() {
            let counted = put.item.as_ref().is_some_and(is_test_item);
            if counted {
                put.return_consumed_capacity = Some(ReturnConsumedCapacity::Indexes);
            }
            counted
        } else if let Some(batch) = input.downcast_mut::<BatchWriteItemInput>() {
            let counted = batch.request_items.iter().flatten().any(|(_, requests)| {
                requests
                    .iter()
                    .filter_map(|r| r.put_request())
                    .any(|p| is_test_item(p.item()))
            });
            if counted {
                batch.return_consumed_capacity = Some(ReturnConsumedCapacity::Indexes);
            }
            counted
        } else {
            false
        };
        if counted {
            cfg.interceptor_state().store_put(Counted);
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Counted>().is_none() {
            return Ok(());
        }
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let units = |c: &ConsumedCapacity| c.capacity_units().unwrap_or(0.0);
        if let Some(put) = output.downcast_ref::<PutItemOutput>() {
            self.0.add(put.consumed_capacity().map_or(0.0, units));
        } else if let Some(batch) = output.downcast_ref::<BatchWriteItemOutput>() {
            self.0
                .add(batch.consumed_capacity().iter().map(units).sum());
        }
        Ok(())
    }
}
