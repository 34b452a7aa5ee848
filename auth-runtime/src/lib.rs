//! Secure axum handlers with attribute macros.
//!
//! Annotate a handler and the macro inserts an extractor that verifies the caller's token and
//! checks its login type, scopes and policy **before** any other extractor and the body run.
//! Mistakes (a malformed scope, a forgotten attribute, two handlers on one route) fail to
//! compile.
//!
//! ```
//! use auth_runtime::prelude::*;
//! use axum::extract::Path;
//!
//! #[requires("reports:read")]
//! #[route(GET, "/reports/{id}")]
//! async fn get_report(Path(id): Path<u64>, user: Principal) -> String {
//!     format!("report {id} for {}", user.subject())
//! }
//!
//! #[login_type("admin")]
//! #[route(GET, "/admin/dashboard")]
//! async fn dashboard() -> &'static str { "welcome" }
//!
//! #[public]
//! #[route(GET, "/health")]
//! async fn health() -> &'static str { "ok" }
//!
//! #[derive(SecureRouter)]
//! #[secure_router(routes(get_report, dashboard, health))]
//! struct Api;
//!
//! let manager = AuthManager::builder()
//!     .login_type(LoginType::new("user").key(SigningKey::hs256("user-1", &[1; 32])))
//!     .login_type(LoginType::new("admin").key(SigningKey::hs256("admin-1", &[2; 32])))
//!     .build()
//!     .expect("valid configuration");
//! let app: axum::Router = Api::router().with_state(manager);
//! ```
//!
//! Each attribute ([`requires`], [`login_type`], [`roles`], [`authenticated`],
//! [`policy`](macro@policy), [`public`], [`route`]) and the
//! [`SecureRouter`](derive@SecureRouter) derive has its own page: its arguments, what it checks,
//! how it stacks with the others and the compile errors it gives.
//!
//! The state of a `SecureRouter` defaults to [`AuthManager`]; with `state = AppState`, make the
//! manager reachable through [`FromRef`](axum::extract::FromRef).
//!
//! # Accounts, sessions and revocation
//!
//! With a store ([`store::SqlStore`] on SQLite or PostgreSQL, or your own [`store::UserStore`]
//! and [`store::SessionStore`]) set by [`AuthManagerBuilder::store`], every token belongs to a
//! session: refresh tokens rotate once per use ([`AuthManager::refresh`]), and logout, password
//! change and bans revoke tokens on every instance sharing the store within a staleness bound
//! (see [`SessionConfig`]). [`routes::with_accounts`] mounts the built-in account routes
//! (registration awaiting approval, password sign-in, the token endpoint, logout, `me`, password
//! change, password reset by a mailed single-use token, the approval queue); [`accounts`] has
//! the same operations as methods, for your own
//! handlers. Passwords are argon2id on a bounded blocking pool ([`PasswordHasher`]); sign-ins,
//! password changes and registrations are throttled per account and client address
//! ([`throttle::LoginThrottle`], in memory or shared through the store), and the client address honours
//! trusted reverse proxies ([`proxy`]).
//!
//! # Design notes
//! - The `Authorization` scheme is matched case-insensitively (`bearer` works), as RFC 7235
//!   requires; two `Authorization` headers are a 400.
//! - [`HierarchicalScopes`] has no action hierarchy by default (`edit` does not imply `read`
//!   until you say so), unlike fastapi-views: least privilege first.
//! - A token's login type is found from its `kid` (or `login_type` claim) and the token is
//!   verified with that login type's own keys only; a valid token of another login type is
//!   rejected as a login-type mismatch, an invalid one as invalid.

// Without accounts, the account grants (roles → scopes, the accounts configuration) are built
// but never read: a token-only app has no account to grant.
#![cfg_attr(not(feature = "accounts"), allow(dead_code, unreachable_pub))]

// The built-in routes use this crate's own macros, which expand to `::auth_runtime::...`.
extern crate self as auth_runtime;

// The rooms, top to bottom (docs/architecture.md has the picture): the axum-facing layer
// (`handler`, `extract`, `routes`) reaches the `manager` façade through the router state; the
// manager holds the components and lends them to the request `pipeline`; the components
// (`keyring`, `sessions`, `access`, `grants`, `accounts`, `credential`, ...) never import the
// manager.
mod access;
#[cfg(feature = "accounts")]
pub mod accounts;
mod checks;
mod clock;
mod credential;
mod error;
mod events;
mod extract;
#[cfg(feature = "federation")]
pub mod federation;
mod grants;
mod guard;
mod handler;
mod keyring;
mod manager;
pub mod oidc;
#[cfg(feature = "accounts")]
mod password;
mod pipeline;
pub mod policy;
mod principal;
pub mod proxy;
mod registry;
mod route;
pub mod routes;
mod scope;
mod sessions;
#[cfg(all(feature = "accounts", any(feature = "sqlite", feature = "postgres")))]
pub mod setup;
pub mod store;
#[cfg(feature = "accounts")]
pub mod throttle;

pub use credential::cookie::{CookieConfig, SameSite, SessionCookies};
pub use credential::custom::{CredentialVerifier, VerifiedCaller, VerifyFuture};
pub use error::{AuthError, ErrorRenderer, InvalidToken, MissingScopes, Problem, ProblemJson};
pub use extract::{CurrentUser, Resource, UserLoader};
pub use handler::{Guard, HandlerResponse, SecuredHandler};
// Re-exported at the root (hidden) so that compile errors name them `Routable`, `spec_of`, ...
// instead of with the path of the hidden module.
#[doc(hidden)]
pub use handler::{Routable, add_route, spec_of};
pub use keyring::{
    BearerToken, IntoScopes, KeyError, LoginType, MAX_TOKEN_LEN, MIN_HMAC_SECRET_LEN,
    RESERVED_CLAIMS, SigningKey, TokenError, TokenLocation, TokenPair, TokenRequest,
};
pub use manager::{AuthManager, AuthManagerBuilder, AuthState, ConfigError};
#[cfg(feature = "accounts")]
pub use password::{PasswordCheck, PasswordError, PasswordHasher, PasswordPolicy};
pub use principal::{CredentialKind, Principal};
pub use registry::Registry;
pub use route::{GroupRequirement, PolicyRequirement, Requirement, RouteInfo};
pub use scope::{
    ActionHierarchy, GrantedScopes, HierarchicalScopes, ScopeRequirement, ScopeValidator,
    SimpleScopes,
};
pub use sessions::{SessionConfig, SessionInfo};

#[doc = include_str!("../docs/macros/authenticated.md")]
pub use auth_macros::authenticated;
#[doc = include_str!("../docs/macros/login_type.md")]
pub use auth_macros::login_type;
#[doc = include_str!("../docs/macros/policy.md")]
pub use auth_macros::policy;
#[doc = include_str!("../docs/macros/public.md")]
pub use auth_macros::public;
#[doc = include_str!("../docs/macros/requires.md")]
pub use auth_macros::requires;
#[doc = include_str!("../docs/macros/roles.md")]
pub use auth_macros::roles;
#[doc = include_str!("../docs/macros/route.md")]
pub use auth_macros::route;

/// Declares the application's login types, scopes, policy actions and resources.
///
/// Name it in a router with `#[secure_router(registry = AppRegistry, routes(...))]` and every
/// literal in the `requires`, `login_type` and `policy` attributes of its handlers must be
/// declared, or the crate does not compile.
///
/// ```
/// use auth_runtime::prelude::*;
///
/// auth_runtime::registry! {
///     /// The names this app uses.
///     pub struct AppRegistry {
///         login_types: ["user", "admin"],
///         scopes: ["reports:read", "reports:write"],
///         actions: ["users:ban"],
///         resources: ["users"],
///     }
/// }
///
/// #[requires("reports:read")]
/// #[route(GET, "/reports/{id}")]
/// async fn get_report() {}
///
/// #[derive(SecureRouter)]
/// #[secure_router(registry = AppRegistry, routes(get_report))]
/// struct Api;
///
/// use auth_runtime::Registry;
/// assert_eq!(AppRegistry::SCOPES, ["reports:read", "reports:write"]);
/// ```
pub use auth_macros::registry;

/// A set of secured routes, implemented by `#[derive(SecureRouter)]`.
///
/// The derive also adds inherent `router()` and `routes()` functions, so calling them does not
/// need this trait in scope.
pub trait SecureRouter {
    /// The router's state type.
    type State: Clone + Send + Sync + 'static;

    /// An axum router with every listed handler at its declared method and path.
    fn router() -> axum::Router<Self::State>;

    /// The static table of routes (method, path, login types, scopes, policy, public).
    fn routes() -> &'static [RouteInfo];
}

#[doc = include_str!("../docs/macros/secure_router.md")]
pub use auth_macros::SecureRouter;

/// Everything an application needs to annotate handlers.
pub mod prelude {
    pub use crate::{
        AuthError, AuthManager, BearerToken, CurrentUser, LoginType, Principal, Resource,
        RouteInfo, ScopeRequirement, SecureRouter, SigningKey, TokenError, TokenPair, TokenRequest,
        UserLoader, authenticated, login_type, policy, public, requires, roles, route,
    };
}

/// The README's quick start, compiled as a doc test so it cannot rot.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[doc(hidden)]
pub mod __private {
    pub use crate::guard::*;
}
