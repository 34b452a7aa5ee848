//! Account operations: registration, password sign-in, password change, approval,
//! deactivation, and the seeded admin. [`AuthManager`](crate::AuthManager) offers them; the
//! built-in routes call them there, and so can an app's own handlers.

use std::net::IpAddr;

use super::{AccountError, canonical_email};
use crate::clock::now;
use crate::events::SECURITY_EVENTS;
use axum::http::HeaderMap;

use crate::grants::{ADMIN_LOGIN_TYPE, Grants, SignInContext, is_service_account};
use crate::keyring::{TokenError, TokenPair, TokenRequest};
use crate::password::PasswordHasher;
use crate::principal::Principal;
use crate::scope::{GrantedScopes, ScopeValidator};
use crate::sessions::SessionService;
use crate::store::{Account, AccountStatus, NewAccount, PasswordWrite, StoreError, UserStore};
use crate::throttle::LoginThrottle;

/// The most accounts one page lists.
pub const MAX_PAGE: u32 = 200;

/// The canonical form of an email, or `None` when it has none: [`canonical_email`] without
/// the reason. Accounts are stored and looked up under this form, so look-alike spellings
/// (case, full-width letters, decomposed accents) are one account, and invisible or bidi
/// characters are refused.
///
/// ```
/// use auth_runtime::accounts::normalize_email;
///
/// assert_eq!(normalize_email("  Ann@Example.COM ").as_deref(), Some("ann@example.com"));
/// assert_eq!(normalize_email("ann"), None);
/// assert_eq!(normalize_email("admin@localhost").as_deref(), Some("admin@localhost"));
/// assert_eq!(normalize_email("ann@"), None);
/// assert_eq!(normalize_email("ann\u{200B}@example.com"), None);
/// ```
pub fn normalize_email(email: &str) -> Option<String> {
    canonical_email(email).ok()
}

/// One password sign-in, for [`AuthManager::sign_in_request`](crate::AuthManager::sign_in_request):
/// who, for which login type, from where, with which request headers (for the
/// [sign-in hook](crate::accounts::AccountsConfig::sign_in_claims)) and, optionally, the OAuth2
/// `scope` the tokens are narrowed to.
///
/// ```
/// use auth_runtime::accounts::SignIn;
///
/// let headers = axum::http::HeaderMap::new();
/// let scopes = vec!["reports:read".to_owned()];
/// let request = SignIn::new("ann@example.com", "a long passphrase", "user")
///     .client("203.0.113.7".parse().ok())
///     .headers(&headers)
///     .scopes(&scopes);
/// // The password never shows in debug output.
/// assert!(!format!("{request:?}").contains("passphrase"));
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct SignIn<'a> {
    /// The email (or, with an [`IdentityLoader`](crate::store::IdentityLoader), the username).
    pub username: &'a str,
    /// The password.
    pub password: &'a str,
    /// The login type.
    pub login_type: &'a str,
    /// The client's address (throttling, the sign-in hook).
    pub client: Option<IpAddr>,
    /// The request's headers, for the sign-in hook.
    pub headers: Option<&'a HeaderMap>,
    /// The OAuth2 `scope`: the tokens carry only these, each of which must be granted.
    pub scopes: Option<&'a [String]>,
}

impl<'a> SignIn<'a> {
    /// A sign-in with no client address, no headers and every granted scope.
    pub fn new(username: &'a str, password: &'a str, login_type: &'a str) -> Self {
        SignIn {
            username,
            password,
            login_type,
            client: None,
            headers: None,
            scopes: None,
        }
    }

    /// The client's address.
    pub fn client(mut self, client: Option<IpAddr>) -> Self {
        self.client = client;
        self
    }

    /// The request's headers.
    pub fn headers(mut self, headers: &'a HeaderMap) -> Self {
        self.headers = Some(headers);
        self
    }

    /// Narrows the tokens to these scopes.
    pub fn scopes(mut self, scopes: &'a [String]) -> Self {
        self.scopes = Some(scopes);
        self
    }
}

impl std::fmt::Debug for SignIn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("login_type", &self.login_type)
            .field("client", &self.client)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// The grant narrowed to the OAuth2 `scope` asked for, each of which it must hold (a wildcard
/// only where it holds one).
fn narrow(
    grant: TokenRequest,
    (wanted, validator): (&[String], &dyn ScopeValidator),
) -> Result<TokenRequest, AccountError> {
    let held = grant.granted_scopes().join(" ");
    let held = GrantedScopes::new(&held);
    if let Some(beyond) = wanted.iter().find(|s| !validator.has_scope(s, held)) {
        return Err(AccountError::InvalidScope(beyond.clone()));
    }
    Ok(grant.scopes(wanted.to_vec()))
}

/// The account operations over the account store, with the sessions they open and end, the
/// password hasher and the throttle. A view the manager lends out; it holds nothing of its own.
pub(crate) struct AccountService<'a> {
    pub(crate) grants: &'a Grants,
    pub(crate) sessions: SessionService<'a>,
    pub(crate) passwords: &'a PasswordHasher,
    pub(crate) throttle: &'a LoginThrottle,
}

impl AccountService<'_> {
    fn user_store(&self) -> Result<&dyn UserStore, AccountError> {
        self.grants.users().ok_or(AccountError::NoUserStore)
    }

    /// Registers an account awaiting approval, with the configured default roles. The email
    /// is normalized; the password must meet the policy (checked before hashing). Two
    /// concurrent registrations of one email create exactly one account. Registrations are
    /// throttled per client address ([`ThrottleConfig::registrations`](crate::throttle::ThrottleConfig::registrations)).
    pub(crate) async fn register(
        &self,
        email: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<Registration, AccountError> {
        let users = self.user_store()?;
        let email = normalize_email(email).ok_or(AccountError::InvalidEmail)?;
        self.throttle
            .admit_registration(client)
            .await
            .map_err(AccountError::registration)?;
        let hash = self.passwords.hash(password).await?;
        let account = NewAccount::new(email, AccountStatus::Pending, now())
            .password_hash(hash)
            .roles(self.grants.config().default_roles.iter().cloned());
        let email = account.email.clone();
        match users.create_user(account).await {
            Ok(account) => {
                tracing::info!(target: SECURITY_EVENTS, event = "registered", account = %account.id);
                Ok(Registration::Created(account))
            }
            Err(StoreError::Conflict) if !self.grants.config().reveal_existing => {
                tracing::info!(target: SECURITY_EVENTS, event = "registration_for_existing_account");
                if let Some(hook) = self.grants.config().on_existing.as_ref()
                    && let Some(existing) = users.user_by_email(&email).await?
                {
                    hook(&existing);
                }
                Ok(Registration::Existing)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Signs in with email and password for `login_type` and opens a session; with `scope`,
    /// its tokens carry only those scopes, each of which the account must be granted (a
    /// wildcard only where it is granted as one).
    pub(crate) async fn sign_in(
        &self,
        email: &str,
        password: &str,
        login_type: &str,
        client: Option<IpAddr>,
        scope: Option<(&[String], &dyn ScopeValidator)>,
        headers: &HeaderMap,
    ) -> Result<TokenPair, AccountError> {
        if self.grants.identities().is_some() {
            return self
                .sign_in_identity(email, password, login_type, client, scope, headers)
                .await;
        }
        let users = self.user_store()?;
        // An email that cannot be an address is treated like an unknown one (same work, same
        // answer), keyed by what was sent.
        let key = normalize_email(email).unwrap_or_else(|| email.trim().to_lowercase());
        // Admitted (checked and charged at once) before any lookup or hashing.
        let attempt = self.admit(&key, client).await?;
        // A service account never signs in by password: it is no account here.
        let account = users
            .user_by_email(&key)
            .await?
            .filter(|a| !is_service_account(a));
        let stored = account.as_ref().and_then(|a| a.password_hash.as_deref());
        let check = self.passwords.verify(password, stored).await?;
        let Some(account) = account.filter(|_| check.matches) else {
            attempt.failed();
            tracing::info!(target: SECURITY_EVENTS, event = "sign_in_failed", client = ?client, login_type);
            return Err(AccountError::InvalidCredentials);
        };
        attempt.succeeded().await;
        match account.status {
            AccountStatus::Active => {}
            AccountStatus::Pending => return Err(AccountError::Pending),
            AccountStatus::Rejected => return Err(AccountError::Rejected),
            _ => return Err(AccountError::Deactivated),
        }
        if check.needs_rehash {
            self.rehash(&account, password).await;
        }
        let grant = self.grants.account_grant(&account, login_type);
        let grant = self.finish_grant(grant, scope, login_type, client, headers)?;
        // The session is bound to the credential version read above: if the password changed
        // or the account was banned since, no session opens.
        match self.sessions.create_session(&grant).await {
            Ok(pair) => {
                tracing::info!(target: SECURITY_EVENTS, event = "signed_in", account = %account.id, login_type);
                Ok(pair)
            }
            Err(TokenError::AccountChanged { .. }) => {
                tracing::info!(target: SECURITY_EVENTS, event = "sign_in_refused_account_changed", account = %account.id);
                Err(AccountError::InvalidCredentials)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Admits one sign-in attempt for `key` (checked and charged at once), before any lookup
    /// or hashing.
    async fn admit(
        &self,
        key: &str,
        client: Option<IpAddr>,
    ) -> Result<crate::throttle::LoginAttempt, AccountError> {
        Ok(self
            .throttle
            .admit_login(key, client)
            .await
            .inspect_err(|e| {
                if let crate::throttle::ThrottleError::Throttled(_) = e {
                    tracing::info!(target: SECURITY_EVENTS, event = "sign_in_throttled", client = ?client);
                }
            })?)
    }

    /// A sign-in's grant (`None`: this login type is not for the account), narrowed to the
    /// asked `scope` and with the sign-in hook's session claims.
    fn finish_grant(
        &self,
        grant: Option<TokenRequest>,
        scope: Option<(&[String], &dyn ScopeValidator)>,
        login_type: &str,
        client: Option<IpAddr>,
        headers: &HeaderMap,
    ) -> Result<TokenRequest, AccountError> {
        let mut grant = grant.ok_or(AccountError::NotAllowed)?;
        if let Some(scope) = scope {
            grant = narrow(grant, scope)?;
        }
        let subject = grant.subject().to_owned();
        let hooked = self.grants.config().sign_in_claims_for(&SignInContext {
            subject: &subject,
            login_type,
            client,
            headers,
        });
        Ok(grant.session_claims(hooked))
    }

    /// [`sign_in`](Self::sign_in) against the app's own table ([`IdentityLoader`]): the same
    /// throttle, the same argon2 work for an unknown username, the same error for an unknown
    /// user and a wrong password.
    ///
    /// [`IdentityLoader`]: crate::store::IdentityLoader
    async fn sign_in_identity(
        &self,
        username: &str,
        password: &str,
        login_type: &str,
        client: Option<IpAddr>,
        scope: Option<(&[String], &dyn ScopeValidator)>,
        headers: &HeaderMap,
    ) -> Result<TokenPair, AccountError> {
        let identities = self.grants.identities().ok_or(AccountError::NoUserStore)?;
        let username = username.trim();
        let attempt = self.admit(&username.to_lowercase(), client).await?;
        let identity = identities.by_username(username).await?;
        let stored = identity.as_ref().and_then(|i| i.password_hash.as_deref());
        let check = self.passwords.verify(password, stored).await?;
        let Some(identity) = identity.filter(|_| check.matches) else {
            attempt.failed();
            tracing::info!(target: SECURITY_EVENTS, event = "sign_in_failed", client = ?client, login_type);
            return Err(AccountError::InvalidCredentials);
        };
        attempt.succeeded().await;
        if !identity.active {
            return Err(AccountError::Deactivated);
        }
        let grant = self.grants.identity_grant(&identity, login_type);
        let grant = self.finish_grant(grant, scope, login_type, client, headers)?;
        let pair = self.sessions.create_session(&grant).await?;
        tracing::info!(target: SECURITY_EVENTS, event = "signed_in", account = %identity.subject, login_type);
        Ok(pair)
    }

    /// Replaces a hash made with older argon2 parameters, only if it is still the hash that
    /// was verified (a password change meanwhile wins); a failure is logged, not fatal (the
    /// old hash still works).
    async fn rehash(&self, account: &Account, password: &str) {
        let Some(old) = account.password_hash.as_deref() else {
            return;
        };
        let outcome = async {
            let hash = self.passwords.rehash(password).await?;
            Ok::<bool, AccountError>(
                self.user_store()?
                    .replace_password_hash(&account.id, old, &hash, PasswordWrite::Rehash)
                    .await?,
            )
        }
        .await;
        match outcome {
            Ok(true) => {
                tracing::info!(account = %account.id, "password rehashed with current parameters")
            }
            Ok(false) => {
                tracing::info!(account = %account.id, "password rehash skipped: the hash changed meanwhile")
            }
            Err(e) => tracing::warn!(account = %account.id, error = %e, "password rehash failed"),
        }
    }

    /// Changes the password of the principal's account and ends every other session of it.
    pub(crate) async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
    ) -> Result<(), AccountError> {
        let users = self.user_store()?;
        // Guessing the current password through this route is throttled per account.
        let attempt = self
            .throttle
            .admit_password_change(principal.subject())
            .await?;
        let account = users
            .user_by_id(principal.subject())
            .await?
            .ok_or(AccountError::NotFound)?;
        let check = self
            .passwords
            .verify(current, account.password_hash.as_deref())
            .await?;
        if !check.matches {
            attempt.failed();
            return Err(AccountError::WrongCurrentPassword);
        }
        attempt.succeeded().await;
        let hash = self.passwords.hash(new).await?;
        // Only from the hash just verified: of two concurrent changes one wins, and the other
        // (checked against a password that is no longer current) is refused.
        let old = account.password_hash.as_deref().unwrap_or_default();
        if !users
            .replace_password_hash(&account.id, old, &hash, PasswordWrite::Change)
            .await?
        {
            return Err(AccountError::WrongState(
                "The password was changed by another request; sign in again",
            ));
        }
        tracing::info!(target: SECURITY_EVENTS, event = "password_changed", account = %account.id);
        self.sessions.revoke_other_sessions(principal).await?;
        Ok(())
    }

    /// The accounts awaiting approval, oldest first.
    pub(crate) async fn pending_accounts(&self) -> Result<Vec<Account>, AccountError> {
        Ok(self
            .user_store()?
            .users_with_status(AccountStatus::Pending)
            .await?)
    }

    /// Approves a pending account (approving an active one again is a no-op).
    pub(crate) async fn approve(&self, email: &str) -> Result<(), AccountError> {
        self.decide_registration(email, AccountStatus::Active).await
    }

    /// Rejects a pending account (rejecting a rejected one again is a no-op).
    pub(crate) async fn reject(&self, email: &str) -> Result<(), AccountError> {
        self.decide_registration(email, AccountStatus::Rejected)
            .await
    }

    async fn decide_registration(
        &self,
        email: &str,
        decision: AccountStatus,
    ) -> Result<(), AccountError> {
        let users = self.user_store()?;
        let email = normalize_email(email).ok_or(AccountError::NotFound)?;
        let account = users
            .user_by_email(&email)
            .await?
            .ok_or(AccountError::NotFound)?;
        // Only a pending account moves: an approval racing a ban cannot reactivate it.
        if users
            .transition_status(&account.id, &[AccountStatus::Pending], decision)
            .await?
        {
            tracing::info!(target: SECURITY_EVENTS, event = "registration_decided", account = %account.id, decision = decision.as_str());
            return Ok(());
        }
        match users.user_by_email(&email).await? {
            Some(now) if now.status == decision => Ok(()),
            Some(_) => Err(AccountError::WrongState(
                "The account is not awaiting approval",
            )),
            None => Err(AccountError::NotFound),
        }
    }

    /// Deactivates (bans) an account: it can no longer sign in, and every token it holds stops
    /// working — on this instance at once, on every instance within the staleness bound.
    pub(crate) async fn deactivate(&self, account_id: &str) -> Result<Account, AccountError> {
        let users = self.user_store()?;
        let account = users
            .user_by_id(account_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        // The status (and the credential version) changes before the sessions are revoked:
        // a sign-in in flight either sees the change or has its session revoked below.
        let changed = users
            .transition_status(
                &account.id,
                &[
                    AccountStatus::Pending,
                    AccountStatus::Active,
                    AccountStatus::Rejected,
                ],
                AccountStatus::Deactivated,
            )
            .await?;
        if changed {
            tracing::info!(target: SECURITY_EVENTS, event = "deactivated", account = %account.id);
        }
        if self.sessions.sessions.is_some() {
            self.sessions.revoke_subject(&account.id).await?;
        }
        Ok(account)
    }

    /// Reactivates a deactivated account (a no-op for an active one). Its credential version
    /// changes: nothing it held before comes back (sessions, API keys).
    pub(crate) async fn reactivate(&self, account_id: &str) -> Result<(), AccountError> {
        let users = self.user_store()?;
        let account = users
            .user_by_id(account_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        match account.status {
            AccountStatus::Active => return Ok(()),
            AccountStatus::Deactivated => {}
            _ => {
                return Err(AccountError::WrongState(
                    "Only a deactivated account can be reactivated; approve a pending one",
                ));
            }
        }
        let changed = users
            .transition_status(
                &account.id,
                &[AccountStatus::Deactivated],
                AccountStatus::Active,
            )
            .await?;
        if changed {
            tracing::info!(target: SECURITY_EVENTS, event = "reactivated", account = %account.id);
        }
        Ok(())
    }

    /// Replaces an account's roles (each one configured); a credential change: every live
    /// session of the account ends at once, and its next sign-in carries the new roles.
    pub(crate) async fn set_roles(
        &self,
        account_id: &str,
        roles: &[String],
    ) -> Result<(), AccountError> {
        let users = self.user_store()?;
        if let Some(unknown) = roles.iter().find(|r| self.grants.role_scopes(r).is_none()) {
            return Err(AccountError::Unprocessable(format!(
                "Unknown role `{}`",
                unknown.escape_debug()
            )));
        }
        let mut roles: Vec<String> = roles.to_vec();
        roles.sort();
        roles.dedup();
        let account = users
            .user_by_id(account_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        // The roles alone: a claims write racing this one is neither undone nor undoes it.
        if !users.set_roles(&account.id, &roles).await? {
            return Err(AccountError::NotFound);
        }
        tracing::info!(target: SECURITY_EVENTS, event = "roles_changed", account = %account.id, roles = ?roles);
        if self.sessions.sessions.is_some() {
            self.sessions.revoke_sessions_of(&account.id).await?;
        }
        Ok(())
    }

    /// A page of accounts, oldest first, and the cursor of the next page (`None` on the last).
    pub(crate) async fn accounts_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<Account>, Option<String>), AccountError> {
        let users = self.user_store()?;
        let limit = limit.clamp(1, MAX_PAGE);
        let mut page = users
            .users_page(after, limit + 1)
            .await?
            .ok_or_else(|| AccountError::BadRequest("Unknown `after` cursor".into()))?;
        let next = if page.len() > limit as usize {
            page.truncate(limit as usize);
            page.last().map(|a| a.id.clone())
        } else {
            None
        };
        Ok((page, next))
    }

    /// Creates the admin account `email` (active, with the admin role) unless an account with
    /// that email exists. Without `password`, a random one is generated and returned once in
    /// [`AdminSeed::Created`], for the operator to see.
    pub(crate) async fn ensure_admin(
        &self,
        email: &str,
        password: Option<&str>,
    ) -> Result<AdminSeed, AccountError> {
        let users = self.user_store()?;
        let email = normalize_email(email).ok_or(AccountError::InvalidEmail)?;
        if let Some(existing) = users.user_by_email(&email).await? {
            return Ok(if self.is_admin(&existing) {
                AdminSeed::Exists
            } else {
                AdminSeed::NotAdmin
            });
        }
        let generated = password.is_none().then(random_password);
        let password = password.or(generated.as_deref()).unwrap_or_default();
        let hash = self.passwords.hash(password).await?;
        let config = self.grants.config();
        let mut roles = config.default_roles.clone();
        if !roles.contains(&config.admin_role) {
            roles.push(config.admin_role.clone());
        }
        let account = NewAccount::new(email, AccountStatus::Active, now())
            .password_hash(hash)
            .roles(roles);
        match users.create_user(account).await {
            Ok(_) => Ok(AdminSeed::Created {
                generated_password: generated,
            }),
            // Another instance seeded it at the same moment.
            Err(crate::store::StoreError::Conflict) => Ok(AdminSeed::Exists),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether `account` may sign in as the admin login type.
    pub(crate) fn is_admin(&self, account: &Account) -> bool {
        self.grants
            .account_grant(account, ADMIN_LOGIN_TYPE)
            .is_some()
    }
}

/// What [`AuthManager::register`](crate::AuthManager::register) did. The built-in route answers both the same way.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Registration {
    /// A new account, awaiting approval.
    Created(Account),
    /// The email already had an account; nothing changed (see
    /// [`AccountsConfig::on_existing_account`](crate::accounts::AccountsConfig::on_existing_account)).
    Existing,
}

/// What [`AuthManager::ensure_admin`](crate::AuthManager::ensure_admin) did.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminSeed {
    /// The account was created; with the password generated for it when none was given.
    Created {
        /// The generated password (show it once, never log it elsewhere).
        generated_password: Option<String>,
    },
    /// An admin account with that email exists already; nothing was changed.
    Exists,
    /// An account with that email exists but cannot sign in as an admin (not active, or
    /// without the admin role); nothing was changed. The operator should pick another email
    /// or grant the role.
    NotAdmin,
}

impl std::fmt::Debug for AdminSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminSeed::Created { generated_password } => f
                .debug_struct("Created")
                .field(
                    "generated_password",
                    &generated_password.as_ref().map(|_| "…"),
                )
                .finish(),
            AdminSeed::Exists => f.write_str("Exists"),
            AdminSeed::NotAdmin => f.write_str("NotAdmin"),
        }
    }
}

/// 24 random characters from a 62-letter alphabet (about 143 bits).
fn random_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..24)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_passwords() {
        let a = random_password();
        assert_eq!(a.chars().count(), 24);
        assert_ne!(a, random_password());
    }
}
