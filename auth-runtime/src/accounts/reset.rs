//! Password reset by a single-use token mailed to the account's owner.
//!
//! **Request** ([`AuthManager::request_password_reset`](crate::AuthManager::request_password_reset)):
//! the email is normalized, the client address's budget charged
//! ([`ThrottleConfig::password_reset_requests`](crate::throttle::ThrottleConfig::password_reset_requests)),
//! and the account looked up, whether or not it exists. For an active account with a password,
//! the token is issued and handed to the app's [`ResetSender`] **in the background**, after the
//! answer: the answer (and its timing) is the same for an unknown email, a pending, rejected
//! or deactivated account, and an account that gets a mail. No password is hashed for it. An
//! account gets at most
//! [`ThrottleConfig::password_reset_mails`](crate::throttle::ThrottleConfig::password_reset_mails)
//! mails per window, whoever asks; further requests are answered alike and send nothing.
//!
//! **Token**: 256 random bits, base64url (43 characters); only its SHA-256 digest is stored
//! ([`PasswordResetStore`]), with the account's credential version at issue and an expiry
//! (30 minutes by default). A random token of that size needs no slow hash: there is nothing
//! to guess.
//!
//! **Confirm** ([`AuthManager::confirm_password_reset`](crate::AuthManager::confirm_password_reset)):
//! the new password must meet the policy (checked before anything is spent: a weak password
//! leaves the token usable). The token must be known, unspent, unexpired, and its account
//! active with the credential version recorded at issue (a password change, a ban or a role
//! change since kills it); every refusal is one answer,
//! [`AccountError::InvalidResetToken`]. The token is then spent by a conditional update (of
//! two concurrent confirms one wins), and the password written by the conditional
//! [`replace_password_hash`](crate::store::UserStore::replace_password_hash) from the hash read
//! (a change racing it wins, and the token is spent for nothing). The write is a credential
//! change: every session of the account ends (a sign-in right after, with the new password,
//! opens a good one), and its API keys die.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::AccountError;
use super::api_keys::digest;
use super::service::{AccountService, normalize_email};
use crate::clock::now;
use crate::events::SECURITY_EVENTS;
use crate::store::{Account, AccountStatus, NewPasswordReset, PasswordResetStore, PasswordWrite};
use crate::throttle::{LoginThrottle, ThrottleError};

/// How long a reset token is good for when nothing else is configured: 30 minutes.
pub const PASSWORD_RESET_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Random bytes in a token (256 bits).
const TOKEN_BYTES: usize = 32;
/// Characters of a token: base64url of [`TOKEN_BYTES`] without padding.
const TOKEN_LEN: usize = 43;
/// How often (at most) a reset request asks the store to delete expired resets.
const PURGE_INTERVAL_SECS: u64 = 600;

/// What a [`ResetSender`] delivers: the token for one account, to its email.
///
/// Its `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResetMail {
    /// The account's email (canonical form): where to send it.
    pub email: String,
    /// The account's id.
    pub account: String,
    /// The token, URL-safe: put it in the link (`https://app.example/reset?token=…`) and
    /// nowhere else (no log line). The page behind the link should send
    /// `Referrer-Policy: no-referrer`, so that the token does not leak to other sites.
    pub token: String,
    /// When the token expires, seconds since the Unix epoch.
    pub expires_at: u64,
}

impl ResetMail {
    /// A mail to deliver (for testing a sender of your own).
    ///
    /// ```
    /// use auth_runtime::accounts::ResetMail;
    ///
    /// let mail = ResetMail::new("ann@example.com", "id-1", "secret-token", 1800);
    /// assert!(!format!("{mail:?}").contains("secret-token"));
    /// ```
    pub fn new(
        email: impl Into<String>,
        account: impl Into<String>,
        token: impl Into<String>,
        expires_at: u64,
    ) -> Self {
        ResetMail {
            email: email.into(),
            account: account.into(),
            token: token.into(),
            expires_at,
        }
    }
}

impl fmt::Debug for ResetMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetMail")
            .field("account", &self.account)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why a [`ResetSender`] could not deliver (logged, never shown to the caller).
pub type ResetSendError = Box<dyn std::error::Error + Send + Sync>;

/// The boxed future a [`ResetSender`] returns.
pub type ResetSendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), ResetSendError>> + Send + 'a>>;

/// Delivers password-reset tokens: the app's mailer, configured with
/// [`AuthManagerBuilder::password_reset_sender`](crate::AuthManagerBuilder::password_reset_sender).
///
/// It runs in the background, after the request was answered, so a slow mail server costs
/// the caller nothing and tells nothing. A failure is logged (with the account id, never the
/// token) and the request is not retried: the user asks again.
///
/// ```
/// use auth_runtime::accounts::{ResetMail, ResetSendFuture, ResetSender};
///
/// struct Mailer {
///     base_url: String,
/// }
///
/// impl ResetSender for Mailer {
///     fn send<'a>(&'a self, mail: &'a ResetMail) -> ResetSendFuture<'a> {
///         Box::pin(async move {
///             let link = format!("{}/reset?token={}", self.base_url, mail.token);
///             // smtp.send(&mail.email, "Reset your password", &link).await?;
///             let _ = link;
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait ResetSender: Send + Sync + 'static {
    /// Sends `mail.token` (in a link) to `mail.email`.
    fn send<'a>(&'a self, mail: &'a ResetMail) -> ResetSendFuture<'a>;
}

/// The password-reset setup of a manager: the store, the sender and the token lifetime.
pub(crate) struct PasswordResets {
    pub(crate) store: Option<Arc<dyn PasswordResetStore>>,
    pub(crate) sender: Option<Arc<dyn ResetSender>>,
    pub(crate) lifetime: Duration,
    /// When expired resets were last purged (seconds since the Unix epoch).
    last_purge: Arc<AtomicU64>,
}

impl Default for PasswordResets {
    fn default() -> Self {
        PasswordResets {
            store: None,
            sender: None,
            lifetime: PASSWORD_RESET_LIFETIME,
            last_purge: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// A password-reset setup with both parts.
struct Configured<'a> {
    store: &'a Arc<dyn PasswordResetStore>,
    sender: &'a Arc<dyn ResetSender>,
}

impl PasswordResets {
    /// The store and the sender, or why password reset is not set up.
    fn configured(&self) -> Result<Configured<'_>, AccountError> {
        let sender = self
            .sender
            .as_ref()
            .ok_or(AccountError::NoPasswordReset("password reset sender"))?;
        let store = self
            .store
            .as_ref()
            .ok_or(AccountError::NoPasswordReset("password reset store"))?;
        Ok(Configured { store, sender })
    }
}

/// A token just issued, to record and send (after the answer).
struct Delivery {
    store: Arc<dyn PasswordResetStore>,
    sender: Arc<dyn ResetSender>,
    throttle: LoginThrottle,
    lifetime: Duration,
    last_purge: Arc<AtomicU64>,
    account: Account,
}

impl Delivery {
    async fn run(self) {
        let account = &self.account.id;
        match self.throttle.admit_reset_mail(account).await {
            Ok(()) => {}
            Err(ThrottleError::Throttled(_)) => {
                tracing::info!(target: SECURITY_EVENTS, event = "password_reset_mail_throttled", account = %account);
                return;
            }
            Err(e) => {
                tracing::warn!(account = %account, error = %e, "password reset not sent: the throttle could not decide");
                return;
            }
        }
        let token = new_token();
        let issued = now();
        let expires_at = issued.saturating_add(self.lifetime.as_secs());
        let reset = NewPasswordReset::new(
            digest(&token),
            account.clone(),
            self.account.credential_version,
            issued,
            expires_at,
        );
        if let Err(e) = self.store.create_password_reset(reset).await {
            tracing::warn!(account = %account, error = %e, "password reset not recorded, so not sent");
            return;
        }
        let mail = ResetMail::new(
            self.account.email.clone(),
            account.clone(),
            token,
            expires_at,
        );
        match self.sender.send(&mail).await {
            Ok(()) => {
                tracing::info!(target: SECURITY_EVENTS, event = "password_reset_sent", account = %account);
            }
            Err(e) => {
                tracing::warn!(account = %account, error = %e, "password reset mail not sent");
            }
        }
        self.purge(issued).await;
    }

    /// Deletes expired resets, about every ten minutes.
    async fn purge(&self, now: u64) {
        let last = self.last_purge.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PURGE_INTERVAL_SECS
            || self
                .last_purge
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if let Err(e) = self.store.purge_password_resets(now).await {
            tracing::warn!(error = %e, "purging expired password resets failed");
        }
    }
}

impl AccountService<'_> {
    /// Starts a password reset for `email`; see the [module documentation](self).
    pub(crate) async fn request_password_reset(
        &self,
        resets: &PasswordResets,
        email: &str,
        client: Option<IpAddr>,
    ) -> Result<(), AccountError> {
        let Configured { store, sender } = resets.configured()?;
        let users = self.grants.users().ok_or(AccountError::NoUserStore)?;
        let email = normalize_email(email).ok_or(AccountError::InvalidEmail)?;
        self.throttle
            .admit_password_reset(client)
            .await
            .map_err(AccountError::reset_request)?;
        let account = users
            .user_by_email(&email)
            .await?
            .filter(|a| a.status == AccountStatus::Active && a.password_hash.is_some());
        let Some(account) = account else {
            tracing::info!(target: SECURITY_EVENTS, event = "password_reset_without_account", client = ?client);
            return Ok(());
        };
        tracing::info!(target: SECURITY_EVENTS, event = "password_reset_requested", account = %account.id, client = ?client);
        let delivery = Delivery {
            store: store.clone(),
            sender: sender.clone(),
            throttle: self.throttle.clone(),
            lifetime: resets.lifetime,
            last_purge: resets.last_purge.clone(),
            account,
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(delivery.run());
            }
            // Outside a Tokio runtime there is no background: deliver before answering.
            Err(_) => delivery.run().await,
        }
        Ok(())
    }

    /// Sets a new password with a reset token and ends every session of the account; see the
    /// [module documentation](self). `changed` is called with the account id once the password
    /// is written.
    pub(crate) async fn confirm_password_reset(
        &self,
        resets: &PasswordResets,
        token: &str,
        new_password: &str,
        changed: impl FnOnce(&str),
    ) -> Result<(), AccountError> {
        let store = resets.configured()?.store;
        let users = self.grants.users().ok_or(AccountError::NoUserStore)?;
        if !well_formed(token) {
            return Err(AccountError::InvalidResetToken);
        }
        // Before anything is spent: a weak password leaves the token as it was.
        self.passwords.policy().check(new_password)?;
        let digest = digest(token);
        let refused = |why: &'static str, account: Option<&str>| {
            tracing::info!(target: SECURITY_EVENTS, event = "password_reset_refused", reason = why, account = account.unwrap_or("-"));
            AccountError::InvalidResetToken
        };
        let Some(record) = store.password_reset(&digest).await? else {
            return Err(refused("unknown", None));
        };
        let id = record.reset.account.as_str();
        if record.used_at.is_some() {
            return Err(refused("spent", Some(id)));
        }
        if record.reset.expires_at <= now() {
            return Err(refused("expired", Some(id)));
        }
        let account = users
            .user_by_id(id)
            .await?
            .filter(|a| {
                a.status == AccountStatus::Active
                    && a.credential_version == record.reset.credential_version
            })
            .ok_or_else(|| refused("account_changed", Some(id)))?;
        let current = account
            .password_hash
            .as_deref()
            .ok_or_else(|| refused("no_password", Some(id)))?;
        // Hashed before the token is spent: an overloaded hasher (503) leaves it usable.
        let hash = self.passwords.hash(new_password).await?;
        if !store.consume_password_reset(&digest, now()).await? {
            return Err(refused("spent", Some(id)));
        }
        // Only from the hash read above: a change since then wins, and this one is refused.
        if !users
            .replace_password_hash(&account.id, current, &hash, PasswordWrite::Change)
            .await?
        {
            return Err(refused("account_changed", Some(id)));
        }
        tracing::info!(target: SECURITY_EVENTS, event = "password_reset", account = %account.id);
        changed(&account.id);
        if self.sessions.sessions.is_some() {
            // One by one, no cutoff: a sign-in right after, with the new password, is good.
            self.sessions.revoke_sessions_of(&account.id).await?;
        }
        Ok(())
    }
}

/// A new token: 256 random bits, base64url without padding.
fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; TOKEN_BYTES]>())
}

/// Whether `token` has the shape of one [`new_token`] makes.
fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_url_safe_and_fresh() {
        let a = new_token();
        assert_eq!(a.len(), TOKEN_LEN);
        assert!(well_formed(&a));
        assert_ne!(a, new_token());
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), a);
    }

    #[test]
    fn tokens_of_another_shape_are_refused() {
        let a = new_token();
        for bad in [
            "",
            &a[1..],
            &format!("{a}A"),
            &a.replacen(|c: char| c.is_ascii_alphanumeric(), "+", 1),
            &a.replacen(|c: char| c.is_ascii_alphanumeric(), "=", 1),
            &format!("{}a", "é".repeat(21)),
        ] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_mail_never_shows_its_token() {
        let mail = ResetMail::new("ann@example.com", "id-1", new_token(), 10);
        let shown = format!("{mail:?}");
        assert!(!shown.contains(&mail.token), "{shown}");
        assert!(!shown.contains("ann@example.com"), "{shown}");
    }
}
