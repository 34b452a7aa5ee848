//! API keys: `<prefix>_<id>_<secret>`, shown once, stored as a SHA-256 digest, looked up by id
//! and compared in constant time; scoped never beyond their creator; dead with any credential
//! change of their owner.
//!
//! A key is checked on every request that presents it, against a record read from the store at
//! most once per staleness bound (the same bound as the revocation list, 1 s by default) and
//! kept in a bounded in-memory cache: a revoked key, an expired one, or one whose owner was
//! deactivated or changed their password stops working on this instance at once and on every
//! other within that bound. The principal a key authenticates as is built once per record read
//! and shared, so a request with a cached key costs the digest of its secret and a few
//! comparisons. Uses are recorded in memory and written in one batch at most once a minute,
//! never by a query per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AccountError;
use crate::clock::now;
use crate::error::{AuthError, InvalidToken};
use crate::grants::Grants;
use crate::keyring::{Keyring, RESERVED_CLAIMS};
use crate::principal::{CredentialKind, Principal};
use crate::scope::{GrantedScopes, ScopeValidator};
use crate::store::{Account, AccountStatus, ApiKeyRecord, ApiKeyStore, NewApiKey, StoreError};

/// Hex digits of a key's id (96 random bits).
const ID_LEN: usize = 24;
/// Hex digits of a key's secret (256 random bits).
const SECRET_LEN: usize = 64;
/// The most key records kept in memory; past it the cache starts over.
const CACHE_CAPACITY: usize = 10_000;
/// The most pending last-used times; past it new uses wait for the next batch.
const PENDING_CAPACITY: usize = 10_000;
/// How often last-used times are written.
const USE_FLUSH_INTERVAL: Duration = Duration::from_secs(60);

/// The longest a key may live: a year.
pub const MAX_API_KEY_DAYS: u32 = 365;

/// A key as its creator sees it once: the full key, never shown again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct NewKey {
    /// The key's id (for listing and revoking).
    pub id: String,
    /// The key itself, `<prefix>_<id>_<secret>`, for the `X-API-Key` header.
    pub key: String,
    /// When it expires, seconds since the Unix epoch.
    pub expires_at: u64,
}

/// What a key's owner may see of a key: never the key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ApiKeyInfo {
    /// The key's id.
    pub id: String,
    /// Its label.
    pub name: String,
    /// The scopes it grants.
    pub scopes: Vec<String>,
    /// When it was created, seconds since the Unix epoch.
    pub created_at: u64,
    /// When it expires, seconds since the Unix epoch.
    pub expires_at: u64,
    /// When it last authenticated a request (up to a minute late), if ever.
    pub last_used_at: Option<u64>,
}

impl From<&ApiKeyRecord> for ApiKeyInfo {
    fn from(record: &ApiKeyRecord) -> Self {
        ApiKeyInfo {
            id: record.key.id.clone(),
            name: record.key.name.clone(),
            scopes: record.key.scopes.clone(),
            created_at: record.key.created_at,
            expires_at: record.key.expires_at,
            last_used_at: record.last_used_at,
        }
    }
}

/// A key record with its owner, as read together, and the principal the key authenticates as.
struct Found {
    record: ApiKeyRecord,
    owner: Account,
    /// Built at the key's first use from this record and owner (and the manager's fixed
    /// configuration), then shared by every request until the record is read again: nothing
    /// in it depends on the request or the time. `None`: the key's login type, or its owner's
    /// grant on it, refuses the key.
    principal: OnceLock<Option<Principal>>,
}

/// A cache entry: what was read of a key id, and when.
struct Cached {
    read_at: Instant,
    found: Option<Arc<Found>>,
}

#[derive(Default)]
struct Uses {
    pending: HashMap<String, u64>,
    last_flush: Option<Instant>,
    flushing: bool,
}

/// The API keys of a manager: the store, the key prefix, the record cache and the pending
/// last-used times.
pub(crate) struct ApiKeys {
    pub(crate) store: Arc<dyn ApiKeyStore>,
    prefix: String,
    fresh_for: Duration,
    cache: Mutex<HashMap<String, Cached>>,
    uses: Arc<Mutex<Uses>>,
}

/// The parts of a presented key.
struct Parsed<'a> {
    id: &'a str,
    secret: &'a str,
}

impl ApiKeys {
    pub(crate) fn new(store: Arc<dyn ApiKeyStore>, prefix: String, fresh_for: Duration) -> Self {
        ApiKeys {
            store,
            prefix,
            fresh_for,
            cache: Mutex::new(HashMap::new()),
            uses: Arc::new(Mutex::new(Uses::default())),
        }
    }

    /// A new key: its id, the full key, and the digest to store.
    pub(crate) fn generate(&self) -> (String, String, String) {
        let id = hex(&rand::random::<[u8; ID_LEN / 2]>());
        let secret = hex(&rand::random::<[u8; SECRET_LEN / 2]>());
        let key = format!("{}_{id}_{secret}", self.prefix);
        let digest = digest(&secret);
        (id, key, digest)
    }

    fn parse<'a>(&self, key: &'a str) -> Option<Parsed<'a>> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix('_')?;
        let (id, secret) = rest.split_once('_')?;
        let hex_of = |s: &str, len| {
            s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        (hex_of(id, ID_LEN) && hex_of(secret, SECRET_LEN)).then_some(Parsed { id, secret })
    }

    /// The record of key `id` with its owner, from the cache while it is fresh.
    async fn lookup(&self, id: &str, grants: &Grants) -> Result<Option<Arc<Found>>, StoreError> {
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = cache.get(id)
                && hit.read_at.elapsed() <= self.fresh_for
            {
                return Ok(hit.found.clone());
            }
        }
        let read_at = Instant::now();
        let found = match self.store.api_key(id).await? {
            None => None,
            Some(record) => match grants.users() {
                None => None,
                Some(users) => users.user_by_id(&record.key.owner).await?.map(|owner| {
                    Arc::new(Found {
                        record,
                        owner,
                        principal: OnceLock::new(),
                    })
                }),
            },
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, c| c.read_at.elapsed() <= self.fresh_for);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(
            id.to_owned(),
            Cached {
                read_at,
                found: found.clone(),
            },
        );
        Ok(found)
    }

    /// Forgets the cached records of `owner`'s keys (after this instance changed the owner:
    /// the next use reads the owner again).
    pub(crate) fn forget_owner(&self, owner: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, c| c.found.as_ref().is_none_or(|f| f.owner.id != owner));
    }

    /// Forgets a key's cached record (after this instance revoked it).
    pub(crate) fn forget(&self, id: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.remove(id);
    }

    /// The principal of a presented key, or one identical refusal for every reason.
    pub(crate) async fn authenticate(
        &self,
        key: &str,
        keys: &Keyring,
        grants: &Grants,
        realm: impl Fn() -> String,
    ) -> Result<Principal, AuthError> {
        let refused = || AuthError::InvalidToken {
            realm: realm(),
            reason: InvalidToken::InvalidApiKey,
        };
        let parsed = self.parse(key).ok_or_else(refused)?;
        let found = self.lookup(parsed.id, grants).await?;
        // The digest is compared even when no key was found, so that an unknown id and a wrong
        // secret take the same work.
        let presented = digest(parsed.secret);
        let stored = found.as_ref().map_or([0u8; 64].as_slice(), |f| {
            f.record.key.secret_hash.as_bytes()
        });
        let matches: bool = presented.as_bytes().ct_eq(stored).into();
        let Some(found) = found.filter(|_| matches) else {
            return Err(refused());
        };
        let (record, owner) = (&found.record, &found.owner);
        let now = now();
        let live = record.revoked_at.is_none()
            && now < record.key.expires_at
            && owner.status == AccountStatus::Active
            && owner.credential_version == record.key.credential_version;
        if !live {
            return Err(refused());
        }
        let principal = found
            .principal
            .get_or_init(|| principal_of(record, owner, keys, grants))
            .clone()
            .ok_or_else(refused)?;
        self.record_use(&record.key.id, now);
        Ok(principal)
    }

    /// Notes a key's use; writes the pending uses in the background when the last batch is a
    /// minute old.
    fn record_use(&self, id: &str, at: u64) {
        let batch = {
            let mut uses = self.uses.lock().unwrap_or_else(|p| p.into_inner());
            // The key's own entry is updated in place: no allocation per request.
            if let Some(last) = uses.pending.get_mut(id) {
                *last = at;
            } else if uses.pending.len() < PENDING_CAPACITY {
                uses.pending.insert(id.to_owned(), at);
            }
            let due = uses
                .last_flush
                .is_none_or(|t| t.elapsed() >= USE_FLUSH_INTERVAL);
            if !due || uses.flushing {
                return;
            }
            uses.flushing = true;
            uses.last_flush = Some(Instant::now());
            std::mem::take(&mut uses.pending)
        };
        let store = self.store.clone();
        let uses = self.uses.clone();
        let write = async move {
            let batch: Vec<(String, u64)> = batch.into_iter().collect();
            if let Err(e) = store.record_api_key_use(&batch).await {
                tracing::warn!(error = %e, keys = batch.len(), "API key uses not recorded");
            }
            uses.lock().unwrap_or_else(|p| p.into_inner()).flushing = false;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(write);
            }
            Err(_) => self.uses.lock().unwrap_or_else(|p| p.into_inner()).flushing = false,
        }
    }

    /// Writes every pending use now (before a listing, so that it shows them).
    pub(crate) async fn flush_uses(&self) -> Result<(), StoreError> {
        let batch: Vec<(String, u64)> = {
            let mut uses = self.uses.lock().unwrap_or_else(|p| p.into_inner());
            uses.pending.drain().collect()
        };
        if batch.is_empty() {
            return Ok(());
        }
        self.store.record_api_key_use(&batch).await
    }
}

/// What a new key asks for.
pub(crate) struct KeyRequest<'r> {
    pub(crate) name: &'r str,
    pub(crate) scopes: &'r [String],
    pub(crate) days: u32,
}

impl ApiKeys {
    /// Creates a key for the caller: scopes within the caller's own, the caller's login type,
    /// bound to the account's credential version now.
    pub(crate) async fn create(
        &self,
        creator: &Principal,
        request: KeyRequest<'_>,
        keys: &Keyring,
        grants: &Grants,
        scopes: &dyn ScopeValidator,
    ) -> Result<NewKey, AccountError> {
        let users = grants.users().ok_or(AccountError::NoUserStore)?;
        let owner = users
            .user_by_id(creator.subject())
            .await
            .map_err(AuthError::from)?
            .filter(|a| a.status == AccountStatus::Active)
            .ok_or(AccountError::Deactivated)?;
        self.create_for(
            &owner,
            creator.login_type(),
            creator.scopes(),
            request,
            keys,
            scopes,
        )
        .await
    }

    /// Creates a key for `owner` (an admin's act, for a service account): within the scopes
    /// its roles grant on `login_type`.
    pub(crate) async fn create_for_account(
        &self,
        owner: &Account,
        login_type: &str,
        request: KeyRequest<'_>,
        keys: &Keyring,
        grants: &Grants,
        scopes: &dyn ScopeValidator,
    ) -> Result<NewKey, AccountError> {
        let grant = grants.account_grant(owner, login_type).ok_or_else(|| {
            AccountError::Forbidden(format!(
                "The account may not have keys of login type `{login_type}`"
            ))
        })?;
        let held = grant.granted_scopes().join(" ");
        self.create_for(
            owner,
            login_type,
            GrantedScopes::new(&held),
            request,
            keys,
            scopes,
        )
        .await
    }

    async fn create_for(
        &self,
        owner: &Account,
        login_type: &str,
        held: GrantedScopes<'_>,
        request: KeyRequest<'_>,
        keys: &Keyring,
        scopes: &dyn ScopeValidator,
    ) -> Result<NewKey, AccountError> {
        let name = request.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(AccountError::Unprocessable(
                "`name` must be 1 to 100 characters, without control characters".into(),
            ));
        }
        if !(1..=MAX_API_KEY_DAYS).contains(&request.days) {
            return Err(AccountError::Unprocessable(format!(
                "`expires_in_days` must be from 1 to {MAX_API_KEY_DAYS}"
            )));
        }
        if request.scopes.is_empty() {
            return Err(AccountError::Unprocessable(
                "`scopes` must name at least one scope: a key with none could do nothing".into(),
            ));
        }
        let mut wanted: Vec<String> = Vec::new();
        for scope in request.scopes {
            if let Err(e) = auth_grammar::validate_scope(scope) {
                return Err(AccountError::Unprocessable(format!(
                    "scope `{}` is invalid: {e}",
                    scope.escape_debug()
                )));
            }
            if !wanted.contains(scope) {
                wanted.push(scope.clone());
            }
        }
        if owner.status != AccountStatus::Active {
            return Err(AccountError::Deactivated);
        }
        let takes_keys = keys
            .login_type(login_type)
            .is_some_and(|(_, lt)| lt.takes_api_keys());
        if !takes_keys {
            return Err(AccountError::Forbidden(format!(
                "Login type `{login_type}` does not take API keys"
            )));
        }
        // A wildcard asked for counts as everything it covers: only a grant that covers the
        // wildcard itself satisfies it.
        if let Some(beyond) = wanted.iter().find(|s| !scopes.has_scope(s, held)) {
            return Err(AccountError::Forbidden(format!(
                "Scope `{beyond}` is beyond the caller's own scopes"
            )));
        }
        let (id, key, secret_hash) = self.generate();
        let created_at = now();
        let expires_at = created_at + u64::from(request.days) * 24 * 3600;
        self.store
            .create_api_key(NewApiKey::new(
                id.clone(),
                owner.id.clone(),
                login_type,
                name,
                wanted,
                secret_hash,
                created_at,
                expires_at,
                owner.credential_version,
            ))
            .await
            .map_err(AuthError::from)?;
        tracing::info!(
            target: crate::events::SECURITY_EVENTS,
            event = "api_key_created",
            account = %owner.id,
            key = %id,
            "an API key was created"
        );
        Ok(NewKey {
            id,
            key,
            expires_at,
        })
    }

    /// The caller's live keys, with their last use.
    pub(crate) async fn list(&self, owner: &Principal) -> Result<Vec<ApiKeyInfo>, AccountError> {
        if let Err(e) = self.flush_uses().await {
            tracing::warn!(error = %e, "API key uses not recorded before a listing");
        }
        let records = self
            .store
            .api_keys_of(owner.subject(), now())
            .await
            .map_err(AuthError::from)?;
        Ok(records.iter().map(ApiKeyInfo::from).collect())
    }

    /// Revokes one of the caller's keys.
    pub(crate) async fn revoke(&self, owner: &Principal, id: &str) -> Result<(), AccountError> {
        let revoked = self
            .store
            .revoke_api_key(owner.subject(), id, now())
            .await
            .map_err(AuthError::from)?;
        self.forget(id);
        if !revoked {
            return Err(AccountError::UnknownApiKey);
        }
        tracing::info!(
            target: crate::events::SECURITY_EVENTS,
            event = "api_key_revoked",
            account = owner.subject(),
            key = id,
            "an API key was revoked"
        );
        Ok(())
    }
}

/// The digest of a key's secret as stored: SHA-256, lowercase hex. A secret of 256 random bits
/// needs no slow hash: there is nothing to guess.
/// The principal of a live key: its own scopes, as its owner, with the claims of the owner's
/// grant on the key's login type; `None` when the login type does not take keys or the owner
/// has no grant on it.
fn principal_of(
    record: &ApiKeyRecord,
    owner: &Account,
    keys: &Keyring,
    grants: &Grants,
) -> Option<Principal> {
    let (_, state) = keys.login_type(&record.key.login_type)?;
    if !state.takes_api_keys() {
        return None;
    }
    let grant = grants.account_grant(owner, &record.key.login_type)?;
    let scope = record.key.scopes.join(" ");
    let mut claims: Map<String, Value> = grant.extra_claims().clone();
    claims.retain(|k, _| !RESERVED_CLAIMS.contains(&k.as_str()));
    claims.insert("sub".into(), Value::from(owner.id.as_str()));
    claims.insert("login_type".into(), Value::from(&*state.name));
    claims.insert("scope".into(), Value::from(scope.as_str()));
    claims.insert("jti".into(), Value::from(record.key.id.as_str()));
    claims.insert("iat".into(), Value::from(record.key.created_at));
    claims.insert("exp".into(), Value::from(record.key.expires_at));
    let payload = serde_json::to_vec(&claims).unwrap_or_default();
    Some(
        Principal::new(
            owner.id.clone(),
            state.name.clone(),
            scope,
            record.key.id.clone(),
            None,
            record.key.created_at,
            record.key.expires_at,
            payload,
        )
        .with_credential(CredentialKind::ApiKey),
    )
}

pub(super) fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoStore;
    impl ApiKeyStore for NoStore {
        fn create_api_key(&self, _: crate::store::NewApiKey) -> crate::store::StoreFuture<'_, ()> {
            Box::pin(async { Ok(()) })
        }
        fn api_key<'a>(
            &'a self,
            _: &'a str,
        ) -> crate::store::StoreFuture<'a, Option<ApiKeyRecord>> {
            Box::pin(async { Ok(None) })
        }
        fn api_keys_of<'a>(
            &'a self,
            _: &'a str,
            _: u64,
        ) -> crate::store::StoreFuture<'a, Vec<ApiKeyRecord>> {
            Box::pin(async { Ok(Vec::new()) })
        }
        fn revoke_api_key<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: u64,
        ) -> crate::store::StoreFuture<'a, bool> {
            Box::pin(async { Ok(false) })
        }
        fn record_api_key_use<'a>(
            &'a self,
            _: &'a [(String, u64)],
        ) -> crate::store::StoreFuture<'a, ()> {
            Box::pin(async { Ok(()) })
        }
    }

    fn keys() -> ApiKeys {
        ApiKeys::new(Arc::new(NoStore), "ak".into(), Duration::from_secs(1))
    }

    #[test]
    fn a_generated_key_parses_back_to_its_id_and_digest() {
        let keys = keys();
        let (id, key, stored) = keys.generate();
        let parsed = keys.parse(&key).expect("a generated key parses");
        assert_eq!(parsed.id, id);
        assert_eq!(digest(parsed.secret), stored);
        assert_eq!(stored.len(), 64);
    }

    #[test]
    fn digests_are_lowercase_hex_as_stored() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn keys_of_another_shape_do_not_parse() {
        let keys = keys();
        let (_, key, _) = keys.generate();
        let mut upper = key.clone();
        upper.make_ascii_uppercase();
        for bad in [
            "",
            "ak",
            "ak_",
            &key[..key.len() - 1],
            &format!("{key}0"),
            &key.replacen("ak_", "xx_", 1),
            &upper,
            &key.replacen('_', "-", 2),
        ] {
            assert!(keys.parse(bad).is_none(), "{bad:?} parsed");
        }
    }
}
