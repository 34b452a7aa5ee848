//! [`AuthManager`]: the login types, their keys, and the scope validator, as axum state.

mod builder;
mod error;
mod login_type;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::accounts::AccountsConfig;
use crate::error::ErrorRenderer;
use crate::password::PasswordHasher;
use crate::policy::{PolicyEngine, ResourceLoader};
use crate::proxy::TrustedProxies;
use crate::scope::ScopeValidator;
use crate::session::Sessions;
use crate::store::UserStore;
use crate::throttle::LoginThrottle;

pub use builder::AuthManagerBuilder;
pub use error::ConfigError;
pub(crate) use login_type::LoginTypeState;
pub use login_type::{LoginType, TokenLocation};

/// The built configuration. Only this module and its builder see the fields; the rest of the
/// crate reads it through the accessors on [`AuthManager`].
struct Inner {
    login_types: Vec<LoginTypeState>,
    /// kid → (login type index, key index)
    kids: HashMap<String, (usize, usize)>,
    scopes: Arc<dyn ScopeValidator>,
    policies: PolicyEngine,
    /// role → the scopes it stands for
    roles: HashMap<String, Vec<String>>,
    loaders: HashMap<String, Arc<dyn ResourceLoader>>,
    renderer: Box<dyn ErrorRenderer>,
    sessions: Option<Sessions>,
    users: Option<Arc<dyn UserStore>>,
    /// `users` and `sessions` are one store: it checks credential versions itself.
    one_store: bool,
    accounts: AccountsConfig,
    passwords: PasswordHasher,
    /// Sign-in, password-change and registration budgets.
    throttle: LoginThrottle,
    /// Whose forwarding headers are believed.
    proxies: TrustedProxies,
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

    /// The registered login type names, in registration order.
    pub fn login_type_names(&self) -> impl Iterator<Item = &str> {
        self.inner.login_types.iter().map(|l| &*l.name)
    }

    pub(crate) fn login_type(&self, name: &str) -> Option<(usize, &LoginTypeState)> {
        self.inner
            .login_types
            .iter()
            .enumerate()
            .find(|(_, l)| &*l.name == name)
    }

    /// The login type at `index` (as returned by [`login_type`](Self::login_type) or
    /// [`key_by_kid`](Self::key_by_kid)).
    pub(crate) fn login_type_at(&self, index: usize) -> &LoginTypeState {
        &self.inner.login_types[index]
    }

    /// The (login type index, key index) of the key with this `kid`.
    pub(crate) fn key_by_kid(&self, kid: &str) -> Option<(usize, usize)> {
        self.inner.kids.get(kid).copied()
    }

    /// The scopes a role stands for; `None` for a role nobody configured.
    pub(crate) fn role_scopes(&self, role: &str) -> Option<&[String]> {
        self.inner.roles.get(role).map(Vec::as_slice)
    }

    /// Whether the session store also holds the accounts (and checks credential versions in
    /// the transaction that records a session).
    pub(crate) fn accounts_in_session_store(&self) -> bool {
        self.inner.one_store
    }

    /// The session store and revocation list, if sessions are configured.
    pub(crate) fn sessions(&self) -> Option<&Sessions> {
        self.inner.sessions.as_ref()
    }

    /// The account store, if one is configured.
    pub fn users(&self) -> Option<&dyn UserStore> {
        self.inner.users.as_deref()
    }

    /// How accounts become tokens.
    pub(crate) fn accounts_config(&self) -> &AccountsConfig {
        &self.inner.accounts
    }

    /// The password hasher (argon2id on a bounded blocking pool).
    pub fn password_hasher(&self) -> &PasswordHasher {
        &self.inner.passwords
    }

    /// The throttle of sign-ins, password changes and registrations.
    pub fn login_throttle(&self) -> &LoginThrottle {
        &self.inner.throttle
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
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        self.inner.proxies.client_addr(peer, &parts.headers)
    }

    /// The loader registered for a resource type.
    pub(crate) fn resource_loader(&self, resource: &str) -> Option<&dyn ResourceLoader> {
        self.inner.loaders.get(resource).map(|l| &**l)
    }

    /// The scope validator in use.
    pub fn scope_validator(&self) -> &dyn ScopeValidator {
        &*self.inner.scopes
    }

    /// The policy rules.
    pub fn policy_engine(&self) -> &PolicyEngine {
        &self.inner.policies
    }

    /// Renders an error with the configured [`ErrorRenderer`] and its `WWW-Authenticate` header.
    pub fn render_error(&self, error: &crate::AuthError) -> axum::response::Response {
        crate::error::render_with(&*self.inner.renderer, error)
    }
}
