//! [`AuthManagerBuilder`]: collects the configuration and checks all of it in `build`.

use std::collections::HashMap;
use std::sync::{Arc, Once};

use super::{AuthManager, ConfigError, Inner};
use crate::access::Access;
#[cfg(feature = "accounts")]
use crate::accounts::{ApiKeys, PasswordResets};
use crate::credential::cookie::{CookieConfig, Cookies};
use crate::credential::custom::CredentialVerifier;
use crate::error::{ErrorRenderer, ProblemJson};
#[cfg(feature = "federation")]
use crate::federation::{ExternalIssuer, IssuerVerifier};
use crate::grants::{AccountsConfig, Grants, LoginTypeAlias};
use crate::keyring::{Keyring, LoginType, LoginTypeState, MIN_HMAC_SECRET_LEN};
#[cfg(feature = "accounts")]
use crate::password::PasswordHasher;
use crate::policy::{PolicyEngine, PolicyRule, ResourceLoader};
use crate::proxy::{ForwardedHeader, TrustedProxies};
use crate::scope::{HierarchicalScopes, ScopeValidator};
use crate::sessions::{SessionConfig, Sessions};
use crate::store::{ApiKeyStore, IdentityLoader, PasswordResetStore, SessionStore, UserStore};
#[cfg(feature = "accounts")]
use crate::throttle::{LoginThrottle, MemoryThrottleStore, ThrottleConfig, ThrottleStore};

/// Builds an [`AuthManager`].
#[must_use]
pub struct AuthManagerBuilder {
    login_types: Vec<LoginType>,
    scopes: Arc<dyn ScopeValidator>,
    renderer: Box<dyn ErrorRenderer>,
    rules: Vec<PolicyRule>,
    roles: Vec<(String, Vec<String>)>,
    loaders: HashMap<String, Arc<dyn ResourceLoader>>,
    sessions: Option<Arc<dyn SessionStore>>,
    session_config: SessionConfig,
    users: Option<Arc<dyn UserStore>>,
    identities: Option<Arc<dyn IdentityLoader>>,
    aliases: Vec<LoginTypeAlias>,
    /// Whether `users` and `sessions` are one store ([`store`](Self::store)).
    one_store: bool,
    #[cfg(feature = "accounts")]
    api_keys: Option<Arc<dyn ApiKeyStore>>,
    #[cfg(feature = "accounts")]
    api_key_prefix: String,
    cookies: CookieConfig,
    csrf_secret: Option<Vec<u8>>,
    verifiers: Vec<Arc<dyn CredentialVerifier>>,
    /// Login type → the external issuer whose tokens it accepts.
    #[cfg(feature = "federation")]
    external: Vec<(String, ExternalIssuer)>,
    accounts: AccountsConfig,
    #[cfg(feature = "accounts")]
    passwords: Option<PasswordHasher>,
    #[cfg(feature = "accounts")]
    throttle: ThrottleConfig,
    #[cfg(feature = "accounts")]
    throttle_store: Option<Arc<dyn ThrottleStore>>,
    #[cfg(feature = "accounts")]
    throttle_secret: Option<Vec<u8>>,
    trusted_proxies: Vec<String>,
    forwarded_header: ForwardedHeader,
    /// Set by the password-reset methods (`reset.rs`).
    #[cfg(feature = "accounts")]
    pub(super) resets: PasswordResets,
}

impl AuthManagerBuilder {
    pub(super) fn new() -> Self {
        AuthManagerBuilder {
            login_types: Vec::new(),
            scopes: Arc::new(HierarchicalScopes::new()),
            renderer: Box::new(ProblemJson),
            rules: Vec::new(),
            roles: Vec::new(),
            loaders: HashMap::new(),
            sessions: None,
            session_config: SessionConfig::default(),
            users: None,
            identities: None,
            aliases: Vec::new(),
            one_store: false,
            #[cfg(feature = "accounts")]
            api_keys: None,
            #[cfg(feature = "accounts")]
            api_key_prefix: "ak".into(),
            cookies: CookieConfig::default(),
            csrf_secret: None,
            verifiers: Vec::new(),
            #[cfg(feature = "federation")]
            external: Vec::new(),
            accounts: AccountsConfig::default(),
            #[cfg(feature = "accounts")]
            passwords: None,
            #[cfg(feature = "accounts")]
            throttle: ThrottleConfig::default(),
            #[cfg(feature = "accounts")]
            throttle_store: None,
            #[cfg(feature = "accounts")]
            throttle_secret: None,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::default(),
            #[cfg(feature = "accounts")]
            resets: PasswordResets::default(),
        }
    }

    #[cfg(feature = "accounts")]
    /// Replaces the password hasher (default: [`PasswordHasher::new`], argon2id with the OWASP
    /// parameters on a blocking pool as wide as the machine).
    pub fn password_hasher(mut self, hasher: PasswordHasher) -> Self {
        self.passwords = Some(hasher);
        self
    }

    #[cfg(feature = "accounts")]
    /// Replaces the throttling budgets of sign-ins, password changes and registrations
    /// (default: [`ThrottleConfig::default`]).
    pub fn login_throttle(mut self, config: ThrottleConfig) -> Self {
        self.throttle = config;
        self
    }

    #[cfg(feature = "accounts")]
    /// Registrations allowed per client address within
    /// [`ThrottleConfig::registration_window`] (10 minutes); `0` is no limit. Default 20.
    /// (Sets [`ThrottleConfig::registrations`]; a later
    /// [`login_throttle`](Self::login_throttle) replaces it.)
    ///
    /// ```
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    ///
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .registration_limit(5)
    ///     .build()?;
    /// assert_eq!(manager.login_throttle().config().registrations, 5);
    /// # Ok::<(), auth_runtime::ConfigError>(())
    /// ```
    pub fn registration_limit(mut self, limit: u32) -> Self {
        self.throttle.registrations = limit;
        self
    }

    #[cfg(feature = "accounts")]
    /// Keeps the throttle budgets in `store` instead of in the process
    /// ([`MemoryThrottleStore`](crate::throttle::MemoryThrottleStore)): a
    /// [`SqlStore`](crate::store::SqlStore) or a
    /// [`RedisThrottleStore`](crate::throttle::RedisThrottleStore) shares them between every
    /// instance using it. A shared store needs a [`throttle_secret`](Self::throttle_secret).
    ///
    /// ```
    /// use auth_runtime::throttle::RedisThrottleStore;
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    ///
    /// let secret = b"a per-deployment secret, 32 bytes or more";
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .throttle_store(RedisThrottleStore::open("redis://127.0.0.1:6379/")?) // connects on first use
    ///     .throttle_secret(secret)
    ///     .build()?;
    /// assert!(manager.login_throttle().store().is_shared());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn throttle_store(mut self, store: impl ThrottleStore) -> Self {
        self.throttle_store = Some(Arc::new(store));
        self
    }

    #[cfg(feature = "accounts")]
    /// The per-deployment secret that throttle keys are derived from (HMAC-SHA256; at least 32
    /// bytes, the same on every instance sharing a throttle store, so that they count one
    /// account under one key). The email never reaches the store: only its keyed hash. A
    /// secret the deployment already shares (a login type's HS256 secret) may be reused: the
    /// key is derived from it, not the secret itself. Without it, keys are random per process,
    /// which is only allowed with the in-memory store.
    ///
    /// ```
    /// use auth_runtime::{AuthManager, ConfigError, LoginType, SigningKey};
    /// use auth_runtime::throttle::RedisThrottleStore;
    ///
    /// let user = || LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32]));
    /// let redis = || RedisThrottleStore::open("redis://127.0.0.1/").unwrap();
    /// // A shared store without a secret (or with a short one) is refused.
    /// let err = AuthManager::builder().login_type(user()).throttle_store(redis()).build();
    /// assert_eq!(err.unwrap_err(), ConfigError::ThrottleSecret);
    /// let ok = AuthManager::builder()
    ///     .login_type(user())
    ///     .throttle_store(redis())
    ///     .throttle_secret([7u8; 32])
    ///     .build();
    /// assert!(ok.is_ok());
    /// ```
    pub fn throttle_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.throttle_secret = Some(secret.as_ref().to_vec());
        self
    }

    /// Trusts the reverse proxies in these networks (CIDR: `10.0.0.0/8`, `fd00::/8`, or a
    /// single address) to report the client's address in `X-Forwarded-For` (or the header set
    /// by [`forwarded_header`](Self::forwarded_header)). Login throttling, registration budgets
    /// and policies' `client_ip` then use the right-most address that is not itself a trusted
    /// proxy (see [`proxy`](crate::proxy)). A network that cannot be parsed is a
    /// [`ConfigError::TrustedProxy`]. Default: none (the client is the TCP peer).
    ///
    /// ```
    /// use auth_runtime::{AuthManager, ConfigError, LoginType, SigningKey};
    ///
    /// let user = || LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32]));
    /// let manager = AuthManager::builder()
    ///     .login_type(user())
    ///     .trusted_proxies(["10.0.0.0/8", "fd00::/8"])
    ///     .build()?;
    /// assert_eq!(manager.trusted_proxies().networks().len(), 2);
    ///
    /// let err = AuthManager::builder()
    ///     .login_type(user())
    ///     .trusted_proxies(["10.0.0.1/8"])
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, ConfigError::TrustedProxy { .. }));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn trusted_proxies<I, S>(mut self, networks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.trusted_proxies
            .extend(networks.into_iter().map(|n| n.as_ref().to_owned()));
        self
    }

    /// The header trusted proxies write the client's address into (default
    /// `X-Forwarded-For`). Only this header is read: see [`proxy`](crate::proxy).
    ///
    /// ```
    /// use auth_runtime::proxy::ForwardedHeader;
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    ///
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .trusted_proxies(["192.168.0.0/16"])
    ///     .forwarded_header(ForwardedHeader::Forwarded)
    ///     .build()?;
    /// assert_eq!(manager.trusted_proxies().forwarded_header(), ForwardedHeader::Forwarded);
    /// # Ok::<(), auth_runtime::ConfigError>(())
    /// ```
    pub fn forwarded_header(mut self, header: ForwardedHeader) -> Self {
        self.forwarded_header = header;
        self
    }

    /// Stores sessions (refresh-token families) and revocations in `store`. From then on every
    /// token belongs to a session and every secured request checks that it is not revoked
    /// (see [`SessionConfig`](crate::SessionConfig)).
    pub fn sessions(mut self, store: impl SessionStore) -> Self {
        self.sessions = Some(Arc::new(store));
        self.one_store = false;
        self
    }

    /// Session lifetimes and the revocation staleness bound (default: [`SessionConfig::default`]).
    pub fn session_config(mut self, config: SessionConfig) -> Self {
        self.session_config = config;
        self
    }

    /// Reads accounts from `store`: password sign-in, registration and the built-in account
    /// routes use it, and a refresh re-reads the account's roles and status.
    pub fn users(mut self, store: impl UserStore) -> Self {
        self.users = Some(Arc::new(store));
        self.one_store = false;
        self
    }

    #[cfg(feature = "accounts")]
    /// Signs users in from the app's own table ([`IdentityLoader`]) instead of a
    /// [`UserStore`]: [`AuthManager::sign_in`](crate::AuthManager::sign_in), `/auth/login`,
    /// `/admin/login` (users holding the
    /// [admin role](crate::accounts::AccountsConfig::admin_role)) and the password grant read
    /// it, and every refresh re-reads the user. Keep sessions with
    /// [`sessions`](Self::sessions); a user store as well is a
    /// [`ConfigError::UsersAndIdentities`].
    ///
    /// ```
    /// # use std::collections::HashMap;
    /// # use auth_runtime::store::{Identity, IdentityLoader, StoreFuture};
    /// # struct Users(HashMap<String, Identity>);
    /// # impl IdentityLoader for Users {
    /// #     fn by_username<'a>(&'a self, u: &'a str) -> StoreFuture<'a, Option<Identity>> {
    /// #         Box::pin(async move { Ok(self.0.get(u).cloned()) })
    /// #     }
    /// #     fn by_subject<'a>(&'a self, s: &'a str) -> StoreFuture<'a, Option<Identity>> {
    /// #         Box::pin(async move { Ok(self.0.values().find(|i| i.subject == s).cloned()) })
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use auth_runtime::{AuthManager, LoginType, PasswordHasher, SigningKey};
    /// use auth_runtime::store::SqlStore;
    ///
    /// let hash = PasswordHasher::default().hash("a long passphrase").await?;
    /// let users = Users(HashMap::from([(
    ///     "alice".to_owned(),
    ///     Identity::new("user-123", Some(hash)).roles(["reader"]),
    /// )]));
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .role("reader", ["reports:read"])
    ///     .identities(users)
    ///     .sessions(SqlStore::connect("sqlite::memory:").await?)
    ///     .build()?;
    /// let pair = manager.sign_in("alice", "a long passphrase", "user", None).await?;
    /// let alice = manager.verify_access_token(&pair.access_token, &["user"])?;
    /// assert_eq!(alice.subject(), "user-123");
    /// assert!(alice.scopes().iter().any(|s| s == "reports:read"));
    /// # Ok(()) }
    /// ```
    pub fn identities(mut self, loader: impl IdentityLoader) -> Self {
        self.identities = Some(Arc::new(loader));
        self
    }

    /// Uses one store for accounts and sessions, such as
    /// [`SqlStore`](crate::store::SqlStore). The store then checks, in the transaction that
    /// records a session, that its account has not changed since the sign-in read it
    /// ([`SessionStore::create_session`]).
    ///
    /// It also keeps the API keys ([`api_keys`](Self::api_keys)) and the password-reset tokens
    /// (`password_reset_store`, feature `accounts`).
    pub fn store<S>(self, store: S) -> Self
    where
        S: UserStore + SessionStore + ApiKeyStore + PasswordResetStore + Clone,
    {
        let builder = self.users(store.clone()).sessions(store.clone());
        #[cfg(feature = "accounts")]
        let builder = builder.api_keys(store.clone()).password_reset_store(store);
        #[cfg(not(feature = "accounts"))]
        drop(store);
        AuthManagerBuilder {
            one_store: true,
            ..builder
        }
    }

    #[cfg(feature = "accounts")]
    /// Keeps API keys in `store`: accounts create them
    /// ([`AuthManager::create_api_key`](crate::AuthManager::create_api_key)) and login types
    /// that list [`TokenLocation::ApiKey`](crate::TokenLocation::ApiKey) accept them in
    /// `X-API-Key`. Keys belong to accounts, so a user store is needed too.
    pub fn api_keys(mut self, store: impl ApiKeyStore) -> Self {
        self.api_keys = Some(Arc::new(store));
        self
    }

    /// How session cookies are set and checked, for login types that list
    /// [`TokenLocation::Cookie`](crate::TokenLocation::Cookie) (default:
    /// [`CookieConfig::default`]).
    pub fn cookies(mut self, config: CookieConfig) -> Self {
        self.cookies = config;
        self
    }

    /// The key of the CSRF tokens of cookie sessions (an HMAC of the session id), at least 32
    /// bytes: give every instance sharing sessions the same one. Without it, each process
    /// draws a random one, and a CSRF token is good on the instance that issued it only.
    pub fn csrf_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.csrf_secret = Some(secret.as_ref().to_vec());
        self
    }

    /// Adds a verifier of credentials of the application's own (opaque tokens, an identity
    /// provider's introspection): verifiers run first, in the order added, and what they
    /// verify passes every attribute like a token would (see [`CredentialVerifier`]).
    pub fn credential_verifier(mut self, verifier: impl CredentialVerifier) -> Self {
        self.verifiers.push(Arc::new(verifier));
        self
    }

    #[cfg(feature = "federation")]
    /// Accepts the access tokens of an external issuer as callers of login type
    /// `login_type` (see [`ExternalIssuer`]): `#[login_type("partner")]`, `#[requires]`,
    /// `#[roles]` and `#[policy]` then work on them. Its verifier runs after those of
    /// [`credential_verifier`](Self::credential_verifier), before the built-in credentials.
    ///
    /// The login type is registered with the defaults of [`LoginType::new`] unless the app
    /// registers it itself (to set its [leeway](LoginType::leeway), applied to `exp`, `nbf` and
    /// `iat`). It issues no token of its own: it has no key (one is a
    /// [`ConfigError::ExternalIssuer`]), reads the `Authorization` header only and is served
    /// by one issuer (so that a subject names one caller). Nothing is fetched here: keys are
    /// fetched at the first token of the issuer, or by
    /// [`AuthManager::fetch_issuer_keys`](crate::AuthManager::fetch_issuer_keys).
    ///
    /// ```
    /// use std::time::Duration;
    /// use auth_runtime::federation::ExternalIssuer;
    /// use auth_runtime::{AuthManager, ConfigError, LoginType, SigningKey};
    ///
    /// let user = || LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32]));
    /// let manager = AuthManager::builder()
    ///     .login_type(user())
    ///     .login_type(LoginType::new("partner").leeway(Duration::from_secs(60)))
    ///     .external_issuer(
    ///         "partner",
    ///         ExternalIssuer::discovery("https://login.partner.example").audience("reports-api"),
    ///     )
    ///     .build()?;
    /// # let _ = manager;
    ///
    /// // An issuer without an audience would accept tokens meant for anyone.
    /// let err = AuthManager::builder()
    ///     .login_type(user())
    ///     .external_issuer("partner", ExternalIssuer::discovery("https://login.partner.example"))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, ConfigError::ExternalIssuer { .. }));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn external_issuer(
        mut self,
        login_type: impl Into<String>,
        issuer: ExternalIssuer,
    ) -> Self {
        self.external.push((login_type.into(), issuer));
        self
    }

    #[cfg(feature = "accounts")]
    /// The first part of every API key, `<prefix>_<id>_<secret>` (default `ak`): lowercase
    /// ASCII letters and digits, 1 to 16 of them. A prefix of your own makes your keys easy
    /// to recognise for secret scanners.
    pub fn api_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.api_key_prefix = prefix.into();
        self
    }

    #[cfg(feature = "accounts")]
    /// How accounts become tokens: default roles, the admin role, extra claims.
    pub fn accounts(mut self, config: AccountsConfig) -> Self {
        self.accounts = config;
        self
    }

    /// Makes `alias` a login type that is `target`'s tokens holding `role`: a route that
    /// accepts `alias` (`#[login_type("admin")]`) accepts a `target` token whose scopes cover
    /// the role's (401 for a token of another login type, 403 without the role), and a sign-in
    /// for `alias` (`/admin/login`) issues a `target` token, to holders of the role only.
    ///
    /// So an app with one login type and one secret, where admins are told apart by role
    /// (fastapi-auth-admin's model), still gets the built-in admin routes, which say
    /// `#[login_type("admin")]`. `alias` must not be a registered login type, `target` must
    /// be one, and `role` must be declared and granted on `target` (not limited away from it by
    /// [`AccountsConfig::role_login_types`](crate::accounts::AccountsConfig::role_login_types)),
    /// or [`build`](Self::build) reports [`ConfigError::LoginTypeAlias`]. Cookie sign-in
    /// (`?cookie=true`) is not offered for an alias.
    ///
    /// ```
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    ///
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .role("admin", ["admin:*", "users:*"])
    ///     .login_type_alias("admin", "user", "admin")
    ///     .build()?;
    /// # let _ = manager;
    /// # Ok::<(), auth_runtime::ConfigError>(())
    /// ```
    pub fn login_type_alias(
        mut self,
        alias: impl Into<String>,
        target: impl Into<String>,
        role: impl Into<String>,
    ) -> Self {
        let alias = alias.into();
        self.aliases.retain(|a| a.alias != alias);
        self.aliases.push(LoginTypeAlias {
            alias,
            target: target.into(),
            role: role.into(),
        });
        self
    }

    /// Registers a login type.
    pub fn login_type(mut self, login_type: LoginType) -> Self {
        self.login_types.push(login_type);
        self
    }

    /// Replaces the scope validator (default: [`HierarchicalScopes::new`]).
    pub fn scope_validator(mut self, validator: impl ScopeValidator) -> Self {
        self.scopes = Arc::new(validator);
        self
    }

    /// Declares a role for `#[roles(...)]`: a caller holds it when its token's scopes cover
    /// every one of `scopes` (FAuth's `require_roles`, mapped onto scopes).
    pub fn role<I, S>(mut self, name: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles
            .push((name.into(), scopes.into_iter().map(Into::into).collect()));
        self
    }

    /// Adds a policy rule (see [`policy`](mod@crate::policy)).
    pub fn policy(mut self, rule: PolicyRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Adds policy rules, e.g. from [`PolicyRule::from_json`].
    pub fn policies(mut self, rules: impl IntoIterator<Item = PolicyRule>) -> Self {
        self.rules.extend(rules);
        self
    }

    /// Registers the loader of a resource type named in `#[policy(resource = "...")]`: it runs
    /// before the policy decides, its attributes are `resource.<key>` in conditions, and its
    /// value is available to the handler through [`Resource<T>`](crate::Resource).
    pub fn resource_loader(
        mut self,
        resource_type: impl Into<String>,
        loader: impl ResourceLoader,
    ) -> Self {
        self.loaders.insert(resource_type.into(), Arc::new(loader));
        self
    }

    /// Replaces the error body format (default: [`ProblemJson`]).
    pub fn error_renderer(mut self, renderer: impl ErrorRenderer) -> Self {
        self.renderer = Box::new(renderer);
        self
    }

    /// Checks the whole configuration and builds the manager, reporting every problem found.
    pub fn build(self) -> Result<AuthManager, ConfigError> {
        install_crypto_provider();
        let mut errors = Vec::new();
        #[cfg(feature = "federation")]
        let (login_types, external_names) = {
            let mut login_types = self.login_types;
            let mut names: Vec<String> = Vec::new();
            for (name, _) in &self.external {
                if !login_types.iter().any(|l| l.name == *name) {
                    login_types.push(LoginType::new(name.clone()));
                }
                names.push(name.clone());
            }
            (login_types, names)
        };
        #[cfg(not(feature = "federation"))]
        let (login_types, external_names) = (self.login_types, Vec::<String>::new());
        let (login_types, kids) = build_login_types(login_types, &external_names, &mut errors);
        let roles = Arc::new(build_roles(self.roles, &mut errors));
        #[cfg(feature = "federation")]
        let issuers = build_issuers(
            self.external,
            &login_types,
            &roles,
            &self.scopes,
            &mut errors,
        );
        // The app's own verifiers first, then the external issuers'.
        #[cfg(feature = "federation")]
        let verifiers: Vec<Arc<dyn CredentialVerifier>> = self
            .verifiers
            .into_iter()
            .chain(
                issuers
                    .iter()
                    .map(|i| Arc::clone(i) as Arc<dyn CredentialVerifier>),
            )
            .collect();
        #[cfg(not(feature = "federation"))]
        let verifiers = self.verifiers;
        let policies = PolicyEngine::builder()
            .rules(self.rules)
            .scope_validator(self.scopes.clone())
            .build()
            .unwrap_or_else(|e| {
                errors.push(ConfigError::Policy(e));
                PolicyEngine::default()
            });
        // A revocation must outlive every access token it can affect.
        let remember = login_types
            .iter()
            .map(|l| l.access_ttl.as_secs() + l.leeway)
            .max()
            .unwrap_or(0);
        let sessions = self
            .sessions
            .map(|store| Sessions::new(store, self.session_config, remember));
        #[cfg(feature = "accounts")]
        let key_store_complete = {
            let prefix = &self.api_key_prefix;
            if prefix.is_empty()
                || prefix.len() > 16
                || !prefix
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                errors.push(ConfigError::ApiKeyPrefix(prefix.clone()));
            }
            self.api_keys.is_some() && self.users.is_some()
        };
        // API keys belong to accounts.
        #[cfg(not(feature = "accounts"))]
        let key_store_complete = false;
        for lt in login_types.iter().filter(|l| l.takes_api_keys()) {
            if !key_store_complete {
                errors.push(ConfigError::ApiKeysWithoutStore(lt.name.to_string()));
            }
        }
        for alias in &self.aliases {
            let reason = if login_types.iter().any(|l| *l.name == *alias.alias) {
                Some("it is a registered login type".to_owned())
            } else if !login_types.iter().any(|l| *l.name == *alias.target) {
                Some(format!(
                    "its target `{}` is not a registered login type",
                    alias.target
                ))
            } else if !roles.contains_key(&alias.role) {
                Some(format!(
                    "role `{}` is not declared (AuthManagerBuilder::role)",
                    alias.role
                ))
            } else if !self.accounts.grants_role_on(&alias.role, &alias.target) {
                Some(format!(
                    "role `{}` is not granted on login type `{}` (AccountsConfig::role_login_types)",
                    alias.role, alias.target
                ))
            } else {
                None
            };
            if let Some(reason) = reason {
                errors.push(ConfigError::LoginTypeAlias {
                    alias: alias.alias.clone(),
                    reason,
                });
            }
        }
        if self.users.is_some() && self.identities.is_some() {
            errors.push(ConfigError::UsersAndIdentities);
        }
        let reads_cookies: Vec<&LoginTypeState> =
            login_types.iter().filter(|l| l.reads_cookies()).collect();
        if sessions.is_none() {
            for lt in &reads_cookies {
                errors.push(ConfigError::CookiesWithoutSessions(lt.name.to_string()));
            }
        }
        let csrf_secret = match self.csrf_secret {
            Some(secret) if secret.len() < MIN_HMAC_SECRET_LEN => {
                errors.push(ConfigError::CsrfSecret);
                secret
            }
            Some(secret) => secret,
            None => rand::random::<[u8; 32]>().to_vec(),
        };
        let cookies = (!reads_cookies.is_empty()).then(|| Cookies::new(self.cookies, csrf_secret));
        #[cfg(feature = "accounts")]
        let api_keys = self.api_keys.map(|store| {
            ApiKeys::new(
                store,
                self.api_key_prefix.clone(),
                self.session_config.staleness(),
            )
        });
        let mut networks = Vec::new();
        for cidr in self.trusted_proxies {
            match cidr.trim().parse() {
                Ok(network) => networks.push(network),
                Err(reason) => errors.push(ConfigError::TrustedProxy { cidr, reason }),
            }
        }
        let proxies = TrustedProxies::new(networks).header(self.forwarded_header);
        #[cfg(feature = "accounts")]
        let throttle = {
            let store: Arc<dyn ThrottleStore> = self
                .throttle_store
                .unwrap_or_else(|| Arc::new(MemoryThrottleStore::new(self.throttle.max_tracked)));
            let secret = match self.throttle_secret {
                Some(secret) if secret.len() >= MIN_HMAC_SECRET_LEN => secret,
                secret => {
                    if secret.is_some() || store.is_shared() {
                        errors.push(ConfigError::ThrottleSecret);
                    }
                    // In memory, keys random per process are fine (and better: nothing to leak).
                    rand::random::<[u8; 32]>().to_vec()
                }
            };
            LoginThrottle::from_arc(self.throttle, store, &secret)
        };
        match errors.len() {
            0 => Ok(AuthManager {
                inner: Arc::new(Inner {
                    keys: Keyring::new(login_types, kids, sessions.is_some()),
                    access: Access::new(self.scopes, roles.clone(), policies, self.loaders),
                    grants: Grants::new(
                        self.accounts,
                        roles,
                        self.users,
                        self.identities,
                        self.one_store,
                    )
                    .with_aliases(self.aliases),
                    sessions,
                    #[cfg(feature = "accounts")]
                    api_keys,
                    cookies,
                    verifiers,
                    #[cfg(feature = "federation")]
                    issuers,
                    renderer: self.renderer,
                    #[cfg(feature = "accounts")]
                    passwords: self.passwords.unwrap_or_default(),
                    #[cfg(feature = "accounts")]
                    throttle,
                    proxies,
                    #[cfg(feature = "accounts")]
                    resets: self.resets,
                }),
            }),
            1 => Err(errors.remove(0)),
            _ => Err(ConfigError::Many(errors)),
        }
    }
}

/// The login types with their keys ready, and the `kid` index over all of them.
type BuiltLoginTypes = (Vec<LoginTypeState>, HashMap<String, (usize, usize)>);

fn build_login_types(
    login_types: Vec<LoginType>,
    external: &[String],
    errors: &mut Vec<ConfigError>,
) -> BuiltLoginTypes {
    if login_types.is_empty() {
        errors.push(ConfigError::NoLoginTypes);
    }
    for (i, a) in login_types.iter().enumerate() {
        for b in &login_types[i + 1..] {
            let shared = a.name != b.name
                && a.keys
                    .iter()
                    .any(|ka| b.keys.iter().any(|kb| ka.same_hmac_secret(kb)));
            if shared {
                errors.push(ConfigError::SharedSecret {
                    first: a.name.clone(),
                    second: b.name.clone(),
                });
            }
        }
    }
    let mut built: Vec<LoginTypeState> = Vec::new();
    let mut kids: HashMap<String, (usize, usize)> = HashMap::new();
    for lt in login_types {
        if let Err(reason) = auth_grammar::validate_login_type(&lt.name) {
            errors.push(ConfigError::InvalidLoginType {
                name: lt.name.clone(),
                reason,
            });
            continue;
        }
        if built.iter().any(|b| *b.name == *lt.name) {
            errors.push(ConfigError::DuplicateLoginType(lt.name.clone()));
            continue;
        }
        // A login type of an external issuer has no key of its own (checked with the issuer).
        if (lt.keys.is_empty() || lt.keys[0].kid().is_empty()) && !external.contains(&lt.name) {
            errors.push(ConfigError::NoKey(lt.name.clone()));
        }
        if lt.locations.is_empty() {
            errors.push(ConfigError::NoTokenLocation(lt.name.clone()));
        }
        if lt.access_ttl.is_zero() || lt.refresh_ttl.is_zero() {
            errors.push(ConfigError::ZeroLifetime(lt.name.clone()));
        }
        let index = built.len();
        let mut keys = Vec::new();
        for key in lt.keys.into_iter().filter(|k| !k.kid().is_empty()) {
            match key.into_parts() {
                Ok(ready) => {
                    if kids
                        .insert(ready.kid.clone(), (index, keys.len()))
                        .is_some()
                    {
                        errors.push(ConfigError::DuplicateKid(ready.kid.clone()));
                    }
                    keys.push(ready);
                }
                Err((kid, reason)) => errors.push(ConfigError::Key {
                    login_type: lt.name.clone(),
                    kid,
                    reason,
                }),
            }
        }
        built.push(LoginTypeState {
            name: Arc::from(lt.name.as_str()),
            keys,
            access_ttl: lt.access_ttl,
            refresh_ttl: lt.refresh_ttl,
            issuer: lt.issuer,
            audience: lt.audience,
            leeway: lt.leeway.as_secs(),
            locations: lt.locations,
        });
    }
    (built, kids)
}

/// The verifiers of the external issuers, each checked against its login type.
#[cfg(feature = "federation")]
fn build_issuers(
    external: Vec<(String, ExternalIssuer)>,
    login_types: &[LoginTypeState],
    roles: &HashMap<String, Vec<String>>,
    scopes: &Arc<dyn ScopeValidator>,
    errors: &mut Vec<ConfigError>,
) -> Vec<Arc<IssuerVerifier>> {
    use crate::keyring::TokenLocation;

    let mut built: Vec<Arc<IssuerVerifier>> = Vec::new();
    for (name, issuer) in external {
        let error = |reason: String| ConfigError::ExternalIssuer {
            login_type: name.clone(),
            reason,
        };
        let Some(lt) = login_types.iter().find(|l| *l.name == *name) else {
            // An invalid name, reported with the login types.
            continue;
        };
        let mut problems = Vec::new();
        if !lt.keys.is_empty() {
            problems.push(
                "the login type has signing keys of its own: its tokens come from the issuer only"
                    .to_owned(),
            );
        }
        if lt.locations != [TokenLocation::Header] {
            problems.push(
                "the login type must read the Authorization header only (no cookies, no API keys)"
                    .to_owned(),
            );
        }
        if built.iter().any(|b| b.login_type() == name) {
            problems.push("one login type is served by one external issuer".to_owned());
        }
        if built.iter().any(|b| b.issuer() == issuer.issuer()) {
            problems.push(format!(
                "issuer `{}` is registered for another login type too",
                issuer.issuer()
            ));
        }
        match issuer.build(&name, lt.leeway, roles, scopes.clone()) {
            Ok(verifier) if problems.is_empty() => built.push(Arc::new(verifier)),
            Ok(_) => {}
            Err(more) => problems.extend(more),
        }
        errors.extend(problems.into_iter().map(error));
    }
    built
}

fn build_roles(
    declared: Vec<(String, Vec<String>)>,
    errors: &mut Vec<ConfigError>,
) -> HashMap<String, Vec<String>> {
    let mut roles: HashMap<String, Vec<String>> = HashMap::new();
    for (name, scopes) in declared {
        let invalid = |reason: String| ConfigError::InvalidRole {
            name: name.clone(),
            reason,
        };
        if let Err(reason) = auth_grammar::validate_login_type(&name) {
            errors.push(invalid(reason.to_string()));
            continue;
        }
        if scopes.is_empty() {
            errors.push(invalid("a role needs at least one scope".into()));
            continue;
        }
        if let Some((scope, e)) = scopes
            .iter()
            .find_map(|s| auth_grammar::validate_scope(s).err().map(|e| (s, e)))
        {
            errors.push(invalid(format!("scope `{scope}`: {e}")));
            continue;
        }
        if roles.contains_key(&name) {
            errors.push(invalid("declared twice".into()));
            continue;
        }
        roles.insert(name, scopes);
    }
    roles
}

/// jsonwebtoken 11 picks its crypto backend from cargo features and panics at the first use
/// when both or neither are enabled. Installing ours explicitly makes that impossible: whatever
/// features other crates enable, tokens are signed and verified with aws-lc-rs (unless the
/// application installed a provider itself first, which we respect).
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _already_installed = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        );
    });
}
