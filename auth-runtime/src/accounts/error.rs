//! [`AccountError`]: why an account operation failed, rendered as a problem response.

use std::fmt;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{AuthError, Problem};
use crate::password::PasswordError;
use crate::store::StoreError;

/// Why registration, sign-in or an account change failed.
///
/// It renders itself as `application/problem+json`; no variant carries a password, a hash or
/// a token, and sign-in failures never say whether the account exists.
///
/// ```
/// use auth_runtime::accounts::AccountError;
/// use axum::http::StatusCode;
///
/// assert_eq!(AccountError::InvalidCredentials.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(AccountError::EmailTaken.status(), StatusCode::CONFLICT);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountError {
    /// Unknown email or wrong password: one answer for both (401).
    InvalidCredentials,
    /// The account awaits an admin's approval (403).
    Pending,
    /// The registration was rejected (403).
    Rejected,
    /// The account is deactivated or banned (401).
    Deactivated,
    /// The account may not sign in with this login type (an admin login without the admin
    /// role): 403.
    NotAllowed,
    /// An account with this email exists (409).
    EmailTaken,
    /// The email is not a plausible address (422).
    InvalidEmail,
    /// The new password breaks the password policy (422).
    InvalidPassword(PasswordError),
    /// The current password given to change it is wrong (400).
    WrongCurrentPassword,
    /// No account matches (404).
    NotFound,
    /// The account is not in the state the operation needs, such as approving an account that
    /// is not pending (409).
    WrongState(&'static str),
    /// The request is malformed (400).
    BadRequest(String),
    /// The request is well-formed but its content is unusable (422).
    Unprocessable(String),
    /// A stored claim was given a name the runtime sets itself
    /// ([`RESERVED_CLAIMS`](crate::RESERVED_CLAIMS),
    /// [`ACCOUNT_CLAIMS`](crate::accounts::ACCOUNT_CLAIMS)); the name (422).
    ReservedClaim(String),
    /// The request body has a media type the route does not take (415).
    UnsupportedMediaType(&'static str),
    /// The request body is larger than the route reads (413); the limit in bytes.
    PayloadTooLarge(usize),
    /// Too many failed sign-ins or password changes (429 with `Retry-After`).
    Throttled(Duration),
    /// Too many registrations from the client's address (429 with `Retry-After`).
    RegistrationThrottled(Duration),
    /// Too many password-reset requests from the client's address (429 with `Retry-After`).
    ResetThrottled(Duration),
    /// A password-reset token that is unknown, malformed, spent, expired, or whose account
    /// changed since it was issued: one answer for all of them (400).
    InvalidResetToken,
    /// Password reset is not set up on the manager: no reset sender or no reset store (500;
    /// the reason is logged, never shown).
    NoPasswordReset(&'static str),
    /// The manager has no account store.
    NoUserStore,
    /// The manager has no API key store.
    NoApiKeyStore,
    /// The caller may not do this, and the message says why (403), such as asking an API key
    /// for scopes beyond its own.
    Forbidden(String),
    /// No API key of the caller has this id (404).
    UnknownApiKey,
    /// No live session of the account has this id (404).
    UnknownSession,
    /// Client authentication failed: an unknown client, a wrong secret, a deactivated service
    /// account; one answer for all (401; `invalid_client` at the token endpoint).
    InvalidClient,
    /// The request conflicts with what exists, and the message says how (409).
    Conflict(String),
    /// A token request asked for a scope the account is not granted (400; `invalid_scope` at
    /// the token endpoint).
    InvalidScope(String),
    /// An OpenID Connect sign-in failed: a bad or missing sign-in state (400), a refused code
    /// or ID token (401), the provider unreachable (503).
    Federation(crate::oidc::OidcError),
    /// Authentication failed (token rejected, store unreachable, ...).
    Auth(AuthError),
}

impl AccountError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AccountError::InvalidCredentials | AccountError::Deactivated => {
                StatusCode::UNAUTHORIZED
            }
            AccountError::Pending
            | AccountError::Rejected
            | AccountError::NotAllowed
            | AccountError::Forbidden(_) => StatusCode::FORBIDDEN,
            AccountError::UnknownApiKey | AccountError::UnknownSession => StatusCode::NOT_FOUND,
            AccountError::InvalidClient => StatusCode::UNAUTHORIZED,
            AccountError::Conflict(_) => StatusCode::CONFLICT,
            AccountError::InvalidScope(_) => StatusCode::BAD_REQUEST,
            AccountError::EmailTaken | AccountError::WrongState(_) => StatusCode::CONFLICT,
            AccountError::InvalidEmail
            | AccountError::InvalidPassword(_)
            | AccountError::Unprocessable(_)
            | AccountError::ReservedClaim(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AccountError::WrongCurrentPassword
            | AccountError::BadRequest(_)
            | AccountError::InvalidResetToken => StatusCode::BAD_REQUEST,
            AccountError::NotFound => StatusCode::NOT_FOUND,
            AccountError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AccountError::Throttled(_)
            | AccountError::RegistrationThrottled(_)
            | AccountError::ResetThrottled(_) => StatusCode::TOO_MANY_REQUESTS,
            AccountError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AccountError::NoUserStore
            | AccountError::NoApiKeyStore
            | AccountError::NoPasswordReset(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AccountError::Federation(e) => match e {
                crate::oidc::OidcError::State(_) => StatusCode::BAD_REQUEST,
                crate::oidc::OidcError::IdToken(_) | crate::oidc::OidcError::TokenEndpoint(_) => {
                    StatusCode::UNAUTHORIZED
                }
                _ => StatusCode::SERVICE_UNAVAILABLE,
            },
            AccountError::Auth(e) => e.status(),
        }
    }

    /// The problem `detail`, safe to show the caller.
    pub fn detail(&self) -> String {
        match self {
            AccountError::InvalidCredentials => "Invalid username or password".into(),
            AccountError::Pending => "The account is awaiting approval".into(),
            AccountError::Rejected => "The account registration was rejected".into(),
            AccountError::Deactivated => "The account is deactivated".into(),
            AccountError::NotAllowed => "The account may not sign in here".into(),
            AccountError::EmailTaken => "An account with this email already exists".into(),
            AccountError::InvalidEmail => "The email address is not valid".into(),
            AccountError::InvalidPassword(PasswordError::TooShort { min }) => {
                format!("The password must have at least {min} characters")
            }
            AccountError::InvalidPassword(PasswordError::TooLong { max }) => {
                format!("The password must have at most {max} characters")
            }
            AccountError::InvalidPassword(PasswordError::TooCommon) => {
                "The password is too common: choose one that is harder to guess".into()
            }
            AccountError::InvalidPassword(_) => "The password is not acceptable".into(),
            AccountError::WrongCurrentPassword => "The current password is wrong".into(),
            AccountError::NotFound => "No such account".into(),
            AccountError::WrongState(why) => (*why).into(),
            AccountError::BadRequest(why) | AccountError::Unprocessable(why) => why.clone(),
            AccountError::ReservedClaim(name) => format!(
                "The claim `{}` is reserved: the runtime sets it",
                name.escape_debug()
            ),
            AccountError::UnsupportedMediaType(expected) => {
                format!("The request body must be {expected}")
            }
            AccountError::Throttled(_) => "Too many failed sign-in attempts; retry later".into(),
            AccountError::PayloadTooLarge(limit) => {
                format!("The request body is larger than {limit} bytes")
            }
            AccountError::RegistrationThrottled(_) => {
                "Too many registrations from this address; retry later".into()
            }
            AccountError::ResetThrottled(_) => {
                "Too many password reset requests from this address; retry later".into()
            }
            AccountError::InvalidResetToken => {
                "The password reset token is invalid or has expired; ask for a new one".into()
            }
            AccountError::NoUserStore
            | AccountError::NoApiKeyStore
            | AccountError::NoPasswordReset(_) => "Internal error".into(),
            AccountError::Forbidden(why) => why.clone(),
            AccountError::UnknownApiKey => "No such API key".into(),
            AccountError::UnknownSession => "No such session".into(),
            AccountError::InvalidClient => "Client authentication failed".into(),
            AccountError::Conflict(why) => why.clone(),
            AccountError::InvalidScope(scope) => {
                format!("The scope `{scope}` is not granted to this account")
            }
            AccountError::Federation(e) => e.to_string(),
            AccountError::Auth(e) => e.detail(),
        }
    }
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail())
    }
}

impl std::error::Error for AccountError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AccountError::InvalidPassword(e) => Some(e),
            AccountError::Auth(e) => Some(e),
            _ => None,
        }
    }
}

impl From<AuthError> for AccountError {
    fn from(e: AuthError) -> Self {
        AccountError::Auth(e)
    }
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => AccountError::EmailTaken,
            other => AccountError::Auth(AuthError::from(other)),
        }
    }
}

impl From<crate::throttle::ThrottleError> for AccountError {
    /// Over budget is 429; a throttle store that cannot decide is the store's error (503 when
    /// unreachable), never an allow.
    fn from(e: crate::throttle::ThrottleError) -> Self {
        match e {
            crate::throttle::ThrottleError::Throttled(t) => AccountError::Throttled(t.retry_after),
            crate::throttle::ThrottleError::Store(e) => AccountError::Auth(AuthError::from(e)),
        }
    }
}

impl AccountError {
    /// A registration's [`ThrottleError`](crate::throttle::ThrottleError): over budget is
    /// [`RegistrationThrottled`](AccountError::RegistrationThrottled), a store failure as in
    /// `From<ThrottleError>`.
    pub(crate) fn registration(e: crate::throttle::ThrottleError) -> Self {
        match e {
            crate::throttle::ThrottleError::Throttled(t) => {
                AccountError::RegistrationThrottled(t.retry_after)
            }
            other => other.into(),
        }
    }

    /// A password-reset request's [`ThrottleError`](crate::throttle::ThrottleError): over
    /// budget is [`ResetThrottled`](AccountError::ResetThrottled), a store failure as in
    /// `From<ThrottleError>`.
    pub(crate) fn reset_request(e: crate::throttle::ThrottleError) -> Self {
        match e {
            crate::throttle::ThrottleError::Throttled(t) => {
                AccountError::ResetThrottled(t.retry_after)
            }
            other => other.into(),
        }
    }
}

impl From<crate::keyring::TokenError> for AccountError {
    fn from(e: crate::keyring::TokenError) -> Self {
        AccountError::Auth(AuthError::from(e))
    }
}

impl From<PasswordError> for AccountError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::TooShort { .. }
            | PasswordError::TooLong { .. }
            | PasswordError::TooCommon => AccountError::InvalidPassword(e),
            PasswordError::Unavailable | PasswordError::Overloaded => {
                AccountError::Auth(AuthError::Unavailable)
            }
            other => {
                tracing::error!(error = %other, "password hashing failed");
                AccountError::Auth(AuthError::Internal)
            }
        }
    }
}

impl IntoResponse for AccountError {
    fn into_response(self) -> Response {
        if let AccountError::Auth(e) = self {
            return e.into_response();
        }
        if matches!(self, AccountError::NoUserStore) {
            tracing::error!("an account route was called but the manager has no user store");
        }
        if let AccountError::NoPasswordReset(missing) = self {
            tracing::error!("a password-reset route was called but the manager has no {missing}");
        }
        let status = self.status();
        let mut response = Problem {
            r#type: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.detail(),
        }
        .into_response();
        let headers = response.headers_mut();
        match &self {
            AccountError::Throttled(wait)
            | AccountError::RegistrationThrottled(wait)
            | AccountError::ResetThrottled(wait) => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(wait.as_secs().max(1)),
                );
            }
            AccountError::InvalidCredentials | AccountError::Deactivated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}
