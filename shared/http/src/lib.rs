//! What the HTTP functions (upload, query) share: the one mapping from errors to HTTP statuses,
//! JSON responses, authentication by project token, and the one JSON shape of each resource
//! both serve ([`present`]).

#![warn(missing_docs)]

pub mod present;

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use verdict_store::{Scope, Store, StoreError, TokenInfo};

/// An error as the API reports it: `{"error": {"code", "message"}}` with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable code (`invalid_request`, `not_found`, ...).
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// Seconds after which the same request may do better (`Retry-After`), when it may.
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error, with `Retry-After: seconds`.
    fn retry_after(self, seconds: u32) -> ApiError {
        ApiError {
            retry_after: Some(seconds),
            ..self
        }
    }

    /// 400: the request is invalid; `field` names what is wrong.
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("{field}: {reason}"),
        )
    }

    /// 401: no token, or one that is unknown or revoked.
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid token is required: Authorization: Bearer vdt_…",
        )
    }

    /// 403: a valid token without the scope this needs.
    pub fn forbidden(needed: &[Scope]) -> ApiError {
        let scopes: Vec<&str> = needed.iter().map(|s| s.as_str()).collect();
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this needs a token with scope {}", scopes.join(" or ")),
        )
    }

    /// 404: nothing by that name in the token's project.
    pub fn not_found(what: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 409: the request contradicts what is stored.
    pub fn conflict(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", reason)
    }

    /// 405: the path exists but not with this method.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this path",
        )
    }

    /// 413: more bytes than allowed.
    pub fn too_large(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", reason)
    }

    /// 429: over the project's request rate.
    pub fn rate_limited(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", reason)
    }

    /// 503: ingestion switched off for the project, or the store is briefly unavailable.
    pub fn unavailable(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", reason)
    }

    /// 503: the answer takes longer than a request may. What the request made on the way and
    /// keeps (a long window's merged blocks of days) stays, so the same request again carries
    /// on from there.
    pub fn in_progress(reason: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "in_progress", reason).retry_after(1)
    }

    /// The error as its JSON response (server errors are logged).
    pub fn into_response(self) -> Response<Body> {
        if self.status.is_server_error() {
            tracing::warn!(code = self.code, message = %self.message, "request failed");
        }
        let mut response = json(
            self.status,
            &serde_json::json!({"error": {"code": self.code, "message": self.message}}),
        );
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match &err {
            StoreError::Transient(f) => {
                ApiError::unavailable(format!("storage is busy, retry shortly ({})", f.operation))
                    .retry_after(1)
            }
            StoreError::Conflict(f) => ApiError::conflict(f.message.clone()),
            StoreError::NotFound(f) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", f.message.clone())
            }
            StoreError::Permanent(_) => {
                tracing::error!(error = %err, "store error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; it was logged",
                )
            }
        }
    }
}

/// A JSON response.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("static response parts are valid")
}

/// A handler's result as a response.
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(ApiError::into_response)
}

/// The project and scope of the request's bearer token, if it has one of `scopes`.
pub async fn authenticate(
    store: &Store,
    request: &Request,
    scopes: &[Scope],
) -> Result<TokenInfo, ApiError> {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(ApiError::unauthorized)?;
    let info = store
        .authenticate(token.trim())
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if scopes.contains(&info.scope) {
        Ok(info)
    } else {
        Err(ApiError::forbidden(scopes))
    }
}

/// The request body's bytes (API Gateway hands binary bodies over base64-decoded already).
pub fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// A query-string parameter.
pub fn query_param(request: &Request, name: &str) -> Option<String> {
    use lambda_http::RequestExt;
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_string)
}

/// Milliseconds since the epoch as an RFC 3339 UTC timestamp (`2026-11-21T23:13:39Z`).
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Whether `path` fits a route pattern like `/v1/runs/{run_key}/tests` (placeholders match
/// any one segment).
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let parts: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    parts.len() == segments.len()
        && parts
            .iter()
            .zip(&segments)
            .all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_store_error_has_its_status() {
        let status = |err: StoreError| ApiError::from(err).status.as_u16();
        assert_eq!(status(StoreError::transient("Query", "throttled")), 503);
        assert_eq!(
            status(StoreError::conflict("RegisterFile", "already registered")),
            409
        );
        assert_eq!(
            status(StoreError::not_found("RevokeToken", "no token")),
            404
        );
        assert_eq!(status(StoreError::permanent("PutItem", "refused")), 500);
        let conflict = ApiError::from(StoreError::conflict("RegisterFile", "file id x is taken"));
        assert_eq!(conflict.message, "file id x is taken");
    }

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_302_819_000), "2026-11-21T23:13:39Z");
    }

    #[test]
    fn placeholders_match_one_non_empty_segment() {
        assert!(super::path_matches(
            "/v1/runs/{run_key}/tests",
            "/v1/runs/b-1/tests"
        ));
        assert!(!super::path_matches(
            "/v1/runs/{run_key}/tests",
            "/v1/runs//tests"
        ));
        assert!(!super::path_matches("/v1/runs/{run_key}", "/v1/runs/a/b"));
        assert!(!super::path_matches("/v1/runs", "/v1/run"));
    }
}
