//! How accounts become tokens: [`AccountsConfig`] (roles → scopes per login type, extra
//! claims) and the grant of one account for one login type, shared by sign-in and refresh.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::keyring::{TokenError, TokenRequest};
use crate::store::{Account, AccountStatus, Identity, IdentityLoader, UserStore};

type ClaimsHook = dyn Fn(&Account) -> Map<String, Value> + Send + Sync;
type SignInHook = dyn Fn(&SignInContext<'_>) -> Map<String, Value> + Send + Sync;

/// What the [sign-in hook](AccountsConfig::sign_in_claims) sees of one password sign-in that
/// succeeded.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SignInContext<'a> {
    /// The token's subject (the account id, or an identity's subject).
    pub subject: &'a str,
    /// The login type signed in to.
    pub login_type: &'a str,
    /// The client's address, as the manager resolved it (trusted proxies honoured).
    pub client: Option<std::net::IpAddr>,
    /// The request's headers (empty when the sign-in did not come with a request). Treat them
    /// as hostile: they are whatever the client sent.
    pub headers: &'a axum::http::HeaderMap,
}
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
/// the account record, in every token), `service_account` (the stored mark of a service
/// account) and `federated` (the stored link to an identity provider's `{iss, sub}`). A stored claim cannot take one of these names
/// ([`AuthManager::set_claims`](crate::AuthManager::set_claims) refuses them).
pub const ACCOUNT_CLAIMS: &[&str] = &[
    "email",
    "account_status",
    "roles",
    SERVICE_ACCOUNT_CLAIM,
    FEDERATED_CLAIM,
];

/// The stored claim that links an account to its identity at a provider: `{iss, sub}`.
pub(crate) const FEDERATED_CLAIM: &str = "federated";

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
    pub(crate) sign_in_claims: Option<Arc<SignInHook>>,
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
            sign_in_claims: None,
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
            .field("sign_in_claims", &self.sign_in_claims.is_some())
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

    /// Whether `role` is granted on `login_type` (for the builder's checks).
    pub(crate) fn grants_role_on(&self, role: &str, login_type: &str) -> bool {
        self.grants_on(role, login_type)
    }

    /// Whether `role` is granted on `login_type`.
    fn grants_on(&self, role: &str, login_type: &str) -> bool {
        self.role_login_types
            .iter()
            .find(|(r, _)| r == role)
            .is_none_or(|(_, types)| types.iter().any(|t| t == login_type))
    }

    /// Adds claims computed from each password sign-in's request (a device id from a header,
    /// how the user signed in, the client's network): they last the session, refreshes
    /// included ([`TokenRequest::session_claims`]), but never override what the account grants
    /// (its stored claims, `email`, `roles`, `account_status`, what [`claims`](Self::claims)
    /// adds). Reserved names fail the sign-in with a 500 and a log line, as a configuration
    /// error. Applies to [`AuthManager::sign_in_request`](crate::AuthManager::sign_in_request)
    /// and the built-in sign-in routes (`/auth/login`, `/admin/login`, the password grant).
    ///
    /// ```
    /// use auth_runtime::accounts::AccountsConfig;
    /// use serde_json::json;
    ///
    /// let config = AccountsConfig::default().sign_in_claims(|ctx| {
    ///     let mut extra = serde_json::Map::new();
    ///     // A header is client input: keep it short and plain before it goes in a token.
    ///     if let Some(device) = ctx
    ///         .headers
    ///         .get("x-device-id")
    ///         .and_then(|v| v.to_str().ok())
    ///         .filter(|v| v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    ///     {
    ///         extra.insert("device".into(), json!(device));
    ///     }
    ///     extra
    /// });
    /// # let _ = config;
    /// ```
    pub fn sign_in_claims(
        mut self,
        hook: impl Fn(&SignInContext<'_>) -> Map<String, Value> + Send + Sync + 'static,
    ) -> Self {
        self.sign_in_claims = Some(Arc::new(hook));
        self
    }

    /// The claims the sign-in hook gives this sign-in (none without a hook).
    pub(crate) fn sign_in_claims_for(&self, context: &SignInContext<'_>) -> Map<String, Value> {
        self.sign_in_claims
            .as_ref()
            .map(|hook| hook(context))
            .unwrap_or_default()
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

/// A login type that is another one's tokens holding a role
/// ([`AuthManagerBuilder::login_type_alias`](crate::AuthManagerBuilder::login_type_alias)).
#[derive(Debug, Clone)]
pub(crate) struct LoginTypeAlias {
    pub(crate) alias: String,
    pub(crate) target: String,
    pub(crate) role: String,
}

/// How accounts become tokens: the accounts configuration, the roles' scopes and the account
/// store they are read from.
pub(crate) struct Grants {
    config: AccountsConfig,
    /// role → the scopes it stands for
    roles: Arc<HashMap<String, Vec<String>>>,
    users: Option<Arc<dyn UserStore>>,
    /// The app's own table, in place of `users`.
    identities: Option<Arc<dyn IdentityLoader>>,
    /// Login types that are another login type's tokens holding a role.
    aliases: Vec<LoginTypeAlias>,
    /// `users` and the session store are one store: it checks credential versions itself.
    one_store: bool,
}

impl Grants {
    pub(crate) fn new(
        config: AccountsConfig,
        roles: Arc<HashMap<String, Vec<String>>>,
        users: Option<Arc<dyn UserStore>>,
        identities: Option<Arc<dyn IdentityLoader>>,
        one_store: bool,
    ) -> Self {
        Grants {
            config,
            roles,
            users,
            identities,
            aliases: Vec::new(),
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

    /// With these login-type aliases.
    pub(crate) fn with_aliases(mut self, aliases: Vec<LoginTypeAlias>) -> Self {
        self.aliases = aliases;
        self
    }

    /// The login type a token asked for as `login_type` is issued as: an alias's target, or
    /// itself.
    pub(crate) fn issued_as<'s>(&'s self, login_type: &'s str) -> &'s str {
        self.aliases
            .iter()
            .find(|a| a.alias == login_type)
            .map_or(login_type, |a| a.target.as_str())
    }

    /// `accepted` with each alias replaced by its target (unchanged without aliases).
    pub(crate) fn resolve_accepted<'x>(&'x self, accepted: &'x [&'x str]) -> Cow<'x, [&'x str]> {
        if self.aliases.is_empty() || !accepted.iter().any(|l| self.issued_as(l) != *l) {
            return Cow::Borrowed(accepted);
        }
        let mut resolved: Vec<&str> = Vec::with_capacity(accepted.len());
        for name in accepted {
            let name = self.issued_as(name);
            if !resolved.contains(&name) {
                resolved.push(name);
            }
        }
        Cow::Owned(resolved)
    }

    /// The role a token of `login_type` must hold to pass where `accepted` are required: the
    /// role of the alias it is accepted through, or `None` when it is accepted as itself.
    pub(crate) fn alias_role(&self, accepted: &[&str], login_type: &str) -> Option<&str> {
        if accepted.is_empty() || accepted.contains(&login_type) {
            return None;
        }
        self.aliases
            .iter()
            .find(|a| a.target == login_type && accepted.contains(&a.alias.as_str()))
            .map(|a| a.role.as_str())
    }

    /// The app's identity loader, if one is configured.
    pub(crate) fn identities(&self) -> Option<&dyn IdentityLoader> {
        self.identities.as_deref()
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

    /// Resolves the roles a request names ([`TokenRequest::roles`]): their scopes are added to
    /// the request's own (without duplicates) and their names to its `roles` claim (after the
    /// names already there, without duplicates). Every role must be configured and granted on
    /// the request's login type ([`AccountsConfig::role_login_types`]). A request without
    /// roles is returned as it is.
    pub(crate) fn resolve_roles<'r>(
        &self,
        request: &'r TokenRequest,
    ) -> Result<Cow<'r, TokenRequest>, TokenError> {
        let requested = request.requested_roles();
        if requested.is_empty() {
            return Ok(Cow::Borrowed(request));
        }
        let login_type = request.login_type();
        // The `roles` claim already there (an account's grant): a list of names, or nothing.
        let mut roles: Vec<String> = match request.extra_claims().get("roles") {
            None => Vec::new(),
            Some(Value::Array(names)) if names.iter().all(Value::is_string) => names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect(),
            Some(_) => return Err(TokenError::ReservedClaim("roles".into())),
        };
        let mut scopes: Vec<String> = Vec::new();
        for role in requested {
            let role_scopes = self
                .role_scopes(role)
                .ok_or_else(|| TokenError::UnknownRole(role.clone()))?;
            if !self.config.grants_on(role, login_type) {
                return Err(TokenError::RoleNotGranted {
                    role: role.clone(),
                    login_type: login_type.to_owned(),
                });
            }
            for scope in role_scopes {
                if !request.granted_scopes().contains(scope) && !scopes.contains(scope) {
                    scopes.push(scope.clone());
                }
            }
            if !roles.contains(role) {
                roles.push(role.clone());
            }
        }
        Ok(Cow::Owned(request.with_roles_resolved(scopes, roles)))
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
        let login_type = self.issued_as(login_type);
        let (roles, scopes) = self.roles_on(&account.roles, login_type);
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

    /// Of `roles`, those granted on `login_type`, and the scopes they stand for (each once).
    fn roles_on<'r>(
        &self,
        roles: &'r [String],
        login_type: &str,
    ) -> (Vec<&'r String>, Vec<String>) {
        let roles: Vec<&String> = roles
            .iter()
            .filter(|role| self.config.grants_on(role, login_type))
            .collect();
        let mut scopes: Vec<String> = Vec::new();
        for role in &roles {
            for scope in self.role_scopes(role).unwrap_or_default() {
                if !scopes.contains(scope) {
                    scopes.push(scope.clone());
                }
            }
        }
        (roles, scopes)
    }

    /// The token a user of the app's own table ([`IdentityLoader`]) gets for `login_type`,
    /// by the same rules as an account: active users only, the admin login type for holders
    /// of the admin role only, never the service login type; the scopes of the roles granted on
    /// the login type, the `roles` claim and the identity's claims.
    pub(crate) fn identity_grant(
        &self,
        identity: &Identity,
        login_type: &str,
    ) -> Option<TokenRequest> {
        if !identity.active
            || login_type == SERVICE_LOGIN_TYPE
            || (login_type == ADMIN_LOGIN_TYPE && !identity.roles.contains(&self.config.admin_role))
        {
            return None;
        }
        let login_type = self.issued_as(login_type);
        let (roles, scopes) = self.roles_on(&identity.roles, login_type);
        let mut claims = identity.claims.clone();
        claims.insert(
            "roles".into(),
            Value::from(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()),
        );
        Some(
            TokenRequest::new(login_type, identity.subject.as_str())
                .scopes(scopes)
                .claims(claims),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::collections::HashMap;
    use std::sync::Arc;

    use serde_json::json;

    use super::{AccountsConfig, Grants};
    use crate::keyring::{TokenError, TokenRequest};

    fn grants() -> Grants {
        let roles: HashMap<String, Vec<String>> = [
            ("editor", vec!["articles:write", "articles:publish"]),
            ("reader", vec!["articles:read"]),
            ("admin", vec!["admin:*", "articles:write"]),
        ]
        .into_iter()
        .map(|(r, s)| (r.to_owned(), s.into_iter().map(str::to_owned).collect()))
        .collect();
        let config = AccountsConfig::default().role_login_types("admin", ["admin"]);
        Grants::new(config, Arc::new(roles), None, None, false)
    }

    #[test]
    fn a_request_without_roles_is_left_as_it_is() {
        let request = TokenRequest::new("user", "alice").scopes(["a:b"]);
        let resolved = grants().resolve_roles(&request).unwrap();
        assert!(matches!(resolved, Cow::Borrowed(_)));
        assert_eq!(*resolved, request);
    }

    #[test]
    fn roles_add_their_scopes_once_and_their_names_to_the_claim() {
        let request = TokenRequest::new("user", "alice")
            .scopes(["articles:read", "articles:write"])
            .roles(["editor", "reader", "editor"]);
        let grants = grants();
        let resolved = grants.resolve_roles(&request).unwrap();
        assert_eq!(
            resolved.granted_scopes(),
            ["articles:read", "articles:write", "articles:publish"]
        );
        assert_eq!(
            resolved.extra_claims()["roles"],
            json!(["editor", "reader"])
        );
        assert!(resolved.requested_roles().is_empty());
        assert_eq!(resolved.login_type(), "user");
        assert_eq!(resolved.subject(), "alice");
    }

    #[test]
    fn roles_join_the_roles_already_claimed() {
        let request = TokenRequest::new("user", "alice")
            .claim("roles", json!(["reader"]))
            .roles(["reader", "editor"]);
        let grants = grants();
        let resolved = grants.resolve_roles(&request).unwrap();
        assert_eq!(
            resolved.extra_claims()["roles"],
            json!(["reader", "editor"])
        );
        // A `roles` claim that is not a list of names cannot be joined.
        let request = TokenRequest::new("user", "alice")
            .claim("roles", "reader")
            .roles(["editor"]);
        assert_eq!(
            grants.resolve_roles(&request).unwrap_err(),
            TokenError::ReservedClaim("roles".into())
        );
    }

    #[test]
    fn an_unknown_role_is_an_error() {
        let request = TokenRequest::new("user", "alice").roles(["editor", "editr"]);
        let err = grants().resolve_roles(&request).unwrap_err();
        assert_eq!(err, TokenError::UnknownRole("editr".into()));
        assert_eq!(
            err.to_string(),
            "role `editr` is not configured (declare it with `AuthManagerBuilder::role`)"
        );
    }

    #[test]
    fn a_role_limited_to_other_login_types_is_an_error() {
        let grants = grants();
        let err = grants
            .resolve_roles(&TokenRequest::new("user", "alice").roles(["admin"]))
            .unwrap_err();
        assert_eq!(
            err,
            TokenError::RoleNotGranted {
                role: "admin".into(),
                login_type: "user".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "role `admin` is not granted on login type `user` (see `AccountsConfig::role_login_types`)"
        );
        let request = TokenRequest::new("admin", "root").roles(["admin"]);
        let on_admin = grants.resolve_roles(&request).unwrap();
        assert_eq!(on_admin.granted_scopes(), ["admin:*", "articles:write"]);
    }
}
