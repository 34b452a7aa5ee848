//! Errors on the wire: `application/problem+json` (RFC 9457) with RFC 6750 `WWW-Authenticate`.

use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Why a presented token was rejected. Never carries the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidToken {
    /// Not three base64url parts, undecodable header or payload, or a claim of the wrong type.
    Malformed,
    /// Longer than the accepted maximum ([`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN)).
    TooLarge,
    /// The `alg` is not the algorithm of the key it names (including `none`).
    Algorithm,
    /// The `kid` names no key of this application.
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// `exp` is in the past, beyond the leeway.
    Expired,
    /// `nbf` is in the future, beyond the leeway.
    NotYetValid,
    /// `iat` is in the future, beyond the leeway.
    IssuedInFuture,
    /// `iss` is missing or not the configured issuer.
    Issuer,
    /// `aud` is missing, or does not name the configured audience, or names one when none is
    /// configured.
    Audience,
    /// A refresh token was presented where an access token is needed (or the reverse).
    WrongType,
    /// A required claim is missing.
    MissingClaim(&'static str),
    /// The token was revoked (logout, password change, banned account).
    Revoked,
    /// The token's subject no longer exists (the [`UserLoader`](crate::UserLoader) found none).
    UnknownSubject,
    /// The JOSE header names critical extensions (`crit`); none are understood here.
    CriticalHeader,
    /// `exp - iat` is longer than the login type's lifetime (plus leeway).
    LifetimeTooLong,
    /// An API key that does not authenticate: unknown, wrong secret, wrong shape, revoked,
    /// expired, or its owner changed. One answer for all of them.
    InvalidApiKey,
}

impl InvalidToken {
    /// A short, safe description for the problem `detail`.
    pub fn describe(self) -> String {
        match self {
            InvalidToken::Malformed => "The token is malformed".into(),
            InvalidToken::TooLarge => "The token is too large".into(),
            InvalidToken::Algorithm => "The token's algorithm is not accepted".into(),
            InvalidToken::UnknownKey => "The token's signing key is unknown".into(),
            InvalidToken::Signature => "The token's signature is invalid".into(),
            InvalidToken::Expired => "The token has expired".into(),
            InvalidToken::NotYetValid => "The token is not valid yet".into(),
            InvalidToken::IssuedInFuture => "The token is issued in the future".into(),
            InvalidToken::Issuer => "The token's issuer is not accepted".into(),
            InvalidToken::Audience => "The token's audience is not accepted".into(),
            InvalidToken::WrongType => "The token is not an access token".into(),
            InvalidToken::MissingClaim(c) => format!("The token has no `{c}` claim"),
            InvalidToken::Revoked => "The token has been revoked".into(),
            InvalidToken::UnknownSubject => "The token's subject no longer exists".into(),
            InvalidToken::CriticalHeader => {
                "The token's header names critical extensions that are not supported".into()
            }
            InvalidToken::LifetimeTooLong => {
                "The token's lifetime is longer than its login type allows".into()
            }
            InvalidToken::InvalidApiKey => "The API key is not valid".into(),
        }
    }
}

/// Which scopes a handler needs, as reported in an [`AuthError::InsufficientScope`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissingScopes {
    /// All of these were required and are not granted.
    All(Vec<String>),
    /// One of these was required and none is granted.
    AnyOf(Vec<String>),
}

/// Every way a request can fail authentication or authorization.
///
/// It renders itself as `application/problem+json` ([`IntoResponse`]); an application can replace
/// the body format with an [`ErrorRenderer`].
///
/// ```
/// use auth_runtime::AuthError;
/// use axum::http::StatusCode;
///
/// let err = AuthError::MissingCredentials { realm: "user".into() };
/// assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(err.www_authenticate().as_deref(), Some(r#"Bearer realm="user""#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// No credential was presented.
    MissingCredentials {
        /// The login type that would be accepted.
        realm: String,
    },
    /// The `Authorization` header uses another scheme (`Basic`, ...): as RFC 6750 §3.1 asks, the
    /// challenge carries no error code, as if no credential had been sent.
    UnsupportedScheme {
        /// The login type that would be accepted.
        realm: String,
    },
    /// The `Authorization` header says `Bearer` but is not `Bearer <token>`.
    MalformedAuthorization {
        /// The login type that would be accepted.
        realm: String,
    },
    /// More than one `Authorization` header: the request is ambiguous (400).
    DuplicateAuthorization,
    /// More than one credential where one is read: an `X-API-Key` with an `Authorization`
    /// header, two `X-API-Key` headers, or a header token and a differing cookie token of one
    /// login type (400).
    AmbiguousCredentials,
    /// An unsafe request authenticated by cookie that the browser says comes from another
    /// site (`Sec-Fetch-Site: cross-site`, or a foreign or `null` `Origin`): 403.
    CrossSiteRequest,
    /// An unsafe request authenticated by cookie without the session's `X-CSRF-Token`, or
    /// with another one: 403.
    CsrfTokenMismatch,
    /// A token was presented and rejected.
    InvalidToken {
        /// The login type that would be accepted.
        realm: String,
        /// Why.
        reason: InvalidToken,
    },
    /// A valid token of another login type.
    LoginTypeMismatch {
        /// The login type(s) this handler accepts.
        expected: Vec<String>,
        /// The token's login type.
        found: String,
    },
    /// Authenticated but missing scopes (403).
    InsufficientScope {
        /// The caller's login type.
        realm: String,
        /// What is missing.
        missing: MissingScopes,
    },
    /// Authenticated but holding none of the required roles (403).
    MissingRole {
        /// The caller's login type.
        realm: String,
        /// The roles of which one was required.
        roles: Vec<String>,
    },
    /// The policy engine denied the action on the resource (403).
    PolicyDenied {
        /// The action asked for.
        action: String,
        /// The resource it was asked on.
        resource: String,
        /// A human-readable reason (which rule decided, or that none allowed it).
        reason: String,
    },
    /// The resource a policy decides about does not exist (its loader found nothing): 404.
    ResourceNotFound {
        /// The resource type.
        resource: String,
    },
    /// A path parameter is not valid UTF-8 once percent-decoded, so a policy cannot read it
    /// (400).
    InvalidPathParameter,
    /// The session store cannot be reached, or the revocation list is older than its
    /// staleness bound: 503, never an allow. Retry later.
    Unavailable,
    /// A server-side failure (misconfiguration, a store error). Details go to the log, not the
    /// wire.
    Internal,
}

impl AuthError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::MissingCredentials { .. }
            | AuthError::UnsupportedScheme { .. }
            | AuthError::MalformedAuthorization { .. }
            | AuthError::InvalidToken { .. }
            | AuthError::LoginTypeMismatch { .. } => StatusCode::UNAUTHORIZED,
            AuthError::DuplicateAuthorization
            | AuthError::AmbiguousCredentials
            | AuthError::InvalidPathParameter => StatusCode::BAD_REQUEST,
            AuthError::InsufficientScope { .. }
            | AuthError::MissingRole { .. }
            | AuthError::PolicyDenied { .. }
            | AuthError::CrossSiteRequest
            | AuthError::CsrfTokenMismatch => StatusCode::FORBIDDEN,
            AuthError::ResourceNotFound { .. } => StatusCode::NOT_FOUND,
            AuthError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem `title`.
    pub fn title(&self) -> &'static str {
        match self {
            AuthError::DuplicateAuthorization
            | AuthError::AmbiguousCredentials
            | AuthError::InvalidPathParameter => "Bad Request",
            AuthError::ResourceNotFound { .. } => "Not Found",
            AuthError::Internal => "Internal Server Error",
            AuthError::Unavailable => "Service Unavailable",
            e if e.status() == StatusCode::FORBIDDEN => "Forbidden",
            _ => "Unauthorized",
        }
    }

    /// The problem `detail`: what went wrong, in words safe to show the caller.
    pub fn detail(&self) -> String {
        match self {
            AuthError::MissingCredentials { .. } => "Authentication required".into(),
            AuthError::UnsupportedScheme { .. } | AuthError::MalformedAuthorization { .. } => {
                "The Authorization header must be `Bearer <token>`".into()
            }
            AuthError::DuplicateAuthorization => {
                "The request has more than one Authorization header".into()
            }
            AuthError::AmbiguousCredentials => {
                "The request carries more than one credential; send exactly one".into()
            }
            AuthError::CrossSiteRequest => "Cross-site request refused".into(),
            AuthError::CsrfTokenMismatch => {
                "The X-CSRF-Token header is missing or does not match the session".into()
            }
            AuthError::InvalidToken { reason, .. } => reason.describe(),
            AuthError::LoginTypeMismatch { expected, found } => format!(
                "A token of login type `{found}` is not accepted here (expected {})",
                join_quoted(expected, " or ")
            ),
            AuthError::InsufficientScope { missing, .. } => match missing {
                MissingScopes::All(m) if m.len() == 1 => {
                    format!("Token is missing required scope: {}", m[0])
                }
                MissingScopes::All(m) => {
                    format!("Token is missing required scopes: {}", m.join(", "))
                }
                MissingScopes::AnyOf(m) => {
                    format!("Token needs one of the scopes: {}", m.join(", "))
                }
            },
            AuthError::MissingRole { roles, .. } if roles.len() == 1 => {
                format!("Token does not hold the required role: {}", roles[0])
            }
            AuthError::MissingRole { roles, .. } => {
                format!("Token holds none of the roles: {}", roles.join(", "))
            }
            AuthError::PolicyDenied {
                action,
                resource,
                reason,
            } => format!("Action `{action}` on resource `{resource}` is denied: {reason}"),
            AuthError::ResourceNotFound { resource } => {
                format!("The requested `{resource}` resource does not exist")
            }
            AuthError::Unavailable => {
                "Authentication is temporarily unavailable; try again shortly".into()
            }
            AuthError::InvalidPathParameter => {
                "A path parameter is not valid UTF-8 once percent-decoded".into()
            }
            AuthError::Internal => "Internal error".into(),
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750), where the status calls for one.
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            AuthError::MissingCredentials { realm } | AuthError::UnsupportedScheme { realm } => {
                Some(format!("Bearer realm=\"{realm}\""))
            }
            // docs/architecture.md §4: a presented credential that is not a usable token is
            // `invalid_token`.
            AuthError::MalformedAuthorization { realm } | AuthError::InvalidToken { realm, .. } => {
                Some(format!("Bearer realm=\"{realm}\", error=\"invalid_token\""))
            }
            AuthError::LoginTypeMismatch { expected, .. } => Some(format!(
                "Bearer realm=\"{}\", error=\"invalid_token\"",
                expected.first().map(String::as_str).unwrap_or("api")
            )),
            AuthError::InsufficientScope { realm, missing } => {
                let scopes = match missing {
                    MissingScopes::All(m) | MissingScopes::AnyOf(m) => m.join(" "),
                };
                Some(format!(
                    "Bearer realm=\"{realm}\", error=\"insufficient_scope\", scope=\"{scopes}\""
                ))
            }
            AuthError::MissingRole { realm, .. } => Some(format!(
                "Bearer realm=\"{realm}\", error=\"insufficient_scope\""
            )),
            AuthError::PolicyDenied { .. }
            | AuthError::ResourceNotFound { .. }
            | AuthError::DuplicateAuthorization
            | AuthError::AmbiguousCredentials
            | AuthError::CrossSiteRequest
            | AuthError::CsrfTokenMismatch
            | AuthError::InvalidPathParameter
            | AuthError::Unavailable
            | AuthError::Internal => None,
        }
    }

    /// The RFC 9457 problem document of this error.
    pub fn problem(&self) -> Problem {
        Problem {
            r#type: "about:blank",
            title: self.title(),
            status: self.status().as_u16(),
            detail: self.detail(),
        }
    }
}

fn join_quoted(items: &[String], sep: &str) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(sep)
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail())
    }
}

impl std::error::Error for AuthError {}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Always `about:blank`: the status and title say it all.
    pub r#type: &'static str,
    /// The HTTP reason phrase.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong.
    pub detail: String,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            )],
            body,
        )
            .into_response()
    }
}

/// Turns an [`AuthError`] into a response. Replace the default ([`ProblemJson`]) to change the
/// body format; the `WWW-Authenticate` header is added afterwards unless the renderer set one.
///
/// ```
/// use auth_runtime::{AuthError, ErrorRenderer};
/// use axum::response::{IntoResponse, Response};
///
/// struct PlainText;
/// impl ErrorRenderer for PlainText {
///     fn render(&self, error: &AuthError) -> Response {
///         (error.status(), error.detail()).into_response()
///     }
/// }
/// ```
pub trait ErrorRenderer: Send + Sync + 'static {
    /// Renders the error (status and body).
    fn render(&self, error: &AuthError) -> Response;
}

/// The default renderer: `application/problem+json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemJson;

impl ErrorRenderer for ProblemJson {
    fn render(&self, error: &AuthError) -> Response {
        error.problem().into_response()
    }
}

/// Renders `error` with `renderer` and adds the `WWW-Authenticate` challenge.
pub(crate) fn render_with(renderer: &dyn ErrorRenderer, error: &AuthError) -> Response {
    let mut response = renderer.render(error);
    if !response.headers().contains_key(header::WWW_AUTHENTICATE)
        && let Some(challenge) = error.www_authenticate()
        && let Ok(value) = HeaderValue::from_str(&challenge)
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    if matches!(error, AuthError::Unavailable)
        && !response.headers().contains_key(header::RETRY_AFTER)
    {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

impl From<crate::store::StoreError> for AuthError {
    /// An unreachable store is [`AuthError::Unavailable`] (503); any other store failure is
    /// logged and answered as [`AuthError::Internal`] (500).
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "the store is unavailable");
            AuthError::Unavailable
        } else {
            tracing::error!(error = %e, "the store failed");
            AuthError::Internal
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        render_with(&ProblemJson, &self)
    }
}
