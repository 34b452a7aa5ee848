//! Accounts: registration awaiting an admin's approval, password sign-in, password change,
//! password reset by a mailed single-use token ([`ResetSender`]), deactivation, an admin's
//! changes (stored claims, a new password), the seeded admin, and how a stored
//! [`Account`](crate::store::Account) becomes a token ([`AccountsConfig`]: roles → scopes,
//! extra claims).

mod admin;
mod api_keys;
mod email;
mod error;
mod federated;
mod reset;
mod service;
mod service_accounts;

pub use admin::MAX_CLAIMS_BYTES;
pub use api_keys::{ApiKeyInfo, MAX_API_KEY_DAYS, NewKey};
pub(crate) use api_keys::{ApiKeys, KeyRequest};
pub use email::{EmailError, canonical_email};
pub use error::AccountError;
pub use federated::FederatedSignIn;
pub(crate) use reset::PasswordResets;
pub use reset::{PASSWORD_RESET_LIFETIME, ResetMail, ResetSendError, ResetSendFuture, ResetSender};
pub(crate) use service::AccountService;
pub use service::{AdminSeed, MAX_PAGE, Registration, SignIn, normalize_email};
pub use service_accounts::NewServiceAccount;

pub use crate::events::SECURITY_EVENTS;
pub use crate::grants::{
    ACCOUNT_CLAIMS, ADMIN_LOGIN_TYPE, AccountsConfig, SERVICE_LOGIN_TYPE, SignInContext,
    USER_LOGIN_TYPE, is_service_account,
};
