//! The `Authorization` header and the JSON / form body extractors, through a small secured
//! router: never a panic, never a 5xx, and a secured route answers 2xx only to a valid token.
//!
//! The input is a request in a raw-HTTP-like form: `METHOD /path` on the first line, then
//! `name: value` header lines, a blank line and the body. `$USER` and `$SVC` in a header value
//! are replaced by a fresh valid token of that login type, so the fuzzer reaches the handlers.
#![no_main]

use auth_fuzz::{ROUTER, RUNTIME, SVC, USER, valid_token};
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, Uri};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

fn split_once<'a>(data: &'a [u8], sep: &[u8]) -> (&'a [u8], &'a [u8]) {
    match data.windows(sep.len()).position(|w| w == sep) {
        Some(i) => (&data[..i], &data[i + sep.len()..]),
        None => (data, &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = split_once(data, b"\n\n");
    let mut lines = head.split(|b| *b == b'\n');
    let request_line = lines.next().unwrap_or_default();
    let (method, path) = split_once(request_line, b" ");
    let method = Method::from_bytes(method).unwrap_or(Method::GET);
    let uri = Uri::try_from(path).unwrap_or_else(|_| Uri::from_static("/"));
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_vec()))
        .expect("a request");
    let mut valid_credential = false;
    for line in lines {
        let (name, value) = split_once(line, b":");
        let value = value.strip_prefix(b" ").unwrap_or(value);
        let Ok(name) = HeaderName::from_bytes(name) else {
            continue;
        };
        let mut value = value.to_vec();
        for (placeholder, login_type) in [(&b"$USER"[..], USER), (&b"$SVC"[..], SVC)] {
            if let Some(i) = value
                .windows(placeholder.len())
                .position(|w| w == placeholder)
            {
                value.splice(i..i + placeholder.len(), valid_token(login_type).bytes());
                valid_credential = true;
            }
        }
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            request.headers_mut().append(name, value);
        }
    }
    let secured = request.uri().path().starts_with("/reports/") || request.uri().path() == "/me";
    let response = RUNTIME
        .block_on(ROUTER.clone().oneshot(request))
        .expect("infallible");
    let status = response.status();
    assert!(!status.is_server_error(), "{status}");
    if secured && status.is_success() {
        assert!(
            valid_credential,
            "a secured route answered {status} without a valid token"
        );
    }
});
