//! How accounts become tokens: [`AccountsConfig`] (roles → scopes per login type, extra
//! claims) and the grant of one account for one login type, shared by sign-in and refresh.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::keyring::TokenRequest;
use crate::store::{Account, AccountStatus, UserStore};

type ClaimsHook = dyn Fn(&Account) -> Map<String, Value> + Send + Sync;
type ExistingAccountHook = dyn Fn(&Account) + Send + Sync;

/// The login type of accounts signing in at `/auth/login`.
pub const USER_LOGIN_TYPE: &str = "user";
/// The login type of accounts signing in at `/admin/login`.
pub const ADMIN_LOGIN_TYPE: &str = "admin";
/// The login type of service accounts (the OAuth2 client-credentials grant).
pub const SERVICE_LOGIN_TYPE: &str = "service";

/// Whether `account` is a service account (a machine principal): it gets tokens of login type
/// [`SERVICE_LOGIN_TYPE`] only, by client credentials, never by password.
pub fn is_service_account(account: &Account) -> bool {
    account.claims.get(SERVICE_ACCOUNT_CLAIM) == Some(&Value::Bool(true))
}

/// The stored claim that marks a service account.
pub(crate) const SERVICE_ACCOUNT_CLAIM: &str = "service_account";

/// The claims the runtime writes itself into the tokens of accounts, beside the token claims
/// of [`RESERVED_CLAIMS`](crate::RESERVED_CLAIMS): `email`, `account_status` and `roles` (from
/// the account record, in every token), and `service_account` (the stored mark of a service
/// account). A stored claim cannot take one of these names
/// ([`AuthManager::set_claims`](crate::AuthManager::set_claims) refuses them).
pub const ACCOUNT_CLAIMS: &[&str] = &["email", "account_status", "roles", SERVICE_ACCOUNT_CLAIM];

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
    /// role → the only login types it is granted on (a role not listed: every login type).
    pub(crate) role_login_types: Vec<(String, Vec<String>)>,
    pub(crate) reveal_existing: bool,
    pub(crate) on_existing: Option<Arc<ExistingAccountHook>>,
}

impl Default for AccountsConfig {
    /// New registrations get role `user`; role `admin` may sign in as login type `admin`.
    fn default() -> Self {
        AccountsConfig {
            default_roles: vec!["user".into()],
            admin_role: "admin".into(),
            claims: None,
            role_login_types: Vec::new(),
            reveal_existing: false,
            on_existing: None,
        }
    }
}

impl fmt::Debug for AccountsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountsConfig")
            .field("default_roles", &self.default_roles)
            .field("admin_role", &self.admin_role)
            .field("claims", &self.claims.is_some())
            .field("role_login_types", &self.role_login_types)
            .field("reveal_existing", &self.reveal_existing)
            .field("on_existing", &self.on_existing.is_some())
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

    /// Grants `role` only on these login types: on any other, a token carries neither the
    /// role nor its scopes. Roles not named here are granted on every login type.
    ///
    /// ```
    /// use auth_runtime::accounts::AccountsConfig;
    ///
    /// // An admin signing in at /auth/login gets a `user` token without admin scopes.
    /// let config = AccountsConfig::default().role_login_types("admin", ["admin"]);
    /// # let _ = config;
    /// ```
    pub fn role_login_types<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        role: impl Into<String>,
        login_types: I,
    ) -> Self {
        let role = role.into();
        self.role_login_types.retain(|(r, _)| *r != role);
        self.role_login_types
            .push((role, login_types.into_iter().map(Into::into).collect()));
        self
    }

    /// Whether registering an email that already has an account says so (409 Conflict).
    /// Off by default: such a registration does the same work and gets the same `201` as a
    /// new one, changes nothing, and calls the [`on_existing_account`](Self::on_existing_account)
    /// hook, so registration is no oracle of which emails have accounts.
    pub fn reveal_existing_accounts(mut self, reveal: bool) -> Self {
        self.reveal_existing = reveal;
        self
    }

    /// Called when someone registers an email that already has an account (with that
    /// account), for instance to mail its owner. It runs on the request's task: hand slow
    /// work to a task of its own so the answer's timing stays the same.
    ///
    /// ```
    /// use auth_runtime::accounts::AccountsConfig;
    ///
    /// let config = AccountsConfig::default().on_existing_account(|account| {
    ///     tracing::info!(account = %account.id, "registration attempted for an existing account");
    /// });
    /// # let _ = config;
    /// ```
    pub fn on_existing_account(mut self, hook: impl Fn(&Account) + Send + Sync + 'static) -> Self {
        self.on_existing = Some(Arc::new(hook));
        self
    }

    /// Whether `role` is granted on `login_type`.
    fn grants_on(&self, role: &str, login_type: &str) -> bool {
        self.role_login_types
            .iter()
            .find(|(r, _)| r == role)
            .is_none_or(|(_, types)| types.iter().any(|t| t == login_type))
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

/// How accounts become tokens: the accounts configuration, the roles' scopes and the account
/// store they are read from.
pub(crate) struct Grants {
    config: AccountsConfig,
    /// role → the scopes it stands for
    roles: Arc<HashMap<String, Vec<String>>>,
    users: Option<Arc<dyn UserStore>>,
    /// `users` and the session store are one store: it checks credential versions itself.
    one_store: bool,
}

impl Grants {
    pub(crate) fn new(
        config: AccountsConfig,
        roles: Arc<HashMap<String, Vec<String>>>,
        users: Option<Arc<dyn UserStore>>,
        one_store: bool,
    ) -> Self {
        Grants {
            config,
            roles,
            users,
            one_store,
        }
    }

    /// How accounts become tokens.
    pub(crate) fn config(&self) -> &AccountsConfig {
        &self.config
    }

    /// The account store, if one is configured.
    pub(crate) fn users(&self) -> Option<&dyn UserStore> {
        self.users.as_deref()
    }

    /// Whether the session store also holds the accounts (and checks credential versions in
    /// the transaction that records a session).
    pub(crate) fn accounts_in_session_store(&self) -> bool {
        self.one_store
    }

    /// The scopes a role stands for; `None` for a role nobody configured.
    pub(crate) fn role_scopes(&self, role: &str) -> Option<&[String]> {
        self.roles.get(role).map(Vec::as_slice)
    }
}

impl Grants {
    /// The token an account gets for `login_type`: the scopes of its roles granted on that
    /// login type ([`AccountsConfig::role_login_types`]) and extra claims; a session opened
    /// with it is bound to the account's credential version. `None` when the account may not
    /// have one (not active, or not an admin asking for an admin token).
    pub(crate) fn account_grant(
        &self,
        account: &Account,
        login_type: &str,
    ) -> Option<TokenRequest> {
        let config = &self.config;
        if account.status != AccountStatus::Active {
            return None;
        }
        if login_type == ADMIN_LOGIN_TYPE && !account.roles.contains(&config.admin_role) {
            return None;
        }
        // Machines get service tokens, people everything else: never the other way round.
        if (login_type == SERVICE_LOGIN_TYPE) != is_service_account(account) {
            return None;
        }
        let roles: Vec<&String> = account
            .roles
            .iter()
            .filter(|role| config.grants_on(role, login_type))
            .collect();
        let mut scopes: Vec<String> = Vec::new();
        for role in &roles {
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
            Value::from(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()),
        );
        if let Some(hook) = &config.claims {
            claims.extend(hook(account));
        }
        Some(
            TokenRequest::new(login_type, account.id.as_str())
                .scopes(scopes)
                .claims(claims)
                .account_version(account.credential_version),
        )
    }
}
