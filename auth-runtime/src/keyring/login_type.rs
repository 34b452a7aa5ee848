//! One login type's configuration ([`LoginType`]) and its built form.

use std::sync::Arc;
use std::time::Duration;

use super::keys::{ReadyKey, SigningKey};

/// Where a login type looks for its token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenLocation {
    /// `Authorization: Bearer <token>`.
    Header,
    /// `X-API-Key: <key>`: an API key created by (or for) an account, with the key's own
    /// scopes ([`AuthManager::create_api_key`](crate::AuthManager::create_api_key)). A key is
    /// created for one login type and only ever accepted where that login type is, and only
    /// while that login type lists this location.
    ApiKey,
    /// The session cookies set by a cookie sign-in (see
    /// [`CookieConfig`](crate::CookieConfig)): unsafe requests need the session's CSRF token.
    Cookie,
}

/// The configuration of one login type (`user`, `admin`, `service`, ...): its own keys,
/// lifetimes, issuer, audience, leeway and token locations. Tokens of one login type are never
/// accepted where another is required.
///
/// ```
/// use std::time::Duration;
/// use auth_runtime::{LoginType, SigningKey};
///
/// let admin = LoginType::new("admin")
///     .key(SigningKey::hs256("admin-2", &[7; 32]))
///     .previous_key(SigningKey::hs256("admin-1", &[8; 32]))
///     .access_ttl(Duration::from_secs(3600))
///     .issuer("auth-demo");
/// assert_eq!(admin.name(), "admin");
/// ```
#[derive(Debug, Clone)]
pub struct LoginType {
    pub(crate) name: String,
    pub(crate) keys: Vec<SigningKey>,
    pub(crate) access_ttl: Duration,
    pub(crate) refresh_ttl: Duration,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) leeway: Duration,
    pub(crate) locations: Vec<TokenLocation>,
}

impl LoginType {
    /// A login type with no key yet, 15 min access tokens, 1 day refresh tokens, no issuer or
    /// audience, 30 s leeway, tokens read from the `Authorization` header.
    pub fn new(name: impl Into<String>) -> Self {
        LoginType {
            name: name.into(),
            keys: Vec::new(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(24 * 3600),
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(30),
            locations: vec![TokenLocation::Header],
        }
    }

    /// The login type's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the current signing key (replacing any earlier current key); new tokens are signed
    /// with it.
    pub fn key(mut self, key: SigningKey) -> Self {
        if self.keys.is_empty() {
            self.keys.push(key);
        } else {
            self.keys[0] = key;
        }
        self
    }

    /// Adds a previous key: tokens it signed still verify, but it signs nothing new (rotation).
    pub fn previous_key(mut self, key: SigningKey) -> Self {
        if self.keys.is_empty() {
            // Keep index 0 for the current key; a missing current key is reported on build.
            self.keys.push(SigningKey::hs256("", &[]));
        }
        self.keys.push(key);
        self
    }

    /// Lifetime of access tokens.
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Lifetime of refresh tokens.
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// Sets `iss` on issued tokens and requires it on presented ones.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets `aud` on issued tokens and requires it on presented ones.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Where tokens are read from, in order.
    pub fn token_locations(mut self, locations: impl IntoIterator<Item = TokenLocation>) -> Self {
        self.locations = locations.into_iter().collect();
        self
    }
}

/// A built login type.
pub(crate) struct LoginTypeState {
    pub(crate) name: Arc<str>,
    /// Index 0 is the current key.
    pub(crate) keys: Vec<ReadyKey>,
    pub(crate) access_ttl: Duration,
    pub(crate) refresh_ttl: Duration,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) leeway: u64,
    pub(crate) locations: Vec<TokenLocation>,
}

impl LoginTypeState {
    /// Whether requests of this login type may authenticate with an API key.
    pub(crate) fn takes_api_keys(&self) -> bool {
        self.locations.contains(&TokenLocation::ApiKey)
    }

    /// Whether requests of this login type may authenticate with its session cookies.
    pub(crate) fn reads_cookies(&self) -> bool {
        self.locations.contains(&TokenLocation::Cookie)
    }
}
