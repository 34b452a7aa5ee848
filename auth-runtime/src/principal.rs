//! The verified caller: [`Principal`]. (Its extractors, with [`CurrentUser`](crate::CurrentUser)
//! for the application's own user type, are in `extract`.)

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use crate::scope::GrantedScopes;

struct Data {
    subject: String,
    login_type: Arc<str>,
    scope: String,
    jti: String,
    sid: Option<String>,
    issued_at: u64,
    expires_at: u64,
    /// The decoded JSON payload, parsed again only if extra claims are read.
    payload: Vec<u8>,
    claims: OnceLock<Map<String, Value>>,
    credential: CredentialKind,
}

/// What kind of credential a [`Principal`] presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialKind {
    /// An access token in the `Authorization: Bearer` header.
    Bearer,
    /// An API key in the `X-API-Key` header.
    ApiKey,
    /// An access token in a session cookie.
    Cookie,
    /// A credential an application's [`CredentialVerifier`](crate::CredentialVerifier)
    /// verified.
    Custom,
}

impl CredentialKind {
    /// A short name: `bearer`, `api_key`, `cookie`, `custom`.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Bearer => "bearer",
            CredentialKind::ApiKey => "api_key",
            CredentialKind::Cookie => "cookie",
            CredentialKind::Custom => "custom",
        }
    }
}

/// The verified caller of a request: subject, login type, scopes and claims.
///
/// Use it as an extractor. In a handler annotated with `#[requires]`, `#[login_type]`,
/// `#[authenticated]` or `#[policy]`, it is the principal the guard already verified (a token is
/// verified once per request, however many extractors ask). Elsewhere it verifies the request
/// itself, accepting every login type. `Option<Principal>` is `None` when no credential was sent.
/// Cheap to clone.
#[derive(Clone)]
pub struct Principal(Arc<Data>);

impl Principal {
    #[expect(
        clippy::too_many_arguments,
        reason = "one constructor, called by `verify` only"
    )]
    pub(crate) fn new(
        subject: String,
        login_type: Arc<str>,
        scope: String,
        jti: String,
        sid: Option<String>,
        issued_at: u64,
        expires_at: u64,
        payload: Vec<u8>,
    ) -> Self {
        Principal(Arc::new(Data {
            subject,
            login_type,
            scope,
            jti,
            sid,
            issued_at,
            expires_at,
            payload,
            claims: OnceLock::new(),
            credential: CredentialKind::Bearer,
        }))
    }

    /// The same principal, presented as another kind of credential.
    pub(crate) fn with_credential(self, kind: CredentialKind) -> Self {
        match Arc::try_unwrap(self.0) {
            Ok(mut data) => {
                data.credential = kind;
                Principal(Arc::new(data))
            }
            Err(shared) => {
                let d = &*shared;
                Principal(Arc::new(Data {
                    subject: d.subject.clone(),
                    login_type: d.login_type.clone(),
                    scope: d.scope.clone(),
                    jti: d.jti.clone(),
                    sid: d.sid.clone(),
                    issued_at: d.issued_at,
                    expires_at: d.expires_at,
                    payload: d.payload.clone(),
                    claims: OnceLock::new(),
                    credential: kind,
                }))
            }
        }
    }

    /// The kind of credential the caller presented.
    ///
    /// ```
    /// use auth_runtime::CredentialKind;
    /// assert_eq!(CredentialKind::ApiKey.as_str(), "api_key");
    /// ```
    pub fn credential(&self) -> CredentialKind {
        self.0.credential
    }

    /// The `sub` claim.
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The login type the token was issued for.
    pub fn login_type(&self) -> &str {
        &self.0.login_type
    }

    /// The granted scopes (the `scope` claim).
    pub fn scopes(&self) -> GrantedScopes<'_> {
        GrantedScopes::new(&self.0.scope)
    }

    /// The token id (`jti`; every accepted token has one).
    pub fn token_id(&self) -> &str {
        &self.0.jti
    }

    /// The session the token belongs to (`sid`). Always present on tokens of a manager with a
    /// session store; tokens of a stateless manager may come without one.
    pub fn session_id(&self) -> Option<&str> {
        self.0.sid.as_deref()
    }

    /// `iat`, in seconds since the Unix epoch.
    pub fn issued_at(&self) -> u64 {
        self.0.issued_at
    }

    /// `exp`, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        self.0.expires_at
    }

    /// Every claim of the token, reserved and extra (parsed on first use).
    pub fn claims(&self) -> &Map<String, Value> {
        self.0
            .claims
            .get_or_init(|| serde_json::from_slice(&self.0.payload).unwrap_or_default())
    }

    /// One claim by name, such as an extra claim set when the token was issued.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims().get(name)
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("subject", &self.0.subject)
            .field("login_type", &self.0.login_type)
            .field("scope", &self.0.scope)
            .finish_non_exhaustive()
    }
}
