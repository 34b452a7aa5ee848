//! One call from a database URL to a working setup: the store, the `user` and `admin` login
//! types, the seeded admin and the built-in routes (the seeds' `setup_auth(app)`), with every
//! piece still replaceable.
//!
//! ```
//! use auth_runtime::prelude::*;
//! use auth_runtime::setup::Setup;
//!
//! #[requires("reports:read")]
//! #[route(GET, "/api/v1/reports/{id}")]
//! async fn report() -> &'static str { "report" }
//!
//! #[derive(SecureRouter)]
//! #[secure_router(routes(report))]
//! struct Api;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = Setup::new("sqlite::memory:")
//!     .secrets(SigningKey::generate_secret(), SigningKey::generate_secret())
//!     .admin("admin@example.com", Some("a long admin passphrase"))
//!     .prefix("/api/v1")
//!     .role("user", ["reports:read"])
//!     // Anything else, on the builder the setup filled in.
//!     .configure(|builder| builder.registration_limit(5))
//!     .build()
//!     .await?;
//! // The app's routes plus the built-in ones under /api/v1, collisions checked.
//! let app: axum::Router = auth.router::<Api>()?.with_state(auth.manager.clone());
//! assert!(auth.routes().iter().any(|r| r.path == "/api/v1/auth/login"));
//! # let _ = app;
//! # Ok(()) }
//! ```
//!
//! What [`Setup::build`] makes, unless told otherwise:
//!
//! | piece | default | replace with |
//! |---|---|---|
//! | store | [`SqlStore::connect`] on the URL (SQLite or PostgreSQL; migrations applied) | [`Setup::store`] |
//! | login type `user` | HS256, 15 min access, 1 day refresh; bearer header, cookie and `X-API-Key` | [`Setup::login_type`] |
//! | login type `admin` | HS256, 60 min access, 1 day refresh; bearer header | [`Setup::login_type`] |
//! | secrets | random per run (tokens do not survive a restart; a warning is logged) | [`Setup::secrets`] |
//! | roles | `admin`: `admin:*`, `users:*`, granted on login type `admin` only | [`Setup::role`], [`Setup::configure`] (`accounts(...)`) |
//! | CSRF and throttle keys | derived from the `user` secret | [`Setup::configure`] |
//! | shared throttle budgets | in the store on PostgreSQL, in memory on SQLite | [`Setup::configure`] |
//! | cookies | `Secure`, `SameSite=Lax`, refresh cookie at `<prefix>/auth/token` | [`Setup::cookies`] |
//! | admin | none seeded | [`Setup::admin`] |
//! | one login type, admins by role | off | [`Setup::one_login_type`] |
//! | built-in routes | at `/auth/...` and `/admin/...` | [`Setup::prefix`] |
//!
//! [`Setup::configure`] runs last, on the builder with all of the above set, so whatever it
//! sets wins (a `cookies(...)` there replaces the cookie configuration as given, refresh path
//! included: prefer [`Setup::cookies`]).

use std::fmt;
use std::time::Duration;

use crate::accounts::{ADMIN_LOGIN_TYPE, AccountError, AccountsConfig, AdminSeed, USER_LOGIN_TYPE};
use crate::credential::cookie::CookieConfig;
use crate::keyring::{LoginType, SigningKey, TokenLocation};
use crate::manager::{AuthManager, AuthManagerBuilder, ConfigError};
use crate::route::RouteInfo;
use crate::routes::{InvalidPrefix, MountError};
use crate::store::{SqlStore, StoreError};
use crate::{SecureRouter, routes};

type Configure = Box<dyn FnOnce(AuthManagerBuilder) -> AuthManagerBuilder + Send>;

/// The token endpoint's path among the built-in routes (before any prefix).
const DEFAULT_REFRESH_PATH: &str = "/auth/token";

/// Where the store comes from.
enum Source {
    Url(String),
    Store(SqlStore),
}

/// The one-call setup; see the [module docs](self).
#[must_use = "a Setup does nothing until `build().await`"]
pub struct Setup {
    source: Source,
    user_secret: Option<Vec<u8>>,
    admin_secret: Option<Vec<u8>>,
    admin: Option<(String, Option<String>)>,
    prefix: String,
    login_types: Vec<LoginType>,
    roles: Vec<(String, Vec<String>)>,
    cookies: CookieConfig,
    one_login_type: bool,
    configure: Vec<Configure>,
}

impl fmt::Debug for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets and the admin's password are never printed.
        f.debug_struct("Setup")
            .field(
                "store",
                &match &self.source {
                    // The URL may hold a password: never printed.
                    Source::Url(_) => "from a URL",
                    Source::Store(store) => store.backend(),
                },
            )
            .field("admin", &self.admin.as_ref().map(|(email, _)| email))
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Setup {
    /// A setup whose store is [`SqlStore::connect`]`(database_url)` (`sqlite://app.db`,
    /// `sqlite::memory:`, `postgres://...`).
    pub fn new(database_url: impl Into<String>) -> Self {
        Setup {
            source: Source::Url(database_url.into()),
            user_secret: None,
            admin_secret: None,
            admin: None,
            prefix: String::new(),
            login_types: Vec::new(),
            roles: vec![("admin".into(), vec!["admin:*".into(), "users:*".into()])],
            cookies: CookieConfig::default(),
            one_login_type: false,
            configure: Vec::new(),
        }
    }

    /// A setup on a store you connected yourself (it is used as given: accounts, sessions,
    /// API keys, password resets and, on PostgreSQL, throttle budgets).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use auth_runtime::setup::Setup;
    /// use auth_runtime::store::SqlStore;
    ///
    /// let store = SqlStore::connect("sqlite::memory:").await?;
    /// let auth = Setup::store(store).build().await?;
    /// # let _ = auth;
    /// # Ok(()) }
    /// ```
    pub fn store(store: SqlStore) -> Self {
        Setup {
            source: Source::Store(store),
            ..Setup::new("")
        }
    }

    /// The HS256 secrets of login types `user` and `admin` (at least
    /// [`MIN_HMAC_SECRET_LEN`](crate::MIN_HMAC_SECRET_LEN) bytes each;
    /// [`SigningKey::generate_secret`] makes one). Every instance of a deployment needs the same
    /// ones. Without them each run draws random secrets, and tokens die with the process.
    pub fn secrets(mut self, user: impl AsRef<[u8]>, admin: impl AsRef<[u8]>) -> Self {
        self.user_secret = Some(user.as_ref().to_vec());
        self.admin_secret = Some(admin.as_ref().to_vec());
        self
    }

    /// Seeds an admin account with this email unless one exists
    /// ([`AuthManager::ensure_admin`]); with `None` a password is generated and returned once
    /// in [`Auth::admin_seed`]. An account with that email that is not an active admin is
    /// left alone and [`Setup::build`] fails with [`SetupError::Admin`].
    pub fn admin(mut self, email: impl Into<String>, password: Option<&str>) -> Self {
        self.admin = Some((email.into(), password.map(str::to_owned)));
        self
    }

    /// Mounts the built-in routes under this prefix (`/api/v1`); see
    /// [`routes::check_prefix`] for what a prefix may be.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// One login type and one secret, admins told apart by role (fastapi-auth-admin's model):
    /// only login type `user` is registered, the `admin` role is granted on it (an admin's
    /// `/auth/login` token carries the admin scopes), and `admin` becomes an
    /// [alias](AuthManagerBuilder::login_type_alias) of `user` tokens holding role `admin`, so
    /// `/admin/login` (admins only) and the admin routes work unchanged. The admin secret of
    /// [`secrets`](Self::secrets) is then unused.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use auth_runtime::setup::Setup;
    ///
    /// let auth = Setup::new("sqlite::memory:").one_login_type().build().await?;
    /// assert_eq!(auth.manager.login_type_names().collect::<Vec<_>>(), ["user"]);
    /// # Ok(()) }
    /// ```
    pub fn one_login_type(mut self) -> Self {
        self.one_login_type = true;
        self
    }

    /// Replaces a default login type (`user` or `admin`, by name) or adds another one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use auth_runtime::{LoginType, SigningKey};
    /// use auth_runtime::setup::Setup;
    ///
    /// let auth = Setup::new("sqlite::memory:")
    ///     .login_type(
    ///         LoginType::new("user")
    ///             .key(SigningKey::hs256("user-2026", SigningKey::generate_secret().as_bytes()))
    ///             .access_ttl(Duration::from_secs(5 * 60)),
    ///     )
    ///     .build()
    ///     .await?;
    /// # let _ = auth;
    /// # Ok(()) }
    /// ```
    pub fn login_type(mut self, login_type: LoginType) -> Self {
        self.login_types.retain(|l| l.name() != login_type.name());
        self.login_types.push(login_type);
        self
    }

    /// Declares a role ([`AuthManagerBuilder::role`]), replacing the default one of that name
    /// (`admin`: `admin:*` and `users:*`, which the users administration routes need).
    pub fn role<I, S>(mut self, name: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let name = name.into();
        self.roles.retain(|(n, _)| *n != name);
        self.roles
            .push((name, scopes.into_iter().map(Into::into).collect()));
        self
    }

    /// How tokens travel in cookies (default [`CookieConfig::default`]). A refresh path left at
    /// its default `/auth/token` follows the [prefix](Self::prefix).
    ///
    /// ```
    /// use auth_runtime::CookieConfig;
    /// use auth_runtime::setup::Setup;
    ///
    /// // Plain HTTP on localhost only: cookies without `Secure`.
    /// let setup = Setup::new("sqlite::memory:").cookies(CookieConfig::default().secure(false));
    /// # let _ = setup;
    /// ```
    pub fn cookies(mut self, config: CookieConfig) -> Self {
        self.cookies = config;
        self
    }

    /// Changes anything else on the manager's builder, after the setup's defaults are set
    /// (policies, resource loaders, cookies, throttles, a password-reset sender...; roles and
    /// login types through [`Setup::role`] and [`Setup::login_type`], which replace the defaults
    /// by name where the builder would report a duplicate).
    /// Called several times, the closures run in order.
    pub fn configure(
        mut self,
        f: impl FnOnce(AuthManagerBuilder) -> AuthManagerBuilder + Send + 'static,
    ) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    /// Connects the store, builds the manager, seeds the admin. Every failure is a
    /// [`SetupError`] naming the piece; nothing is half-made (the store is closed again).
    pub async fn build(self) -> Result<Auth, SetupError> {
        routes::check_prefix(&self.prefix).map_err(SetupError::Prefix)?;
        let store = match self.source {
            Source::Store(store) => store,
            Source::Url(url) => SqlStore::connect(&url).await.map_err(SetupError::Store)?,
        };
        let secret = |given: Option<Vec<u8>>, name: &str| {
            given.unwrap_or_else(|| {
                tracing::warn!(
                    "no secret given for login type `{name}`: using a random one for this run; tokens will not survive a restart"
                );
                SigningKey::generate_secret().into_bytes()
            })
        };
        let user_secret = secret(self.user_secret, USER_LOGIN_TYPE);
        let admin_secret = secret(self.admin_secret, ADMIN_LOGIN_TYPE);
        let day = Duration::from_secs(24 * 3600);
        let mut login_types = vec![
            LoginType::new(USER_LOGIN_TYPE)
                .key(SigningKey::hs256(USER_LOGIN_TYPE, &user_secret))
                .access_ttl(Duration::from_secs(15 * 60))
                .refresh_ttl(day)
                .token_locations([
                    TokenLocation::Header,
                    TokenLocation::Cookie,
                    TokenLocation::ApiKey,
                ]),
            LoginType::new(ADMIN_LOGIN_TYPE)
                .key(SigningKey::hs256(ADMIN_LOGIN_TYPE, &admin_secret))
                .access_ttl(Duration::from_secs(60 * 60))
                .refresh_ttl(day),
        ];
        if self.one_login_type {
            login_types.retain(|l| l.name() != ADMIN_LOGIN_TYPE);
        }
        for replacement in self.login_types {
            login_types.retain(|l| l.name() != replacement.name());
            login_types.push(replacement);
        }
        let mut builder = AuthManager::builder()
            .throttle_secret(&user_secret)
            .csrf_secret([b"csrf:".as_slice(), &user_secret].concat())
            .cookies(
                if self.cookies.refresh_cookie_path() == DEFAULT_REFRESH_PATH {
                    self.cookies
                        .refresh_path(format!("{}{DEFAULT_REFRESH_PATH}", self.prefix))
                } else {
                    self.cookies
                },
            )
            .accounts(if self.one_login_type {
                AccountsConfig::default()
            } else {
                AccountsConfig::default().role_login_types("admin", [ADMIN_LOGIN_TYPE])
            });
        if self.one_login_type {
            builder = builder.login_type_alias(ADMIN_LOGIN_TYPE, USER_LOGIN_TYPE, "admin");
        }
        if store.backend() == "postgres" {
            builder = builder.throttle_store(store.clone());
        }
        for login_type in login_types {
            builder = builder.login_type(login_type);
        }
        for (name, scopes) in self.roles {
            builder = builder.role(name, scopes);
        }
        builder = builder.store(store.clone());
        for f in self.configure {
            builder = f(builder);
        }
        let manager = match builder.build() {
            Ok(manager) => manager,
            Err(e) => {
                store.close().await;
                return Err(SetupError::Config(e));
            }
        };
        let admin_seed = match self.admin {
            None => None,
            Some((email, password)) => {
                match manager.ensure_admin(&email, password.as_deref()).await {
                    Ok(AdminSeed::NotAdmin) => {
                        store.close().await;
                        return Err(SetupError::Admin(AccountError::WrongState(
                            "the admin email names an account that is not an active admin: choose another email",
                        )));
                    }
                    Ok(seed) => Some(seed),
                    Err(e) => {
                        store.close().await;
                        return Err(SetupError::Admin(e));
                    }
                }
            }
        };
        let mut routes = routes::builtin_routes_at(&self.prefix).map_err(SetupError::Prefix)?;
        routes.extend_from_slice(routes::JwksRoutes::routes());
        Ok(Auth {
            manager,
            admin_seed,
            prefix: self.prefix,
            routes,
        })
    }
}

/// What [`Setup::build`] made.
#[derive(Debug)]
#[non_exhaustive]
pub struct Auth {
    /// The manager: the router state of the built-in routes and of yours.
    pub manager: AuthManager,
    /// What happened to the admin of [`Setup::admin`] (`None` when none was asked for); a
    /// generated password is in [`AdminSeed::Created`], to show once.
    pub admin_seed: Option<AdminSeed>,
    prefix: String,
    routes: Vec<RouteInfo>,
}

impl Auth {
    /// The built-in routes as mounted: under the prefix, and `/.well-known/jwks.json` at the
    /// root.
    pub fn routes(&self) -> &[RouteInfo] {
        &self.routes
    }

    /// The prefix of the built-in routes (`""` for none).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The app's router `R` (at its declared paths) with the built-in routes under the prefix,
    /// after checking that none of `R`'s routes collides with them. Give it its state with
    /// `.with_state(...)` (for `R::State = AuthManager`, `auth.manager.clone()`).
    ///
    /// `/.well-known/jwks.json` ([`JwksRoutes`](routes::JwksRoutes)) is mounted too, at the
    /// root whatever the prefix.
    pub fn router<R: SecureRouter>(&self) -> Result<axum::Router<R::State>, MountError> {
        if let Some(conflict) = routes::find_conflict(R::routes(), &self.routes) {
            return Err(MountError::Conflict(conflict));
        }
        Ok(routes::mount_at(R::router(), &self.manager, &self.prefix)
            .merge(routes::JwksRoutes::router().with_state(self.manager.clone())))
    }
}

/// Why [`Setup::build`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SetupError {
    /// The store could not be connected or migrated.
    Store(StoreError),
    /// The manager's configuration is invalid (a short secret, a duplicate login type, ...).
    Config(ConfigError),
    /// The admin could not be seeded.
    Admin(AccountError),
    /// The prefix is not a plain path.
    Prefix(InvalidPrefix),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Store(e) => write!(f, "the store: {e}"),
            SetupError::Config(e) => write!(f, "the configuration: {e}"),
            SetupError::Admin(e) => write!(f, "seeding the admin: {e}"),
            SetupError::Prefix(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SetupError::Store(e) => Some(e),
            SetupError::Config(e) => Some(e),
            SetupError::Admin(e) => Some(e),
            SetupError::Prefix(e) => Some(e),
        }
    }
}
