//! An app's own user table as the source of password sign-ins: [`IdentityLoader`] (FAuth's
//! `IdentityLoader`), instead of the email-keyed [`UserStore`](super::UserStore).

use std::fmt;

use serde_json::{Map, Value};

use super::StoreFuture;

/// One user of the app's own table, as an [`IdentityLoader`] finds it.
///
/// The runtime checks the password against [`password_hash`](Self::password_hash) (an
/// argon2id PHC string, as [`PasswordHasher::hash`](crate::PasswordHasher::hash) makes) on its
/// blocking pool; the token's scopes come from [`roles`](Self::roles) (as declared with
/// [`AuthManagerBuilder::role`](crate::AuthManagerBuilder::role)), and
/// [`claims`](Self::claims) ride along.
///
/// ```
/// use auth_runtime::store::Identity;
///
/// let alice = Identity::new("user-123", Some("$argon2id$v=19$m=19456,t=2,p=1$...".into()))
///     .roles(["admin"])
///     .claim("username", "alice");
/// assert!(alice.active);
/// // The hash never shows in debug output.
/// assert!(!format!("{alice:?}").contains("argon2"));
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Identity {
    /// The token's `sub`: a stable id, not the username (usernames change).
    pub subject: String,
    /// The stored password hash; `None` for a user who cannot sign in by password.
    pub password_hash: Option<String>,
    /// Whether the user may sign in and refresh (default `true`).
    pub active: bool,
    /// The user's roles.
    pub roles: Vec<String>,
    /// Extra claims for every token of the user (not reserved names; the runtime adds
    /// `roles`).
    pub claims: Map<String, Value>,
}

impl Identity {
    /// An active user with no roles and no claims.
    pub fn new(subject: impl Into<String>, password_hash: Option<String>) -> Self {
        Identity {
            subject: subject.into(),
            password_hash,
            active: true,
            roles: Vec::new(),
            claims: Map::new(),
        }
    }

    /// Whether the user may sign in.
    pub fn active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    /// Replaces the roles.
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a claim.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.subject)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("active", &self.active)
            .field("roles", &self.roles)
            .field("claims", &self.claims)
            .finish()
    }
}

/// Finds users in the app's own table, for password sign-in
/// ([`AuthManager::sign_in`](crate::AuthManager::sign_in), `/auth/login`, `/admin/login` and
/// the password grant) and for refresh. Set it with
/// [`AuthManagerBuilder::identities`](crate::AuthManagerBuilder::identities); it replaces
/// the [`UserStore`](super::UserStore) for sign-in, and a session store still keeps sessions.
///
/// The runtime does the rest: per-user and per-address throttling, the argon2 check off the
/// async workers (the same work for an unknown username), the same error for an unknown user
/// and a wrong password, roles → scopes per login type, sessions and refresh rotation. At
/// each refresh it calls [`by_subject`](Self::by_subject): a user gone or no longer
/// [`active`](Identity::active) ends the session, and the scopes can shrink but never grow.
/// After deactivating a user in your table, call
/// [`AuthManager::revoke_subject`](crate::AuthManager::revoke_subject) to end their live
/// tokens at once.
///
/// ```
/// use std::collections::HashMap;
/// use auth_runtime::store::{Identity, IdentityLoader, StoreFuture};
///
/// /// The app's users, by username.
/// struct Users(HashMap<String, Identity>);
///
/// impl IdentityLoader for Users {
///     fn by_username<'a>(&'a self, username: &'a str) -> StoreFuture<'a, Option<Identity>> {
///         Box::pin(async move { Ok(self.0.get(username).cloned()) })
///     }
///     fn by_subject<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Option<Identity>> {
///         Box::pin(async move { Ok(self.0.values().find(|u| u.subject == subject).cloned()) })
///     }
/// }
/// ```
pub trait IdentityLoader: Send + Sync + 'static {
    /// The user `username` names (as sent, trimmed), or `None`.
    fn by_username<'a>(&'a self, username: &'a str) -> StoreFuture<'a, Option<Identity>>;

    /// The user whose [`subject`](Identity::subject) this is, or `None`.
    fn by_subject<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Option<Identity>>;
}
