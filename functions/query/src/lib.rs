//! The query function: every read a dashboard makes, with a read token; the project comes from
//! the token. Each endpoint's DynamoDB cost per page is documented in `docs/data-model.md`; the
//! API is described by `openapi.json` beside this crate (served at `/v1/openapi.json`).
//!
//! [`router`] authenticates and dispatches; each resource has its file ([`runs`], [`results`],
//! [`history`], [`insights`], [`export`]); the insights' arithmetic is pure, in [`analytics`].

#![warn(missing_docs)]

mod analytics;
mod cache;
mod catalog;
mod compare;
mod cursor;
mod export;
mod flakiness;
mod history;
mod html_report;
mod insights;
mod pages;
mod params;
mod present;
mod results;
mod router;
mod runs;
mod tallies;
mod test_page;
mod trends;
mod uploads;

pub use cursor::CursorKey;

use lambda_http::http::header;
use lambda_http::{Body, Request, Response};
use std::time::Duration;
use verdict_http::{respond, ApiError};
use verdict_store::Store;

/// What the function serves with.
pub struct App {
    /// The table and bucket.
    pub store: Store,
    /// The secret that signs cursors.
    pub cursor_key: CursorKey,
    /// How long a request may work before it answers 503 `in_progress` ([`ANSWER_WITHIN`]).
    pub answer_within: Duration,
}

/// How long a request works before it answers 503 `in_progress` instead: inside the function's
/// 29 s timeout and API Gateway's 30 s, so the caller hears why rather than a bare 504; the
/// merged blocks of days a long window's cold read made by then are kept, so asking again
/// carries on.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(25);

/// Method and path pattern of every route this function serves (checked against the router by a
/// unit test and against `infra/template.yaml` and `openapi.json` by the checks).
pub const ROUTES: [(&str, &str); 18] = [
    ("GET", "/v1/runs"),
    ("GET", "/v1/runs/{run_key}"),
    ("GET", "/v1/runs/{run_key}/tests"),
    ("GET", "/v1/runs/{run_key}/tests/{test_id}"),
    ("GET", "/v1/runs/{run_key}/export"),
    ("GET", "/v1/runs/{run_key}/compare"),
    ("GET", "/v1/tests"),
    ("GET", "/v1/tests/{test_id}"),
    ("GET", "/v1/tests/{test_id}/history"),
    ("GET", "/v1/failures/{fingerprint}"),
    ("GET", "/v1/tests/slowest"),
    ("GET", "/v1/flaky"),
    ("GET", "/v1/failures"),
    ("GET", "/v1/stats"),
    ("GET", "/v1/stats/passing"),
    ("GET", "/v1/trends"),
    ("GET", "/v1/uploads"),
    ("GET", "/v1/openapi.json"),
];

/// The OpenAPI 3.1 description of the whole API (upload endpoints included).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Handles one HTTP request.
pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let if_none_match = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let routed = router::route(&app.store, &app.cursor_key, &request);
    let answered = tokio::time::timeout(app.answer_within, routed)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::in_progress(format!(
                "the answer takes longer than a request may ({} s); what this request made is \
                 kept, so the same request again carries on from there",
                app.answer_within.as_secs_f32()
            )))
        });
    let response = respond(answered);
    cache::with_etag(response, if_none_match.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn routes_is_exactly_what_the_router_serves() {
        let app = App {
            // Never reached: every request below stops before the store.
            store: Store::unreachable().await,
            cursor_key: CursorKey::new([1; 32]),
            answer_within: ANSWER_WITHIN,
        };
        let request = |method: &str, path: &str| {
            lambda_http::http::Request::builder()
                .method(method)
                .uri(path)
                .body(Body::Empty)
                .unwrap()
        };
        for (method, pattern) in ROUTES {
            let path = pattern
                .replace("{run_key}", "build-1")
                .replace("{test_id}", &"a".repeat(64))
                .replace("{fingerprint}", &"b".repeat(16));
            let expected = if path == "/v1/openapi.json" { 200 } else { 401 };
            assert_eq!(
                handle(&app, request(method, &path)).await.status(),
                expected,
                "{path}"
            );
            assert_eq!(
                handle(&app, request("POST", &path)).await.status(),
                405,
                "{path}"
            );
        }
        for path in ["/v1/run", "/v1/runs/a/b/c/d", "/v1/tests/x/y", "/"] {
            assert_eq!(
                handle(&app, request("GET", path)).await.status(),
                404,
                "{path}"
            );
        }
    }
}
