//! The account operations of [`AuthManager`] (feature `accounts`): registration, sign-in,
//! password change, approval, deactivation, look-ups, roles, stored claims, an admin's new
//! password, API keys and service accounts. Each delegates to the account components
//! ([`AccountService`], [`ApiKeys`]).

use std::net::IpAddr;

use super::AuthManager;
use crate::accounts::{
    AccountError, AccountService, AdminSeed, ApiKeyInfo, ApiKeys, FederatedSignIn, KeyRequest,
    NewKey, NewServiceAccount, Registration, SignIn,
};
use crate::error::AuthError;
use crate::keyring::{BearerToken, TokenPair};
use crate::password::PasswordHasher;
use crate::principal::Principal;
use crate::store::Account;
use crate::throttle::LoginThrottle;

impl AuthManager {
    /// The account operations.
    pub(super) fn accounts(&self) -> AccountService<'_> {
        AccountService {
            grants: &self.inner.grants,
            sessions: self.sessions(),
            passwords: &self.inner.passwords,
            throttle: &self.inner.throttle,
        }
    }

    /// The password hasher (argon2id on a bounded blocking pool).
    pub fn password_hasher(&self) -> &PasswordHasher {
        &self.inner.passwords
    }

    /// The throttle of sign-ins, password changes and registrations.
    pub fn login_throttle(&self) -> &LoginThrottle {
        &self.inner.throttle
    }

    /// Registers an account awaiting approval, with the configured default roles. The email
    /// is normalized; the password must meet the policy (checked before hashing). Two
    /// concurrent registrations of one email create exactly one account. Registrations are
    /// throttled per client address ([`ThrottleConfig::registrations`](crate::throttle::ThrottleConfig::registrations)).
    ///
    /// An email that already has an account is no error unless
    /// [`AccountsConfig::reveal_existing_accounts`](crate::accounts::AccountsConfig::reveal_existing_accounts)
    /// says so: the same hashing work is done, nothing changes, the
    /// [`on_existing_account`](crate::accounts::AccountsConfig::on_existing_account) hook is called, and
    /// the answer is [`Registration::Existing`](crate::accounts::Registration::Existing), which the built-in route answers exactly like
    /// a new registration.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<Registration, AccountError> {
        self.accounts().register(email, password, client).await
    }

    /// Signs in with email and password for `login_type` and opens a session.
    ///
    /// An unknown email and a wrong password cost the same argon2 work and give the same
    /// error. Failures are throttled per (account, client address) and per client address
    /// ([`LoginThrottle`](crate::throttle::LoginThrottle)). A correct password of a pending or rejected
    /// account is 403, of a deactivated one 401; a hash made with older parameters is
    /// replaced transparently.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        login_type: &str,
        client: Option<IpAddr>,
    ) -> Result<TokenPair, AccountError> {
        self.sign_in_request(SignIn::new(email, password, login_type).client(client))
            .await
    }

    /// [`sign_in`](Self::sign_in) with the OAuth2 `scope` parameter: the tokens carry only
    /// `scopes`, each of which the account must be granted on `login_type` (a wildcard only
    /// where it is granted as one), else [`AccountError::InvalidScope`].
    pub async fn sign_in_with_scope(
        &self,
        email: &str,
        password: &str,
        login_type: &str,
        client: Option<IpAddr>,
        scopes: &[String],
    ) -> Result<TokenPair, AccountError> {
        self.sign_in_request(
            SignIn::new(email, password, login_type)
                .client(client)
                .scopes(scopes),
        )
        .await
    }

    /// [`sign_in`](Self::sign_in) with everything a sign-in route knows: the client's address,
    /// the request's headers (for the
    /// [sign-in hook](crate::accounts::AccountsConfig::sign_in_claims)) and an optional OAuth2
    /// `scope` (as in [`sign_in_with_scope`](Self::sign_in_with_scope)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use auth_runtime::accounts::{AccountsConfig, SignIn};
    /// use auth_runtime::store::SqlStore;
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    /// use serde_json::json;
    ///
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .login_type(LoginType::new("admin").key(SigningKey::hs256("a1", &[2; 32])))
    ///     .accounts(AccountsConfig::default().sign_in_claims(|ctx| {
    ///         let mut extra = serde_json::Map::new();
    ///         extra.insert("via".into(), json!(if ctx.headers.contains_key("x-mobile") { "app" } else { "web" }));
    ///         extra
    ///     }))
    ///     .store(SqlStore::connect("sqlite::memory:").await?)
    ///     .build()?;
    /// manager.ensure_admin("ada@example.com", Some("a long passphrase")).await?;
    /// let mut headers = axum::http::HeaderMap::new();
    /// headers.insert("x-mobile", "1".parse()?);
    /// let pair = manager
    ///     .sign_in_request(SignIn::new("ada@example.com", "a long passphrase", "user").headers(&headers))
    ///     .await?;
    /// let ada = manager.verify_access_token(&pair.access_token, &["user"])?;
    /// assert_eq!(ada.claim("via"), Some(&json!("app")));
    /// # Ok(()) }
    /// ```
    pub async fn sign_in_request(&self, request: SignIn<'_>) -> Result<TokenPair, AccountError> {
        let validator = self.inner.access.scope_validator();
        let no_headers = axum::http::HeaderMap::new();
        self.accounts()
            .sign_in(
                request.username,
                request.password,
                request.login_type,
                request.client,
                request.scopes.map(|scopes| (scopes, validator)),
                request.headers.unwrap_or(&no_headers),
            )
            .await
    }

    /// Signs in a person an identity provider vouched for (OpenID Connect) and opens a session
    /// of `login_type`: the account with the provider's verified email, created on the first
    /// sign-in (active, default roles plus the mapped ones, linked to the provider's
    /// `{iss, sub}` in the stored claim `federated`, no password), linked on its first federated
    /// sign-in otherwise; one linked to another identity, an unverified email, and pending,
    /// rejected or deactivated accounts are refused. The provider-managed roles follow the
    /// provider at every sign-in (a change ends the account's other sessions, as any role
    /// change does).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use auth_runtime::accounts::FederatedSignIn;
    /// use auth_runtime::store::SqlStore;
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    ///
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .login_type(LoginType::new("admin").key(SigningKey::hs256("a1", &[2; 32])))
    ///     .role("user", ["reports:read"])
    ///     .role("editor", ["reports:*"])
    ///     .store(SqlStore::connect("sqlite::memory:").await?)
    ///     .build()?;
    /// let ann = FederatedSignIn::new("https://id.example.com", "p-1", "ann@example.com", true)
    ///     .roles(["editor"])
    ///     .managed_roles(["editor"]);
    /// let pair = manager.sign_in_federated(&ann, "user", None).await?;
    /// let principal = manager.verify_access_token(&pair.access_token, &["user"])?;
    /// assert!(principal.scopes().iter().any(|s| s == "reports:*"));
    /// # Ok(()) }
    /// ```
    pub async fn sign_in_federated(
        &self,
        person: &FederatedSignIn,
        login_type: &str,
        client: Option<IpAddr>,
    ) -> Result<TokenPair, AccountError> {
        let done = self
            .accounts()
            .sign_in_federated(person, login_type, client)
            .await;
        if let Ok(pair) = &done
            && let Ok(principal) = self.verify_access_token(&pair.access_token, &[])
        {
            self.owner_changed(principal.subject());
        }
        done
    }

    /// Changes the password of the principal's account and ends every other session of it.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
    ) -> Result<(), AccountError> {
        let done = self
            .accounts()
            .change_password(principal, current, new)
            .await;
        self.owner_changed(principal.subject());
        done
    }

    /// The accounts awaiting approval, oldest first.
    pub async fn pending_accounts(&self) -> Result<Vec<Account>, AccountError> {
        self.accounts().pending_accounts().await
    }

    /// Approves a pending account (approving an active one again is a no-op).
    pub async fn approve(&self, email: &str) -> Result<(), AccountError> {
        self.accounts().approve(email).await
    }

    /// Rejects a pending account (rejecting a rejected one again is a no-op).
    pub async fn reject(&self, email: &str) -> Result<(), AccountError> {
        self.accounts().reject(email).await
    }

    /// Reactivates a deactivated account (a no-op for an active one); what it held before
    /// (sessions, API keys) stays dead. A pending or rejected account is
    /// [`AccountError::WrongState`]: approval is another decision.
    pub async fn reactivate(&self, account_id: &str) -> Result<(), AccountError> {
        let done = self.accounts().reactivate(account_id).await;
        self.owner_changed(account_id);
        done
    }

    /// Replaces an account's roles, each of them configured
    /// ([`AuthManagerBuilder::role`](crate::AuthManagerBuilder::role)), else
    /// [`AccountError::Unprocessable`]. A role change is a credential change: every live
    /// session and API key of the account ends at once; its next sign-in carries the new
    /// roles.
    pub async fn set_roles(&self, account_id: &str, roles: &[String]) -> Result<(), AccountError> {
        let done = self.accounts().set_roles(account_id, roles).await;
        self.owner_changed(account_id);
        done
    }

    /// The account with this email, normalized first
    /// ([`normalize_email`](crate::accounts::normalize_email): case, surrounding whitespace,
    /// look-alike spellings); `Ok(None)` for an unknown email and for one that cannot be an
    /// address.
    ///
    /// ```
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    /// use auth_runtime::store::SqlStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .role("user", ["reports:read"])
    ///     .store(SqlStore::connect("sqlite::memory:").await?)
    ///     .build()?;
    /// manager.register("ada@example.com", "a long passphrase", None).await?;
    ///
    /// let ada = manager.account_by_email("  Ada@EXAMPLE.com ").await?.expect("registered");
    /// assert_eq!(ada.email, "ada@example.com");
    /// assert_eq!(manager.account(&ada.id).await?, Some(ada));
    /// assert_eq!(manager.account_by_email("bob@example.com").await?, None);
    /// assert_eq!(manager.account_by_email("not an address").await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn account_by_email(&self, email: &str) -> Result<Option<Account>, AccountError> {
        self.accounts().account_by_email(email).await
    }

    /// The account with this id (the `sub` of its tokens); `Ok(None)` for an unknown one.
    ///
    /// ```
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    /// use auth_runtime::store::{AccountStatus, SqlStore};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .role("user", ["reports:read"])
    ///     .store(SqlStore::connect("sqlite::memory:").await?)
    ///     .build()?;
    /// let registration = manager.register("ada@example.com", "a long passphrase", None).await?;
    /// let auth_runtime::accounts::Registration::Created(created) = registration else {
    ///     unreachable!("a new email")
    /// };
    /// let ada = manager.account(&created.id).await?.expect("stored");
    /// assert_eq!(ada.status, AccountStatus::Pending);
    /// assert_eq!(manager.account("no-such-id").await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn account(&self, id: &str) -> Result<Option<Account>, AccountError> {
        self.accounts().account(id).await
    }

    /// Replaces an account's stored claims (a tenant's `company_id`, a plan, ...): every token
    /// of the account carries them from its next sign-in, and a live session from its next
    /// refresh (a refresh re-reads the account; an access token issued before keeps the claims
    /// it was signed with until it expires). Its API keys see them at their next use.
    ///
    /// A name the runtime sets itself ([`RESERVED_CLAIMS`](crate::RESERVED_CLAIMS) such as
    /// `sub` or `scope`, and [`ACCOUNT_CLAIMS`](crate::accounts::ACCOUNT_CLAIMS): `email`,
    /// `account_status`, `roles`, `service_account`; and `name` on a service account) is
    /// [`AccountError::ReservedClaim`] naming it, and claims larger than
    /// [`MAX_CLAIMS_BYTES`](crate::accounts::MAX_CLAIMS_BYTES) as JSON are
    /// [`AccountError::Unprocessable`]; nothing is written then. An unknown account is
    /// [`AccountError::NotFound`]. Claims of the same name from
    /// [`AccountsConfig::claims`](crate::accounts::AccountsConfig::claims) win over stored
    /// ones.
    ///
    /// New claims are no credential change: the account's sessions and API keys live on. The
    /// write replaces the claims alone, so a role change racing it is neither undone nor
    /// undoes it.
    ///
    /// ```
    /// use auth_runtime::accounts::AccountError;
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    /// use auth_runtime::store::SqlStore;
    /// use serde_json::json;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .role("user", ["reports:read"])
    ///     .store(SqlStore::connect("sqlite::memory:").await?)
    ///     .build()?;
    /// manager.register("ada@example.com", "a long passphrase", None).await?;
    /// manager.approve("ada@example.com").await?;
    /// let id = manager.account_by_email("ada@example.com").await?.expect("registered").id;
    ///
    /// let claims = json!({ "company_id": 7, "plan": "team" });
    /// manager.set_claims(&id, claims.as_object().expect("an object").clone()).await?;
    /// let pair = manager.sign_in("ada@example.com", "a long passphrase", "user", None).await?;
    /// let ada = manager.authenticate_token(&pair.access_token, &["user"]).await?;
    /// assert_eq!(ada.claim("company_id"), Some(&json!(7)));
    ///
    /// // Names the runtime writes are refused, and nothing changes.
    /// let reserved = json!({ "email": "eve@example.com" });
    /// let refused = manager.set_claims(&id, reserved.as_object().expect("an object").clone()).await;
    /// assert_eq!(refused, Err(AccountError::ReservedClaim("email".into())));
    /// # Ok(()) }
    /// ```
    pub async fn set_claims(
        &self,
        account_id: &str,
        claims: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), AccountError> {
        let done = self.accounts().set_claims(account_id, claims).await;
        self.owner_changed(account_id);
        done
    }

    /// Sets a new password for an account, as an admin (a password reset by an admin: no
    /// current password, no token). The password must meet the policy
    /// ([`PasswordPolicy`](crate::PasswordPolicy), checked before anything else, as at
    /// registration: [`AccountError::InvalidPassword`] and nothing changes); it is hashed on
    /// the blocking pool ([`PasswordHasher`]) and written by a conditional update from the
    /// hash read, so a password change or a sign-in's rehash racing it is seen, never lost
    /// (the admin's password is the one that stays).
    ///
    /// A credential change: every session of the account ends and its API keys and
    /// password-reset tokens die, on this instance at once and on every other within the
    /// staleness bound; a sign-in with the new password right after works. An unknown
    /// account is [`AccountError::NotFound`]; a service account (it has a client secret) and
    /// an account without a password (it signs in elsewhere) are
    /// [`AccountError::WrongState`]. The security event `password_set_by_admin` names the
    /// account by id.
    ///
    /// ```
    /// use auth_runtime::accounts::AccountError;
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    /// use auth_runtime::store::SqlStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .role("user", ["reports:read"])
    ///     .store(SqlStore::connect("sqlite::memory:").await?)
    ///     .build()?;
    /// manager.register("ada@example.com", "a long passphrase", None).await?;
    /// manager.approve("ada@example.com").await?;
    /// let before = manager.sign_in("ada@example.com", "a long passphrase", "user", None).await?;
    /// let id = manager.account_by_email("ada@example.com").await?.expect("registered").id;
    ///
    /// assert!(matches!(
    ///     manager.set_password(&id, "short").await,
    ///     Err(AccountError::InvalidPassword(_))
    /// ));
    /// manager.set_password(&id, "another long passphrase").await?;
    ///
    /// // The old password and the old session are done; the new password signs in.
    /// assert_eq!(
    ///     manager.sign_in("ada@example.com", "a long passphrase", "user", None).await,
    ///     Err(AccountError::InvalidCredentials)
    /// );
    /// assert!(manager.authenticate_token(&before.access_token, &["user"]).await.is_err());
    /// assert!(manager.refresh(&before.refresh_token).await.is_err());
    /// manager.sign_in("ada@example.com", "another long passphrase", "user", None).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_password(
        &self,
        account_id: &str,
        new_password: &str,
    ) -> Result<(), AccountError> {
        let done = self.accounts().set_password(account_id, new_password).await;
        self.owner_changed(account_id);
        done
    }

    /// A page of accounts, oldest first (at most `limit`, 1 to
    /// [`MAX_PAGE`](crate::accounts::MAX_PAGE)), after account `after`; and the id to pass
    /// as `after` for the next page (`None` on the last one).
    pub async fn accounts_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<Account>, Option<String>), AccountError> {
        self.accounts().accounts_page(after, limit).await
    }

    /// Deactivates (bans) an account: it can no longer sign in, and every token it holds stops
    /// working — on this instance at once, on every instance within the staleness bound.
    pub async fn deactivate(&self, account_id: &str) -> Result<Account, AccountError> {
        let account = self.accounts().deactivate(account_id).await;
        self.owner_changed(account_id);
        account
    }

    /// An account changed on this instance: its API keys are checked against it again at
    /// their next use (other instances within the staleness bound).
    pub(super) fn owner_changed(&self, account_id: &str) {
        if let Some(keys) = &self.inner.api_keys {
            keys.forget_owner(account_id);
        }
    }

    /// Creates the admin account `email` (active, with the admin role) unless an account with
    /// that email exists. Without `password`, a random one is generated and returned once in
    /// [`AdminSeed::Created`](crate::accounts::AdminSeed::Created), for the operator to see.
    pub async fn ensure_admin(
        &self,
        email: &str,
        password: Option<&str>,
    ) -> Result<AdminSeed, AccountError> {
        self.accounts().ensure_admin(email, password).await
    }

    /// Whether `account` may sign in as the admin login type.
    pub fn is_admin(&self, account: &Account) -> bool {
        self.accounts().is_admin(account)
    }

    /// Ends one of the caller's live sessions (its own included): its tokens are refused from
    /// then on. An id that is not a live session of the caller is
    /// [`AccountError::UnknownSession`].
    pub async fn end_session(&self, principal: &Principal, id: &str) -> Result<(), AccountError> {
        if self
            .sessions()
            .end_session_of(principal.subject(), id)
            .await?
        {
            Ok(())
        } else {
            Err(AccountError::UnknownSession)
        }
    }

    pub(super) fn api_key_store(&self) -> Result<&ApiKeys, AccountError> {
        self.inner
            .api_keys
            .as_ref()
            .ok_or(AccountError::NoApiKeyStore)
    }

    /// Creates an API key for the caller's account, shown once in the answer
    /// ([`NewKey::key`]); the store keeps only a digest of its secret.
    ///
    /// The key authenticates requests of the caller's login type (which must list
    /// [`TokenLocation::ApiKey`](crate::TokenLocation::ApiKey)) with `scopes`, each of which the
    /// caller must hold (a wildcard asked for must be held as a wildcard); it expires after
    /// `days` (1 to [`MAX_API_KEY_DAYS`](crate::accounts::MAX_API_KEY_DAYS)) and dies with any
    /// credential change of the account (password, status, roles), for good.
    ///
    /// ```
    /// use auth_runtime::{AuthManager, LoginType, SigningKey, TokenLocation};
    /// use auth_runtime::store::SqlStore;
    /// use axum::http::Request;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = SqlStore::connect("sqlite::memory:").await?;
    /// let manager = AuthManager::builder()
    ///     .login_type(
    ///         LoginType::new("user")
    ///             .key(SigningKey::hs256("u1", &[1; 32]))
    ///             .token_locations([TokenLocation::Header, TokenLocation::ApiKey]),
    ///     )
    ///     .role("user", ["reports:read", "reports:write"])
    ///     .store(store)
    ///     .build()?;
    /// manager.register("ada@example.com", "a long passphrase", None).await?;
    /// manager.approve("ada@example.com").await?;
    /// let pair = manager.sign_in("ada@example.com", "a long passphrase", "user", None).await?;
    /// let ada = manager.authenticate_token(&pair.access_token, &["user"]).await?;
    ///
    /// let created = manager.create_api_key(&ada, "ci", &["reports:read".into()], 30).await?;
    /// // The key is a credential of its own, with its own scopes.
    /// let request = Request::get("/").header("x-api-key", &created.key).body(())?;
    /// let (mut parts, ()) = request.into_parts();
    /// let caller = manager.authenticate(&mut parts, &["user"]).await?;
    /// assert_eq!(caller.subject(), ada.subject());
    /// assert_eq!(caller.scopes().iter().collect::<Vec<_>>(), ["reports:read"]);
    /// assert_eq!(caller.credential(), auth_runtime::CredentialKind::ApiKey);
    ///
    /// manager.revoke_api_key(&ada, &created.id).await?;
    /// assert!(manager.api_keys(&ada).await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn create_api_key(
        &self,
        creator: &Principal,
        name: &str,
        scopes: &[String],
        days: u32,
    ) -> Result<NewKey, AccountError> {
        let request = KeyRequest { name, scopes, days };
        self.api_key_store()?
            .create(
                creator,
                request,
                &self.inner.keys,
                &self.inner.grants,
                self.inner.access.scope_validator(),
            )
            .await
    }

    /// Creates a service account (a machine principal) named `name` with `roles`: its id is its
    /// OAuth2 `client_id`, and its client secret is in the answer only. It gets access tokens
    /// of login type [`SERVICE_LOGIN_TYPE`](crate::accounts::SERVICE_LOGIN_TYPE) by
    /// [`client_credentials`](Self::client_credentials), never by password.
    pub async fn create_service_account(
        &self,
        name: &str,
        roles: &[String],
    ) -> Result<NewServiceAccount, AccountError> {
        self.accounts().create_service_account(name, roles).await
    }

    /// The OAuth2 client-credentials grant: an access token (no refresh token) of login type
    /// `service` for the service account `client_id` with secret `client_secret`, with the
    /// scopes of its roles, or only `scopes` when given (each granted, else
    /// [`AccountError::InvalidScope`]). An unknown client, a wrong secret and a deactivated
    /// account are all [`AccountError::InvalidClient`].
    pub async fn client_credentials(
        &self,
        client_id: &str,
        client_secret: &str,
        scopes: Option<&[String]>,
    ) -> Result<BearerToken, AccountError> {
        let validator = self.inner.access.scope_validator();
        self.accounts()
            .client_credentials(client_id, client_secret, scopes.map(|s| (s, validator)))
            .await
    }

    /// Creates an API key for account `owner_id` (a service account: an admin's act) of
    /// `login_type`, within the scopes the account's roles grant on it.
    pub async fn create_api_key_for(
        &self,
        owner_id: &str,
        login_type: &str,
        name: &str,
        scopes: &[String],
        days: u32,
    ) -> Result<NewKey, AccountError> {
        let users = self.inner.grants.users().ok_or(AccountError::NoUserStore)?;
        let owner = users
            .user_by_id(owner_id)
            .await
            .map_err(AuthError::from)?
            .ok_or(AccountError::NotFound)?;
        let request = KeyRequest { name, scopes, days };
        self.api_key_store()?
            .create_for_account(
                &owner,
                login_type,
                request,
                &self.inner.keys,
                &self.inner.grants,
                self.inner.access.scope_validator(),
            )
            .await
    }

    /// The caller's live API keys (never the keys themselves), oldest first.
    pub async fn api_keys(&self, owner: &Principal) -> Result<Vec<ApiKeyInfo>, AccountError> {
        self.api_key_store()?.list(owner).await
    }

    /// Revokes one of the caller's API keys: it stops working on this instance at once and on
    /// every other within the staleness bound. Another account's key, or an unknown id, is
    /// [`AccountError::UnknownApiKey`].
    pub async fn revoke_api_key(&self, owner: &Principal, id: &str) -> Result<(), AccountError> {
        self.api_key_store()?.revoke(owner, id).await
    }
}

#[cfg(test)]
mod tests {
    /// `account_by_email` finds an account under any spelling of its address that normalizes
    /// to the stored one, and nothing for one that cannot be an address.
    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn account_by_email_normalizes() {
        use crate::store::{AccountStatus, NewAccount, SqlStore, UserStore as _};
        use crate::{AuthManager, LoginType, SigningKey};

        let store = SqlStore::connect("sqlite::memory:").await.expect("store");
        let created = store
            .create_user(NewAccount::new("ann@example.com", AccountStatus::Active, 0))
            .await
            .expect("account");
        let manager = AuthManager::builder()
            .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
            .store(store)
            .build()
            .expect("manager");
        for spelling in [
            "ann@example.com",
            "ANN@Example.COM",
            "  ann@example.com ",
            "\tAnn@EXAMPLE.com\n",
            "ａｎｎ@ｅｘａｍｐｌｅ.ｃｏｍ",
        ] {
            let found = manager.account_by_email(spelling).await.expect("store");
            assert_eq!(
                found.as_ref().map(|a| a.id.as_str()),
                Some(created.id.as_str()),
                "{spelling:?}"
            );
        }
        for nobody in [
            "bob@example.com",
            "ann",
            "",
            "ann@",
            "ann\u{200B}@example.com",
        ] {
            assert_eq!(
                manager.account_by_email(nobody).await.expect("store"),
                None,
                "{nobody:?}"
            );
        }
        assert_eq!(
            manager
                .account(&created.id)
                .await
                .expect("store")
                .map(|a| a.email),
            Some("ann@example.com".to_owned())
        );
        assert_eq!(manager.account("nobody").await.expect("store"), None);
    }
}
