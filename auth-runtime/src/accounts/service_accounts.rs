//! Service accounts: machine principals with roles. They hold a client secret (shown once,
//! stored as a SHA-256 digest: 256 random bits need no slow hash) and get access tokens of
//! login type [`SERVICE_LOGIN_TYPE`] by the OAuth2 client-credentials grant, never by
//! password, and API keys of their own. Deactivation stops their tokens and keys at once.
//!
//! A service account is an account of the user store: its login name is `service:<name>`
//! (never an email: emails have an `@`), it carries the stored claims `service_account: true`
//! and `name`, so that users administration lists and deactivates it like any account.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AccountError, AccountService};
use crate::clock::now;
use crate::error::AuthError;
use crate::events::SECURITY_EVENTS;
use crate::grants::{SERVICE_ACCOUNT_CLAIM, SERVICE_LOGIN_TYPE, is_service_account};
use crate::keyring::{BearerToken, TokenError};
use crate::scope::{GrantedScopes, ScopeValidator};
use crate::store::{AccountStatus, NewAccount, StoreError};

/// What a new service account's creator sees once: its id (the OAuth2 `client_id`) and its
/// client secret, never shown again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct NewServiceAccount {
    /// The account id: the `sub` of its tokens.
    pub id: String,
    /// The OAuth2 `client_id` (the account id).
    pub client_id: String,
    /// The OAuth2 `client_secret`.
    pub client_secret: String,
}

fn digest(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The login name of service account `name`.
fn login_name(name: &str) -> String {
    format!("service:{name}")
}

impl AccountService<'_> {
    /// Creates service account `name` (1 to 64 of `a-z`, `0-9`, `-`, `_`, starting with a
    /// letter or digit) with `roles` (each configured).
    pub(crate) async fn create_service_account(
        &self,
        name: &str,
        roles: &[String],
    ) -> Result<NewServiceAccount, AccountError> {
        let users = self.grants.users().ok_or(AccountError::NoUserStore)?;
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.as_bytes()[0].is_ascii_alphanumeric()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid {
            return Err(AccountError::Unprocessable(
                "`name` must be 1 to 64 of a-z, 0-9, `-` and `_`, starting with a letter or digit"
                    .into(),
            ));
        }
        if let Some(unknown) = roles.iter().find(|r| self.grants.role_scopes(r).is_none()) {
            return Err(AccountError::Unprocessable(format!(
                "Unknown role `{}`",
                unknown.escape_debug()
            )));
        }
        let secret: String = rand::random::<[u8; 32]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut claims = Map::new();
        claims.insert(SERVICE_ACCOUNT_CLAIM.into(), Value::Bool(true));
        claims.insert("name".into(), Value::from(name));
        let account = NewAccount::new(login_name(name), AccountStatus::Active, now())
            .password_hash(digest(&secret))
            .roles(roles.iter().cloned())
            .claims(claims);
        let account = match users.create_user(account).await {
            Ok(account) => account,
            Err(StoreError::Conflict) => {
                return Err(AccountError::Conflict(
                    "A service account with this name exists".into(),
                ));
            }
            Err(e) => return Err(AuthError::from(e).into()),
        };
        tracing::info!(target: SECURITY_EVENTS, event = "service_account_created", account = %account.id, name);
        Ok(NewServiceAccount {
            client_id: account.id.clone(),
            id: account.id,
            client_secret: secret,
        })
    }

    /// The OAuth2 client-credentials grant: an access token of login type
    /// [`SERVICE_LOGIN_TYPE`] for the service account `client_id` whose secret is `secret`,
    /// with the scopes of its roles (narrowed to `scope` when given).
    pub(crate) async fn client_credentials(
        &self,
        client_id: &str,
        secret: &str,
        scope: Option<(&[String], &dyn ScopeValidator)>,
    ) -> Result<BearerToken, AccountError> {
        let users = self.grants.users().ok_or(AccountError::NoUserStore)?;
        let account = users.user_by_id(client_id).await.map_err(AuthError::from)?;
        // Compared even for an unknown client, so that both take the same work.
        let presented = digest(secret);
        let stored = account
            .as_ref()
            .filter(|a| is_service_account(a))
            .and_then(|a| a.password_hash.clone())
            .unwrap_or_else(|| "sha256:".to_owned() + &"0".repeat(64));
        let matches: bool = presented.as_bytes().ct_eq(stored.as_bytes()).into();
        let Some(account) = account.filter(|a| matches && is_service_account(a)) else {
            tracing::info!(target: SECURITY_EVENTS, event = "client_credentials_refused");
            return Err(AccountError::InvalidClient);
        };
        let Some(mut grant) = self.grants.account_grant(&account, SERVICE_LOGIN_TYPE) else {
            // Deactivated.
            tracing::info!(target: SECURITY_EVENTS, event = "client_credentials_refused", account = %account.id);
            return Err(AccountError::InvalidClient);
        };
        if let Some((wanted, validator)) = scope {
            let held = grant.granted_scopes().join(" ");
            let held = GrantedScopes::new(&held);
            if let Some(beyond) = wanted.iter().find(|s| !validator.has_scope(s, held)) {
                return Err(AccountError::InvalidScope(beyond.clone()));
            }
            grant = grant.scopes(wanted.to_vec());
        }
        let token = match self.sessions.issue_access_only(&grant).await {
            Ok(token) => token,
            // Deactivated while this request was in flight.
            Err(TokenError::AccountChanged { .. }) => return Err(AccountError::InvalidClient),
            Err(e) => return Err(e.into()),
        };
        tracing::info!(target: SECURITY_EVENTS, event = "client_credentials_granted", account = %account.id);
        Ok(token)
    }
}
