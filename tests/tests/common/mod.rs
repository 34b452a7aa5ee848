//! Shared helpers for the in-process HTTP tests: requests through `tower::ServiceExt::oneshot`,
//! problem-document assertions, and token forging; [`db`]: database fixtures (a fresh SQLite
//! file or PostgreSQL database per test) for the store tests.

#![allow(dead_code, unreachable_pub)]

pub mod db;
pub mod provider;
pub mod server;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `WWW-Authenticate` header, if any.
    pub fn www_authenticate(&self) -> Option<&str> {
        self.headers
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().expect("ASCII challenge"))
    }

    /// The `Content-Type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().expect("ASCII content type"))
    }

    /// The problem `detail`.
    pub fn detail(&self) -> String {
        self.json()["detail"]
            .as_str()
            .unwrap_or_else(|| panic!("no detail in {}", self.text()))
            .to_owned()
    }
}

/// Sends one request through a clone of `app`.
pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A request with any number of `Authorization` values.
pub fn request(method: &str, path: &str, authorization: &[HeaderValue]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    for value in authorization {
        builder = builder.header(header::AUTHORIZATION, value.clone());
    }
    builder.body(Body::empty()).expect("request")
}

/// `GET path` with no credential.
pub async fn get(app: &Router, path: &str) -> Reply {
    send(app, request("GET", path, &[])).await
}

/// `GET path` with `Authorization: <raw>`.
pub async fn get_with(app: &Router, path: &str, authorization: &str) -> Reply {
    let value = HeaderValue::from_str(authorization).expect("valid header value");
    send(app, request("GET", path, &[value])).await
}

/// `GET path` with `Authorization: Bearer <token>`.
pub async fn get_as(app: &Router, path: &str, token: &str) -> Reply {
    get_with(app, path, &format!("Bearer {token}")).await
}

/// Asserts an RFC 9457 problem response: status, content type, and the four members.
pub fn assert_problem(reply: &Reply, status: StatusCode, detail: &str) {
    assert_eq!(reply.status, status, "status; body: {}", reply.text());
    assert_eq!(
        reply.content_type(),
        Some("application/problem+json"),
        "content type; body: {}",
        reply.text()
    );
    let body = reply.json();
    assert_eq!(body["type"], "about:blank", "{body}");
    assert_eq!(
        body["title"],
        status.canonical_reason().expect("known status"),
        "{body}"
    );
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["detail"], detail, "{body}");
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(4),
        "only type, title, status and detail: {body}"
    );
}

/// Asserts an RFC 6749 §5.2 error of the token endpoint: a problem document (status, content
/// type, detail) that also carries `error` and `error_description`, never cached.
pub fn assert_oauth_error(reply: &Reply, status: StatusCode, error: &str, detail: &str) {
    assert_eq!(reply.status, status, "status; body: {}", reply.text());
    assert_eq!(reply.content_type(), Some("application/problem+json"));
    let body = reply.json();
    assert_eq!(body["type"], "about:blank", "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["detail"], detail, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_description"], detail, "{body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(6), "{body}");
    assert_eq!(
        reply
            .headers
            .get(header::CACHE_CONTROL)
            .map(|v| v.as_bytes()),
        Some(b"no-store".as_slice())
    );
}

/// Asserts a 401 for a presented but rejected token of `realm`.
pub fn assert_invalid_token(reply: &Reply, realm: &str, detail: &str) {
    assert_problem(reply, StatusCode::UNAUTHORIZED, detail);
    assert_eq!(
        reply.www_authenticate(),
        Some(format!(r#"Bearer realm="{realm}", error="invalid_token""#).as_str())
    );
}

/// Asserts a 200 and returns the body.
pub fn assert_ok(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.text());
    assert!(reply.www_authenticate().is_none());
    reply.text()
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs(),
    )
    .expect("time fits")
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token assembled by hand: any header, any payload, any signature.
pub fn raw_token(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string()),
        b64(payload.to_string())
    )
}

/// A JWT signed with `key` under `alg`, with `kid` in its header when given.
pub fn forge(key: &EncodingKey, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("forged token")
}

/// An HS256 JWT signed with `secret`.
pub fn forge_hs256(secret: &[u8], kid: Option<&str>, claims: &Value) -> String {
    forge(
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
        kid,
        claims,
    )
}

/// Well-formed access-token claims valid for ten minutes.
pub fn claims(login_type: &str, sub: &str, scope: &str) -> Value {
    let now = now();
    json!({
        "sub": sub,
        "login_type": login_type,
        "typ": "access",
        "iat": now,
        "exp": now + 600,
        "jti": "forged-jti",
        "scope": scope,
    })
}

/// `claims` with `overrides` merged in (`null` removes a claim).
pub fn with(mut base: Value, overrides: Value) -> Value {
    let object = base.as_object_mut().expect("claims object");
    for (k, v) in overrides.as_object().expect("overrides object") {
        if v.is_null() {
            object.remove(k);
        } else {
            object.insert(k.clone(), v.clone());
        }
    }
    base
}

/// The decoded payload of a token.
pub fn payload_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// An HS256 JWT with any header and raw payload bytes, signed with `secret`.
pub fn sign_with_header(secret: &[u8], header: &Value, payload: &[u8]) -> String {
    let message = format!("{}.{}", b64(header.to_string()), b64(payload));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    )
    .expect("HMAC signature");
    format!("{message}.{signature}")
}

/// An HS256 JWT over raw payload bytes (duplicate keys, trailing data, ...), signed with `secret`.
pub fn sign_raw(secret: &[u8], kid: Option<&str>, payload: &[u8]) -> String {
    let header = match kid {
        Some(kid) => json!({ "alg": "HS256", "typ": "JWT", "kid": kid }),
        None => json!({ "alg": "HS256", "typ": "JWT" }),
    };
    let message = format!("{}.{}", b64(header.to_string()), b64(payload));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    )
    .expect("HMAC signature");
    format!("{message}.{signature}")
}

/// A `tracing` writer that keeps what it is given, for tests that read the log back.
#[derive(Clone, Default)]
pub struct LogBuffer(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("UTF-8 log")
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
