//! Issuing tokens: [`TokenRequest`] checked against the configuration ([`Prepared`]) and signed
//! ([`Signed`]), returned as [`BearerToken`] / [`TokenPair`].

use std::fmt;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Keyring, LoginTypeState, REFRESH};
use crate::error::AuthError;
use crate::store::StoreError;

/// The longest token accepted, in bytes. Longer ones are rejected before any parsing.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Claims the framework sets itself; extra claims cannot override them.
pub const RESERVED_CLAIMS: &[&str] = &[
    "sub",
    "iat",
    "exp",
    "nbf",
    "jti",
    "sid",
    "iss",
    "aud",
    "typ",
    "login_type",
    "scope",
    ACCESS_TTL_CLAIM,
    SESSION_CLAIMS_CLAIM,
];

/// The claim of a refresh token that carries the access-token lifetime its session was opened
/// with ([`TokenRequest::expires_in`]), so that a refresh keeps it.
pub(crate) const ACCESS_TTL_CLAIM: &str = "access_ttl";

/// The claim of a refresh token that carries its session's claims
/// ([`TokenRequest::session_claims`]), so that a refresh keeps them.
pub(crate) const SESSION_CLAIMS_CLAIM: &str = "session_claims";

/// An issued access token, ready to return from a login route.
///
/// Serializes as `{"token_type":"Bearer","access_token":"…","expires_in":900}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BearerToken {
    /// Always `Bearer`.
    pub token_type: String,
    /// The signed JWT.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// An access token and a refresh token issued together (by a session).
///
/// Serializes as `{"token_type":"Bearer","access_token":"…","refresh_token":"…","expires_in":900}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    /// Always `Bearer`.
    pub token_type: String,
    /// The signed access JWT.
    pub access_token: String,
    /// The signed refresh JWT (`typ: "refresh"`), usable once.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// What to put in a token: login type, subject, scopes, roles, extra claims and lifetime.
///
/// ```
/// use std::time::Duration;
/// use auth_runtime::TokenRequest;
///
/// let request = TokenRequest::new("user", "alice")
///     .scopes(["reports:read", "billing:read"])
///     .roles(["editor"])                      // plus the scopes of role `editor`
///     .claim("company_id", 42)
///     .expires_in(Duration::from_secs(300)); // at most the login type's `access_ttl`
/// let no_scopes = TokenRequest::new("user", "bob").scopes([]);
/// # let _ = (request, no_scopes);
/// ```
///
/// The request is checked when the token is issued
/// ([`AuthManager::create_access_token`](crate::AuthManager::create_access_token),
/// [`AuthManager::create_session`](crate::AuthManager::create_session)): an unknown login type,
/// an invalid scope, a reserved claim, an unknown role or a zero lifetime is a [`TokenError`].
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRequest {
    login_type: String,
    subject: String,
    scopes: Vec<String>,
    /// Roles whose scopes are added when the token is issued.
    roles: Vec<String>,
    claims: Map<String, Value>,
    /// Claims for the whole session: kept by refreshes, never overriding `claims`.
    session_claims: Map<String, Value>,
    /// The access token's lifetime, capped to the login type's when the token is issued.
    lifetime: Option<Duration>,
    /// The credential version of the account the token is for, when it comes from
    /// [`AuthManager::account_grant`](crate::AuthManager::account_grant): the session opened with
    /// it is bound to that version.
    account_version: Option<u64>,
}

impl TokenRequest {
    /// A token of `login_type` for `subject`, with no scopes and no extra claims yet.
    pub fn new(login_type: impl Into<String>, subject: impl Into<String>) -> Self {
        TokenRequest {
            login_type: login_type.into(),
            subject: subject.into(),
            scopes: Vec::new(),
            roles: Vec::new(),
            claims: Map::new(),
            session_claims: Map::new(),
            lifetime: None,
            account_version: None,
        }
    }

    /// Binds the session opened with this request to an account's credential version.
    pub(crate) fn account_version(mut self, version: u64) -> Self {
        self.account_version = Some(version);
        self
    }

    /// The account credential version the request is bound to, if any.
    pub(crate) fn bound_version(&self) -> Option<u64> {
        self.account_version
    }

    /// Replaces the granted scopes. Takes arrays (`["a:b"]`, and `[]`), slices and vectors of
    /// `&str` or `String`.
    pub fn scopes(mut self, scopes: impl IntoScopes) -> Self {
        self.scopes = scopes.into_scopes();
        self
    }

    /// Adds one granted scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Grants roles: when the token is issued, the scopes of each role (as configured with
    /// [`AuthManagerBuilder::role`](crate::AuthManagerBuilder::role)) are added to the
    /// request's own scopes (without duplicates), and the role names go in the token's `roles`
    /// claim, as they do for an account's sign-in. So the token passes `#[roles("editor")]` and
    /// `#[requires(...)]` for any scope of `editor`. Replaces the roles named earlier; takes the
    /// same lists as [`scopes`](Self::scopes).
    ///
    /// When the token is issued, a role nobody configured is [`TokenError::UnknownRole`], and
    /// a role limited to other login types
    /// (`AccountsConfig::role_login_types`, with the `accounts` feature) is
    /// [`TokenError::RoleNotGranted`]: never a token without the role. A `roles` claim already
    /// in the request (from [`AuthManager::account_grant`](crate::AuthManager::account_grant))
    /// is kept and the new roles are added to it.
    ///
    /// ```
    /// use auth_runtime::{AuthManager, LoginType, SigningKey, TokenError, TokenRequest};
    ///
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .role("editor", ["articles:write", "articles:publish"])
    ///     .build()?;
    /// let request = TokenRequest::new("user", "alice")
    ///     .scopes(["articles:read", "articles:write"])
    ///     .roles(["editor"]);
    /// let token = manager.create_access_token(&request)?;
    /// let principal = manager.verify_access_token(&token.access_token, &["user"])?;
    /// assert_eq!(principal.scopes().iter().collect::<Vec<_>>(),
    ///            ["articles:read", "articles:write", "articles:publish"]);
    /// assert_eq!(principal.claim("roles"), Some(&serde_json::json!(["editor"])));
    /// manager.check_roles(&principal, &["editor"])?;
    ///
    /// let typo = TokenRequest::new("user", "alice").roles(["editr"]);
    /// let err = manager.create_access_token(&typo).unwrap_err();
    /// assert_eq!(err, TokenError::UnknownRole("editr".into()));
    /// assert_eq!(err.to_string(),
    ///            "role `editr` is not configured (declare it with `AuthManagerBuilder::role`)");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn roles(mut self, roles: impl IntoScopes) -> Self {
        self.roles = roles.into_scopes();
        self
    }

    /// Sets how long the access token lives, counted in whole seconds (a fraction is dropped).
    /// The login type's [`access_ttl`](crate::LoginType::access_ttl) is the ceiling: a longer
    /// lifetime is capped to it, so a login type's configuration always bounds its tokens. Less
    /// than one second (zero) is [`TokenError::InvalidLifetime`] when the token is issued. The
    /// `expires_in` of the answer ([`BearerToken`], [`TokenPair`]) is the lifetime given.
    ///
    /// With [`AuthManager::create_session`](crate::AuthManager::create_session), the lifetime
    /// is the session's: every access token of the session lives that long, the ones a refresh
    /// issues included (the refresh token carries it in its `access_ttl` claim, capped again by
    /// the login type at each refresh). The refresh token itself keeps the login type's
    /// [`refresh_ttl`](crate::LoginType::refresh_ttl) and the session its absolute lifetime and
    /// idle timeout ([`SessionConfig`](crate::SessionConfig)): the lifetime bounds how long one
    /// bearer token is good for, not how long the client stays signed in. To end the session
    /// sooner, drop the refresh token or [log out](crate::AuthManager::logout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use auth_runtime::{AuthManager, LoginType, SigningKey, TokenError, TokenRequest};
    ///
    /// let manager = AuthManager::builder()
    ///     .login_type(
    ///         LoginType::new("user")
    ///             .key(SigningKey::hs256("u1", &[1; 32]))
    ///             .access_ttl(Duration::from_secs(900)),
    ///     )
    ///     .build()?;
    /// let issue = |lifetime| {
    ///     let request = TokenRequest::new("user", "alice").expires_in(lifetime);
    ///     manager.create_access_token(&request).map(|token| token.expires_in)
    /// };
    /// assert_eq!(issue(Duration::from_secs(60))?, 60);
    /// assert_eq!(issue(Duration::from_secs(86_400))?, 900); // capped to the login type's
    /// assert!(matches!(issue(Duration::ZERO), Err(TokenError::InvalidLifetime(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// Adds an extra claim (a reserved name such as `sub` is refused when the token is issued).
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Adds extra claims.
    pub fn claims(mut self, claims: Map<String, Value>) -> Self {
        self.claims.extend(claims);
        self
    }

    /// Adds claims that last the whole session: every access token of the session carries
    /// them, those a refresh issues included (its refresh token keeps them in its
    /// `session_claims` claim), while [`claims`](Self::claims) are what the token's grant says
    /// now and an account's are re-read at each refresh. Where a name is in both, the
    /// [`claims`](Self::claims) win. What the
    /// [sign-in hook](crate::accounts::AccountsConfig::sign_in_claims) returns goes here.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use auth_runtime::{AuthManager, LoginType, SigningKey, TokenRequest};
    /// use auth_runtime::store::SqlStore;
    /// use serde_json::json;
    ///
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .sessions(SqlStore::connect("sqlite::memory:").await?)
    ///     .build()?;
    /// let mut amr = serde_json::Map::new();
    /// amr.insert("amr".into(), json!(["pwd", "otp"]));
    /// let pair = manager
    ///     .create_session(&TokenRequest::new("user", "alice").session_claims(amr))
    ///     .await?;
    /// let refreshed = manager.refresh(&pair.refresh_token).await?;
    /// let alice = manager.verify_access_token(&refreshed.access_token, &["user"])?;
    /// assert_eq!(alice.claim("amr"), Some(&json!(["pwd", "otp"])));
    /// # Ok(()) }
    /// ```
    pub fn session_claims(mut self, claims: Map<String, Value>) -> Self {
        self.session_claims.extend(claims);
        self
    }

    /// The claims that last the session ([`session_claims`](Self::session_claims)).
    pub fn lasting_claims(&self) -> &Map<String, Value> {
        &self.session_claims
    }

    /// The login type.
    pub fn login_type(&self) -> &str {
        &self.login_type
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The granted scopes, as given (the scopes of [`roles`](Self::roles) are added when the
    /// token is issued).
    pub fn granted_scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The extra claims.
    pub fn extra_claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The roles named with [`roles`](Self::roles), not yet resolved into scopes.
    ///
    /// ```
    /// use auth_runtime::TokenRequest;
    ///
    /// let request = TokenRequest::new("user", "alice").roles(["editor"]);
    /// assert_eq!(request.requested_roles(), ["editor"]);
    /// assert!(request.granted_scopes().is_empty()); // added when the token is issued
    /// ```
    pub fn requested_roles(&self) -> &[String] {
        &self.roles
    }

    /// The lifetime set with [`expires_in`](Self::expires_in), before the login type caps it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use auth_runtime::TokenRequest;
    ///
    /// assert_eq!(TokenRequest::new("user", "alice").requested_lifetime(), None);
    /// let request = TokenRequest::new("user", "alice").expires_in(Duration::from_secs(60));
    /// assert_eq!(request.requested_lifetime(), Some(Duration::from_secs(60)));
    /// ```
    pub fn requested_lifetime(&self) -> Option<Duration> {
        self.lifetime
    }

    /// The request with its roles resolved: `scopes` added (the caller dropped those already
    /// present), `roles` written into the `roles` claim, no role left to resolve.
    pub(crate) fn with_roles_resolved(
        &self,
        scopes: Vec<String>,
        roles: Vec<String>,
    ) -> TokenRequest {
        let mut resolved = self.clone();
        resolved.scopes.extend(scopes);
        resolved.roles.clear();
        resolved.claims.insert("roles".into(), Value::from(roles));
        resolved
    }
}

/// Lists of scopes accepted by [`TokenRequest::scopes`]. An empty array literal `[]`
/// type-checks (as a list of `&str`).
pub trait IntoScopes {
    /// The scopes as owned strings.
    fn into_scopes(self) -> Vec<String>;
}

impl<const N: usize> IntoScopes for [&str; N] {
    fn into_scopes(self) -> Vec<String> {
        self.iter().map(|s| (*s).to_owned()).collect()
    }
}

impl IntoScopes for &[&str] {
    fn into_scopes(self) -> Vec<String> {
        self.iter().map(|s| (*s).to_owned()).collect()
    }
}

impl IntoScopes for &[String] {
    fn into_scopes(self) -> Vec<String> {
        self.to_vec()
    }
}

impl IntoScopes for Vec<String> {
    fn into_scopes(self) -> Vec<String> {
        self
    }
}

impl IntoScopes for Vec<&str> {
    fn into_scopes(self) -> Vec<String> {
        self.into_iter().map(str::to_owned).collect()
    }
}

impl IntoScopes for &Vec<String> {
    fn into_scopes(self) -> Vec<String> {
        self.clone()
    }
}

/// Why a token could not be issued (or a session not opened).
///
/// Usable with `?` in a handler: it renders as a problem response (503 when the store cannot
/// be reached, 500 otherwise; the details go to the log, never to the client).
///
/// ```
/// use std::time::Duration;
/// use auth_runtime::{AuthManager, LoginType, SigningKey, TokenError, TokenRequest};
///
/// let manager = AuthManager::builder()
///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
///     .role("editor", ["articles:write"])
///     .build()?;
/// let refused = |request: TokenRequest| manager.create_access_token(&request).unwrap_err();
/// assert_eq!(
///     refused(TokenRequest::new("bot", "b1")),
///     TokenError::UnknownLoginType("bot".into())
/// );
/// assert_eq!(
///     refused(TokenRequest::new("user", "alice").roles(["auditor"])),
///     TokenError::UnknownRole("auditor".into())
/// );
/// assert_eq!(
///     refused(TokenRequest::new("user", "alice").expires_in(Duration::ZERO)),
///     TokenError::InvalidLifetime(Duration::ZERO)
/// );
/// assert_eq!(
///     refused(TokenRequest::new("user", "alice").claim("sub", "bob")),
///     TokenError::ReservedClaim("sub".into())
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// No login type of that name is registered.
    UnknownLoginType(String),
    /// A scope is not valid.
    InvalidScope {
        /// The scope.
        scope: String,
        /// Why.
        reason: auth_grammar::ScopeError,
    },
    /// An extra claim tries to set a reserved claim (see [`RESERVED_CLAIMS`]), or, beside
    /// [`TokenRequest::roles`], sets `roles` to something else than a list of role names.
    ReservedClaim(String),
    /// The subject is empty.
    EmptySubject,
    /// The signing backend failed.
    Signing,
    /// Refresh tokens and sessions need a session store
    /// ([`AuthManagerBuilder::sessions`](crate::AuthManagerBuilder::sessions)).
    NoSessionStore,
    /// The manager checks sessions, so every token must belong to one: open it with
    /// [`AuthManager::create_session`](crate::AuthManager::create_session) instead of
    /// [`create_access_token`](crate::AuthManager::create_access_token).
    SessionRequired,
    /// The session store failed.
    Store(StoreError),
    /// The account changed (new password, ban, role change) between reading it and opening
    /// the session: no session was opened. Answered 401, as a revoked token.
    AccountChanged {
        /// The login type of the refused session.
        login_type: String,
    },
    /// A role named with [`TokenRequest::roles`] is not configured
    /// ([`AuthManagerBuilder::role`](crate::AuthManagerBuilder::role)).
    UnknownRole(String),
    /// A role named with [`TokenRequest::roles`] is limited to other login types
    /// (`AccountsConfig::role_login_types`).
    RoleNotGranted {
        /// The role.
        role: String,
        /// The login type of the request.
        login_type: String,
    },
    /// The lifetime given to [`TokenRequest::expires_in`] is less than one second.
    InvalidLifetime(Duration),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::UnknownLoginType(n) => write!(f, "no login type `{n}` is registered"),
            TokenError::InvalidScope { scope, reason } => {
                write!(f, "scope `{scope}` is invalid: {reason}")
            }
            TokenError::ReservedClaim(c) if c == "roles" => f.write_str(
                "claim `roles` is written by `TokenRequest::roles`: beside it, an extra `roles` \
                 claim must be a list of role names",
            ),
            TokenError::ReservedClaim(c) => {
                write!(
                    f,
                    "claim `{c}` is reserved and cannot be set as an extra claim"
                )
            }
            TokenError::EmptySubject => f.write_str("the subject cannot be empty"),
            TokenError::Signing => f.write_str("the token could not be signed"),
            TokenError::NoSessionStore => f.write_str(
                "sessions need a session store: configure one with `AuthManagerBuilder::sessions`",
            ),
            TokenError::SessionRequired => f.write_str(
                "this manager checks sessions: issue tokens with `create_session`, not `create_access_token`",
            ),
            TokenError::Store(e) => write!(f, "{e}"),
            TokenError::AccountChanged { .. } => {
                f.write_str("the account changed while the session was being opened")
            }
            TokenError::UnknownRole(role) => write!(
                f,
                "role `{role}` is not configured (declare it with `AuthManagerBuilder::role`)"
            ),
            TokenError::RoleNotGranted { role, login_type } => write!(
                f,
                "role `{role}` is not granted on login type `{login_type}` \
                 (see `AccountsConfig::role_login_types`)"
            ),
            TokenError::InvalidLifetime(lifetime) => write!(
                f,
                "a token lifetime must be at least one second, not {lifetime:?}"
            ),
        }
    }
}

impl std::error::Error for TokenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TokenError::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        TokenError::Store(e)
    }
}

impl From<TokenError> for AuthError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Store(s) => AuthError::from(s),
            TokenError::AccountChanged { login_type } => AuthError::InvalidToken {
                realm: login_type,
                reason: crate::error::InvalidToken::Revoked,
            },
            other => {
                tracing::error!(error = %other, "a token could not be issued");
                AuthError::Internal
            }
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        AuthError::from(self).into_response()
    }
}

#[derive(Serialize)]
struct OutClaims<'a> {
    sub: &'a str,
    login_type: &'a str,
    typ: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
    sid: &'a str,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    /// Refresh tokens of a session opened with a lifetime of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    access_ttl: Option<u64>,
    /// Refresh tokens of a session with claims of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    session_claims: Option<&'a Map<String, Value>>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

/// A fresh random identifier of 128 bits, URL-safe (token ids, session ids).
pub(crate) fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// A [`TokenRequest`] checked against the configuration: ready to sign as often as needed.
pub(crate) struct Prepared<'m> {
    pub(crate) login_type: &'m LoginTypeState,
    pub(crate) subject: String,
    /// Space-delimited.
    pub(crate) scope: String,
    /// The request's claims over its session claims.
    pub(crate) claims: Map<String, Value>,
    /// The session claims, for refresh tokens.
    pub(crate) session_claims: Map<String, Value>,
    /// The access tokens' lifetime in seconds: the request's, capped to the login type's.
    pub(crate) access_ttl: u64,
    /// Whether the request set the lifetime (then refresh tokens carry it).
    pub(crate) own_lifetime: bool,
}

/// One signed token and what was put in it.
pub(crate) struct Signed {
    pub(crate) token: String,
    pub(crate) jti: String,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
}

impl Keyring {
    /// Checks a request against the configuration: login type, subject, scopes, claims,
    /// lifetime. Its roles must have been resolved into scopes first (by the grants): a role
    /// left here fails closed, as an unknown role.
    pub(crate) fn prepare(&self, request: &TokenRequest) -> Result<Prepared<'_>, TokenError> {
        if let Some(role) = request.roles.first() {
            return Err(TokenError::UnknownRole(role.clone()));
        }
        let (_, login_type) = self
            .login_type(&request.login_type)
            .ok_or_else(|| TokenError::UnknownLoginType(request.login_type.clone()))?;
        let ceiling = login_type.access_ttl.as_secs();
        let access_ttl = match request.lifetime {
            None => ceiling,
            Some(lifetime) if lifetime.as_secs() == 0 => {
                return Err(TokenError::InvalidLifetime(lifetime));
            }
            Some(lifetime) => lifetime.as_secs().min(ceiling),
        };
        if request.subject.is_empty() {
            return Err(TokenError::EmptySubject);
        }
        if let Some(reserved) = request
            .claims
            .keys()
            .chain(request.session_claims.keys())
            .find(|k| RESERVED_CLAIMS.contains(&k.as_str()))
        {
            return Err(TokenError::ReservedClaim(reserved.clone()));
        }
        let mut scope = String::new();
        for s in &request.scopes {
            auth_grammar::validate_scope(s).map_err(|reason| TokenError::InvalidScope {
                scope: s.clone(),
                reason,
            })?;
            if !scope.is_empty() {
                scope.push(' ');
            }
            scope.push_str(s);
        }
        Ok(Prepared {
            login_type,
            subject: request.subject.clone(),
            scope,
            claims: {
                let mut claims = request.session_claims.clone();
                claims.extend(request.claims.clone());
                claims
            },
            session_claims: request.session_claims.clone(),
            access_ttl,
            own_lifetime: request.lifetime.is_some(),
        })
    }

    /// Signs one token of type `typ` in session `sid`, issued at `iat`, valid for the
    /// prepared access lifetime (an access token) or the login type's refresh lifetime (a
    /// refresh token, which then carries the access lifetime when the request set one), and no
    /// longer than `not_after` when given.
    pub(crate) fn sign(
        &self,
        prepared: &Prepared<'_>,
        typ: &str,
        sid: &str,
        iat: u64,
        not_after: Option<u64>,
    ) -> Result<Signed, TokenError> {
        let lt = prepared.login_type;
        let refresh = typ == REFRESH;
        let ttl = if refresh {
            lt.refresh_ttl.as_secs()
        } else {
            prepared.access_ttl
        };
        let exp = not_after.map_or(iat + ttl, |end| end.min(iat + ttl));
        let jti = random_id();
        let key = lt.keys.first().ok_or(TokenError::Signing)?;
        let claims = OutClaims {
            sub: &prepared.subject,
            login_type: &lt.name,
            typ,
            iat,
            exp,
            jti: &jti,
            sid,
            scope: &prepared.scope,
            iss: lt.issuer.as_deref(),
            aud: lt.audience.as_deref(),
            access_ttl: (refresh && prepared.own_lifetime).then_some(prepared.access_ttl),
            session_claims: (refresh && !prepared.session_claims.is_empty())
                .then_some(&prepared.session_claims),
            extra: &prepared.claims,
        };
        let mut header = Header::new(key.alg);
        header.kid = Some(key.kid.clone());
        let token = encode(&header, &claims, &key.encoding)?;
        Ok(Signed {
            token,
            jti,
            iat,
            exp,
        })
    }
}

/// The wire form of an access token.
pub(crate) fn bearer(signed: Signed) -> BearerToken {
    BearerToken {
        token_type: "Bearer".into(),
        access_token: signed.token,
        expires_in: signed.exp.saturating_sub(signed.iat),
    }
}

fn encode(
    header: &Header,
    claims: &impl Serialize,
    key: &EncodingKey,
) -> Result<String, TokenError> {
    jsonwebtoken::encode(header, claims, key).map_err(|_| TokenError::Signing)
}
