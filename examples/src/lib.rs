//! The reference server of `docs/architecture.md` §5, as a library so tests can drive it
//! in-process.
//!
//! Run it with `cargo run -p examples --bin server`. Accounts, sessions and revocations live in
//! the database named by `DATABASE_URL` (default: an SQLite file, `./data/auth.db`, created with
//! its schema on first start; or `postgres://...`). Throttle budgets live in Redis when
//! `AUTH_REDIS_URL` is set, else in PostgreSQL when the database is PostgreSQL (shared by every
//! instance either way), else in memory.

pub mod oidc;
pub mod opaque;

use std::time::Duration;

use auth_runtime::accounts::{AccountsConfig, AdminSeed, ResetMail, ResetSendFuture, ResetSender};
use auth_runtime::federation::ExternalIssuer;
use auth_runtime::policy::{Attr, LoadedResource, PolicyRule};
use auth_runtime::prelude::*;
use auth_runtime::proxy::{Cidr, ForwardedHeader, parse_cidr_list};
use auth_runtime::routes::{self, RouteConflict};
use auth_runtime::store::{Account, SqlStore, StoreError, UserStore};
use auth_runtime::throttle::RedisThrottleStore;
use auth_runtime::{
    AuthManagerBuilder, ConfigError, CookieConfig, HierarchicalScopes, SessionConfig, TokenLocation,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

/// The issuer of every token of the reference server.
pub const ISSUER: &str = "auth-demo";

/// The default database: an SQLite file next to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/auth.db";

/// Settings read from the environment (see [`Settings::from_env`]).
#[derive(Clone)]
pub struct Settings {
    /// `AUTH_ADDR`, default `127.0.0.1:3000`.
    pub addr: String,
    /// `DATABASE_URL`, default [`DEFAULT_DATABASE_URL`].
    pub database_url: String,
    /// `AUTH_USER_SECRET`: HS256 secret of login type `user`.
    pub user_secret: Vec<u8>,
    /// `AUTH_ADMIN_SECRET`: HS256 secret of login type `admin`.
    pub admin_secret: Vec<u8>,
    /// `AUTH_ADMIN_EMAIL`, default [`DEFAULT_ADMIN_EMAIL`].
    pub admin_email: String,
    /// `AUTH_ADMIN_PASSWORD`; without it a random password is generated and printed once.
    pub admin_password: Option<String>,
    /// `AUTH_TRUSTED_PROXIES`: comma-separated networks (CIDR) of reverse proxies whose
    /// forwarding header gives the client's address; default none.
    pub trusted_proxies: Vec<Cidr>,
    /// `AUTH_FORWARDED_HEADER`: the header those proxies write, `x-forwarded-for` (default) or
    /// `forwarded` (RFC 7239).
    pub forwarded_header: ForwardedHeader,
    /// `AUTH_REGISTER_LIMIT`: registrations per client address per 10 minutes; default
    /// [`DEFAULT_REGISTER_LIMIT`], `0` = no limit.
    pub register_limit: u32,
    /// `AUTH_REDIS_URL`: keep the throttle budgets in this Redis (shared by every instance);
    /// without it they are kept in the database when it is PostgreSQL, in memory with SQLite.
    pub redis: Option<RedisThrottleStore>,
    /// `AUTH_COOKIE_SECURE`: `false` drops `Secure` from the session cookies, for local HTTP
    /// only; default `true`.
    pub cookie_secure: bool,
    /// The PKCS#8 PEM of the `service` login type's Ed25519 key: the file named by
    /// `AUTH_SERVICE_KEY`, else `service_key.pem` in the data directory (beside an SQLite
    /// database, or `./data`), generated on first start (mode 0600) and kept.
    pub service_key_pem: String,
    /// `AUTH_OIDC_*`: OpenID Connect sign-in, when configured ([`oidc::from_vars`]).
    pub oidc: Option<oidc::OidcSettings>,
    /// `AUTH_EXTERNAL_ISSUER` and `AUTH_EXTERNAL_AUDIENCE`: an identity provider whose access
    /// tokens are accepted as login type [`PARTNER`]; none by default.
    pub external_issuer: Option<ExternalIssuerSettings>,
}

/// The login type of the external issuer's callers (`AUTH_EXTERNAL_ISSUER`).
pub const PARTNER: &str = "partner";

/// The role whose scopes bound what an external issuer's `scope` claim grants.
pub const PARTNER_ROLE: &str = "reporter";

/// An external issuer of the reference server (docs/architecture.md §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIssuerSettings {
    /// `AUTH_EXTERNAL_ISSUER`: the issuer URL; its keys are named by
    /// `<issuer>/.well-known/openid-configuration`, and its tokens carry it as `iss`.
    pub issuer: String,
    /// `AUTH_EXTERNAL_AUDIENCE`: the `aud` its tokens must carry (required with an issuer).
    pub audience: String,
}

impl ExternalIssuerSettings {
    /// Reads the two variables: both or neither; the issuer an `https` (or `http`) URL.
    fn from_vars(
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Result<Option<Self>, SettingsError> {
        let error = |variable: &'static str, reason: &str| SettingsError {
            variable,
            reason: reason.to_owned(),
        };
        match (issuer, audience) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(error(
                "AUTH_EXTERNAL_ISSUER",
                "AUTH_EXTERNAL_AUDIENCE is set but no issuer is",
            )),
            (Some(_), None) => Err(error(
                "AUTH_EXTERNAL_AUDIENCE",
                "an external issuer needs the audience its tokens must carry",
            )),
            (Some(issuer), Some(audience)) => {
                let issuer = issuer.trim().to_owned();
                let url = issuer
                    .strip_prefix("https://")
                    .or_else(|| issuer.strip_prefix("http://"));
                if url.is_none_or(|rest| rest.is_empty() || rest.starts_with('/')) {
                    return Err(error(
                        "AUTH_EXTERNAL_ISSUER",
                        "not an https:// URL (the issuer's `iss`)",
                    ));
                }
                Ok(Some(ExternalIssuerSettings {
                    issuer,
                    audience: audience.trim().to_owned(),
                }))
            }
        }
    }
}

/// The `service` login type's key: read from `path`, or generated into it (mode 0600) when it
/// does not exist yet.
pub fn load_or_create_service_key(path: &std::path::Path) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Ok(pem) => return Ok(pem),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("cannot read {}: {}", path.display(), e.kind()));
        }
        Err(_) => {}
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {}", dir.display(), e.kind()))?;
    }
    let pem = SigningKey::generate_ed25519_pem();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {}", path.display(), e.kind()))?;
    std::io::Write::write_all(&mut file, pem.as_bytes())
        .map_err(|e| format!("cannot write {}: {}", path.display(), e.kind()))?;
    tracing::info!(
        "generated the service login type's key in {}",
        path.display()
    );
    Ok(pem)
}

/// Where data files live: beside an SQLite database, else `./data`.
fn data_dir(database_url: &str) -> std::path::PathBuf {
    let path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .filter(|p| !p.starts_with(":memory:"))
        .map(|p| p.split('?').next().unwrap_or_default());
    match path.map(std::path::Path::new).and_then(|p| p.parent()) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("./data"),
    }
}

/// Registrations per client address per 10 minutes when `AUTH_REGISTER_LIMIT` is not set.
pub const DEFAULT_REGISTER_LIMIT: u32 = 20;

/// A setting with a value that cannot be used: the server does not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The environment variable.
    pub variable: &'static str,
    /// What is wrong with its value (never the value of a secret or URL).
    pub reason: String,
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.variable, self.reason)
    }
}

impl std::error::Error for SettingsError {}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("addr", &self.addr)
            .field("admin_email", &self.admin_email)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Reads the settings from the environment; a missing secret is replaced by a random one,
    /// with a warning (tokens then stop working at the next restart). A value that cannot be
    /// used is an error naming the variable.
    pub fn from_env() -> Result<Self, SettingsError> {
        Settings::from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read through `lookup`.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("settings-doc-{}", std::process::id()));
    /// let database = format!("sqlite://{}/auth.db", dir.display());
    /// let lookup = |name: &str| match name {
    ///     "DATABASE_URL" => Some(database.clone()),
    ///     "AUTH_TRUSTED_PROXIES" => Some("10.0.0.0/8, fd00::/8".to_owned()),
    ///     "AUTH_REGISTER_LIMIT" => Some("5".to_owned()),
    ///     _ => None,
    /// };
    /// let settings = examples::Settings::from_vars(lookup)?;
    /// assert_eq!(settings.trusted_proxies.len(), 2);
    /// assert_eq!(settings.register_limit, 5);
    /// // The service key was generated beside the database, and is kept.
    /// assert_eq!(std::fs::read_to_string(dir.join("service_key.pem")).unwrap(), settings.service_key_pem);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    ///
    /// let bad = examples::Settings::from_vars(|name| {
    ///     (name == "AUTH_REGISTER_LIMIT").then(|| "many".to_owned())
    /// });
    /// assert_eq!(bad.unwrap_err().variable, "AUTH_REGISTER_LIMIT");
    /// # Ok::<(), examples::SettingsError>(())
    /// ```
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let secret = |name: &str| match var(name) {
            Some(s) => s.into_bytes(),
            None => {
                tracing::warn!(
                    "{name} is not set: using a random secret for this run; tokens will not survive a restart"
                );
                random_secret()
            }
        };
        let error = |variable: &'static str, reason: String| SettingsError { variable, reason };
        let trusted_proxies = match var("AUTH_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => {
                parse_cidr_list(&list).map_err(|e| error("AUTH_TRUSTED_PROXIES", e.to_string()))?
            }
        };
        let forwarded_header = match var("AUTH_FORWARDED_HEADER") {
            None => ForwardedHeader::default(),
            Some(h) => h.parse().map_err(|e| error("AUTH_FORWARDED_HEADER", e))?,
        };
        let register_limit = match var("AUTH_REGISTER_LIMIT") {
            None => DEFAULT_REGISTER_LIMIT,
            Some(n) => n.trim().parse().map_err(|_| {
                error(
                    "AUTH_REGISTER_LIMIT",
                    format!(
                        "`{n}` is not a whole number from 0 (no limit) to {}",
                        u32::MAX
                    ),
                )
            })?,
        };
        let redis = match var("AUTH_REDIS_URL") {
            None => None,
            Some(url) => Some(
                RedisThrottleStore::open(url.trim())
                    .map_err(|e| error("AUTH_REDIS_URL", e.to_string()))?,
            ),
        };
        let cookie_secure = match var("AUTH_COOKIE_SECURE").as_deref().map(str::trim) {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(error(
                    "AUTH_COOKIE_SECURE",
                    format!("`{other}` is neither `true` nor `false`"),
                ));
            }
        };
        let external_issuer = ExternalIssuerSettings::from_vars(
            var("AUTH_EXTERNAL_ISSUER"),
            var("AUTH_EXTERNAL_AUDIENCE"),
        )?;
        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        let service_key_pem = match var("AUTH_SERVICE_KEY") {
            Some(path) => std::fs::read_to_string(path.trim()).map_err(|e| {
                error(
                    "AUTH_SERVICE_KEY",
                    format!("cannot read the file: {}", e.kind()),
                )
            })?,
            None => load_or_create_service_key(&data_dir(&database_url).join("service_key.pem"))
                .map_err(|e| error("AUTH_SERVICE_KEY", e))?,
        };
        Ok(Settings {
            addr: var("AUTH_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into()),
            database_url,
            user_secret: secret("AUTH_USER_SECRET"),
            admin_secret: secret("AUTH_ADMIN_SECRET"),
            admin_email: var("AUTH_ADMIN_EMAIL").unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.into()),
            admin_password: var("AUTH_ADMIN_PASSWORD"),
            trusted_proxies,
            forwarded_header,
            register_limit,
            redis,
            cookie_secure,
            service_key_pem,
            oidc: oidc::from_vars(var)?,
            external_issuer,
        })
    }
}

/// The seeded admin's email when `AUTH_ADMIN_EMAIL` is not set.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@localhost";

/// 32 random bytes, hex-encoded (64 ASCII bytes).
pub fn random_secret() -> Vec<u8> {
    let bytes: [u8; 32] = rand::random();
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .into_bytes()
}

/// The login types of the reference server: `user` (15 min) and `admin` (60 min), issuer
/// `auth-demo`, no audience, 30 s leeway, refresh tokens valid one day; accounts, sessions and
/// revocations in `store`.
pub fn manager(settings: &Settings, store: SqlStore) -> Result<AuthManager, ConfigError> {
    builder(settings, store).build()
}

/// [`manager`]'s configuration, for tests that change a setting before building.
///
/// Throttle budgets: in [`Settings::redis`] if set, else in `store` when it is PostgreSQL
/// (shared by every instance on the database), else in memory. Throttle keys are derived from
/// the `user` login type's secret, which every instance of a deployment shares.
pub fn builder(settings: &Settings, store: SqlStore) -> AuthManagerBuilder {
    let day = Duration::from_secs(24 * 3600);
    let users = store.clone();
    let builder = AuthManager::builder()
        .trusted_proxies(settings.trusted_proxies.iter().map(ToString::to_string))
        .forwarded_header(settings.forwarded_header)
        .registration_limit(settings.register_limit)
        .throttle_secret(&settings.user_secret)
        // CSRF tokens, the same on every instance; a key of its own, derived from the same
        // shared secret.
        .csrf_secret([b"csrf:".as_slice(), &settings.user_secret].concat())
        .cookies(CookieConfig::default().secure(settings.cookie_secure));
    let builder = match &settings.redis {
        Some(redis) => builder.throttle_store(redis.clone()),
        None if store.backend() == "postgres" => builder.throttle_store(store.clone()),
        None => builder,
    };
    // docs/architecture.md §5 (our own addition): an external issuer's callers are login type
    // `partner`, with the scopes of their `scope` claim that role `reporter` has.
    let builder = match &settings.external_issuer {
        Some(external) => builder.external_issuer(
            PARTNER,
            ExternalIssuer::discovery(&external.issuer)
                .audience(&external.audience)
                .scopes_within_role(PARTNER_ROLE),
        ),
        None => builder,
    };
    builder
        .login_type(
            LoginType::new("user")
                .key(SigningKey::hs256("user", &settings.user_secret))
                .access_ttl(Duration::from_secs(15 * 60))
                .refresh_ttl(day)
                .issuer(ISSUER)
                .leeway(Duration::from_secs(30))
                // `X-API-Key` is accepted wherever a `user` login is, and browsers may keep
                // `user` sessions in cookies.
                .token_locations([
                    TokenLocation::Header,
                    TokenLocation::Cookie,
                    TokenLocation::ApiKey,
                ]),
        )
        .login_type(
            LoginType::new("admin")
                .key(SigningKey::hs256("admin", &settings.admin_secret))
                .access_ttl(Duration::from_secs(60 * 60))
                .refresh_ttl(day)
                .issuer(ISSUER)
                .leeway(Duration::from_secs(30)),
        )
        .login_type(
            // Service accounts (client credentials): Ed25519, 10 min, no refresh tokens; their
            // API keys too.
            LoginType::new("service")
                .key(SigningKey::ed25519_private_pem(
                    "service",
                    settings.service_key_pem.as_bytes(),
                ))
                .access_ttl(Duration::from_secs(10 * 60))
                .issuer(ISSUER)
                .leeway(Duration::from_secs(30))
                .token_locations([TokenLocation::Header, TokenLocation::ApiKey]),
        )
        .scope_validator(HierarchicalScopes::new())
        // docs/architecture.md §5: the scopes each role grants; `#[roles(...)]` checks them.
        .role("user", ["reports:read", "billing:read"])
        .role("editor", ["reports:*"])
        .role("admin", ["admin:*", "users:*", "reports:*"])
        .role("reporter", ["reports:read"])
        // docs/architecture.md §5: role `admin` is granted on login type `admin` alone, so an
        // admin who signs in at /auth/login gets a `user` token without `admin:*` or `users:*`.
        .accounts(AccountsConfig::default().role_login_types("admin", ["admin"]))
        .policies(policies())
        // The account a ban acts on, loaded once: its id feeds the no-self-ban rule, the
        // account goes to the handler.
        .resource_loader("users", move |params: Vec<(String, String)>| {
            let users = users.clone();
            async move {
                let Some((_, id)) = params.iter().find(|(k, _)| k == "user_id") else {
                    return Ok(None);
                };
                let account = users.user_by_id(id).await?;
                Ok::<_, StoreError>(account.map(|a| {
                    LoadedResource::new(json!({ "id": a.id, "status": a.status.as_str() }))
                        .with_value(a)
                }))
            }
        })
        .session_config(SessionConfig::default().idle_timeout(day))
        // docs/architecture.md §5: no mail here; the reset link goes to the log.
        .password_reset_sender(LogResetLinks::new(&settings.addr))
        .store(store)
}

/// The reference server's [`ResetSender`]: it has no mailer, so it logs each password-reset
/// link (`http://<addr>/reset?token=...`) at info level, for the operator to pass on. The only
/// place a reset token is ever logged; the account is named by id, never by email.
#[derive(Debug, Clone)]
pub struct LogResetLinks {
    base: String,
}

impl LogResetLinks {
    /// Links to `http://<addr>`.
    pub fn new(addr: &str) -> Self {
        LogResetLinks {
            base: format!("http://{addr}"),
        }
    }

    /// The link of one mail.
    pub fn link(&self, mail: &ResetMail) -> String {
        format!("{}/reset?token={}", self.base, mail.token)
    }
}

impl ResetSender for LogResetLinks {
    fn send<'a>(&'a self, mail: &'a ResetMail) -> ResetSendFuture<'a> {
        Box::pin(async move {
            tracing::info!(
                account = %mail.account,
                expires_at = mail.expires_at,
                "password reset link (in place of a mail): {}",
                self.link(mail)
            );
            Ok(())
        })
    }
}

/// The reference server's policies (docs/architecture.md §5).
pub fn policies() -> Vec<PolicyRule> {
    vec![
        PolicyRule::allow("admins-ban-users")
            .actions(["users:ban"])
            .resources(["users"])
            .scopes(["admin:*"])
            .when(Attr::env("method").eq("POST"))
            .reason("admins may ban users"),
        // Compares the *loaded* account's id, so `007`, `+7` or `7%20` cannot sidestep it; if
        // the id were missing, the rule would apply (deny rules fail closed).
        PolicyRule::deny("no-self-ban")
            .actions(["users:ban"])
            .resources(["users"])
            .when(Attr::subject("sub").eq(Attr::resource("id")))
            .reason("an admin cannot ban themselves"),
        PolicyRule::allow("active-accounts-read-billing")
            .actions(["billing:read"])
            .resources(["billing"])
            .evaluator(|ctx| ctx.subject("account_status") == Some(&json!("active")))
            .reason("the account is active"),
    ]
}

/// Creates the seeded admin unless it exists. Returns the generated password when one was
/// made (the caller prints it once). An account with that email that is no admin is an
/// error: the operator named an email that someone else holds.
pub async fn seed_admin(
    manager: &AuthManager,
    settings: &Settings,
) -> Result<Option<String>, auth_runtime::accounts::AccountError> {
    match manager
        .ensure_admin(&settings.admin_email, settings.admin_password.as_deref())
        .await?
    {
        AdminSeed::Created { generated_password } => Ok(generated_password),
        AdminSeed::NotAdmin => Err(auth_runtime::accounts::AccountError::WrongState(
            "AUTH_ADMIN_EMAIL names an account that is not an active admin: choose another email",
        )),
        _ => Ok(None),
    }
}

/// Liveness probe.
#[public]
#[route(GET, "/health")]
pub async fn health() -> &'static str {
    "ok"
}

/// One report.
#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
pub async fn get_report(Path(id): Path<u64>) -> Json<Value> {
    Json(json!({ "id": id }))
}

/// Creates a report.
#[requires("reports:write")]
#[route(POST, "/reports")]
pub async fn create_report(user: Principal) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({ "created_by": user.subject() })),
    )
}

/// The admin dashboard: admin tokens only.
#[login_type("admin")]
#[route(GET, "/admin/dashboard")]
pub async fn admin_dashboard(admin: Principal) -> Json<Value> {
    Json(json!({ "message": "Welcome Admin", "sub": admin.subject() }))
}

/// Bans an account: it is deactivated and every token it holds stops working. The policy has
/// already refused non-admins and self-bans; an unknown account is a 404 (from the loader).
#[login_type("admin")]
#[policy(action = "users:ban", resource = "users")]
#[route(POST, "/admin/users/{user_id}/ban")]
pub async fn ban_user(
    State(manager): State<AuthManager>,
    Resource(account): Resource<Account>,
) -> Result<Json<Value>, auth_runtime::accounts::AccountError> {
    let banned = manager.deactivate(&account.id).await?;
    Ok(Json(
        json!({ "id": banned.id, "email": banned.email, "status": "deactivated" }),
    ))
}

/// Billing overview: only for callers whose `account_status` claim is `active`.
#[policy(action = "billing:read", resource = "billing")]
#[route(GET, "/billing")]
pub async fn billing(user: Principal) -> Json<Value> {
    Json(json!({ "account": user.subject(), "balance": 0 }))
}

/// Every route of the reference server.
#[derive(SecureRouter)]
#[secure_router(routes(health, get_report, create_report, admin_dashboard, ban_user, billing))]
pub struct Api;

/// Serves `app` with `ConnectInfo`, so that policies see `client_ip` and login throttling the
/// client's address.
pub async fn serve(listener: tokio::net::TcpListener, app: axum::Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}

/// The whole application: the routes above, the built-in account routes and
/// `/.well-known/jwks.json` (the `service` login type's public key).
pub fn app(manager: AuthManager) -> Result<axum::Router, RouteConflict> {
    app_with(manager, None)
}

/// [`app`], plus OpenID Connect sign-in (`/auth/oidc/login`, `/auth/oidc/callback`) when
/// `oidc` is given (see [`oidc_sign_in`]).
pub fn app_with(
    manager: AuthManager,
    oidc: Option<auth_runtime::oidc::OidcSignIn>,
) -> Result<axum::Router, RouteConflict> {
    let app = routes::with_accounts::<Api>(&manager)?
        .merge(routes::JwksRoutes::router())
        .with_state(manager.clone());
    Ok(match oidc {
        None => app,
        Some(oidc) => app.merge(routes::OidcRoutes::router().with_state(routes::OidcState {
            manager,
            oidc: std::sync::Arc::new(oidc),
        })),
    })
}

/// The reference server's OpenID Connect sign-in from `AUTH_OIDC_*`: the provider's discovery
/// document and keys fetched through `http`, groups mapped by `AUTH_OIDC_GROUP_ROLES`, the
/// browser's record sealed with a key derived from the `user` secret (the same on every
/// instance), cookies `Secure` unless `AUTH_COOKIE_SECURE=false`.
pub async fn oidc_sign_in(
    settings: &Settings,
    oidc: &oidc::OidcSettings,
    http: impl auth_runtime::oidc::OidcHttp,
) -> Result<auth_runtime::oidc::OidcSignIn, auth_runtime::oidc::OidcError> {
    let client = auth_runtime::oidc::OidcClient::new(&oidc.client_id, &oidc.redirect_url);
    Ok(
        auth_runtime::oidc::OidcSignIn::discover(&oidc.issuer, client, &oidc.client_secret, http)
            .await?
            .cookie_key([b"oidc:".as_slice(), &settings.user_secret].concat())
            .cookie_secure(settings.cookie_secure)
            .group_roles(oidc.group_roles.clone()),
    )
}
