//! Password reset on the façade: its builder settings and the two manager operations, which
//! delegate to the account operations ([`accounts`](crate::accounts), `reset.rs`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{AuthManager, AuthManagerBuilder};
use crate::accounts::{AccountError, ResetSender};
use crate::store::PasswordResetStore;

impl AuthManagerBuilder {
    /// Delivers password-reset tokens with `sender` (the app's mailer): without one,
    /// [`AuthManager::request_password_reset`] and
    /// [`AuthManager::confirm_password_reset`] (and their built-in routes) fail with
    /// [`AccountError::NoPasswordReset`] (500, the reason logged).
    pub fn password_reset_sender(mut self, sender: impl ResetSender) -> Self {
        self.resets.sender = Some(Arc::new(sender));
        self
    }

    /// Keeps password-reset tokens (their digests) in `store`; [`store`](Self::store) sets it
    /// too. Resets belong to accounts, so a user store is needed as well.
    pub fn password_reset_store(mut self, store: impl PasswordResetStore) -> Self {
        self.resets.store = Some(Arc::new(store));
        self
    }

    /// How long a password-reset token is good for (default
    /// [`PASSWORD_RESET_LIFETIME`](crate::accounts::PASSWORD_RESET_LIFETIME), 30 minutes; at
    /// least one second).
    pub fn password_reset_lifetime(mut self, lifetime: Duration) -> Self {
        self.resets.lifetime = lifetime.max(Duration::from_secs(1));
        self
    }
}

impl AuthManager {
    /// Starts a password reset for `email`, asked from client address `client`.
    ///
    /// The answer is `Ok(())` whether or not the email has an account that may reset its
    /// password (an active one with a password): for such an account, a single-use token is
    /// issued and handed to the [`ResetSender`] in the background, after this returns, so
    /// neither the answer nor its timing says whether a mail went out. Errors say nothing
    /// about the account either: an email that cannot be an address
    /// ([`AccountError::InvalidEmail`]), too many requests from the client's address
    /// ([`AccountError::ResetThrottled`], see
    /// [`ThrottleConfig::password_reset_requests`](crate::throttle::ThrottleConfig::password_reset_requests)),
    /// a store that cannot be reached, or no reset sender or store configured
    /// ([`AccountError::NoPasswordReset`]). An account gets at most
    /// [`ThrottleConfig::password_reset_mails`](crate::throttle::ThrottleConfig::password_reset_mails)
    /// mails per window, whoever asks.
    ///
    /// The token is good once, for [`password_reset_lifetime`](AuthManagerBuilder::password_reset_lifetime)
    /// (30 minutes), and dies with any credential change of the account (password, status,
    /// roles). Only its SHA-256 digest is stored.
    ///
    /// ```
    /// use auth_runtime::accounts::{AccountError, ResetMail, ResetSendFuture, ResetSender};
    /// use auth_runtime::store::SqlStore;
    /// use auth_runtime::{AuthManager, LoginType, SigningKey};
    /// use tokio::sync::mpsc;
    ///
    /// /// Hands each mail over a channel instead of mailing it.
    /// struct Outbox(mpsc::UnboundedSender<ResetMail>);
    ///
    /// impl ResetSender for Outbox {
    ///     fn send<'a>(&'a self, mail: &'a ResetMail) -> ResetSendFuture<'a> {
    ///         let _ = self.0.send(mail.clone());
    ///         Box::pin(async { Ok(()) })
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (outbox, mut inbox) = mpsc::unbounded_channel();
    /// let manager = AuthManager::builder()
    ///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
    ///     .role("user", ["reports:read"])
    ///     .store(SqlStore::connect("sqlite::memory:").await?)
    ///     .password_reset_sender(Outbox(outbox))
    ///     .build()?;
    /// manager.register("ada@example.com", "a long passphrase", None).await?;
    /// manager.approve("ada@example.com").await?;
    ///
    /// // The same answer for an account and for no account; only the account gets a mail.
    /// manager.request_password_reset("nobody@example.com", None).await?;
    /// manager.request_password_reset("Ada@Example.com", None).await?;
    /// let mail = inbox.recv().await.expect("a mail, sent in the background");
    /// assert_eq!(mail.email, "ada@example.com");
    ///
    /// manager.confirm_password_reset(&mail.token, "another long passphrase").await?;
    /// manager.sign_in("ada@example.com", "another long passphrase", "user", None).await?;
    /// // Good once.
    /// let again = manager.confirm_password_reset(&mail.token, "a third long passphrase").await;
    /// assert_eq!(again, Err(AccountError::InvalidResetToken));
    /// # Ok(()) }
    /// ```
    pub async fn request_password_reset(
        &self,
        email: &str,
        client: Option<IpAddr>,
    ) -> Result<(), AccountError> {
        self.accounts()
            .request_password_reset(&self.inner.resets, email, client)
            .await
    }

    /// Sets the password of the account a reset `token` was issued for to `new_password`, and
    /// ends every session of the account (a sign-in right after, with the new password, opens
    /// a good one) and every API key of it.
    ///
    /// The new password must meet the policy ([`AccountError::InvalidPassword`], checked
    /// before the token is spent: it stays usable). A token that is unknown, spent, expired,
    /// or whose account changed since it was issued (a password change, a ban, a role change)
    /// is one answer, [`AccountError::InvalidResetToken`]. Of two concurrent confirmations of
    /// one token exactly one succeeds; a password change racing it wins. See
    /// [`request_password_reset`](Self::request_password_reset) for an example.
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new_password: &str,
    ) -> Result<(), AccountError> {
        self.accounts()
            .confirm_password_reset(&self.inner.resets, token, new_password, |id| {
                self.owner_changed(id)
            })
            .await
    }
}
