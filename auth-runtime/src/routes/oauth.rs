//! The token endpoint's errors as OAuth2 clients read them (RFC 6749 §5.2): an `error` code
//! and an `error_description`, carried as extension members of the problem document (RFC 9457
//! allows them), so that both problem-aware and OAuth2 clients understand the refusal.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::accounts::AccountError;
use crate::error::AuthError;

/// An RFC 6749 §5.2 error of the token endpoint.
///
/// | `error` | status | when |
/// |---|---|---|
/// | `invalid_request` | 400 (413, 415 for a body too large or of another type) | a missing or malformed parameter |
/// | `invalid_client` | 401, `WWW-Authenticate: Basic` | client authentication failed |
/// | `invalid_grant` | 400 | a wrong password; an unknown, spent, expired or revoked refresh token; an account that may not sign in |
/// | `unsupported_grant_type` | 400 | a grant the endpoint does not offer |
/// | `invalid_scope` | 400 | a scope beyond what the account is granted |
/// | `temporarily_unavailable` | 429 or 503, `Retry-After` where known | throttled, or the store is unreachable |
/// | `server_error` | 500 | anything else |
///
/// ```
/// use auth_runtime::accounts::AccountError;
/// use auth_runtime::routes::OAuthError;
/// use axum::http::StatusCode;
///
/// let error = OAuthError::from(AccountError::InvalidCredentials);
/// assert_eq!(error.status(), StatusCode::BAD_REQUEST);
/// assert_eq!(error.code(), "invalid_grant");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
    retry_after: Option<u64>,
}

impl OAuthError {
    /// An error with this code, status and description (safe to show the client).
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// `invalid_request` (400).
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// `unsupported_grant_type` (400).
    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            description,
        )
    }

    /// `invalid_client` (401, with a `Basic` challenge).
    pub fn invalid_client() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The RFC 6749 `error` code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<AuthError> for OAuthError {
    fn from(e: AuthError) -> Self {
        let description = e.detail();
        match e {
            AuthError::Unavailable => {
                let mut error = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    description,
                );
                error.retry_after = Some(1);
                error
            }
            AuthError::Internal => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                description,
            ),
            AuthError::CrossSiteRequest | AuthError::CsrfTokenMismatch => {
                Self::new(StatusCode::FORBIDDEN, "invalid_request", description)
            }
            AuthError::DuplicateAuthorization | AuthError::AmbiguousCredentials => {
                Self::invalid_request(description)
            }
            // A refresh token that is not one, or no longer good.
            _ => Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description),
        }
    }
}

impl From<AccountError> for OAuthError {
    fn from(e: AccountError) -> Self {
        let description = e.detail();
        let grant = |d| Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d);
        match e {
            AccountError::Auth(e) => e.into(),
            AccountError::InvalidCredentials
            | AccountError::Pending
            | AccountError::Rejected
            | AccountError::Deactivated
            | AccountError::NotAllowed => grant(description),
            AccountError::InvalidClient => Self::invalid_client(),
            AccountError::InvalidScope(_) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
            }
            AccountError::Throttled(wait) | AccountError::RegistrationThrottled(wait) => {
                let mut error = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "temporarily_unavailable",
                    description,
                );
                error.retry_after = Some(wait.as_secs().max(1));
                error
            }
            AccountError::NoUserStore | AccountError::NoApiKeyStore => {
                tracing::error!("the token endpoint was called but the manager has no store");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    description,
                )
            }
            AccountError::PayloadTooLarge(_) | AccountError::UnsupportedMediaType(_) => {
                Self::new(e.status(), "invalid_request", description)
            }
            _ => Self::invalid_request(description),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    r#type: &'static str,
    title: &'static str,
    status: u16,
    detail: &'a str,
    error: &'static str,
    error_description: &'a str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = Body {
            r#type: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: &self.description,
            error: self.code,
            error_description: &self.description,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(wait) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(wait));
        }
        if self.code == "invalid_client" {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"token\""),
            );
        }
        response
    }
}
