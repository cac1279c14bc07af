//! Which handler answers a request: the method and path, the token's scope, the run a path
//! names. The project always comes from the token.

use crate::cache::cache;
use crate::params::Query;
use crate::{
    catalog, compare, export, history, insights, results, runs, test_page, trends, uploads,
    CursorKey, OPENAPI, ROUTES,
};
use lambda_http::http::{header, HeaderValue, Method};
use lambda_http::{Body, Request, Response};
use verdict_http::present::run_ref;
use verdict_http::{authenticate, ApiError};
use verdict_store::{Scope, Store};

/// Answers `request`.
pub(crate) async fn route(
    store: &Store,
    cursor_key: &CursorKey,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let path: Vec<&str> = request.uri().path().trim_matches('/').split('/').collect();
    let unknown = || ApiError::not_found(format!("path {}", request.uri().path()));
    if request.method() != Method::GET {
        return match known(request.uri().path()) {
            true => Err(ApiError::method_not_allowed()),
            false => Err(unknown()),
        };
    }
    if path == ["v1", "openapi.json"] {
        let mut response = Response::new(Body::Text(OPENAPI.to_string()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(cache(response, 3600));
    }
    if !known(request.uri().path()) {
        return Err(unknown());
    }
    // A CI job holds an upload token: it may read the outcome of runs (`verdict upload --wait`),
    // and keep its report (`verdict report --html`), nothing across runs.
    let run_scoped = matches!(
        path.as_slice(),
        ["v1", "runs", _] | ["v1", "runs", _, "tests" | "compare" | "export"]
    );
    let scopes: &[Scope] = if run_scoped {
        &[Scope::Read, Scope::Upload]
    } else {
        &[Scope::Read]
    };
    let token = authenticate(store, request, scopes).await?;
    let project = &token.project;
    let q = &Query::new(cursor_key, request, project);
    match path.as_slice() {
        ["v1", "runs"] => runs::runs(store, q, project).await,
        ["v1", "runs", run] => runs::run_detail(store, &run_ref(project, run)?).await,
        ["v1", "runs", run, "tests"] => results::run_tests(store, q, &run_ref(project, run)?).await,
        ["v1", "runs", run, "tests", test_id] => {
            results::test_detail(store, &run_ref(project, run)?, test_id).await
        }
        ["v1", "runs", run, "export"] => export::export(store, q, &run_ref(project, run)?).await,
        ["v1", "runs", run, "compare"] => {
            compare::compare_run(store, q, &run_ref(project, run)?).await
        }
        ["v1", "tests"] => catalog::tests(store, q, project).await,
        ["v1", "tests", test_id, "history"] => history::history(store, q, project, test_id).await,
        ["v1", "tests", "slowest"] => insights::slowest(store, q, project).await,
        ["v1", "flaky"] => insights::flaky(store, q, project).await,
        ["v1", "failures"] => insights::failures(store, q, project).await,
        ["v1", "failures", fingerprint] => {
            insights::failure_group(store, q, project, fingerprint).await
        }
        ["v1", "tests", test_id] => test_page::test_page(store, q, project, test_id).await,
        ["v1", "stats"] => runs::stats(store, q, project).await,
        ["v1", "stats", "passing"] => runs::passing(store, q, project).await,
        ["v1", "trends"] => trends::trends(store, q, project).await,
        ["v1", "uploads"] => uploads::uploads(store, q, project).await,
        _ => Err(unknown()),
    }
}

/// Whether a path is one of [`ROUTES`].
fn known(path: &str) -> bool {
    ROUTES
        .iter()
        .any(|(_, pattern)| verdict_http::path_matches(pattern, path))
}
