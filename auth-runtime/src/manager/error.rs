//! [`ConfigError`]: everything [`AuthManagerBuilder::build`](super::AuthManagerBuilder::build) can reject.

use std::fmt;

use crate::keyring::KeyError;
use crate::policy::PolicyError;

/// What is wrong with an [`AuthManager`](crate::AuthManager) configuration. [`AuthManagerBuilder::build`](crate::AuthManagerBuilder::build) reports
/// every problem it finds, not only the first.
///
/// Its message names the cause; a wrapped error (a key's, a policy's, a proxy network's) is
/// also its [`source()`](std::error::Error::source), for code that needs the typed cause.
///
/// ```
/// use auth_runtime::{AuthManager, ConfigError, KeyError, LoginType, SigningKey};
///
/// let err = AuthManager::builder()
///     .login_type(LoginType::new("user").key(SigningKey::hs256("k1", b"too short")))
///     .build()
///     .unwrap_err();
/// assert!(err.to_string().contains("user"));
/// let cause = std::error::Error::source(&err).and_then(|e| e.downcast_ref::<KeyError>());
/// assert!(cause.is_some());
/// ```
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
    /// Two login types use the same HS256 secret: a token of one would verify as the other.
    SharedSecret {
        /// The first login type.
        first: String,
        /// The second login type.
        second: String,
    },
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
    /// A trusted proxy network ([`AuthManagerBuilder::trusted_proxies`](crate::AuthManagerBuilder::trusted_proxies))
    /// cannot be parsed.
    TrustedProxy {
        /// The network as given.
        cidr: String,
        /// Why.
        reason: crate::proxy::CidrError,
    },
    /// A throttle store shared between processes needs a
    /// [`throttle_secret`](crate::AuthManagerBuilder::throttle_secret) of at least 32 bytes,
    /// the same on every instance.
    ThrottleSecret,
    /// The API key prefix is not 1 to 16 lowercase ASCII letters and digits.
    ApiKeyPrefix(String),
    /// A login type takes API keys ([`TokenLocation::ApiKey`](crate::TokenLocation::ApiKey))
    /// but the manager has no API key store or no user store.
    ApiKeysWithoutStore(String),
    /// A login type reads cookies ([`TokenLocation::Cookie`](crate::TokenLocation::Cookie)),
    /// but the manager has no session store: CSRF tokens are bound to sessions.
    CookiesWithoutSessions(String),
    /// The [`csrf_secret`](crate::AuthManagerBuilder::csrf_secret) is shorter than 32 bytes.
    CsrfSecret,
    /// Both a user store and an identity loader
    /// ([`identities`](crate::AuthManagerBuilder::identities)) are set: password sign-in would
    /// have two sources.
    UsersAndIdentities,
    /// A [login-type alias](crate::AuthManagerBuilder::login_type_alias) cannot work.
    LoginTypeAlias {
        /// The alias.
        alias: String,
        /// Why.
        reason: String,
    },
    /// An [external issuer](crate::AuthManagerBuilder::external_issuer) cannot work (no
    /// audience, a URL that is not https, an undeclared role, a login type with keys of its
    /// own, ...).
    ExternalIssuer {
        /// The login type it serves.
        login_type: String,
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
            ConfigError::SharedSecret { first, second } => write!(
                f,
                "login types `{first}` and `{second}` share an HS256 secret; give each its own"
            ),
            ConfigError::NoTokenLocation(n) => {
                write!(f, "login type `{n}` has no token location")
            }
            ConfigError::ZeroLifetime(n) => write!(f, "login type `{n}` has a zero token lifetime"),
            ConfigError::Policy(e) => write!(f, "{e}"),
            ConfigError::InvalidRole { name, reason } => write!(f, "role `{name}`: {reason}"),
            ConfigError::TrustedProxy { cidr, reason } => {
                write!(f, "trusted proxy `{cidr}`: {reason}")
            }
            ConfigError::ThrottleSecret => f.write_str(
                "a shared throttle store needs a throttle secret of at least 32 bytes, the same on every instance",
            ),
            ConfigError::ApiKeyPrefix(p) => write!(
                f,
                "API key prefix `{p}` must be 1 to 16 lowercase ASCII letters and digits"
            ),
            ConfigError::ApiKeysWithoutStore(n) => write!(
                f,
                "login type `{n}` takes API keys, but the manager has no API key store and user store (use `store` or `api_keys` with `users`)"
            ),
            ConfigError::CookiesWithoutSessions(n) => write!(
                f,
                "login type `{n}` reads cookies, but the manager has no session store (CSRF tokens are bound to sessions)"
            ),
            ConfigError::CsrfSecret => f.write_str("the CSRF secret must be at least 32 bytes"),
            ConfigError::LoginTypeAlias { alias, reason } => {
                write!(f, "login type alias `{alias}`: {reason}")
            }
            ConfigError::UsersAndIdentities => f.write_str(
                "both a user store and an identity loader are set: sign-ins read one of them (with an identity loader, keep sessions with `sessions(store)` rather than `store(store)`)",
            ),
            ConfigError::ExternalIssuer { login_type, reason } => {
                write!(f, "the external issuer of login type `{login_type}`: {reason}")
            }
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

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::InvalidLoginType { reason, .. } => Some(reason),
            ConfigError::Key { reason, .. } => Some(reason),
            ConfigError::Policy(e) => Some(e),
            ConfigError::TrustedProxy { reason, .. } => Some(reason),
            _ => None,
        }
    }
}
