//! [`AuthManager`]: a thin façade over the components (keys and verification, sessions,
//! authorization, accounts, passwords, throttle). It holds them, lends them to the request
//! pipeline, and delegates every public operation; the components never import it.

#[cfg(feature = "accounts")]
mod accounts;
mod builder;
mod error;
#[cfg(feature = "accounts")]
mod reset;
mod state;

use std::fmt;

use std::sync::Arc;

pub use builder::AuthManagerBuilder;
pub use error::ConfigError;
pub use state::AuthState;

use crate::access::Access;
#[cfg(feature = "accounts")]
use crate::accounts::{ApiKeys, PasswordResets};
use crate::clock::now;
use crate::credential::cookie::{Cookies, Jar, SessionCookies};
use crate::credential::custom::CredentialVerifier;
use crate::error::{AuthError, ErrorRenderer};
#[cfg(feature = "federation")]
use crate::federation::{FetchError, IssuerVerifier};
use crate::grants::Grants;
use crate::keyring::{
    ACCESS, BearerToken, Keyring, TokenError, TokenPair, TokenRequest, bearer, random_id,
};
#[cfg(feature = "accounts")]
use crate::password::PasswordHasher;
use crate::pipeline::Pipeline;
use crate::policy::PolicyEngine;
use crate::principal::Principal;
use crate::proxy::TrustedProxies;
use crate::scope::{ScopeRequirement, ScopeValidator};
use crate::sessions::{SessionInfo, SessionService, Sessions};
use crate::store::{Account, Purged, UserStore};
#[cfg(feature = "accounts")]
use crate::throttle::LoginThrottle;

/// The built configuration: the components. Only this module and its builder see the fields.
struct Inner {
    keys: Keyring,
    sessions: Option<Sessions>,
    #[cfg(feature = "accounts")]
    api_keys: Option<ApiKeys>,
    /// Session cookies, when a login type reads them.
    cookies: Option<Cookies>,
    /// The application's own credential verifiers, tried first, then the external issuers'.
    verifiers: Vec<Arc<dyn CredentialVerifier>>,
    /// The external issuers (also among `verifiers`), for fetching their keys.
    #[cfg(feature = "federation")]
    issuers: Vec<Arc<IssuerVerifier>>,
    access: Access,
    grants: Grants,
    renderer: Box<dyn ErrorRenderer>,
    #[cfg(feature = "accounts")]
    passwords: PasswordHasher,
    /// Sign-in, password-change and registration budgets.
    #[cfg(feature = "accounts")]
    throttle: LoginThrottle,
    /// Whose forwarding headers are believed.
    proxies: TrustedProxies,
    /// Password reset: its store, sender and token lifetime (see `reset.rs`).
    #[cfg(feature = "accounts")]
    resets: PasswordResets,
}

/// Holds the registered login types, their keys and the scope validator. Cheap to clone (one
/// `Arc`); put it in your axum state and make it reachable through
/// [`FromRef`](axum::extract::FromRef).
///
/// ```
/// use auth_runtime::{AuthManager, LoginType, SigningKey};
///
/// let manager = AuthManager::builder()
///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
///     .login_type(LoginType::new("admin").key(SigningKey::hs256("a1", &[2; 32])))
///     .build()
///     .expect("valid configuration");
/// assert_eq!(manager.login_type_names().collect::<Vec<_>>(), ["user", "admin"]);
///
/// // Mistakes are errors, not panics:
/// let err = AuthManager::builder()
///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", b"short")))
///     .build()
///     .unwrap_err();
/// assert!(err.to_string().contains("at least 32"));
/// ```
#[derive(Clone)]
pub struct AuthManager {
    inner: Arc<Inner>,
}

impl fmt::Debug for AuthManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthManager")
            .field("login_types", &self.login_type_names().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl AuthManager {
    /// Starts a configuration with the [`HierarchicalScopes`](crate::HierarchicalScopes)
    /// validator and [`ProblemJson`](crate::ProblemJson) errors.
    pub fn builder() -> AuthManagerBuilder {
        AuthManagerBuilder::new()
    }

    /// The components one request is checked against.
    pub(crate) fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            keys: &self.inner.keys,
            sessions: self.inner.sessions.as_ref(),
            #[cfg(feature = "accounts")]
            api_keys: self.inner.api_keys.as_ref(),
            cookies: self.inner.cookies.as_ref(),
            verifiers: &self.inner.verifiers,
            #[cfg(feature = "federation")]
            issuers: &self.inner.issuers,
            grants: &self.inner.grants,
            access: &self.inner.access,
            proxies: &self.inner.proxies,
        }
    }

    /// The session operations.
    fn sessions(&self) -> SessionService<'_> {
        SessionService {
            sessions: self.inner.sessions.as_ref(),
            keys: &self.inner.keys,
            grants: &self.inner.grants,
        }
    }

    /// The public keys of every login type that signs with RS256, ES256 or EdDSA (current and
    /// previous keys; never an HS256 secret), as `/.well-known/jwks.json` publishes them
    /// ([`JwksRoutes`](crate::routes::JwksRoutes)). Another service verifies our tokens with
    /// them alone:
    ///
    /// ```
    /// use auth_runtime::{AuthManager, LoginType, SigningKey, TokenRequest};
    /// use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pem = SigningKey::generate_ed25519_pem();
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("service").key(SigningKey::ed25519_private_pem("svc-1", pem.as_bytes())))
    ///     .build()?;
    /// let token = manager
    ///     .create_access_token(&TokenRequest::new("service", "billing").scopes(["reports:read"]))?
    ///     .access_token;
    ///
    /// // The other service has only the published JSON.
    /// let published = serde_json::to_string(manager.jwks())?;
    /// let keys: JwkSet = serde_json::from_str(&published)?;
    /// let kid = jsonwebtoken::decode_header(&token)?.kid.expect("a kid");
    /// let jwk = keys.find(&kid).expect("published");
    /// let mut validation = Validation::new(Algorithm::EdDSA); // fixed by the key, not the token
    /// validation.validate_aud = false;
    /// let verified = jsonwebtoken::decode::<serde_json::Value>(&token, &DecodingKey::from_jwk(jwk)?, &validation)?;
    /// assert_eq!(verified.claims["sub"], "billing");
    /// assert!(!published.contains("\"d\""), "no private part");
    /// # Ok(()) }
    /// ```
    pub fn jwks(&self) -> &jsonwebtoken::jwk::JwkSet {
        self.inner.keys.jwks()
    }

    /// The registered login type names, in registration order.
    pub fn login_type_names(&self) -> impl Iterator<Item = &str> {
        self.inner.keys.names()
    }

    #[cfg(feature = "federation")]
    /// Fetches the keys of every [external issuer](AuthManagerBuilder::external_issuer) now,
    /// for a server that wants them before its first request (otherwise they are fetched at
    /// the first token of each issuer). Every issuer is tried; the first failure is returned
    /// (each is logged). A failure is not fatal: the issuer's tokens get 503 until a later
    /// fetch succeeds (at most one per refresh interval, started by a token).
    ///
    /// ```
    /// use std::time::Duration;
    /// use auth_runtime::federation::{ExternalIssuer, FetchError};
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // Nothing listens on port 9 of this machine: the fetch fails, and says where.
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .external_issuer(
    ///         "partner",
    ///         ExternalIssuer::jwks_url("http://127.0.0.1:9", "http://127.0.0.1:9/jwks.json")
    ///             .audience("reports-api")
    ///             .fetch_timeout(Duration::from_secs(1)),
    ///     )
    ///     .build()?;
    /// let err = manager.fetch_issuer_keys().await.unwrap_err();
    /// assert!(matches!(err, FetchError::Http { .. } | FetchError::Timeout { .. }));
    /// assert!(err.to_string().contains("http://127.0.0.1:9/jwks.json"));
    /// # Ok(()) }
    /// ```
    pub async fn fetch_issuer_keys(&self) -> Result<(), FetchError> {
        let mut first = None;
        for issuer in &self.inner.issuers {
            if let Err(e) = issuer.fetch_keys().await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// The account store, if one is configured.
    pub fn users(&self) -> Option<&dyn UserStore> {
        self.inner.grants.users()
    }

    /// The trusted reverse proxies ([`AuthManagerBuilder::trusted_proxies`]).
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.inner.proxies
    }

    /// The client's address for a request: the TCP peer (`ConnectInfo<SocketAddr>`, present
    /// when the app is served with `into_make_service_with_connect_info::<SocketAddr>()`), or,
    /// when the peer is a trusted proxy, the address it reported (see [`proxy`](crate::proxy)).
    /// Canonical (IPv4-mapped IPv6 is IPv4); `None` without `ConnectInfo`. Throttling and
    /// policies' `client_ip` use it; so does the [`ClientAddr`](crate::routes::ClientAddr)
    /// extractor.
    ///
    /// ```
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    /// use axum::extract::ConnectInfo;
    /// use axum::http::Request;
    /// use std::net::SocketAddr;
    ///
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .trusted_proxies(["10.0.0.0/8"])
    ///     .build()?;
    /// let mut request = Request::builder().header("x-forwarded-for", "203.0.113.9").body(())?;
    /// request.extensions_mut().insert(ConnectInfo("10.0.0.1:443".parse::<SocketAddr>()?));
    /// let (parts, ()) = request.into_parts();
    /// assert_eq!(manager.client_addr(&parts), Some("203.0.113.9".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client_addr(&self, parts: &axum::http::request::Parts) -> Option<std::net::IpAddr> {
        self.inner.proxies.request_client_addr(parts)
    }

    /// The scope validator in use.
    pub fn scope_validator(&self) -> &dyn ScopeValidator {
        self.inner.access.scope_validator()
    }

    /// The policy rules.
    pub fn policy_engine(&self) -> &PolicyEngine {
        self.inner.access.policy_engine()
    }

    /// Renders an error with the configured [`ErrorRenderer`] and its `WWW-Authenticate` header.
    pub fn render_error(&self, error: &AuthError) -> axum::response::Response {
        crate::error::render_with(&*self.inner.renderer, error)
    }

    /// Issues a stand-alone access token, for managers without a session store (stateless
    /// tokens). With a session store, every token belongs to a session: use
    /// [`create_session`](Self::create_session) ([`TokenError::SessionRequired`] otherwise).
    ///
    /// The request's roles ([`TokenRequest::roles`]) are resolved into scopes and the `roles`
    /// claim, and its lifetime ([`TokenRequest::expires_in`]) is capped to the login type's
    /// `access_ttl`; `expires_in` in the answer is the token's actual lifetime.
    ///
    /// ```
    /// use auth_runtime::{AuthManager, LoginType, SigningKey, TokenRequest};
    ///
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .build()?;
    /// let request = TokenRequest::new("user", "alice")
    ///     .scopes(["reports:read"])
    ///     .claim("tenant", "acme");
    /// let token = manager.create_access_token(&request)?;
    /// assert_eq!(token.token_type, "Bearer");
    /// assert_eq!(token.expires_in, 900);
    ///
    /// let principal = manager.verify_access_token(&token.access_token, &["user"])?;
    /// assert_eq!(principal.subject(), "alice");
    /// assert_eq!(principal.claim("tenant"), Some(&serde_json::json!("acme")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_access_token(&self, request: &TokenRequest) -> Result<BearerToken, TokenError> {
        if self.inner.sessions.is_some() {
            return Err(TokenError::SessionRequired);
        }
        let keys = &self.inner.keys;
        let request = self.inner.grants.resolve_roles(request)?;
        let prepared = keys.prepare(&request)?;
        let signed = keys.sign(&prepared, ACCESS, &random_id(), now(), None)?;
        Ok(bearer(signed))
    }

    /// Verifies an access token and returns its [`Principal`]. `accepted` lists the login types
    /// accepted; an empty list accepts every registered login type.
    ///
    /// This is the stateless part of authentication only: it does not ask the session store
    /// whether the token was revoked. Use [`authenticate_token`](Self::authenticate_token) for
    /// that.
    pub fn verify_access_token(
        &self,
        token: &str,
        accepted: &[&str],
    ) -> Result<Principal, AuthError> {
        self.inner.keys.verify_access(token, accepted)
    }

    /// Verifies a refresh token of `login_type` (signature and claims only; spending it is
    /// [`refresh`](Self::refresh)'s work).
    pub fn verify_refresh_token(
        &self,
        token: &str,
        login_type: &str,
    ) -> Result<Principal, AuthError> {
        self.inner.keys.verify_refresh(token, login_type)
    }

    /// Authenticates a request the way the guard does (an `X-API-Key` or a bearer token,
    /// verified, its session checked) for one of `accepted` login types (any when empty), for
    /// extractors of your own. The principal is cached in the request's extensions.
    pub async fn authenticate(
        &self,
        parts: &mut axum::http::request::Parts,
        accepted: &[&str],
    ) -> Result<Principal, AuthError> {
        self.pipeline().authenticate(parts, accepted).await
    }

    /// Verifies an access token and checks that its session is not revoked: what every
    /// secured request does, for callers outside axum's extractors (a WebSocket upgrade, a
    /// gRPC interceptor). Tokens of [external issuers](AuthManagerBuilder::external_issuer)
    /// are accepted too ([`verify_access_token`](Self::verify_access_token), which fetches
    /// nothing, knows this application's own tokens only).
    pub async fn authenticate_token(
        &self,
        token: &str,
        accepted: &[&str],
    ) -> Result<Principal, AuthError> {
        self.pipeline().authenticate_token(token, accepted).await
    }

    /// Checks that `principal` holds one of `roles`: a role is held when the token's scopes
    /// cover every scope configured for it ([`AuthManagerBuilder::role`]). A role that is not
    /// configured is held by nobody (and logged: it is a configuration mistake).
    ///
    /// [`AuthManagerBuilder::role`]: crate::AuthManagerBuilder::role
    pub fn check_roles(&self, principal: &Principal, roles: &[&str]) -> Result<(), AuthError> {
        self.inner.access.check_roles(principal, roles)
    }

    /// Checks that `principal` satisfies `required`.
    pub fn check_scopes(
        &self,
        principal: &Principal,
        required: ScopeRequirement,
    ) -> Result<(), AuthError> {
        self.inner.access.check_scopes(principal, required)
    }

    /// Opens a session for `request` and returns its first access and refresh tokens.
    ///
    /// This is how a login handler issues tokens when the manager has a session store. A
    /// request made by [`account_grant`](Self::account_grant) binds the session to the
    /// account's credential version: if the account changed since it was read (a password
    /// change, a ban, a role change while the sign-in was in flight), no session is opened and
    /// the answer is [`TokenError::AccountChanged`].
    ///
    /// The request's roles ([`TokenRequest::roles`]) are resolved as in
    /// [`create_access_token`](Self::create_access_token). Its lifetime
    /// ([`TokenRequest::expires_in`], capped to the login type's `access_ttl`) is every access
    /// token's of the session, refreshed ones included; the refresh token keeps the login
    /// type's `refresh_ttl` (within the session's absolute lifetime). A refresh re-reads the
    /// account when the manager has a user store: scopes (those of roles included) shrink to
    /// what the account holds, and a subject that is no account ends the session.
    ///
    /// ```
    /// use std::time::Duration;
    /// use auth_runtime::{AuthManager, LoginType, SigningKey, TokenRequest};
    /// use auth_runtime::store::SqlStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .role("editor", ["articles:write"])
    ///     .sessions(SqlStore::connect("sqlite::memory:").await?)
    ///     .build()?;
    /// let request = TokenRequest::new("user", "ada")
    ///     .roles(["editor"])
    ///     .expires_in(Duration::from_secs(120));
    /// let pair = manager.create_session(&request).await?;
    /// assert_eq!(pair.expires_in, 120);
    /// let next = manager.refresh(&pair.refresh_token).await?;
    /// assert_eq!(next.expires_in, 120); // the session's lifetime holds across refreshes
    /// let principal = manager.authenticate_token(&next.access_token, &["user"]).await?;
    /// manager.check_roles(&principal, &["editor"])?;
    /// # Ok(()) }
    /// ```
    pub async fn create_session(&self, request: &TokenRequest) -> Result<TokenPair, TokenError> {
        self.sessions().create_session(request).await
    }

    /// Spends a refresh token and returns a new pair in the same session.
    ///
    /// The refresh token must be current: a spent one revokes the session (401). Scopes and
    /// claims are re-read from the user store when the manager has one (they can shrink, never
    /// grow; an account that is no longer active, or a subject that is no account of the store,
    /// ends the session); otherwise they are carried over.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, AuthError> {
        self.sessions().refresh(refresh_token).await
    }

    /// Ends the principal's session (logout): its access and refresh tokens stop working, on
    /// this instance at once and on every instance within the staleness bound.
    pub async fn logout(&self, principal: &Principal) -> Result<(), AuthError> {
        self.sessions().logout(principal).await
    }

    /// Deletes the store's expired sessions and revocations now and says how many (each
    /// instance also does it every [`SessionConfig::purge_interval`](crate::SessionConfig::purge_interval)). Without a session store
    /// it is [`TokenError::NoSessionStore`].
    ///
    /// ```
    /// use auth_runtime::{AuthManager, LoginType, SigningKey, TokenError};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let stateless = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u", &[1; 32])))
    ///     .build()
    ///     .unwrap();
    /// assert!(matches!(stateless.purge_expired().await, Err(TokenError::NoSessionStore)));
    /// # }
    /// ```
    pub async fn purge_expired(&self) -> Result<Purged, TokenError> {
        self.sessions().purge_expired().await
    }

    /// Ends every other session of the principal's subject (after a password change). Returns
    /// how many were ended.
    pub async fn revoke_other_sessions(&self, principal: &Principal) -> Result<u64, AuthError> {
        self.sessions().revoke_other_sessions(principal).await
    }

    /// Ends everything of `subject` (ban, deactivation): every session, and every token issued
    /// up to now.
    pub async fn revoke_subject(&self, subject: &str) -> Result<(), AuthError> {
        self.sessions().revoke_subject(subject).await
    }

    /// The token an account gets for `login_type`: the scopes of its roles granted on that
    /// login type ([`AccountsConfig::role_login_types`](crate::accounts::AccountsConfig::role_login_types)) and extra claims; a session opened
    /// with it is bound to the account's credential version. `None` when the account may not
    /// have one (not active, or not an admin asking for an admin token).
    pub fn account_grant(&self, account: &Account, login_type: &str) -> Option<TokenRequest> {
        self.inner.grants.account_grant(account, login_type)
    }

    /// The caller's live sessions, oldest first; `current` marks the caller's own (ASVS
    /// 3.3.4: a user sees where they are signed in).
    pub async fn sessions_of(&self, principal: &Principal) -> Result<Vec<SessionInfo>, AuthError> {
        self.sessions()
            .sessions_of(principal.subject(), principal.session_id())
            .await
    }

    /// Ends every session of account `account_id` (it may sign in again at once); how many
    /// were ended. On this instance at once, on every other within the staleness bound.
    pub async fn end_sessions_of_account(&self, account_id: &str) -> Result<u64, AuthError> {
        self.sessions().revoke_sessions_of(account_id).await
    }

    /// The live sessions of account `account_id`, oldest first (for an admin).
    pub async fn sessions_of_account(
        &self,
        account_id: &str,
    ) -> Result<Vec<SessionInfo>, AuthError> {
        self.sessions().sessions_of(account_id, None).await
    }

    /// Whether `login_type` reads its tokens from session cookies
    /// ([`TokenLocation::Cookie`](crate::TokenLocation::Cookie)).
    pub fn reads_cookies(&self, login_type: &str) -> bool {
        self.inner.cookies.is_some()
            && self
                .inner
                .keys
                .login_type(login_type)
                .is_some_and(|(_, lt)| lt.reads_cookies())
    }

    fn cookies_for(&self, login_type: &str) -> Result<&Cookies, AuthError> {
        match &self.inner.cookies {
            Some(cookies) if self.reads_cookies(login_type) => Ok(cookies),
            _ => Err(AuthError::Internal),
        }
    }

    /// The session cookies of a fresh token pair of `login_type` (a login type that reads
    /// cookies): the access token, the refresh token (on the refresh path only) and the
    /// session's CSRF token, for a response such as `(StatusCode::NO_CONTENT, cookies, ())`.
    ///
    /// ```
    /// use auth_runtime::{AuthManager, LoginType, SigningKey, TokenLocation, TokenRequest};
    /// use auth_runtime::store::SqlStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = AuthManager::builder()
    ///     .login_type(
    ///         LoginType::new("user")
    ///             .key(SigningKey::hs256("u1", &[1; 32]))
    ///             .token_locations([TokenLocation::Header, TokenLocation::Cookie]),
    ///     )
    ///     .store(SqlStore::connect("sqlite::memory:").await?)
    ///     .build()?;
    /// let pair = manager.create_session(&TokenRequest::new("user", "ada")).await?;
    /// let cookies = manager.session_cookies("user", &pair)?;
    /// let names: Vec<&str> = cookies
    ///     .values()
    ///     .iter()
    ///     .map(|c| c.to_str().unwrap().split('=').next().unwrap())
    ///     .collect();
    /// assert_eq!(names, ["__Host-user-access", "__Secure-user-refresh", "__Host-user-csrf"]);
    /// # Ok(()) }
    /// ```
    pub fn session_cookies(
        &self,
        login_type: &str,
        pair: &TokenPair,
    ) -> Result<SessionCookies, AuthError> {
        let cookies = self.cookies_for(login_type)?;
        let access = self
            .inner
            .keys
            .verify(&pair.access_token, ACCESS, &[login_type])?;
        let refresh = self
            .inner
            .keys
            .verify_refresh(&pair.refresh_token, login_type)?;
        let sid = access.session_id().ok_or(AuthError::Internal)?;
        let now = now();
        Ok(cookies.session(
            login_type,
            sid,
            (&pair.access_token, pair.expires_in),
            (
                &pair.refresh_token,
                refresh.expires_at().saturating_sub(now),
            ),
        ))
    }

    /// The session cookies of `login_type`, expired: what a sign-out by cookie answers with.
    pub fn expired_session_cookies(&self, login_type: &str) -> SessionCookies {
        self.cookies_for(login_type)
            .map(|c| c.expired(login_type))
            .unwrap_or_default()
    }

    /// Refuses a request that a browser says comes from another site (`Sec-Fetch-Site:
    /// cross-site`, or an `Origin` that is `null` or neither the request's host nor a
    /// [trusted origin](crate::CookieConfig::trusted_origin)): what a cookie sign-in checks
    /// before it signs in (login CSRF). Passes when no login type reads cookies.
    pub fn check_origin(&self, headers: &axum::http::HeaderMap) -> Result<(), AuthError> {
        match &self.inner.cookies {
            Some(cookies) => cookies.check_origin(headers),
            None => Ok(()),
        }
    }

    /// Refreshes the session whose refresh cookie the request carries (the first login type
    /// that reads cookies and has one), after checking the origin and the session's
    /// `X-CSRF-Token`. Returns the login type and the new pair (for
    /// [`session_cookies`](Self::session_cookies)); `Ok(None)` when there is no refresh
    /// cookie.
    pub async fn refresh_from_cookies(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<Option<(String, TokenPair)>, AuthError> {
        let Some(cookies) = &self.inner.cookies else {
            return Ok(None);
        };
        for login_type in self.inner.keys.names() {
            if !self.reads_cookies(login_type) {
                continue;
            }
            let Some(token) = cookies.read(headers, login_type, Jar::Refresh)? else {
                continue;
            };
            cookies.check_origin(headers)?;
            let old = self.inner.keys.verify_refresh(token, login_type)?;
            cookies.check_csrf_token(headers, login_type, old.session_id())?;
            let pair = self.refresh(token).await?;
            return Ok(Some((login_type.to_owned(), pair)));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::keyring::{TokenError, TokenRequest};
    use crate::{AuthManager, LoginType, Principal, ScopeRequirement, SigningKey};

    fn user_type() -> LoginType {
        LoginType::new("user")
            .key(SigningKey::hs256("u1", &[1; 32]))
            .access_ttl(Duration::from_secs(900))
            .refresh_ttl(Duration::from_secs(3600))
    }

    fn stateless() -> AuthManager {
        AuthManager::builder()
            .login_type(user_type())
            .role("editor", ["articles:write", "articles:publish"])
            .build()
            .unwrap()
    }

    fn verify(manager: &AuthManager, token: &str) -> Principal {
        manager.verify_access_token(token, &["user"]).unwrap()
    }

    #[test]
    fn a_role_token_holds_the_role_and_its_scopes() {
        let manager = stateless();
        let request = TokenRequest::new("user", "alice").roles(["editor"]);
        let token = manager.create_access_token(&request).unwrap();
        let principal = verify(&manager, &token.access_token);
        assert_eq!(
            principal.scopes().iter().collect::<Vec<_>>(),
            ["articles:write", "articles:publish"]
        );
        assert_eq!(principal.claim("roles"), Some(&json!(["editor"])));
        manager.check_roles(&principal, &["editor"]).unwrap();
        manager
            .check_scopes(&principal, ScopeRequirement::All(&["articles:publish"]))
            .unwrap();
        assert!(
            manager
                .check_scopes(&principal, ScopeRequirement::All(&["users:read"]))
                .is_err()
        );
    }

    #[test]
    fn an_unknown_role_issues_nothing() {
        let manager = stateless();
        let request = TokenRequest::new("user", "alice").roles(["nobody"]);
        assert_eq!(
            manager.create_access_token(&request).unwrap_err(),
            TokenError::UnknownRole("nobody".into())
        );
    }

    #[test]
    fn roles_left_unresolved_fail_closed() {
        let manager = stateless();
        let request = TokenRequest::new("user", "alice").roles(["editor"]);
        assert!(matches!(
            manager.inner.keys.prepare(&request),
            Err(TokenError::UnknownRole(role)) if role == "editor"
        ));
    }

    #[test]
    fn the_lifetime_is_the_requested_one_within_the_login_types() {
        let manager = stateless();
        let issue = |lifetime: Duration| {
            let request = TokenRequest::new("user", "alice").expires_in(lifetime);
            manager.create_access_token(&request)
        };
        for (asked, expected) in [(60, 60), (900, 900), (901, 900), (86_400, 900)] {
            let token = issue(Duration::from_secs(asked)).unwrap();
            assert_eq!(token.expires_in, expected, "asked {asked} s");
            let principal = verify(&manager, &token.access_token);
            assert_eq!(principal.expires_at() - principal.issued_at(), expected);
        }
        // Whole seconds: a fraction is dropped, less than one second is refused.
        assert_eq!(issue(Duration::from_millis(1900)).unwrap().expires_in, 1);
        for short in [Duration::ZERO, Duration::from_millis(999)] {
            let err = issue(short).unwrap_err();
            assert_eq!(err, TokenError::InvalidLifetime(short));
            assert!(err.to_string().contains("at least one second"), "{err}");
        }
        // Without a lifetime: the login type's.
        let token = manager
            .create_access_token(&TokenRequest::new("user", "alice"))
            .unwrap();
        assert_eq!(token.expires_in, 900);
    }

    #[cfg(feature = "sqlite")]
    async fn with_sessions() -> AuthManager {
        let store = crate::store::SqlStore::connect("sqlite::memory:")
            .await
            .unwrap();
        AuthManager::builder()
            .login_type(user_type())
            .role("editor", ["articles:write", "articles:publish"])
            .sessions(store)
            .build()
            .unwrap()
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_session_keeps_its_lifetime_across_refreshes() {
        let manager = with_sessions().await;
        let request = TokenRequest::new("user", "alice").expires_in(Duration::from_secs(120));
        let pair = manager.create_session(&request).await.unwrap();
        assert_eq!(pair.expires_in, 120);
        let access = verify(&manager, &pair.access_token);
        assert_eq!(access.expires_at() - access.issued_at(), 120);
        // The refresh token lives as long as the login type says, and carries the lifetime.
        let refresh = manager
            .verify_refresh_token(&pair.refresh_token, "user")
            .unwrap();
        assert_eq!(refresh.expires_at() - refresh.issued_at(), 3600);
        assert_eq!(refresh.claim("access_ttl"), Some(&json!(120)));
        assert!(access.claim("access_ttl").is_none());

        let next = manager.refresh(&pair.refresh_token).await.unwrap();
        assert_eq!(next.expires_in, 120);
        let access = verify(&manager, &next.access_token);
        assert_eq!(access.expires_at() - access.issued_at(), 120);
        let refresh = manager
            .verify_refresh_token(&next.refresh_token, "user")
            .unwrap();
        assert_eq!(refresh.claim("access_ttl"), Some(&json!(120)));

        // Without a lifetime: the login type's, and no claim.
        let pair = manager
            .create_session(&TokenRequest::new("user", "bob"))
            .await
            .unwrap();
        assert_eq!(pair.expires_in, 900);
        let refresh = manager
            .verify_refresh_token(&pair.refresh_token, "user")
            .unwrap();
        assert!(refresh.claim("access_ttl").is_none());
        assert_eq!(
            manager
                .refresh(&pair.refresh_token)
                .await
                .unwrap()
                .expires_in,
            900
        );
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_session_of_roles_keeps_them_across_refreshes() {
        let manager = with_sessions().await;
        let request = TokenRequest::new("user", "alice")
            .roles(["editor"])
            .expires_in(Duration::from_secs(7200)); // capped to 900
        let pair = manager.create_session(&request).await.unwrap();
        assert_eq!(pair.expires_in, 900);
        let next = manager.refresh(&pair.refresh_token).await.unwrap();
        assert_eq!(next.expires_in, 900);
        let principal = manager
            .authenticate_token(&next.access_token, &["user"])
            .await
            .unwrap();
        manager.check_roles(&principal, &["editor"]).unwrap();
        assert_eq!(principal.claim("roles"), Some(&json!(["editor"])));

        let typo = TokenRequest::new("user", "alice").roles(["editr"]);
        assert_eq!(
            manager.create_session(&typo).await.unwrap_err(),
            TokenError::UnknownRole("editr".into())
        );
        let zero = TokenRequest::new("user", "alice").expires_in(Duration::ZERO);
        assert_eq!(
            manager.create_session(&zero).await.unwrap_err(),
            TokenError::InvalidLifetime(Duration::ZERO)
        );
    }
}
