//! The DynamoDB plumbing every item family uses: one item by key, every page of a query,
//! transactions that retry conflicts, and conditional writes whose failed condition answers
//! with the item as it was.

use crate::attrs::{Expr, Item};
use crate::keys::{item_key, RunRef};
use crate::{Store, StoreError};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use futures_util::{StreamExt, TryStreamExt};
use std::time::Duration;

/// A transaction was cancelled: the cancellation code of each of its items (`None` for items
/// that were fine).
pub(crate) type Cancelled = Vec<Option<String>>;

/// An SDK error that may be a failed write condition.
pub(crate) trait ConditionFailed {
    /// `Some(item as it was, if DynamoDB returned it)` when the write's condition failed.
    fn condition_failed(&self) -> Option<Option<&Item>>;
}

impl ConditionFailed for PutItemError {
    fn condition_failed(&self) -> Option<Option<&Item>> {
        match self {
            PutItemError::ConditionalCheckFailedException(e) => Some(e.item()),
            _ => None,
        }
    }
}

impl ConditionFailed for UpdateItemError {
    fn condition_failed(&self) -> Option<Option<&Item>> {
        match self {
            UpdateItemError::ConditionalCheckFailedException(e) => Some(e.item()),
            _ => None,
        }
    }
}

/// A conditional write's answer: `Ok(Ok(output))` written, `Ok(Err(old))` its condition failed
/// (`old`: the item as it was, when DynamoDB returned it; DynamoDB Local may not), `Err` any
/// other error.
pub(crate) fn conditional<O, E, R>(
    operation: &'static str,
    result: Result<O, SdkError<E, R>>,
) -> Result<Result<O, Option<Item>>, StoreError>
where
    E: ConditionFailed
        + aws_sdk_dynamodb::error::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(out) => Ok(Ok(out)),
        Err(err) => match err
            .as_service_error()
            .and_then(ConditionFailed::condition_failed)
        {
            Some(old) => Ok(Err(old.cloned())),
            None => Err(StoreError::from_sdk(operation, err)),
        },
    }
}

impl Store {
    /// One item by its key (`pk`, `sk`); strongly consistent unless `consistent` is false.
    pub(crate) async fn read_item(
        &self,
        operation: &'static str,
        key: Item,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk(operation, e))?;
        Ok(out.item().cloned())
    }

    /// One item by its partition and sort key, strongly consistent.
    pub(crate) async fn read_key(
        &self,
        operation: &'static str,
        pk: String,
        sk: String,
    ) -> Result<Option<Item>, StoreError> {
        self.read_item(operation, item_key(pk, sk), true).await
    }

    /// Every item of a query, page after page (the SDK's paginator).
    pub(crate) async fn query_all(
        &self,
        operation: &'static str,
        query: QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_all_as(operation, query, Some).await
    }

    /// What `convert` makes of every item of a query, page after page; each item is dropped
    /// once converted, so a large result is never held as items.
    pub(crate) async fn query_all_as<T>(
        &self,
        operation: &'static str,
        query: QueryFluentBuilder,
        convert: impl Fn(Item) -> Option<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut items = query.into_paginator().items().send();
        let mut kept = Vec::new();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| StoreError::from_sdk(operation, e))?;
            kept.extend(convert(item));
        }
        Ok(kept)
    }

    /// Every item `query` finds in each partition of `run`'s test results (it gets the
    /// partition key), in test-id order: one paginated Query per partition, a few at once.
    pub(crate) async fn query_tests(
        &self,
        operation: &'static str,
        run: &RunRef,
        query: impl Fn(String) -> QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_tests_as(operation, run, query, Some).await
    }

    /// [`Store::query_tests`], keeping what `convert` makes of each item.
    pub(crate) async fn query_tests_as<T>(
        &self,
        operation: &'static str,
        run: &RunRef,
        query: impl Fn(String) -> QueryFluentBuilder,
        convert: impl Fn(Item) -> Option<T>,
    ) -> Result<Vec<T>, StoreError> {
        let partitions: Vec<Vec<T>> = futures_util::stream::iter(run.tests_pks())
            .map(|pk| self.query_all_as(operation, query(pk), &convert))
            .buffered(4)
            .try_collect()
            .await?;
        Ok(partitions.into_iter().flatten().collect())
    }

    /// Runs a transaction whose conditions must hold; a failed condition is a permanent error.
    pub(crate) async fn transact_all(
        &self,
        operation: &'static str,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), StoreError> {
        match self.transact(operation, items).await? {
            Ok(()) => Ok(()),
            Err(codes) => Err(StoreError::permanent(
                operation,
                format!("a condition failed: {codes:?}"),
            )),
        }
    }

    /// Runs a transaction, retrying conflicts with other transactions. `Ok(Err(codes))` when a
    /// condition failed.
    pub(crate) async fn transact(
        &self,
        operation: &'static str,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Cancelled>, StoreError> {
        let mut backoff = Duration::from_millis(20);
        let mut last = None;
        let mut throttled = false;
        for _ in 0..8 {
            let result = self
                .ddb
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let Err(err) = result else {
                return Ok(Ok(()));
            };
            if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
                err.as_service_error()
            {
                let codes: Cancelled = cancel
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().filter(|c| *c != "None").map(str::to_string))
                    .collect();
                if codes
                    .iter()
                    .flatten()
                    .any(|c| c == "ConditionalCheckFailed")
                {
                    return Ok(Err(codes));
                }
                // Only conflicts or throttling: another transaction touched the same items,
                // or a partition was over its rate.
                throttled = codes
                    .iter()
                    .flatten()
                    .any(|c| c == "ThrottlingError" || c == "ProvisionedThroughputExceeded");
                last = None;
            } else {
                let err = StoreError::from_sdk(operation, err);
                if !err.is_transient() {
                    return Err(err);
                }
                last = Some(err);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
        // The last error says why, when it was not a cancellation.
        Err(last.unwrap_or_else(|| match throttled {
            true => StoreError::throttled(
                operation,
                "transaction kept being cancelled for its items' rate; retry later",
            ),
            false => StoreError::transient(
                operation,
                "transaction kept conflicting with others; retry later",
            ),
        }))
    }

    /// One update of a transaction (on condition, when given).
    pub(crate) fn transact_update(
        &self,
        operation: &'static str,
        key: Item,
        update: String,
        condition: Option<String>,
        e: Expr,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .set_condition_expression(condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .build()
            .map_err(|e| StoreError::permanent(operation, e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// An update made only while `condition` holds; when it does not, there is nothing to do.
    pub(crate) async fn update_if(
        &self,
        operation: &'static str,
        key: Item,
        update: String,
        condition: String,
        e: Expr,
    ) -> Result<(), StoreError> {
        self.updated_if(operation, key, update, condition, e)
            .await
            .map(|_| ())
    }

    /// [`Store::update_if`], saying whether the update was made.
    pub(crate) async fn updated_if(
        &self,
        operation: &'static str,
        key: Item,
        update: String,
        condition: String,
        e: Expr,
    ) -> Result<bool, StoreError> {
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .send()
            .await;
        conditional(operation, result).map(|made| made.is_ok())
    }
}
