//! Built-in routes, declared with this crate's own macros in [`SecureRouter`]s so that they show
//! up in `routes()` (audits, docs, OpenAPI) like any handler of the application.
//!
//! One call mounts the account routes on an app (the seeds' `setup_auth(app)`):
//!
//! ```
//! use auth_runtime::prelude::*;
//! use auth_runtime::routes::{self, AccountRoutes};
//!
//! #[public]
//! #[route(GET, "/health")]
//! async fn health() -> &'static str { "ok" }
//!
//! #[derive(SecureRouter)]
//! #[secure_router(routes(health))]
//! struct Api;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = AuthManager::builder()
//!     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
//!     .login_type(LoginType::new("admin").key(SigningKey::hs256("a1", &[2; 32])))
//!     .build()?;
//! // The app's routes and the account routes, checked for collisions first.
//! let app: axum::Router = routes::with_accounts::<Api>(&manager)?.with_state(manager.clone());
//! assert!(AccountRoutes::routes().iter().any(|r| r.path == "/auth/login"));
//! # Ok(()) }
//! ```
//!
//! The account routes need a user store and a session store on the manager
//! ([`AuthManagerBuilder::store`](crate::AuthManagerBuilder::store)); without them they answer
//! 500 (and log why). They issue tokens of login types `user` ([`USER_LOGIN_TYPE`]) and `admin`
//! ([`ADMIN_LOGIN_TYPE`]).
//!
//! [`USER_LOGIN_TYPE`]: crate::accounts::USER_LOGIN_TYPE
//! [`ADMIN_LOGIN_TYPE`]: crate::accounts::ADMIN_LOGIN_TYPE

#[cfg(feature = "accounts")]
mod accounts;
#[cfg(feature = "accounts")]
mod body;
mod jwks;
#[cfg(feature = "accounts")]
mod oauth;
#[cfg(feature = "accounts")]
mod oidc_login;
#[cfg(feature = "accounts")]
mod reset;
#[cfg(feature = "accounts")]
mod users;

use std::fmt;
use std::net::IpAddr;

#[cfg(feature = "accounts")]
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

#[cfg(feature = "accounts")]
pub use accounts::AccountRoutes;
#[cfg(feature = "accounts")]
pub use body::{JsonBody, JsonOrForm, MAX_BODY_BYTES};
pub use jwks::{JWKS_MAX_AGE, JwksRoutes};
#[cfg(feature = "accounts")]
pub use oauth::OAuthError;
#[cfg(feature = "accounts")]
pub use oidc_login::{OidcRoutes, OidcState};
#[cfg(feature = "accounts")]
pub use reset::PasswordResetRoutes;
#[cfg(feature = "accounts")]
pub use users::UserAdminRoutes;

#[cfg(feature = "accounts")]
use crate::SecureRouter;
#[cfg(feature = "accounts")]
use crate::manager::AuthManager;
use crate::manager::AuthState;
use crate::route::RouteInfo;

/// The client's address as the manager resolves it ([`AuthManager::client_addr`]): the TCP
/// peer (`ConnectInfo<SocketAddr>`, present when the app is served with
/// `into_make_service_with_connect_info::<SocketAddr>()`), or what a trusted proxy reported
/// ([`AuthManagerBuilder::trusted_proxies`](crate::AuthManagerBuilder::trusted_proxies));
/// `None` without `ConnectInfo`. Never rejects.
///
/// ```
/// use auth_runtime::prelude::*;
/// use auth_runtime::routes::ClientAddr;
///
/// #[public]
/// #[route(GET, "/whoami")]
/// async fn whoami(ClientAddr(client): ClientAddr) -> String {
///     client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
/// }
/// # #[derive(SecureRouter)]
/// # #[secure_router(routes(whoami))]
/// # struct Api;
/// # fn main() {}
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: AuthState> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(state.auth_manager().client_addr(parts)))
    }
}

/// Two routes axum cannot have in one router (the same method and path, captures named
/// differently, or a capture and a wildcard at one place): one of the app's and one of the
/// built-in ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConflict {
    /// The method.
    pub method: &'static str,
    /// The app's path.
    pub path: &'static str,
    /// The app's handler.
    pub app_handler: &'static str,
    /// The built-in handler it collides with.
    pub builtin_handler: &'static str,
}

impl fmt::Display for RouteConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{} {}` of handler `{}` collides with the built-in account route `{}`; move the handler to another path",
            self.method, self.path, self.app_handler, self.builtin_handler
        )
    }
}

impl std::error::Error for RouteConflict {}

/// The first route of `app` that collides with one of `builtin`.
pub fn find_conflict(app: &[RouteInfo], builtin: &[RouteInfo]) -> Option<RouteConflict> {
    app.iter().find_map(|a| {
        builtin
            .iter()
            .find(|b| auth_grammar::route_conflict(a.method, a.path, b.method, b.path).is_some())
            .map(|b| RouteConflict {
                method: a.method,
                path: a.path,
                app_handler: a.handler,
                builtin_handler: b.handler,
            })
    })
}

#[cfg(feature = "accounts")]
/// The app's router `R` with the account routes, the users administration routes
/// ([`UserAdminRoutes`]) and the password-reset routes ([`PasswordResetRoutes`]) merged in,
/// after checking that none of its routes collides with them (axum would panic at the merge).
pub fn with_accounts<R: SecureRouter>(
    manager: &AuthManager,
) -> Result<axum::Router<R::State>, RouteConflict> {
    for builtin in [
        AccountRoutes::routes(),
        UserAdminRoutes::routes(),
        PasswordResetRoutes::routes(),
    ] {
        if let Some(conflict) = find_conflict(R::routes(), builtin) {
            return Err(conflict);
        }
    }
    Ok(mount(R::router(), manager))
}

#[cfg(feature = "accounts")]
/// Mounts the account routes, the users administration routes ([`UserAdminRoutes`]) and the
/// password-reset routes ([`PasswordResetRoutes`]) on any router (use [`with_accounts`] to get
/// a collision error instead of axum's panic when the app is a `SecureRouter`).
pub fn mount<S>(app: Router<S>, manager: &AuthManager) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    app.merge(AccountRoutes::router().with_state(manager.clone()))
        .merge(UserAdminRoutes::router().with_state(manager.clone()))
        .merge(PasswordResetRoutes::router().with_state(manager.clone()))
}

/// A path prefix for the built-in routes (`/api/v1`) that is not one: it must start with `/`,
/// not end with one, and hold only unreserved path characters (no captures, wildcards, query,
/// `//`, `.` or `..` segments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPrefix {
    /// Why, in one sentence.
    pub reason: &'static str,
}

impl fmt::Display for InvalidPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid route prefix: {}", self.reason)
    }
}

impl std::error::Error for InvalidPrefix {}

/// Checks a prefix for [`with_accounts_at`] and [`builtin_routes_at`]: `""` (none) or
/// `/segment[/segment...]` of letters, digits and `-._~`.
///
/// ```
/// use auth_runtime::routes::check_prefix;
///
/// assert!(check_prefix("/api/v1").is_ok());
/// assert!(check_prefix("").is_ok());
/// assert!(check_prefix("api").is_err());
/// assert!(check_prefix("/api/").is_err());
/// assert!(check_prefix("/{tenant}").is_err());
/// ```
pub fn check_prefix(prefix: &str) -> Result<(), InvalidPrefix> {
    let fail = |reason| Err(InvalidPrefix { reason });
    if prefix.is_empty() {
        return Ok(());
    }
    if !prefix.starts_with('/') {
        return fail("it must start with `/`");
    }
    if prefix.len() > 200 {
        return fail("it is longer than 200 bytes");
    }
    for segment in prefix[1..].split('/') {
        if segment.is_empty() {
            return fail("it must not end with `/` or hold `//`");
        }
        if segment == "." || segment == ".." {
            return fail("it must not hold `.` or `..` segments");
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return fail(
                "segments may hold only letters, digits and `-._~` (no captures or wildcards)",
            );
        }
    }
    Ok(())
}

#[cfg(feature = "accounts")]
/// The routes of [`AccountRoutes`], [`UserAdminRoutes`] and [`PasswordResetRoutes`], each path
/// under `prefix` (see [`check_prefix`]), as [`with_accounts_at`] mounts them: for audits,
/// docs and collision checks.
///
/// The paths are made once per call and live for the rest of the program (a [`RouteInfo`]
/// holds `&'static str`): call it at start-up, not per request.
///
/// ```
/// let routes = auth_runtime::routes::builtin_routes_at("/api/v1")?;
/// assert!(routes.iter().any(|r| r.method == "POST" && r.path == "/api/v1/auth/login"));
/// assert!(routes.iter().all(|r| r.path.starts_with("/api/v1/")));
/// # Ok::<(), auth_runtime::routes::InvalidPrefix>(())
/// ```
pub fn builtin_routes_at(prefix: &str) -> Result<Vec<RouteInfo>, InvalidPrefix> {
    check_prefix(prefix)?;
    let all = [
        AccountRoutes::routes(),
        UserAdminRoutes::routes(),
        PasswordResetRoutes::routes(),
    ];
    Ok(all
        .into_iter()
        .flatten()
        .map(|route| {
            let path: &'static str = if prefix.is_empty() {
                route.path
            } else {
                Box::leak(format!("{prefix}{}", route.path).into_boxed_str())
            };
            RouteInfo { path, ..*route }
        })
        .collect())
}

#[cfg(feature = "accounts")]
/// Why [`with_accounts_at`] cannot mount the built-in routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountError {
    /// The prefix is not a plain path.
    Prefix(InvalidPrefix),
    /// One of the app's routes collides with a built-in one.
    Conflict(RouteConflict),
}

#[cfg(feature = "accounts")]
impl fmt::Display for MountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MountError::Prefix(e) => e.fmt(f),
            MountError::Conflict(e) => e.fmt(f),
        }
    }
}

#[cfg(feature = "accounts")]
impl std::error::Error for MountError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MountError::Prefix(e) => Some(e),
            MountError::Conflict(e) => Some(e),
        }
    }
}

#[cfg(feature = "accounts")]
/// [`with_accounts`] with the built-in routes under `prefix` (`/api/v1` gives
/// `/api/v1/auth/login`, ...); the app's own routes stay where they are declared. The collision
/// check compares the app's routes with the prefixed paths.
///
/// A login type that keeps sessions in cookies sends its refresh cookie to
/// [`CookieConfig::refresh_path`](crate::CookieConfig::refresh_path): set it to
/// `<prefix>/auth/token` (the one-call [`Setup`](crate::setup::Setup) does).
///
/// ```
/// use auth_runtime::prelude::*;
/// use auth_runtime::routes;
///
/// #[public]
/// #[route(GET, "/api/v1/health")]
/// async fn health() -> &'static str { "ok" }
///
/// #[derive(SecureRouter)]
/// #[secure_router(routes(health))]
/// struct Api;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = AuthManager::builder()
///     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
///     .login_type(LoginType::new("admin").key(SigningKey::hs256("a1", &[2; 32])))
///     .build()?;
/// let app: axum::Router =
///     routes::with_accounts_at::<Api>(&manager, "/api/v1")?.with_state(manager.clone());
/// # let _ = app;
/// # Ok(()) }
/// ```
pub fn with_accounts_at<R: SecureRouter>(
    manager: &AuthManager,
    prefix: &str,
) -> Result<axum::Router<R::State>, MountError> {
    let builtin = builtin_routes_at(prefix).map_err(MountError::Prefix)?;
    if let Some(conflict) = find_conflict(R::routes(), &builtin) {
        return Err(MountError::Conflict(conflict));
    }
    Ok(mount_at(R::router(), manager, prefix))
}

#[cfg(feature = "accounts")]
/// [`mount`] with the built-in routes under `prefix` (checked by [`with_accounts_at`]; here an
/// invalid prefix or a collision is axum's panic).
pub fn mount_at<S>(app: Router<S>, manager: &AuthManager, prefix: &str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    if prefix.is_empty() {
        return mount(app, manager);
    }
    app.nest(prefix, mount(Router::new(), manager))
}

#[cfg(all(test, feature = "accounts"))]
mod tests {
    use super::*;

    fn route(handler: &'static str, method: &'static str, path: &'static str) -> RouteInfo {
        RouteInfo {
            handler,
            method,
            path,
            ..AccountRoutes::routes()[0]
        }
    }

    /// Every conflict axum would panic on at the merge is found, not only same-method duplicates.
    #[test]
    fn conflicts_with_the_account_routes() {
        let builtin = AccountRoutes::routes();
        let duplicate = [route("mine", "POST", "/auth/login")];
        let found = find_conflict(&duplicate, builtin).expect("duplicate");
        assert_eq!(found.builtin_handler, "login");
        let fine = [
            route("other", "GET", "/reports/{id}"),
            route("files", "GET", "/auth/{*rest}"),
        ];
        assert_eq!(find_conflict(&fine, builtin), None);
        // Built-in routes with captures (API keys come next) conflict by shape too.
        let keys = [route("delete_key", "DELETE", "/auth/api-keys/{id}")];
        let wildcard = [route("files", "GET", "/auth/api-keys/{*rest}")];
        let found = find_conflict(&wildcard, &keys).expect("capture and wildcard");
        assert_eq!(
            (found.app_handler, found.builtin_handler),
            ("files", "delete_key")
        );
        let renamed = [route("get_key", "GET", "/auth/api-keys/{key_id}")];
        assert!(
            find_conflict(&renamed, &keys).is_some(),
            "capture names differ"
        );
    }
}
