//! Credentials the framework does not know (opaque tokens checked by an identity provider's
//! introspection endpoint, a signed header set by a gateway, ...): an application plugs a
//! [`CredentialVerifier`] into the credential seam, and every attribute (`#[requires]`,
//! `#[login_type]`, `#[roles]`, `#[policy]`) works on what it verified.

use std::future::Future;
use std::pin::Pin;

use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::error::AuthError;

/// The boxed future a [`CredentialVerifier`] returns.
pub type VerifyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<VerifiedCaller>, AuthError>> + Send + 'a>>;

/// A source of credentials of the application's own
/// ([`AuthManagerBuilder::credential_verifier`](crate::AuthManagerBuilder::credential_verifier)).
///
/// Verifiers run first, in registration order, before the built-in places (`X-API-Key`,
/// `Authorization: Bearer`, cookies): `Ok(None)` means "not mine" and the next place is
/// tried; `Ok(Some(caller))` authenticates the request; `Err` refuses it (say
/// [`AuthError::InvalidToken`] for a credential that is yours but bad, and
/// [`AuthError::Unavailable`] when your identity provider cannot be reached: never an allow).
///
/// ```
/// use auth_runtime::{AuthError, CredentialVerifier, InvalidToken, VerifiedCaller, VerifyFuture};
/// use axum::http::request::Parts;
///
/// /// Opaque tokens `opaque-<user>` (a stand-in for an introspection call).
/// struct OpaqueTokens;
///
/// impl CredentialVerifier for OpaqueTokens {
///     fn verify<'a>(&'a self, parts: &'a Parts) -> VerifyFuture<'a> {
///         Box::pin(async move {
///             let Some(value) = parts.headers.get("authorization") else { return Ok(None) };
///             let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer opaque-")) else {
///                 return Ok(None); // a JWT: the built-in verifier's
///             };
///             if token.is_empty() {
///                 return Err(AuthError::InvalidToken { realm: "user".into(), reason: InvalidToken::Malformed });
///             }
///             Ok(Some(VerifiedCaller::new(token, "user").scopes(["reports:read"])))
///         })
///     }
/// }
/// ```
pub trait CredentialVerifier: Send + Sync + 'static {
    /// Verifies the request's credential, if it is one of this verifier's.
    fn verify<'a>(&'a self, parts: &'a Parts) -> VerifyFuture<'a>;
}

/// What a [`CredentialVerifier`] verified: who the caller is, as which login type (one the
/// manager registered), with which scopes and claims.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifiedCaller {
    /// The subject (`sub`).
    pub subject: String,
    /// The login type the caller counts as (registered on the manager).
    pub login_type: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// Extra claims, readable by handlers and policies (`subject.<name>`).
    pub claims: Map<String, Value>,
    /// When the credential expires (seconds since the Unix epoch), if known.
    pub expires_at: Option<u64>,
}

impl VerifiedCaller {
    /// A caller with no scope and no extra claim.
    pub fn new(subject: impl Into<String>, login_type: impl Into<String>) -> Self {
        VerifiedCaller {
            subject: subject.into(),
            login_type: login_type.into(),
            scopes: Vec::new(),
            claims: Map::new(),
            expires_at: None,
        }
    }

    /// The granted scopes.
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// One extra claim.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// When the credential expires.
    pub fn expires_at(mut self, at: u64) -> Self {
        self.expires_at = Some(at);
        self
    }
}
