//! API keys at rest: [`ApiKeyStore`] and its records. A key's secret is never stored, only its
//! SHA-256 digest; a key is looked up by its id and compared in constant time by the caller.

use super::StoreFuture;

/// An API key to record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewApiKey {
    /// The key's public id (the middle part of `<prefix>_<id>_<secret>`): random, URL-safe.
    pub id: String,
    /// The account the key acts for (its tokens' `sub`).
    pub owner: String,
    /// The login type whose requests the key may authenticate.
    pub login_type: String,
    /// A label chosen by its creator.
    pub name: String,
    /// The scopes the key grants (never beyond its creator's).
    pub scopes: Vec<String>,
    /// The SHA-256 digest of the secret, lowercase hex.
    pub secret_hash: String,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
    /// The owner's credential version when the key was created: the key dies with any later
    /// credential change of its owner (password, status, roles), for good.
    pub credential_version: u64,
}

impl NewApiKey {
    /// A key record; the caller has hashed the secret.
    #[expect(clippy::too_many_arguments, reason = "one plain record")]
    pub fn new(
        id: impl Into<String>,
        owner: impl Into<String>,
        login_type: impl Into<String>,
        name: impl Into<String>,
        scopes: Vec<String>,
        secret_hash: impl Into<String>,
        created_at: u64,
        expires_at: u64,
        credential_version: u64,
    ) -> Self {
        NewApiKey {
            id: id.into(),
            owner: owner.into(),
            login_type: login_type.into(),
            name: name.into(),
            scopes,
            secret_hash: secret_hash.into(),
            created_at,
            expires_at,
            credential_version,
        }
    }
}

/// An API key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiKeyRecord {
    /// What was recorded.
    pub key: NewApiKey,
    /// When the key last authenticated a request (recorded in batches, so up to a minute
    /// late), seconds since the Unix epoch.
    pub last_used_at: Option<u64>,
    /// When the key was revoked, if it was.
    pub revoked_at: Option<u64>,
}

impl ApiKeyRecord {
    /// A record read back from a store.
    pub fn new(key: NewApiKey, last_used_at: Option<u64>, revoked_at: Option<u64>) -> Self {
        ApiKeyRecord {
            key,
            last_used_at,
            revoked_at,
        }
    }
}

/// API keys: created, looked up by id, listed per owner, revoked, and their last use recorded.
///
/// [`SqlStore`](super::SqlStore) implements it on SQLite and PostgreSQL (table
/// `auth_api_keys`).
pub trait ApiKeyStore: Send + Sync + 'static {
    /// Records a new key. Ids are random; a collision is a [`Conflict`](super::StoreError::Conflict).
    fn create_api_key(&self, key: NewApiKey) -> StoreFuture<'_, ()>;

    /// The key with this id, revoked and expired ones included.
    fn api_key<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<ApiKeyRecord>>;

    /// The keys of one owner that are neither revoked nor expired at `now`, oldest first.
    fn api_keys_of<'a>(&'a self, owner: &'a str, now: u64) -> StoreFuture<'a, Vec<ApiKeyRecord>>;

    /// Revokes `owner`'s key `id` (a conditional update: only a live key of that owner);
    /// `false` when there is none.
    fn revoke_api_key<'a>(&'a self, owner: &'a str, id: &'a str, now: u64)
    -> StoreFuture<'a, bool>;

    /// Records when keys were last used: `(id, time)` pairs, a time never moving backwards.
    fn record_api_key_use<'a>(&'a self, uses: &'a [(String, u64)]) -> StoreFuture<'a, ()>;
}
