//! Sessions: every token belongs to one, refresh tokens rotate inside it, and revocations
//! (logout, password change, ban) reach every instance sharing the store.
//!
//! - **Opening** ([`AuthManager::create_session`](crate::AuthManager::create_session)) records a session (a refresh-token family)
//!   and returns an access token and a refresh token, both carrying the session id (`sid`).
//! - **Refreshing** ([`AuthManager::refresh`](crate::AuthManager::refresh)) spends the refresh token: an atomic
//!   compare-and-swap in the store makes exactly one of two concurrent uses win; a spent token
//!   presented again revokes the whole session (the loser of such a race included: OAuth 2.1
//!   reuse detection). Sessions end after an absolute lifetime and after an idle timeout.
//! - **Checking** (every secured request): the token's session and subject are looked up in
//!   the revocation list each instance keeps in memory, refreshed from the store every poll
//!   interval (default 250 ms). The list is never older than the staleness bound (default
//!   1 s): past it, the request refreshes the list itself, and if the store cannot be reached
//!   it is answered 503 — never an allow. A revocation made by an instance applies on that
//!   instance from the next request on, and on every other instance within the staleness
//!   bound.

mod cache;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

pub(crate) use cache::{CheckError, RevocationCache};

use crate::clock::now;
use crate::error::{AuthError, InvalidToken};
use crate::grants::Grants;
use crate::keyring::{
    ACCESS, ACCESS_TTL_CLAIM, BearerToken, Keyring, REFRESH, RESERVED_CLAIMS, SESSION_CLAIMS_CLAIM,
    Signed, TokenError, TokenPair, TokenRequest, bearer, random_id,
};
use crate::principal::Principal;
use crate::store::{AccountStatus, NewSession, Purged, RevocationKind, Rotation, SessionStore};

/// How long sessions live and how fresh revocations must be.
///
/// Sessions: every token belongs to one, refresh tokens rotate inside it, and revocations
/// (logout, password change, ban) reach every instance sharing the store.
///
/// - **Opening** ([`AuthManager::create_session`](crate::AuthManager::create_session)) records a session (a refresh-token family)
///   and returns an access token and a refresh token, both carrying the session id (`sid`).
/// - **Refreshing** ([`AuthManager::refresh`](crate::AuthManager::refresh)) spends the refresh token: an atomic
///   compare-and-swap in the store makes exactly one of two concurrent uses win; a spent token
///   presented again revokes the whole session (the loser of such a race included: OAuth 2.1
///   reuse detection). Sessions end after an absolute lifetime and after an idle timeout.
/// - **Checking** (every secured request): the token's session and subject are looked up in
///   the revocation list each instance keeps in memory, refreshed from the store every poll
///   interval (default 250 ms). The list is never older than the staleness bound (default
///   1 s): past it, the request refreshes the list itself, and if the store cannot be reached
///   it is answered 503 — never an allow. A revocation made by an instance applies on that
///   instance from the next request on, and on every other instance within the staleness
///   bound.
///
/// ```
/// use std::time::Duration;
/// use auth_runtime::SessionConfig;
///
/// let config = SessionConfig::default()
///     .absolute_lifetime(Duration::from_secs(24 * 3600))
///     .idle_timeout(Duration::from_secs(2 * 3600));
/// assert_eq!(config.staleness(), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    absolute: Duration,
    idle: Duration,
    staleness: Duration,
    poll: Duration,
    purge: Duration,
}

impl Default for SessionConfig {
    /// Sessions end 7 days after sign-in or after 1 day without a refresh; revocations are
    /// read every 250 ms and never trusted when older than 1 s; expired rows are deleted every
    /// hour.
    fn default() -> Self {
        SessionConfig {
            absolute: Duration::from_secs(7 * 24 * 3600),
            idle: Duration::from_secs(24 * 3600),
            staleness: Duration::from_secs(1),
            poll: Duration::from_millis(250),
            purge: Duration::from_secs(3600),
        }
    }
}

impl SessionConfig {
    /// No refresh after this long since sign-in.
    pub fn absolute_lifetime(mut self, lifetime: Duration) -> Self {
        self.absolute = lifetime;
        self
    }

    /// No refresh after this long without one.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle = timeout;
        self
    }

    /// The oldest the in-memory revocation list may be before a request refreshes it itself
    /// (and answers 503 if it cannot): the longest a revocation made on another instance can
    /// go unnoticed. At least 10 ms.
    pub fn staleness_bound(mut self, bound: Duration) -> Self {
        self.staleness = bound.max(Duration::from_millis(10));
        self.poll = self.poll.min(self.staleness / 2);
        self
    }

    /// How often each instance reads new revocations (at most half the staleness bound).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval
            .max(Duration::from_millis(5))
            .min(self.staleness / 2);
        self
    }

    /// How often each instance deletes expired sessions and revocations from the store
    /// ([`SessionStore::purge_expired`]), in the
    /// background, first when its revocation poller starts (at the first checked request).
    /// At least 1 s. Several instances purging is harmless;
    /// [`AuthManager::purge_expired`](crate::AuthManager::purge_expired) does it on demand.
    ///
    /// ```
    /// use std::time::Duration;
    /// use auth_runtime::SessionConfig;
    ///
    /// let config = SessionConfig::default().purge_interval(Duration::from_secs(600));
    /// assert_eq!(config.purge(), Duration::from_secs(600));
    /// assert_eq!(SessionConfig::default().purge(), Duration::from_secs(3600));
    /// ```
    pub fn purge_interval(mut self, interval: Duration) -> Self {
        self.purge = interval.max(Duration::from_secs(1));
        self
    }

    /// The configured purge interval.
    pub fn purge(&self) -> Duration {
        self.purge
    }

    /// The configured staleness bound.
    pub fn staleness(&self) -> Duration {
        self.staleness
    }

    /// The configured absolute lifetime.
    pub fn absolute(&self) -> Duration {
        self.absolute
    }

    /// The configured idle timeout.
    pub fn idle(&self) -> Duration {
        self.idle
    }
}

/// One of an account's live sessions, as its owner (or an admin) sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session id (the `sid` of its tokens).
    pub id: String,
    /// The login type of its tokens.
    pub login_type: String,
    /// When it was opened, seconds since the Unix epoch.
    pub created_at: u64,
    /// When its refresh token was last used (or the session opened).
    pub last_used_at: u64,
    /// Its absolute end.
    pub expires_at: u64,
    /// Whether the request that asked belongs to it.
    pub current: bool,
}

/// The session store with its revocation list.
pub(crate) struct Sessions {
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) cache: Arc<RevocationCache>,
    pub(crate) config: SessionConfig,
    /// How long a revocation must be remembered: the longest access-token lifetime plus leeway.
    pub(crate) remember: u64,
}

impl Sessions {
    pub(crate) fn new(store: Arc<dyn SessionStore>, config: SessionConfig, remember: u64) -> Self {
        Sessions {
            store,
            cache: Arc::new(RevocationCache::new(
                config.staleness,
                config.poll,
                config.purge,
            )),
            config,
            remember,
        }
    }
}

/// The session operations: the configured sessions (if any), with the keys that sign their
/// tokens and the grants that re-read accounts on refresh. A view the manager lends out; it
/// holds nothing of its own.
pub(crate) struct SessionService<'a> {
    pub(crate) sessions: Option<&'a Sessions>,
    pub(crate) keys: &'a Keyring,
    pub(crate) grants: &'a Grants,
}

impl SessionService<'_> {
    fn sessions_or_err(&self) -> Result<&Sessions, TokenError> {
        self.sessions.ok_or(TokenError::NoSessionStore)
    }

    /// The sessions, the time now, and until when a revocation made now must be remembered.
    fn revoking(&self) -> Result<(&Sessions, u64, u64), TokenError> {
        let sessions = self.sessions_or_err()?;
        let now = now();
        Ok((sessions, now, now + sessions.remember))
    }

    /// Opens a session for `request` and returns its first access and refresh tokens; a
    /// request bound to an account's credential version opens none if the account changed.
    pub(crate) async fn create_session(
        &self,
        request: &TokenRequest,
    ) -> Result<TokenPair, TokenError> {
        let sessions = self.sessions_or_err()?;
        let request = &*self.grants.resolve_roles(request)?;
        let prepared = self.keys.prepare(request)?;
        let sid = random_id();
        // Taken before the session is recorded: a revocation of the subject that comes after
        // the record has a later cutoff, so it covers these tokens.
        let iat = now();
        let expires_at = iat + sessions.config.absolute.as_secs();
        let refresh = self
            .keys
            .sign(&prepared, REFRESH, &sid, iat, Some(expires_at))?;
        let mut record = NewSession::new(
            sid.clone(),
            prepared.subject.clone(),
            prepared.login_type.name.to_string(),
            refresh.jti.clone(),
            iat,
            expires_at,
        );
        let version = request.bound_version();
        let in_store = self.grants.accounts_in_session_store();
        if let (Some(version), true) = (version, in_store) {
            record = record.credential_version(version);
        }
        let changed = || TokenError::AccountChanged {
            login_type: prepared.login_type.name.to_string(),
        };
        if !sessions.store.create_session(record).await? {
            return Err(changed());
        }
        if let (Some(version), false, Some(users)) = (version, in_store, self.grants.users()) {
            // The session store cannot see the account: read it again now that the session is
            // recorded. A credential change updates the account before it revokes sessions,
            // so either it revokes this session or this read sees the new version.
            let current = users.user_by_id(&prepared.subject).await?;
            let unchanged = current.is_some_and(|a| {
                a.status == AccountStatus::Active && a.credential_version == version
            });
            if !unchanged {
                let (_, now, until) = self.revoking()?;
                sessions.store.revoke_session(&sid, now, until).await?;
                return Err(changed());
            }
        }
        let access = self.keys.sign(&prepared, ACCESS, &sid, iat, None)?;
        Ok(pair(access, refresh.token))
    }

    /// Issues one access token in a session of its own that has no refresh token (the OAuth2
    /// client-credentials grant): the session ends with the token, and ending it (or a
    /// revocation of its subject) revokes the token. Bound to the account's credential version
    /// like any session.
    pub(crate) async fn issue_access_only(
        &self,
        request: &TokenRequest,
    ) -> Result<BearerToken, TokenError> {
        let sessions = self.sessions_or_err()?;
        let request = &*self.grants.resolve_roles(request)?;
        let prepared = self.keys.prepare(request)?;
        let sid = random_id();
        let iat = now();
        let expires_at = iat + prepared.access_ttl;
        // The refresh jti is never handed out: nothing can rotate this session.
        let mut record = NewSession::new(
            sid.clone(),
            prepared.subject.clone(),
            prepared.login_type.name.to_string(),
            random_id(),
            iat,
            expires_at,
        );
        if let (Some(version), true) = (
            request.bound_version(),
            self.grants.accounts_in_session_store(),
        ) {
            record = record.credential_version(version);
        }
        if !sessions.store.create_session(record).await? {
            return Err(TokenError::AccountChanged {
                login_type: prepared.login_type.name.to_string(),
            });
        }
        let access = self.keys.sign(&prepared, ACCESS, &sid, iat, None)?;
        Ok(bearer(access))
    }

    /// Spends a refresh token and returns a new pair in the same session (scopes re-read,
    /// narrowed, never widened).
    pub(crate) async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, AuthError> {
        let sessions = self.sessions_or_err()?;
        let old = self.keys.verify(refresh_token, REFRESH, &[])?;
        let realm = old.login_type().to_owned();
        let revoked = |reason| AuthError::InvalidToken {
            realm: realm.clone(),
            reason,
        };
        let sid = old
            .session_id()
            .ok_or_else(|| revoked(InvalidToken::MissingClaim("sid")))?
            .to_owned();
        let request = match self.regrant(&old).await? {
            Some(request) => request,
            None => {
                self.revoke_session_id(&sid).await?;
                return Err(revoked(InvalidToken::Revoked));
            }
        };
        let prepared = self.keys.prepare(&request)?;
        let iat = now();
        // The jti is generated before the swap so that the token signed after it is the one
        // the store now expects.
        let next = self.keys.sign(&prepared, REFRESH, &sid, iat, None)?;
        let rotation = sessions
            .store
            .rotate_refresh(
                &sid,
                old.token_id(),
                &next.jti,
                iat,
                sessions.config.idle.as_secs(),
                iat + sessions.remember,
            )
            .await?;
        match rotation {
            Rotation::Rotated => {
                let access = self.keys.sign(&prepared, ACCESS, &sid, iat, None)?;
                Ok(pair(access, next.token))
            }
            Rotation::Reused => {
                tracing::warn!(
                    target: crate::events::SECURITY_EVENTS,
                    event = "refresh_token_reused",
                    account = old.subject(),
                    "a spent refresh token was presented again: its session is revoked"
                );
                sessions
                    .cache
                    .apply_local(RevocationKind::Session(sid), iat + sessions.remember);
                Err(revoked(InvalidToken::Revoked))
            }
            Rotation::Revoked | Rotation::Unknown => Err(revoked(InvalidToken::Revoked)),
            Rotation::Expired => Err(revoked(InvalidToken::Expired)),
        }
    }

    /// What a refreshed token carries: the old token's claims, with scopes narrowed to what
    /// the account holds now when a user store is configured, the session's own claims
    /// ([`TokenRequest::session_claims`]), and the access-token lifetime the session was
    /// opened with (capped again by the login type). `None`: the account can
    /// no longer have tokens.
    async fn regrant(&self, old: &Principal) -> Result<Option<TokenRequest>, AuthError> {
        let mut claims = old.claims().clone();
        claims.retain(|k, _| !RESERVED_CLAIMS.contains(&k.as_str()));
        let old_scopes: Vec<String> = old.scopes().iter().map(str::to_owned).collect();
        let mut base = TokenRequest::new(old.login_type(), old.subject());
        if let Some(ttl) = old.claim(ACCESS_TTL_CLAIM).and_then(Value::as_u64) {
            base = base.expires_in(Duration::from_secs(ttl));
        }
        if let Some(Value::Object(lasting)) = old.claim(SESSION_CLAIMS_CLAIM) {
            // The session's own claims, as they were at sign-in.
            base = base.session_claims(lasting.clone());
        }
        let grant = if let Some(identities) = self.grants.identities() {
            // The app's own table: the user as it is now.
            match identities.by_subject(old.subject()).await? {
                Some(identity) => self.grants.identity_grant(&identity, old.login_type()),
                None => None,
            }
        } else if let Some(users) = self.grants.users() {
            match users.user_by_id(old.subject()).await? {
                Some(account) => self.grants.account_grant(&account, old.login_type()),
                None => None,
            }
        } else {
            return Ok(Some(base.scopes(old_scopes).claims(claims)));
        };
        let Some(grant) = grant else {
            return Ok(None);
        };
        let scopes: Vec<String> = grant
            .granted_scopes()
            .iter()
            .filter(|s| old_scopes.contains(s))
            .cloned()
            .collect();
        Ok(Some(
            base.scopes(scopes).claims(grant.extra_claims().clone()),
        ))
    }

    /// Ends the principal's session (logout).
    pub(crate) async fn logout(&self, principal: &Principal) -> Result<(), AuthError> {
        self.sessions_or_err()?;
        self.revoke_session_id(session_of(principal)?).await
    }

    async fn revoke_session_id(&self, sid: &str) -> Result<(), AuthError> {
        let (sessions, now, until) = self.revoking()?;
        sessions.store.revoke_session(sid, now, until).await?;
        sessions
            .cache
            .apply_local(RevocationKind::Session(sid.to_owned()), until);
        Ok(())
    }

    /// Deletes the store's expired sessions and revocations now.
    pub(crate) async fn purge_expired(&self) -> Result<Purged, TokenError> {
        let sessions = self.sessions_or_err()?;
        Ok(sessions.store.purge_expired(now()).await?)
    }

    /// The live sessions of `subject`, `current` marking the one with id `current`.
    pub(crate) async fn sessions_of(
        &self,
        subject: &str,
        current: Option<&str>,
    ) -> Result<Vec<SessionInfo>, AuthError> {
        let sessions = self.sessions_or_err()?;
        let now = now();
        let idle_since = now.saturating_sub(sessions.config.idle.as_secs());
        let records = sessions.store.sessions_of(subject, now, idle_since).await?;
        Ok(records
            .into_iter()
            .map(|r| SessionInfo {
                current: current == Some(r.id.as_str()),
                id: r.id,
                login_type: r.login_type,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                expires_at: r.expires_at,
            })
            .collect())
    }

    /// Ends the live session `sid` of `subject`; `false` when `subject` has none with that id.
    pub(crate) async fn end_session_of(&self, subject: &str, sid: &str) -> Result<bool, AuthError> {
        let live = self.sessions_of(subject, None).await?;
        if !live.iter().any(|s| s.id == sid) {
            return Ok(false);
        }
        self.revoke_session_id(sid).await?;
        Ok(true)
    }

    /// Ends every other session of the principal's subject; how many were ended.
    pub(crate) async fn revoke_other_sessions(
        &self,
        principal: &Principal,
    ) -> Result<u64, AuthError> {
        let (sessions, now, until) = self.revoking()?;
        let count = sessions
            .store
            .revoke_other_sessions(principal.subject(), principal.session_id(), now, until)
            .await?;
        // Other instances learn the sessions at their next poll; this one reads them now.
        if let Err(e) = sessions.cache_refresh_now().await {
            tracing::warn!(error = %e, "revocation list not refreshed after a password change");
        }
        Ok(count)
    }

    /// Ends every session of `subject`, one by one (no cutoff: a sign-in right after opens a
    /// good session); how many were ended.
    pub(crate) async fn revoke_sessions_of(&self, subject: &str) -> Result<u64, AuthError> {
        let (sessions, now, until) = self.revoking()?;
        let count = sessions
            .store
            .revoke_other_sessions(subject, None, now, until)
            .await?;
        if let Err(e) = sessions.cache_refresh_now().await {
            tracing::warn!(error = %e, "revocation list not refreshed after ending sessions");
        }
        Ok(count)
    }

    /// Ends everything of `subject`: every session, and every token issued up to now.
    pub(crate) async fn revoke_subject(&self, subject: &str) -> Result<(), AuthError> {
        let (sessions, now, until) = self.revoking()?;
        // Tokens issued in this second are covered too: the account can no longer sign in.
        let cutoff = now + 1;
        sessions
            .store
            .revoke_subject(subject, cutoff, now, until)
            .await?;
        sessions.cache.apply_local(
            RevocationKind::Subject {
                subject: subject.to_owned(),
                cutoff,
            },
            until,
        );
        Ok(())
    }
}

impl Sessions {
    /// The session check of one verified principal.
    pub(crate) async fn check(&self, principal: &Principal) -> Result<(), AuthError> {
        let sid = session_of(principal)?;
        match self
            .cache
            .check(&self.store, sid, principal.subject(), principal.issued_at())
            .await
        {
            Ok(()) => Ok(()),
            Err(CheckError::Revoked) => Err(AuthError::InvalidToken {
                realm: principal.login_type().to_owned(),
                reason: InvalidToken::Revoked,
            }),
            Err(CheckError::Unavailable) => Err(AuthError::Unavailable),
        }
    }

    async fn cache_refresh_now(&self) -> Result<(), crate::store::StoreError> {
        self.cache.refresh_now(&self.store).await
    }
}

/// The session id of a principal; a token without one is invalid where sessions are checked.
fn session_of(principal: &Principal) -> Result<&str, AuthError> {
    principal
        .session_id()
        .ok_or_else(|| AuthError::InvalidToken {
            realm: principal.login_type().to_owned(),
            reason: InvalidToken::MissingClaim("sid"),
        })
}

fn pair(access: Signed, refresh_token: String) -> TokenPair {
    let bearer = bearer(access);
    TokenPair {
        token_type: bearer.token_type,
        access_token: bearer.access_token,
        refresh_token,
        expires_in: bearer.expires_in,
    }
}
