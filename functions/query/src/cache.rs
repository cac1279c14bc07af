//! HTTP caching of answers: an `ETag` on every successful GET (a 304 to a matching
//! `If-None-Match`), and how long a browser may keep an answer.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use sha2::{Digest, Sha256};

/// Successful GETs carry an `ETag` (a hash of the body) and answer 304 to a matching
/// `If-None-Match`.
pub(crate) fn with_etag(
    mut response: Response<Body>,
    if_none_match: Option<&str>,
) -> Response<Body> {
    if response.status() != StatusCode::OK {
        return response;
    }
    let bytes: &[u8] = match response.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => return response,
    };
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(bytes)[..12]));
    if if_none_match == Some(etag.as_str()) {
        let mut not_modified = Response::new(Body::Empty);
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        not_modified
            .headers_mut()
            .insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex"));
        return not_modified;
    }
    response
        .headers_mut()
        .insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex"));
    response
}

/// The response, which a browser may keep for `seconds` (private: it depends on the token).
pub(crate) fn cache(mut response: Response<Body>, seconds: u32) -> Response<Body> {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("private, max-age={seconds}")).expect("ascii"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matching_etag_answers_not_modified() {
        let ok = || Response::new(Body::Text("{\"a\":1}".into()));
        let tagged = with_etag(ok(), None);
        let etag = tagged.headers()[header::ETAG].to_str().unwrap().to_string();
        assert_eq!(
            with_etag(ok(), Some(&etag)).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(with_etag(ok(), Some("\"other\"")).status(), StatusCode::OK);
        let mut missing = Response::new(Body::Text("{}".into()));
        *missing.status_mut() = StatusCode::NOT_FOUND;
        assert!(with_etag(missing, None)
            .headers()
            .get(header::ETAG)
            .is_none());
    }
}
