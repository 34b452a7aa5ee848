//! Password resets at rest: [`PasswordResetStore`] and its records. A reset token is never
//! stored, only its SHA-256 digest; a token is looked up by that digest and spent by a
//! conditional update, so that it is good once.

use super::StoreFuture;

/// A password reset to record: one token mailed to an account's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewPasswordReset {
    /// The SHA-256 digest of the token, lowercase hex: the record's key.
    pub digest: String,
    /// The account whose password the token may set (its id, the `sub` of its tokens).
    pub account: String,
    /// The account's credential version when the token was issued: the token dies with any
    /// later credential change of the account (password, status, roles).
    pub credential_version: u64,
    /// Issue time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Expiry, seconds since the Unix epoch: the token is refused from then on.
    pub expires_at: u64,
}

impl NewPasswordReset {
    /// A reset record; the caller has hashed the token.
    ///
    /// ```
    /// use auth_runtime::store::NewPasswordReset;
    ///
    /// let reset = NewPasswordReset::new("9f86d081…", "account-id", 3, 100, 1900);
    /// assert_eq!((reset.credential_version, reset.expires_at), (3, 1900));
    /// ```
    pub fn new(
        digest: impl Into<String>,
        account: impl Into<String>,
        credential_version: u64,
        created_at: u64,
        expires_at: u64,
    ) -> Self {
        NewPasswordReset {
            digest: digest.into(),
            account: account.into(),
            credential_version,
            created_at,
            expires_at,
        }
    }
}

/// A password reset as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasswordResetRecord {
    /// What was recorded.
    pub reset: NewPasswordReset,
    /// When the token was spent, if it was.
    pub used_at: Option<u64>,
}

impl PasswordResetRecord {
    /// A record read back from a store.
    pub fn new(reset: NewPasswordReset, used_at: Option<u64>) -> Self {
        PasswordResetRecord { reset, used_at }
    }
}

/// Password reset tokens: recorded, looked up by digest, spent once.
///
/// [`SqlStore`](super::SqlStore) implements it on SQLite and PostgreSQL (table
/// `auth_password_resets`).
pub trait PasswordResetStore: Send + Sync + 'static {
    /// Records a new reset. Tokens are random; a digest that exists already is a
    /// [`Conflict`](super::StoreError::Conflict).
    fn create_password_reset(&self, reset: NewPasswordReset) -> StoreFuture<'_, ()>;

    /// The reset with this digest, spent and expired ones included.
    fn password_reset<'a>(
        &'a self,
        digest: &'a str,
    ) -> StoreFuture<'a, Option<PasswordResetRecord>>;

    /// Spends the reset with this digest **if it is neither spent nor expired at `now`** (a
    /// conditional update: of two concurrent calls, exactly one gets `true`), recording `now`
    /// as its use. `false` when there is no such live reset.
    fn consume_password_reset<'a>(&'a self, digest: &'a str, now: u64) -> StoreFuture<'a, bool>;

    /// Deletes the resets that expired at or before `now` (spent or not: none can be used any
    /// more); returns how many. Deleting twice, or from several instances at once, is
    /// harmless. The default deletes nothing, for stores that expire rows by themselves.
    fn purge_password_resets(&self, now: u64) -> StoreFuture<'_, u64> {
        let _ = now;
        Box::pin(async { Ok(0) })
    }
}
