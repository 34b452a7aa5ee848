//! Where a caller's credential comes from: the one place that reads credentials off a request.
//! Authentication (`pipeline`) asks it and nothing else does.
//!
//! The places, in the order they are read: the application's own verifiers ([`custom`]), an
//! `X-API-Key` header (where the login type takes API keys), then the `Authorization: Bearer`
//! header, then the access cookie of each accepted
//! login type that reads cookies, in registration order ([`cookie`]). A request carrying a key
//! and a header is refused with 400 (which one did the client mean?), as is one with two of
//! either, or a header token beside a different cookie token of the same login type.

pub(crate) mod cookie;
pub(crate) mod custom;

use axum::http::HeaderName;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::{AuthError, InvalidToken};
use crate::keyring::MAX_TOKEN_LEN;

/// Reads the bearer token of a request: `Ok(None)` when there is no `Authorization` header.
pub(crate) fn bearer_token(
    parts: &Parts,
    realm: impl Fn() -> String,
) -> Result<Option<&str>, AuthError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::DuplicateAuthorization);
    }
    let malformed = || AuthError::MalformedAuthorization { realm: realm() };
    // RFC 7235 §2.1: the auth scheme is case-insensitive.
    let bytes = value.as_bytes();
    let says_bearer = bytes.len() >= 6 && bytes[..6].eq_ignore_ascii_case(b"bearer");
    if !says_bearer {
        return Err(AuthError::UnsupportedScheme { realm: realm() });
    }
    let value = value.to_str().map_err(|_| malformed())?;
    let token = value[6..]
        .strip_prefix(' ')
        .ok_or_else(malformed)?
        .trim_start_matches(' ');
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::InvalidToken {
            realm: realm(),
            reason: InvalidToken::TooLarge,
        });
    }
    if token.is_empty() || token.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(malformed());
    }
    Ok(Some(token))
}

/// The API key header.
pub(crate) static API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Reads the `X-API-Key` header: `Ok(None)` when there is none. Two of them, or one beside an
/// `Authorization` header, are ambiguous (400). A value that cannot be a key is returned as
/// is: the key check refuses it with the same answer as any other bad key.
pub(crate) fn api_key(parts: &Parts) -> Result<Option<&str>, AuthError> {
    let mut values = parts.headers.get_all(&API_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() || parts.headers.contains_key(AUTHORIZATION) {
        return Err(AuthError::AmbiguousCredentials);
    }
    Ok(Some(value.to_str().unwrap_or_default()))
}
