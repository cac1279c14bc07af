//! One error type for everything the store does, split the way callers must act on it: retry
//! later, tell the caller their request conflicts with what is stored, tell them it is not
//! there, or give up. The SDK's error, when there is one, stays as the source.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// What went wrong in a store operation, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, timeouts, conflicts between transactions, 5xx: retry later.
    #[error(transparent)]
    Transient(Failure),
    /// The request contradicts what is stored (a name already taken, an id already used).
    #[error(transparent)]
    Conflict(Failure),
    /// The request names something that does not exist.
    #[error(transparent)]
    NotFound(Failure),
    /// Anything else: refused, malformed, a bug. Retrying does not help.
    #[error(transparent)]
    Permanent(Failure),
}

/// The operation that failed and why.
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct Failure {
    /// The store operation, as logs and metrics name it (`ClaimFile`, `Query runs`, ...).
    pub operation: &'static str,
    /// Why it failed, for a person.
    pub message: String,
    /// The table (or bucket) refused the request for its rate: says nothing of the request.
    throttled: bool,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

fn failure(operation: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        operation,
        message: message.into(),
        throttled: false,
        source: None,
    }
}

impl StoreError {
    /// Retry later.
    pub fn transient(operation: &'static str, message: impl Into<String>) -> StoreError {
        StoreError::Transient(failure(operation, message))
    }

    /// The request conflicts with what is stored.
    pub fn conflict(operation: &'static str, message: impl Into<String>) -> StoreError {
        StoreError::Conflict(failure(operation, message))
    }

    /// What the request names does not exist.
    pub fn not_found(operation: &'static str, message: impl Into<String>) -> StoreError {
        StoreError::NotFound(failure(operation, message))
    }

    /// Retrying does not help.
    pub fn permanent(operation: &'static str, message: impl Into<String>) -> StoreError {
        StoreError::Permanent(failure(operation, message))
    }

    /// Refused for the rate of requests (AWS's throttling), after the retries: retry later.
    pub fn throttled(operation: &'static str, message: impl Into<String>) -> StoreError {
        StoreError::Transient(Failure {
            throttled: true,
            ..failure(operation, message)
        })
    }

    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Transient(_))
    }

    /// Whether the store refused the request for its rate (not for what it asked).
    pub fn is_throttled(&self) -> bool {
        matches!(self, StoreError::Transient(f) if f.throttled)
    }

    /// The operation and the reason.
    pub fn failure(&self) -> &Failure {
        match self {
            StoreError::Transient(f)
            | StoreError::Conflict(f)
            | StoreError::NotFound(f)
            | StoreError::Permanent(f) => f,
        }
    }

    /// Classifies an SDK error (DynamoDB's or S3's: both share the smithy error types), keeping
    /// it as the source.
    pub(crate) fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = match &err {
            SdkError::ServiceError(service) => service.err().code(),
            _ => None,
        };
        let throttled = is_throttling_code(code);
        let transient = match &err {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(_) => throttled || is_transient_code(code),
            _ => false,
        };
        let message = match err.code() {
            Some(code) => format!(
                "{code}: {}",
                err.message().unwrap_or("no message from the service")
            ),
            None => error_chain(&err),
        };
        let failure = Failure {
            operation,
            message,
            throttled,
            source: Some(Box::new(err)),
        };
        if transient {
            StoreError::Transient(failure)
        } else {
            StoreError::Permanent(failure)
        }
    }
}

/// Refusals for the rate of requests: DynamoDB's per partition and per table, S3's per prefix.
fn is_throttling_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "Throttling"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "SlowDown"
        )
    )
}

fn is_transient_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "TransactionConflictException"
                | "TransactionInProgressException"
                | "InternalServerError"
                | "InternalError"
                | "ServiceUnavailable"
                | "RequestTimeout"
                | "LimitExceededException"
        )
    )
}

/// The whole `source()` chain, so "dispatch failure" says why (connection refused, ...).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_says_whether_to_retry_and_keeps_its_operation() {
        let err = StoreError::conflict("RegisterFile", "file id x is already registered");
        assert!(!err.is_transient());
        assert_eq!(err.failure().operation, "RegisterFile");
        assert_eq!(
            err.to_string(),
            "RegisterFile: file id x is already registered"
        );
        assert!(StoreError::transient("Query", "busy").is_transient());
        assert!(!StoreError::transient("Query", "busy").is_throttled());
        let throttled = StoreError::throttled("BatchWriteItem", "over the partition's rate");
        assert!(throttled.is_transient() && throttled.is_throttled());
        assert!(!StoreError::not_found("UpdateProject", "no project p").is_transient());
    }
}
