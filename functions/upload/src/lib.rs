//! The upload function:
//! - `POST /v1/uploads` registers a file and answers with a presigned S3 PUT for its bytes;
//! - `POST /v1/runs/{run_key}/files` takes small files in the request itself (raw or multipart),
//!   optionally waiting (`?wait=SECS`) until they are parsed;
//! - `GET /v1/uploads/{file_id}` tells what became of a file.
//!
//! The project always comes from the token. Errors map to statuses in `verdict_http`.

#![warn(missing_docs)]

mod access;
mod config;
mod direct;
mod multipart;
mod presigned;
mod register;
mod validate;

pub use config::Limits;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use verdict_http::{respond, ApiError};
use verdict_store::Store;

/// What the function serves with.
pub struct App {
    /// The table and bucket.
    pub store: Store,
    /// What it accepts.
    pub limits: Limits,
}

/// Handles one HTTP request.
pub async fn handle(app: &App, request: Request) -> Response<Body> {
    respond(route(app, &request).await)
}

async fn route(app: &App, request: &Request) -> Result<Response<Body>, ApiError> {
    let path: Vec<&str> = request.uri().path().trim_matches('/').split('/').collect();
    let method = request.method();
    match (method, path.as_slice()) {
        (&Method::POST, ["v1", "uploads"]) => {
            presigned::create_upload(&app.store, &app.limits, request).await
        }
        (&Method::GET, ["v1", "uploads", file_id]) => {
            presigned::upload_state(&app.store, request, file_id).await
        }
        (&Method::POST, ["v1", "runs", run_key, "files"]) => {
            direct::direct_upload(&app.store, &app.limits, request, run_key).await
        }
        (_, ["v1", "uploads"] | ["v1", "uploads", _] | ["v1", "runs", _, "files"]) => {
            Err(ApiError::method_not_allowed())
        }
        _ => Err(ApiError::not_found(format!(
            "path {}",
            request.uri().path()
        ))),
    }
}

/// The route table, for the infrastructure check: method and path pattern of every route.
pub const ROUTES: [(&str, &str); 3] = [
    ("POST", "/v1/uploads"),
    ("GET", "/v1/uploads/{file_id}"),
    ("POST", "/v1/runs/{run_key}/files"),
];

#[cfg(test)]
mod tests {
    use super::*;

    async fn app() -> App {
        App {
            // Never reached: every request below stops before the store.
            store: Store::unreachable().await,
            limits: Limits::default(),
        }
    }

    fn request(method: &str, path: &str) -> Request {
        lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::Empty)
            .unwrap()
    }

    #[tokio::test]
    async fn routes_is_exactly_what_the_router_serves() {
        let app = app().await;
        for (method, path) in ROUTES {
            let path = path
                .replace("{file_id}", "0123456789abcdef0123456789abcdef")
                .replace("{run_key}", "build-1");
            // Served: authentication runs (and fails without a token).
            assert_eq!(
                handle(&app, request(method, &path)).await.status(),
                401,
                "{method} {path}"
            );
            // Another method on a served path is 405, not 404.
            let other = if method == "GET" { "POST" } else { "GET" };
            assert_eq!(
                handle(&app, request(other, &path)).await.status(),
                405,
                "{other} {path}"
            );
        }
        for (method, path) in [
            ("GET", "/v1/uploadz"),
            ("POST", "/v1/runs/x/other"),
            ("GET", "/"),
        ] {
            assert_eq!(
                handle(&app, request(method, path)).await.status(),
                404,
                "{method} {path}"
            );
        }
    }
}
