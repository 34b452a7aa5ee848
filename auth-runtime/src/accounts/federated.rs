//! Sign-in through an identity provider (OpenID Connect): the account is found by the
//! provider's verified email, created on first sign-in (active: the provider vouched for the
//! person) and kept in step with the provider's groups afterwards.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::{AccountError, AccountService, normalize_email};
use crate::clock::now;
use crate::events::SECURITY_EVENTS;
use crate::grants::{FEDERATED_CLAIM, is_service_account};
use crate::keyring::{TokenError, TokenPair};
use crate::store::{Account, AccountStatus, NewAccount, StoreError};

/// Who an identity provider says signed in, for
/// [`AuthManager::sign_in_federated`](crate::AuthManager::sign_in_federated).
///
/// ```
/// use auth_runtime::accounts::FederatedSignIn;
///
/// let person = FederatedSignIn::new("https://id.example.com", "p-123", "ann@example.com", true)
///     .roles(["editor"])
///     .managed_roles(["editor", "admin"]);
/// # let _ = person;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FederatedSignIn {
    /// The provider's issuer.
    pub issuer: String,
    /// The provider's subject for the person.
    pub subject: String,
    /// The email the provider gives.
    pub email: String,
    /// Whether the provider verified that email (`email_verified`).
    pub email_verified: bool,
    /// The roles the provider's groups map to.
    pub roles: Vec<String>,
    /// The roles the provider decides: kept in step with [`roles`](Self::roles) at every
    /// sign-in. Roles outside this list (granted by an admin here) are left alone.
    pub managed_roles: Vec<String>,
}

impl FederatedSignIn {
    /// A person with no mapped roles.
    pub fn new(
        issuer: impl Into<String>,
        subject: impl Into<String>,
        email: impl Into<String>,
        email_verified: bool,
    ) -> Self {
        FederatedSignIn {
            issuer: issuer.into(),
            subject: subject.into(),
            email: email.into(),
            email_verified,
            roles: Vec::new(),
            managed_roles: Vec::new(),
        }
    }

    /// The roles the provider's groups map to.
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// The roles the provider decides (every role of the group mapping).
    pub fn managed_roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.managed_roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// The link stored on the account: `{iss, sub}`.
    fn link(&self) -> Value {
        json!({ "iss": self.issuer, "sub": self.subject })
    }
}

impl AccountService<'_> {
    /// Signs a person in on the provider's word and opens a session of `login_type`.
    ///
    /// - The email must be verified by the provider and be a valid address.
    /// - No account with it: one is created, active, with the default roles and the mapped
    ///   ones, linked to the provider's `{iss, sub}` (stored claim `federated`); it has no
    ///   password.
    /// - An account with it: linked on its first federated sign-in; one linked to another
    ///   subject or issuer is refused (the provider gave the email to someone else); pending,
    ///   rejected and deactivated accounts are refused as a password sign-in would be; its
    ///   provider-managed roles are brought in step (a change is a credential change).
    pub(crate) async fn sign_in_federated(
        &self,
        person: &FederatedSignIn,
        login_type: &str,
        client: Option<IpAddr>,
    ) -> Result<TokenPair, AccountError> {
        let users = self.grants.users().ok_or(AccountError::NoUserStore)?;
        if !person.email_verified {
            return Err(AccountError::Forbidden(
                "The identity provider has not verified this email".into(),
            ));
        }
        let email = normalize_email(&person.email).ok_or(AccountError::InvalidEmail)?;
        if let Some(unknown) = person
            .roles
            .iter()
            .chain(&person.managed_roles)
            .find(|r| self.grants.role_scopes(r).is_none())
        {
            tracing::error!(role = %unknown, "the provider's group mapping names a role that is not configured");
            return Err(AccountError::Auth(crate::error::AuthError::Internal));
        }
        let account = match users.user_by_email(&email).await? {
            Some(account) => account,
            None => {
                let mut roles: Vec<String> = self.grants.config().default_roles.clone();
                roles.extend(person.roles.iter().cloned());
                roles.sort();
                roles.dedup();
                let mut claims = serde_json::Map::new();
                claims.insert(FEDERATED_CLAIM.into(), person.link());
                let new = NewAccount::new(email.clone(), AccountStatus::Active, now())
                    .roles(roles)
                    .claims(claims);
                match users.create_user(new).await {
                    Ok(account) => {
                        tracing::info!(target: SECURITY_EVENTS, event = "federated_account_created", account = %account.id);
                        account
                    }
                    // Created meanwhile by a concurrent sign-in (or a registration): take it
                    // as found, with every check below.
                    Err(StoreError::Conflict) => users
                        .user_by_email(&email)
                        .await?
                        .ok_or(AccountError::NotFound)?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let account = self.bring_in_step(account, person).await?;
        match account.status {
            AccountStatus::Active => {}
            AccountStatus::Pending => return Err(AccountError::Pending),
            AccountStatus::Rejected => return Err(AccountError::Rejected),
            _ => return Err(AccountError::Deactivated),
        }
        let grant = self
            .grants
            .account_grant(&account, login_type)
            .ok_or(AccountError::NotAllowed)?;
        match self.sessions.create_session(&grant).await {
            Ok(pair) => {
                tracing::info!(target: SECURITY_EVENTS, event = "signed_in_federated", account = %account.id, client = ?client, login_type);
                Ok(pair)
            }
            Err(TokenError::AccountChanged { .. }) => Err(AccountError::Forbidden(
                "The account changed during the sign-in; sign in again".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Links the account to the person on its first federated sign-in, refuses one linked to
    /// someone else, and brings the provider-managed roles in step. Returns the account as it
    /// now is.
    async fn bring_in_step(
        &self,
        account: Account,
        person: &FederatedSignIn,
    ) -> Result<Account, AccountError> {
        let users = self.grants.users().ok_or(AccountError::NoUserStore)?;
        if is_service_account(&account) {
            return Err(AccountError::NotAllowed);
        }
        match account.claims.get(FEDERATED_CLAIM) {
            Some(link) if *link == person.link() => {}
            Some(_) => {
                tracing::warn!(target: SECURITY_EVENTS, event = "federated_sign_in_refused_other_identity", account = %account.id);
                return Err(AccountError::Forbidden(
                    "This email belongs to an account of another identity".into(),
                ));
            }
            None => {
                let mut claims = account.claims.clone();
                claims.insert(FEDERATED_CLAIM.into(), person.link());
                if !users.set_claims(&account.id, &claims).await? {
                    return Err(AccountError::NotFound);
                }
                tracing::info!(target: SECURITY_EVENTS, event = "federated_account_linked", account = %account.id);
            }
        }
        let mut roles: Vec<String> = account
            .roles
            .iter()
            .filter(|r| !person.managed_roles.contains(r) && !person.roles.contains(r))
            .cloned()
            .collect();
        roles.extend(person.roles.iter().cloned());
        roles.sort();
        roles.dedup();
        let mut current = account.roles.clone();
        current.sort();
        current.dedup();
        if roles != current {
            self.set_roles(&account.id, &roles).await?;
        }
        users
            .user_by_id(&account.id)
            .await?
            .ok_or(AccountError::NotFound)
    }
}
