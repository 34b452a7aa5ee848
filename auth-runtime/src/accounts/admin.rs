//! An admin's account operations: look-ups by email (normalized) and by id, the account's
//! stored claims, and a new password set by an admin. [`AuthManager`](crate::AuthManager)
//! offers them; the users administration routes call them there.
//!
//! **Stored claims** go into every token of the account at sign-in and at refresh. Names the
//! runtime sets itself ([`RESERVED_CLAIMS`](crate::RESERVED_CLAIMS), [`ACCOUNT_CLAIMS`]) are
//! refused; so is `name` on a service account (its name, set at creation), whose marks are
//! kept. The write replaces the claims alone ([`UserStore::set_claims`]): a role change racing
//! it is neither undone nor undoes it. New claims are no credential change: live sessions get
//! them at their next refresh.
//!
//! **An admin's new password** is checked against the policy, hashed on the blocking pool and
//! written by the conditional [`UserStore::replace_password_hash`] from the hash read (a
//! sign-in's rehash or a password change in between makes it read again and write over it: the
//! admin's password is the one that stays). The write changes the credential version, so the
//! account's API keys and password-reset tokens die with it; then every session of the
//! account ends (a sign-in right after, with the new password, opens a good one).

use serde_json::{Map, Value};

use super::{AccountError, AccountService, normalize_email};
use crate::events::SECURITY_EVENTS;
use crate::grants::{ACCOUNT_CLAIMS, SERVICE_ACCOUNT_CLAIM, is_service_account};
use crate::keyring::RESERVED_CLAIMS;
use crate::store::{Account, PasswordWrite};

/// The largest stored claims of one account, as compact JSON: 2 KiB. Every token of the
/// account carries them, base64url-encoded (a third more), and a browser keeps a cookie of at
/// most about 4 KB, so larger claims would make tokens that a cookie cannot hold or that pass
/// [`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN).
pub const MAX_CLAIMS_BYTES: usize = 2 * 1024;

/// The stored claims a service account gets at creation, besides its mark.
const SERVICE_ACCOUNT_NAME_CLAIM: &str = "name";

/// How often an admin's password write reads the account again when the hash changed between
/// its read and its write (a rehash at sign-in, a password change).
const PASSWORD_WRITE_ATTEMPTS: usize = 3;

/// Whether a stored claim may not be named `name`.
fn reserved(name: &str) -> bool {
    RESERVED_CLAIMS.contains(&name) || ACCOUNT_CLAIMS.contains(&name)
}

impl AccountService<'_> {
    /// The account with this email (normalized), `None` also for an email that cannot be an
    /// address.
    pub(crate) async fn account_by_email(
        &self,
        email: &str,
    ) -> Result<Option<Account>, AccountError> {
        let users = self.grants.users().ok_or(AccountError::NoUserStore)?;
        let Some(email) = normalize_email(email) else {
            return Ok(None);
        };
        Ok(users.user_by_email(&email).await?)
    }

    /// The account with this id.
    pub(crate) async fn account(&self, id: &str) -> Result<Option<Account>, AccountError> {
        let users = self.grants.users().ok_or(AccountError::NoUserStore)?;
        Ok(users.user_by_id(id).await?)
    }

    /// Replaces the account's stored claims; see the [module documentation](self).
    pub(crate) async fn set_claims(
        &self,
        account_id: &str,
        mut claims: Map<String, Value>,
    ) -> Result<(), AccountError> {
        let users = self.grants.users().ok_or(AccountError::NoUserStore)?;
        if let Some(name) = claims.keys().find(|k| reserved(k)) {
            return Err(AccountError::ReservedClaim(name.clone()));
        }
        let size = serde_json::to_vec(&claims).map_or(usize::MAX, |json| json.len());
        if size > MAX_CLAIMS_BYTES {
            return Err(AccountError::Unprocessable(format!(
                "The claims take {size} bytes as JSON; at most {MAX_CLAIMS_BYTES} are stored"
            )));
        }
        let account = users
            .user_by_id(account_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        if is_service_account(&account) {
            if claims.contains_key(SERVICE_ACCOUNT_NAME_CLAIM) {
                return Err(AccountError::ReservedClaim(
                    SERVICE_ACCOUNT_NAME_CLAIM.into(),
                ));
            }
            // Set at creation and never changed: what makes it a service account stays.
            for name in [SERVICE_ACCOUNT_CLAIM, SERVICE_ACCOUNT_NAME_CLAIM] {
                if let Some(value) = account.claims.get(name) {
                    claims.insert(name.into(), value.clone());
                }
            }
        }
        if !users.set_claims(&account.id, &claims).await? {
            return Err(AccountError::NotFound);
        }
        let names: Vec<&str> = claims.keys().map(String::as_str).collect();
        tracing::info!(target: SECURITY_EVENTS, event = "claims_changed", account = %account.id, claims = ?names);
        Ok(())
    }

    /// Sets a new password chosen by an admin and ends every session of the account; see the
    /// [module documentation](self).
    pub(crate) async fn set_password(
        &self,
        account_id: &str,
        new_password: &str,
    ) -> Result<(), AccountError> {
        let users = self.grants.users().ok_or(AccountError::NoUserStore)?;
        // Before any look-up or hashing, as at registration.
        self.passwords.policy().check(new_password)?;
        let mut account = users
            .user_by_id(account_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        if is_service_account(&account) {
            return Err(AccountError::WrongState(
                "A service account has a client secret, not a password",
            ));
        }
        let hash = self.passwords.hash(new_password).await?;
        let mut written = false;
        for _ in 0..PASSWORD_WRITE_ATTEMPTS {
            let Some(current) = account.password_hash.as_deref() else {
                return Err(AccountError::WrongState(
                    "The account has no password: it signs in elsewhere",
                ));
            };
            // Only from the hash just read: a write in between is seen, never lost.
            if users
                .replace_password_hash(&account.id, current, &hash, PasswordWrite::Change)
                .await?
            {
                written = true;
                break;
            }
            account = users
                .user_by_id(&account.id)
                .await?
                .ok_or(AccountError::NotFound)?;
        }
        if !written {
            return Err(AccountError::WrongState(
                "The password kept changing while it was being set; try again",
            ));
        }
        tracing::info!(target: SECURITY_EVENTS, event = "password_set_by_admin", account = %account.id);
        if self.sessions.sessions.is_some() {
            // One by one, no cutoff: a sign-in right after, with the new password, is good.
            self.sessions.revoke_sessions_of(&account.id).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names() {
        for name in ["sub", "exp", "scope", "email", "roles", "account_status"] {
            assert!(reserved(name), "{name}");
        }
        assert!(reserved("service_account"));
        for name in ["company_id", "name", "tier", "Email"] {
            assert!(!reserved(name), "{name}");
        }
    }
}
