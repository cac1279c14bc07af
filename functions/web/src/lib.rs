//! The web function: serves the dashboard (`ui/`, a single-page app) on the same HTTP API as
//! `/v1`, so the page reads the API from its own origin. Every page's address answers the same
//! `index.html` (the page reads its view from the address); the scripts and styles it loads
//! have content-hashed names and are kept by browsers for good.
#![warn(missing_docs)]

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

/// One file of the built dashboard.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    etag: &'static str,
    bytes: &'static [u8],
    gzipped: &'static [u8],
}

static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Method and path pattern of every route this function serves (checked against
/// `infra/template.yaml`); the page addresses are the views of `ui/src/route.ts`.
pub const ROUTES: [(&str, &str); 8] = [
    ("GET", "/"),
    ("GET", "/signin"),
    ("GET", "/runs/{run_key}"),
    ("GET", "/tests/{test_id}"),
    ("GET", "/failures/{fingerprint}"),
    ("GET", "/insights"),
    ("GET", "/uploads"),
    ("GET", "/assets/{file}"),
];

/// Whether `path` is one this function serves.
pub fn serves(path: &str) -> bool {
    ROUTES
        .iter()
        .any(|(_, pattern)| path_matches(pattern, path))
}

/// The same rule as `verdict_http::path_matches`, kept here because that crate brings the store
/// and the AWS SDK, which this function (it calls no AWS service) does not need in its binary.
fn path_matches(pattern: &str, path: &str) -> bool {
    let parts: Vec<&str> = pattern.split('/').collect();
    let segments: Vec<&str> = path.split('/').collect();
    parts.len() == segments.len()
        && parts
            .iter()
            .zip(&segments)
            .all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s)
}

/// The answer to a request for the dashboard.
pub fn handle(request: &Request) -> Response<Body> {
    let path = request.uri().path();
    let asset = if path.starts_with("/assets/") {
        ASSETS.iter().find(|a| a.path == path)
    } else if serves(path) {
        ASSETS.iter().find(|a| a.path == "/index.html")
    } else {
        None
    };
    let Some(asset) = asset else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let header_of = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
    let mut response = if header_of(header::IF_NONE_MATCH) == Some(asset.etag) {
        status_only(StatusCode::NOT_MODIFIED)
    } else if header_of(header::ACCEPT_ENCODING).is_some_and(accepts_gzip) {
        let mut r = Response::new(Body::Binary(asset.gzipped.to_vec()));
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        Response::new(Body::Binary(asset.bytes.to_vec()))
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    // A hashed asset never changes; the page itself is asked again each time (a new deploy
    // names new assets).
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if asset.path.starts_with("/assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|coding| {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
        (name == "gzip" || name == "*") && !refused
    })
}

fn status_only(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::Text(text.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, headers: &[(&'static str, &str)]) -> Response<Body> {
        let mut builder = lambda_http::http::Request::builder().uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        handle(&builder.body(Body::Empty).unwrap())
    }

    fn bytes(response: &Response<Body>) -> &[u8] {
        match response.body() {
            Body::Binary(b) => b,
            Body::Text(t) => t.as_bytes(),
            _ => &[],
        }
    }

    #[test]
    fn every_view_answers_the_page_and_its_assets_are_immutable() {
        for path in [
            "/",
            "/signin",
            "/runs/build-1",
            "/tests/abc",
            "/failures/f",
            "/insights",
            "/uploads",
        ] {
            let page = get(path, &[]);
            assert_eq!(page.status(), 200, "{path}");
            assert!(String::from_utf8_lossy(bytes(&page)).contains("<div id=\"app\">"));
            assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache");
        }
        let page = String::from_utf8_lossy(bytes(&get("/", &[]))).into_owned();
        let script = page
            .split("src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the page loads a script");
        assert!(script.starts_with("/assets/"), "{script}");
        let asset = get(script, &[]);
        assert_eq!(asset.status(), 200);
        assert_eq!(
            asset.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert!(asset.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
    }

    #[test]
    fn gzip_when_accepted_and_not_modified_on_a_matching_etag() {
        let plain = get("/", &[]);
        let gzipped = get("/", &[("accept-encoding", "br, gzip;q=0.8")]);
        assert_eq!(gzipped.headers()[header::CONTENT_ENCODING], "gzip");
        assert!(bytes(&gzipped).len() < bytes(&plain).len());
        assert!(get("/", &[("accept-encoding", "gzip;q=0")])
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_none());
        let etag = plain.headers()[header::ETAG].to_str().unwrap().to_owned();
        let again = get("/runs/x", &[("if-none-match", &etag)]);
        assert_eq!(again.status(), 304);
        assert!(bytes(&again).is_empty());
    }

    #[test]
    fn other_paths_are_not_found() {
        for path in [
            "/v1/runs",
            "/runs",
            "/runs/a/b",
            "/assets/missing.js",
            "/index.html/x",
        ] {
            assert_eq!(get(path, &[]).status(), 404, "{path}");
        }
    }
}
