//! [`AuthManager`]: the login types, their keys, and the scope validator, as axum state.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Once};
use std::time::Duration;

use crate::error::{ErrorRenderer, ProblemJson};
use crate::keys::{KeyError, ReadyKey, SigningKey};
use crate::policy::{PolicyEngine, PolicyError, PolicyRule, ResourceLoader};
use crate::scope::{HierarchicalScopes, ScopeValidator};

/// Where a login type looks for its token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenLocation {
    /// `Authorization: Bearer <token>`.
    Header,
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
    name: String,
    keys: Vec<SigningKey>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    locations: Vec<TokenLocation>,
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

/// What is wrong with an [`AuthManager`] configuration. [`AuthManagerBuilder::build`] reports
/// every problem it finds, not only the first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No login type was registered.
    NoLoginTypes,
    /// A login type name is empty or not a valid name.
    InvalidLoginType {
        /// The offending name.
        name: String,
        /// Why.
        reason: auth_grammar::NameError,
    },
    /// Two login types have the same name.
    DuplicateLoginType(String),
    /// A login type has no current signing key.
    NoKey(String),
    /// A key cannot be used.
    Key {
        /// The login type.
        login_type: String,
        /// The key id.
        kid: String,
        /// Why.
        reason: KeyError,
    },
    /// Two keys share a `kid` (across all login types).
    DuplicateKid(String),
    /// A login type reads tokens from nowhere.
    NoTokenLocation(String),
    /// An access or refresh lifetime of zero.
    ZeroLifetime(String),
    /// A policy rule is invalid.
    Policy(PolicyError),
    /// A role is invalid (bad name, no or bad scopes, declared twice).
    InvalidRole {
        /// The role.
        name: String,
        /// Why.
        reason: String,
    },
    /// Several problems.
    Many(Vec<ConfigError>),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoLoginTypes => f.write_str("no login type is registered"),
            ConfigError::InvalidLoginType { name, reason } => {
                write!(f, "login type `{name}` is invalid: {reason}")
            }
            ConfigError::DuplicateLoginType(n) => write!(f, "login type `{n}` is registered twice"),
            ConfigError::NoKey(n) => write!(f, "login type `{n}` has no signing key"),
            ConfigError::Key {
                login_type,
                kid,
                reason,
            } => write!(f, "login type `{login_type}`, key `{kid}`: {reason}"),
            ConfigError::DuplicateKid(k) => write!(f, "key id `{k}` is used by two keys"),
            ConfigError::NoTokenLocation(n) => {
                write!(f, "login type `{n}` has no token location")
            }
            ConfigError::ZeroLifetime(n) => write!(f, "login type `{n}` has a zero token lifetime"),
            ConfigError::Policy(e) => write!(f, "{e}"),
            ConfigError::InvalidRole { name, reason } => write!(f, "role `{name}`: {reason}"),
            ConfigError::Many(all) => {
                for (i, e) in all.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

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
    #[expect(
        dead_code,
        reason = "only the header location exists until cookies arrive"
    )]
    pub(crate) locations: Vec<TokenLocation>,
}

pub(crate) struct Inner {
    pub(crate) login_types: Vec<LoginTypeState>,
    /// kid → (login type index, key index)
    pub(crate) kids: HashMap<String, (usize, usize)>,
    pub(crate) scopes: Arc<dyn ScopeValidator>,
    pub(crate) policies: PolicyEngine,
    /// role → the scopes it stands for
    pub(crate) roles: HashMap<String, Vec<String>>,
    pub(crate) loaders: HashMap<String, Arc<dyn ResourceLoader>>,
    pub(crate) renderer: Box<dyn ErrorRenderer>,
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
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for AuthManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthManager")
            .field("login_types", &self.login_type_names().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Builds an [`AuthManager`].
#[must_use]
pub struct AuthManagerBuilder {
    login_types: Vec<LoginType>,
    scopes: Arc<dyn ScopeValidator>,
    renderer: Box<dyn ErrorRenderer>,
    rules: Vec<PolicyRule>,
    roles: Vec<(String, Vec<String>)>,
    loaders: HashMap<String, Arc<dyn ResourceLoader>>,
}

impl AuthManager {
    /// Starts a configuration with the [`HierarchicalScopes`] validator and [`ProblemJson`] errors.
    pub fn builder() -> AuthManagerBuilder {
        AuthManagerBuilder {
            login_types: Vec::new(),
            scopes: Arc::new(HierarchicalScopes::new()),
            renderer: Box::new(ProblemJson),
            rules: Vec::new(),
            roles: Vec::new(),
            loaders: HashMap::new(),
        }
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

impl AuthManagerBuilder {
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
        if self.login_types.is_empty() {
            errors.push(ConfigError::NoLoginTypes);
        }
        let mut built: Vec<LoginTypeState> = Vec::new();
        let mut kids: HashMap<String, (usize, usize)> = HashMap::new();
        for lt in self.login_types {
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
            if lt.keys.is_empty() || lt.keys[0].kid().is_empty() {
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
        let mut roles: HashMap<String, Vec<String>> = HashMap::new();
        for (name, scopes) in self.roles {
            if let Err(reason) = auth_grammar::validate_login_type(&name) {
                errors.push(ConfigError::InvalidRole {
                    name,
                    reason: reason.to_string(),
                });
                continue;
            }
            if scopes.is_empty() {
                errors.push(ConfigError::InvalidRole {
                    name,
                    reason: "a role needs at least one scope".into(),
                });
                continue;
            }
            if let Some((scope, e)) = scopes
                .iter()
                .find_map(|s| auth_grammar::validate_scope(s).err().map(|e| (s, e)))
            {
                errors.push(ConfigError::InvalidRole {
                    reason: format!("scope `{scope}`: {e}"),
                    name,
                });
                continue;
            }
            if roles.insert(name.clone(), scopes).is_some() {
                errors.push(ConfigError::InvalidRole {
                    name,
                    reason: "declared twice".into(),
                });
            }
        }
        let policies = PolicyEngine::builder()
            .rules(self.rules)
            .scope_validator(self.scopes.clone())
            .build();
        let policies = match policies {
            Ok(p) => p,
            Err(e) => {
                errors.push(ConfigError::Policy(e));
                PolicyEngine::default()
            }
        };
        match errors.len() {
            0 => Ok(AuthManager {
                inner: Arc::new(Inner {
                    login_types: built,
                    kids,
                    scopes: self.scopes,
                    policies,
                    roles,
                    loaders: self.loaders,
                    renderer: self.renderer,
                }),
            }),
            1 => Err(errors.remove(0)),
            _ => Err(ConfigError::Many(errors)),
        }
    }
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
