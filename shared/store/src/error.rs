//! One error type for everything the store does, split the way callers must act on it:
//! transient (throttling, timeouts, conflicts, 5xx: retry later) or permanent (fix the input).

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct StoreError {
    pub operation: &'static str,
    pub message: String,
    pub transient: bool,
}

impl StoreError {
    pub fn permanent(operation: &'static str, message: impl Into<String>) -> StoreError {
        StoreError {
            operation,
            message: message.into(),
            transient: false,
        }
    }

    pub fn transient(operation: &'static str, message: impl Into<String>) -> StoreError {
        StoreError {
            operation,
            message: message.into(),
            transient: true,
        }
    }

    /// Classifies an SDK error (DynamoDB's or S3's: both share the smithy error types).
    pub(crate) fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let transient = match &err {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(service) => is_transient_code(service.err().code()),
            _ => false,
        };
        let message = match err.code() {
            Some(code) => format!(
                "{code}: {}",
                err.message().unwrap_or("no message from the service")
            ),
            None => aws_smithy_error_chain(&err),
        };
        StoreError {
            operation,
            message,
            transient,
        }
    }
}

fn is_transient_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "Throttling"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "TransactionConflictException"
                | "TransactionInProgressException"
                | "InternalServerError"
                | "InternalError"
                | "ServiceUnavailable"
                | "SlowDown"
                | "RequestTimeout"
                | "LimitExceededException"
        )
    )
}

/// The whole `source()` chain, so "dispatch failure" says why (connection refused, ...).
fn aws_smithy_error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
