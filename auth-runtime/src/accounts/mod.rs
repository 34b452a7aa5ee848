//! Accounts: registration awaiting an admin's approval, password sign-in, password change,
//! deactivation, and how a stored [`Account`] becomes a token (roles → scopes, extra claims).

mod email;
mod error;
mod service;

pub use email::{EmailError, canonical_email};
pub use error::AccountError;
pub use service::{AdminSeed, normalize_email};

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::manager::AuthManager;
use crate::store::{Account, AccountStatus};
use crate::token::TokenRequest;

/// The login type of accounts signing in at `/auth/login`.
pub const USER_LOGIN_TYPE: &str = "user";
/// The login type of accounts signing in at `/admin/login`.
pub const ADMIN_LOGIN_TYPE: &str = "admin";

type ClaimsHook = dyn Fn(&Account) -> Map<String, Value> + Send + Sync;

/// How accounts become tokens.
///
/// Scopes come from the account's roles (declared with
/// [`AuthManagerBuilder::role`](crate::AuthManagerBuilder::role)). Every token issued to an
/// account carries the extra claims `email`, `account_status` and `roles`, the account's own
/// stored claims (a tenant's `company_id`, ...) and whatever [`claims`](Self::claims) adds; they
/// are readable by handlers ([`Principal::claim`](crate::Principal::claim)) and by policy
/// conditions (`subject.<name>`).
///
/// ```
/// use auth_runtime::accounts::AccountsConfig;
/// use serde_json::json;
///
/// let config = AccountsConfig::default()
///     .default_roles(["user"])
///     .claims(|account| {
///         let mut extra = serde_json::Map::new();
///         extra.insert("tier".into(), json!(if account.roles.contains(&"admin".into()) { "staff" } else { "customer" }));
///         extra
///     });
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct AccountsConfig {
    pub(crate) default_roles: Vec<String>,
    pub(crate) admin_role: String,
    pub(crate) claims: Option<Arc<ClaimsHook>>,
}

impl Default for AccountsConfig {
    /// New registrations get role `user`; role `admin` may sign in as login type `admin`.
    fn default() -> Self {
        AccountsConfig {
            default_roles: vec!["user".into()],
            admin_role: "admin".into(),
            claims: None,
        }
    }
}

impl fmt::Debug for AccountsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountsConfig")
            .field("default_roles", &self.default_roles)
            .field("admin_role", &self.admin_role)
            .field("claims", &self.claims.is_some())
            .finish()
    }
}

impl AccountsConfig {
    /// The roles of a newly registered account.
    pub fn default_roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.default_roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// The role an account needs to sign in as login type [`ADMIN_LOGIN_TYPE`].
    pub fn admin_role(mut self, role: impl Into<String>) -> Self {
        self.admin_role = role.into();
        self
    }

    /// Adds extra claims computed from the account (they may not use reserved names).
    pub fn claims(
        mut self,
        hook: impl Fn(&Account) -> Map<String, Value> + Send + Sync + 'static,
    ) -> Self {
        self.claims = Some(Arc::new(hook));
        self
    }
}

impl AuthManager {
    /// The token an account gets for `login_type`: its role scopes and extra claims. `None`
    /// when the account may not have one (not active, or not an admin asking for an admin
    /// token).
    pub fn account_grant(&self, account: &Account, login_type: &str) -> Option<TokenRequest> {
        let config = self.accounts_config();
        if account.status != AccountStatus::Active {
            return None;
        }
        if login_type == ADMIN_LOGIN_TYPE && !account.roles.contains(&config.admin_role) {
            return None;
        }
        let mut scopes: Vec<String> = Vec::new();
        for role in &account.roles {
            for scope in self.role_scopes(role).unwrap_or_default() {
                if !scopes.contains(scope) {
                    scopes.push(scope.clone());
                }
            }
        }
        let mut claims = account.claims.clone();
        claims.insert("email".into(), Value::from(account.email.as_str()));
        claims.insert(
            "account_status".into(),
            Value::from(account.status.as_str()),
        );
        claims.insert(
            "roles".into(),
            Value::from(account.roles.iter().map(String::as_str).collect::<Vec<_>>()),
        );
        if let Some(hook) = &config.claims {
            claims.extend(hook(account));
        }
        Some(
            TokenRequest::new(login_type, account.id.as_str())
                .scopes(scopes)
                .claims(claims),
        )
    }
}
