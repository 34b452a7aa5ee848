//! Stores: accounts, sessions (refresh-token families) and revocations, behind traits.
//!
//! The backend is chosen at run time by URL (`sqlite://…` or `postgres://…`), so the stores are
//! traits held as `Arc<dyn …>` in the [`AuthManager`](crate::AuthManager), with boxed futures
//! ([`StoreFuture`]) and one typed error ([`StoreError`]). [`SqlStore`] implements both traits
//! on SQLite (the embedded default: a file created with its schema on first start) and on
//! PostgreSQL; its migrations ship in the crate and run when it connects.
//!
//! An application can plug its own account table by implementing [`UserStore`] (the
//! `UserRepositoryPort` idea), and keep [`SqlStore`] for sessions.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

mod api_keys;
mod identity;
mod resets;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod sql;
pub use api_keys::{ApiKeyRecord, ApiKeyStore, NewApiKey};
pub use identity::{Identity, IdentityLoader};
pub use resets::{NewPasswordReset, PasswordResetRecord, PasswordResetStore};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::SqlStore;

/// The boxed future every store method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Why a store operation failed. Never carries a secret: messages come from the database
/// driver and are meant for logs, not for the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached (connection refused or lost, pool timed out, I/O error).
    /// Answered as 503: the request may succeed later; it is never an allow.
    Unavailable(String),
    /// A uniqueness rule was violated (an account with that email exists).
    Conflict,
    /// The store answered, but with something unusable (a row that cannot be read, a failed
    /// migration, an unexpected database error). Answered as 500.
    Backend(String),
}

impl StoreError {
    /// Whether the store could not be reached (as opposed to answering with an error).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(m) => write!(f, "the store is unavailable: {m}"),
            StoreError::Conflict => f.write_str("the record already exists"),
            StoreError::Backend(m) => write!(f, "the store failed: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Where an account stands in the admin-approved registration flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AccountStatus {
    /// Registered, awaiting an admin's approval; cannot sign in (403).
    Pending,
    /// Approved: can sign in.
    Active,
    /// Registration refused by an admin; cannot sign in (403).
    Rejected,
    /// Banned or deactivated after being active; cannot sign in (401) and its tokens stop
    /// working.
    Deactivated,
}

impl AccountStatus {
    /// The stored (and `account_status` claim) form: `pending`, `active`, `rejected`,
    /// `deactivated`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::Active => "active",
            AccountStatus::Rejected => "rejected",
            AccountStatus::Deactivated => "deactivated",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => AccountStatus::Pending,
            "active" => AccountStatus::Active,
            "rejected" => AccountStatus::Rejected,
            "deactivated" => AccountStatus::Deactivated,
            _ => return None,
        })
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored account.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Account {
    /// The account id: the `sub` of its tokens. Opaque: [`SqlStore`] gives new accounts 128
    /// random bits (in UUID form), so an id says nothing about how many accounts exist or
    /// which one is next; a store compares ids exactly.
    pub id: String,
    /// The email, in the canonical form it was stored in ([`canonical_email`](crate::accounts::canonical_email)).
    pub email: String,
    /// The argon2id PHC string; `None` for accounts that sign in elsewhere (OIDC).
    pub password_hash: Option<String>,
    /// Where the account stands.
    pub status: AccountStatus,
    /// Roles, mapped to scopes by the manager's configuration.
    pub roles: Vec<String>,
    /// Extra claims put in every token issued to the account (`company_id`, ...).
    pub claims: Map<String, Value>,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Changes with every credential change: a new password, a status change (approval, ban,
    /// deactivation), a role change. Sessions record the version they were opened with; a
    /// session of another version is refused at its next refresh, and a sign-in that read an
    /// older version opens none (see [`SessionStore::create_session`]).
    pub credential_version: u64,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password hash is never printed.
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("status", &self.status)
            .field("roles", &self.roles)
            .field("claims", &self.claims)
            .field("created_at", &self.created_at)
            .field("credential_version", &self.credential_version)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// An account value, for [`UserStore`] implementations that build one from their own row.
    pub fn new(id: impl Into<String>, email: impl Into<String>, status: AccountStatus) -> Self {
        Account {
            id: id.into(),
            email: email.into(),
            password_hash: None,
            status,
            roles: Vec::new(),
            claims: Map::new(),
            created_at: 0,
            credential_version: 0,
        }
    }

    /// Sets the credential version.
    pub fn with_credential_version(mut self, version: u64) -> Self {
        self.credential_version = version;
        self
    }

    /// Sets the password hash.
    pub fn with_password_hash(mut self, hash: impl Into<String>) -> Self {
        self.password_hash = Some(hash.into());
        self
    }

    /// Sets the roles.
    pub fn with_roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the extra claims.
    pub fn with_claims(mut self, claims: Map<String, Value>) -> Self {
        self.claims = claims;
        self
    }

    /// Sets the creation time.
    pub fn with_created_at(mut self, created_at: u64) -> Self {
        self.created_at = created_at;
        self
    }
}

/// An account to create.
#[derive(Clone)]
#[non_exhaustive]
pub struct NewAccount {
    /// The email in canonical form ([`canonical_email`](crate::accounts::canonical_email)).
    pub email: String,
    /// The argon2id PHC string, if the account has a password.
    pub password_hash: Option<String>,
    /// The initial status.
    pub status: AccountStatus,
    /// The initial roles.
    pub roles: Vec<String>,
    /// Extra claims.
    pub claims: Map<String, Value>,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
}

impl fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccount")
            .field("email", &self.email)
            .field("status", &self.status)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl NewAccount {
    /// An account with this email and status, no password, no roles, no claims.
    pub fn new(email: impl Into<String>, status: AccountStatus, created_at: u64) -> Self {
        NewAccount {
            email: email.into(),
            password_hash: None,
            status,
            roles: Vec::new(),
            claims: Map::new(),
            created_at,
        }
    }

    /// Sets the password hash.
    pub fn password_hash(mut self, hash: impl Into<String>) -> Self {
        self.password_hash = Some(hash.into());
        self
    }

    /// Sets the roles.
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the extra claims.
    pub fn claims(mut self, claims: Map<String, Value>) -> Self {
        self.claims = claims;
        self
    }
}

/// Accounts. Implement it to sign in against your own user table.
///
/// Emails are passed in their canonical form ([`canonical_email`](crate::accounts::canonical_email));
/// a store compares them exactly.
pub trait UserStore: Send + Sync + 'static {
    /// Creates an account; [`StoreError::Conflict`] if the email is taken (also when two
    /// registrations race: exactly one succeeds).
    fn create_user(&self, account: NewAccount) -> StoreFuture<'_, Account>;

    /// The account with this email.
    fn user_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<Account>>;

    /// The account with this id (`None` also for an id that cannot be one).
    fn user_by_id<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Account>>;

    /// Replaces the password hash of account `id` **if it is still `current`** (a
    /// compare-and-swap: of two writes from one hash, one wins; a rehash at sign-in that
    /// races a password change cannot undo it). A [`PasswordWrite::Change`] changes the
    /// account's credential version, a [`PasswordWrite::Rehash`] (the same password hashed
    /// with current parameters) does not. `false` if there is no such account or its hash is
    /// no longer `current`.
    fn replace_password_hash<'a>(
        &'a self,
        id: &'a str,
        current: &'a str,
        new: &'a str,
        write: PasswordWrite,
    ) -> StoreFuture<'a, bool>;

    /// Moves account `id` to status `to` **if its status is one of `from`** (a conditional
    /// update: an approval racing a ban cannot reactivate the banned account), changing its
    /// credential version. `false` if there is no such account or its status is not in `from`.
    fn transition_status<'a>(
        &'a self,
        id: &'a str,
        from: &'a [AccountStatus],
        to: AccountStatus,
    ) -> StoreFuture<'a, bool>;

    /// Replaces roles and extra claims (for sign-ins that bring them, such as OIDC groups),
    /// changing the credential version when the roles change; `false` if there is no such
    /// account.
    fn set_roles_and_claims<'a>(
        &'a self,
        id: &'a str,
        roles: &'a [String],
        claims: &'a Map<String, Value>,
    ) -> StoreFuture<'a, bool>;

    /// Replaces the roles of account `id`, and nothing else, in one update (a claims write
    /// racing it is neither undone nor undoes it), changing the credential version when the
    /// roles change. `false` if there is no such account.
    fn set_roles<'a>(&'a self, id: &'a str, roles: &'a [String]) -> StoreFuture<'a, bool>;

    /// Replaces the extra claims of account `id`, and nothing else, in one update: a role
    /// change or a password change racing it is neither undone nor undoes it. New claims are
    /// no credential change (the credential version stays). `false` if there is no such
    /// account.
    fn set_claims<'a>(
        &'a self,
        id: &'a str,
        claims: &'a Map<String, Value>,
    ) -> StoreFuture<'a, bool>;

    /// Every account with this status, oldest first.
    fn users_with_status(&self, status: AccountStatus) -> StoreFuture<'_, Vec<Account>>;

    /// A page of accounts, oldest first: at most `limit` of them, after account `after` (from
    /// the first account when `None`). `None` when `after` names no account.
    fn users_page<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: u32,
    ) -> StoreFuture<'a, Option<Vec<Account>>>;
}

/// What a [`UserStore::replace_password_hash`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordWrite {
    /// A new password: a credential change (the credential version changes).
    Change,
    /// The same password hashed with current parameters: sessions live on.
    Rehash,
}

/// A session to create: one refresh-token family.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewSession {
    /// The session id (`sid` claim): at least 128 random bits, URL-safe.
    pub id: String,
    /// The subject (`sub`).
    pub subject: String,
    /// The login type its tokens belong to.
    pub login_type: String,
    /// The `jti` of the one refresh token that may be used next.
    pub refresh_jti: String,
    /// Creation time (seconds since the Unix epoch); also the first "last used" time.
    pub created_at: u64,
    /// Absolute end of the session: no refresh after it.
    pub expires_at: u64,
    /// The credential version of the account `subject` when the sign-in read it, for a store
    /// that also holds the account (see [`SessionStore::create_session`]); `None` when the
    /// subject is no account of this store.
    pub credential_version: Option<u64>,
}

impl NewSession {
    /// A session record.
    pub fn new(
        id: impl Into<String>,
        subject: impl Into<String>,
        login_type: impl Into<String>,
        refresh_jti: impl Into<String>,
        created_at: u64,
        expires_at: u64,
    ) -> Self {
        NewSession {
            id: id.into(),
            subject: subject.into(),
            login_type: login_type.into(),
            refresh_jti: refresh_jti.into(),
            created_at,
            expires_at,
            credential_version: None,
        }
    }

    /// Binds the session to the account's credential version (see
    /// [`SessionStore::create_session`]).
    ///
    /// ```
    /// use auth_runtime::store::NewSession;
    ///
    /// let session = NewSession::new("sid", "account-id", "user", "jti", 0, 60).credential_version(3);
    /// assert_eq!(session.credential_version, Some(3));
    /// ```
    pub fn credential_version(mut self, version: u64) -> Self {
        self.credential_version = Some(version);
        self
    }
}

/// A live session as [`SessionStore::sessions_of`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRecord {
    /// The session id (the `sid` of its tokens).
    pub id: String,
    /// The login type its tokens belong to.
    pub login_type: String,
    /// When it was opened, seconds since the Unix epoch.
    pub created_at: u64,
    /// When its refresh token was last used (or the session opened).
    pub last_used_at: u64,
    /// Its absolute end.
    pub expires_at: u64,
}

impl SessionRecord {
    /// A session record read back from a store.
    pub fn new(
        id: impl Into<String>,
        login_type: impl Into<String>,
        created_at: u64,
        last_used_at: u64,
        expires_at: u64,
    ) -> Self {
        SessionRecord {
            id: id.into(),
            login_type: login_type.into(),
            created_at,
            last_used_at,
            expires_at,
        }
    }
}

/// What [`SessionStore::rotate_refresh`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rotation {
    /// The presented refresh token was the current one; `next` is current now.
    Rotated,
    /// The presented refresh token had been spent already: the session (the whole family) is
    /// revoked now, and a revocation recorded.
    Reused,
    /// The session was revoked earlier (logout, password change, ban).
    Revoked,
    /// The session is past its absolute lifetime or was idle too long.
    Expired,
    /// No such session.
    Unknown,
}

/// One revocation, as read back by every instance (see [`SessionStore::revocations`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Revocation {
    /// Increasing sequence number.
    pub seq: i64,
    /// What is revoked.
    pub kind: RevocationKind,
    /// When the entry stops mattering (every token it can affect has expired by then),
    /// seconds since the Unix epoch.
    pub expires_at: u64,
}

/// What a [`Revocation`] revokes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationKind {
    /// Every token of one session (`sid`).
    Session(String),
    /// Every token of a subject issued before `cutoff` (seconds since the Unix epoch; a token
    /// whose `iat` is lower is revoked).
    Subject {
        /// The subject.
        subject: String,
        /// Tokens with `iat < cutoff` are revoked.
        cutoff: u64,
    },
}

/// Sessions (refresh-token families) and revocations.
pub trait SessionStore: Send + Sync + 'static {
    /// Records a new session. `Ok(false)` (nothing recorded) when the session carries a
    /// [`credential_version`](NewSession::credential_version) and its subject's account is,
    /// in the same transaction, no longer active with that version: the account changed
    /// (password change, ban, role change) while the sign-in was in flight.
    ///
    /// A session recorded with a credential version is refreshed only while the account is
    /// active with that version ([`rotate_refresh`](Self::rotate_refresh) answers
    /// [`Rotation::Revoked`] otherwise).
    fn create_session(&self, session: NewSession) -> StoreFuture<'_, bool>;

    /// Atomically replaces the session's current refresh `jti` `presented` by `next` (a
    /// compare-and-swap: of two concurrent calls with the same `presented`, exactly one gets
    /// [`Rotation::Rotated`]), provided the session is not revoked, `now` is before its absolute
    /// end and within `idle_timeout` seconds of its last use (which becomes `now`).
    ///
    /// A session recorded with a credential version whose account is no longer active with
    /// that version is revoked ([`Rotation::Revoked`]).
    ///
    /// When `presented` is not the current `jti` of a live session, it was spent: the session
    /// is revoked and a [`RevocationKind::Session`] recorded (expiring at
    /// `revocation_expires_at`), in the same transaction, and [`Rotation::Reused`] returned.
    fn rotate_refresh<'a>(
        &'a self,
        sid: &'a str,
        presented: &'a str,
        next: &'a str,
        now: u64,
        idle_timeout: u64,
        revocation_expires_at: u64,
    ) -> StoreFuture<'a, Rotation>;

    /// Revokes one session (logout): its refresh token stops working and a
    /// [`RevocationKind::Session`] is recorded. Revoking an unknown or revoked session is not
    /// an error (the revocation is recorded anyway).
    fn revoke_session<'a>(
        &'a self,
        sid: &'a str,
        now: u64,
        revocation_expires_at: u64,
    ) -> StoreFuture<'a, ()>;

    /// Revokes every live session of `subject` except `except` (password change): each gets
    /// a [`RevocationKind::Session`]. The kept session, if it was recorded with a credential
    /// version, moves to the account's current one (the change that led here changed it), so
    /// it stays refreshable. Returns how many were revoked.
    fn revoke_other_sessions<'a>(
        &'a self,
        subject: &'a str,
        except: Option<&'a str>,
        now: u64,
        revocation_expires_at: u64,
    ) -> StoreFuture<'a, u64>;

    /// The live sessions of `subject` at `now`: not revoked, not past their absolute end, and
    /// refreshed (or opened) at `idle_since` or later; oldest first.
    fn sessions_of<'a>(
        &'a self,
        subject: &'a str,
        now: u64,
        idle_since: u64,
    ) -> StoreFuture<'a, Vec<SessionRecord>>;

    /// Revokes everything of `subject` (ban, deactivation): every session, and a
    /// [`RevocationKind::Subject`] with `cutoff`.
    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff: u64,
        now: u64,
        revocation_expires_at: u64,
    ) -> StoreFuture<'a, ()>;

    /// The revocations with `seq > after` that have not expired at `now`, in `seq` order.
    fn revocations(&self, after: i64, now: u64) -> StoreFuture<'_, Vec<Revocation>>;

    /// Deletes what can no longer matter at `now`: sessions whose absolute end is at or before
    /// `now` (revoked or not: none of their tokens can be refreshed), and revocations that
    /// expired at or before `now` (every token they revoke has expired). Deleting twice, or
    /// from several instances at once, is harmless. The manager calls it periodically
    /// ([`SessionConfig::purge_interval`](crate::SessionConfig::purge_interval)).
    ///
    /// The default deletes nothing, for stores that expire rows by themselves (a TTL).
    fn purge_expired(&self, now: u64) -> StoreFuture<'_, Purged> {
        let _ = now;
        Box::pin(async { Ok(Purged::default()) })
    }

    /// A signal that fires when a revocation may have been recorded by another instance, so
    /// that each instance reads the new revocations at once rather than at its next poll
    /// ([`SqlStore`] on PostgreSQL: `LISTEN/NOTIFY`). Each call subscribes anew.
    ///
    /// Only a hint: the poll interval and the staleness bound hold without it, and a lost
    /// channel costs latency, never correctness. The default is `None` (polling only).
    fn revocation_wakeups(&self) -> Option<RevocationWaiter> {
        None
    }
}

/// The sending side of [`SessionStore::revocation_wakeups`], for stores that learn of other
/// instances' revocations (a pub/sub channel): [`wake`](Self::wake) on each, hand out
/// [`subscribe`](Self::subscribe)d waiters.
///
/// ```
/// use auth_runtime::store::RevocationWakeup;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let wakeup = RevocationWakeup::new();
/// let mut waiter = wakeup.subscribe();
/// wakeup.wake(); // before anyone waits: kept for the next wait
/// waiter.woken().await;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RevocationWakeup(Arc<tokio::sync::watch::Sender<u64>>);

impl RevocationWakeup {
    /// A signal nobody has fired yet.
    pub fn new() -> Self {
        RevocationWakeup(Arc::new(tokio::sync::watch::Sender::new(0)))
    }

    /// Wakes every waiter (one that is not waiting now returns at once from its next wait).
    pub fn wake(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A waiter for the wakes from now on.
    pub fn subscribe(&self) -> RevocationWaiter {
        RevocationWaiter(self.0.subscribe())
    }
}

impl Default for RevocationWakeup {
    fn default() -> Self {
        RevocationWakeup::new()
    }
}

/// Waits for a [`RevocationWakeup`].
#[derive(Debug)]
pub struct RevocationWaiter(tokio::sync::watch::Receiver<u64>);

impl RevocationWaiter {
    /// Returns after the next wake, or at once if there was one since the last wait. Never
    /// returns once the signal is gone (its store dropped).
    pub async fn woken(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// What [`SessionStore::purge_expired`] deleted.
///
/// ```
/// use auth_runtime::store::Purged;
///
/// let nothing = Purged::default();
/// assert_eq!((nothing.sessions, nothing.revocations), (0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Expired session rows deleted.
    pub sessions: u64,
    /// Expired revocation rows deleted.
    pub revocations: u64,
}
