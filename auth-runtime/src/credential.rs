//! Where a caller's credential comes from, and authentication: the one place that reads
//! credentials. Everything that needs the caller (the guard, [`Principal`], `CurrentUser`, the
//! policy path) goes through [`AuthManager::authenticate`].

use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::{AuthError, InvalidToken};
use crate::manager::AuthManager;
use crate::principal::Principal;
use crate::token::{ACCESS, MAX_TOKEN_LEN};

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

impl AuthManager {
    /// Returns the request's principal, verifying its token unless an earlier extractor did.
    /// `Ok(None)`: no credential. Checks nothing about login types or scopes.
    pub(crate) async fn principal_of(
        &self,
        parts: &mut Parts,
        accepted: &[&str],
    ) -> Result<Option<Principal>, AuthError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(Some(p.clone()));
        }
        let Some(token) = bearer_token(parts, || self.realm(accepted))? else {
            return Ok(None);
        };
        // Pure verification first, then the session (revocation) check, then cache it for
        // every later extractor of this request.
        let principal = self.verify(token, ACCESS, accepted)?;
        self.check_session(&principal).await?;
        parts.extensions.insert(principal.clone());
        Ok(Some(principal))
    }

    /// Authenticates the request for one of `accepted` login types (any when empty).
    pub(crate) async fn authenticate(
        &self,
        parts: &mut Parts,
        accepted: &[&str],
    ) -> Result<Principal, AuthError> {
        let principal = self.principal_of(parts, accepted).await?.ok_or_else(|| {
            AuthError::MissingCredentials {
                realm: self.realm(accepted),
            }
        })?;
        self.check_login_type(&principal, accepted)?;
        Ok(principal)
    }
}
