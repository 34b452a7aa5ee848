//! What each secured handler requires, for audits, docs and OpenAPI.

use crate::scope::ScopeRequirement;

/// The policy check of a handler (`#[policy(action = "...", resource = "...")]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyRequirement {
    /// The action, such as `users:ban`.
    pub action: &'static str,
    /// The resource type, such as `users`.
    pub resource: &'static str,
}

/// What a handler requires of its caller, as its attributes declare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// `#[public]`: nothing is checked.
    pub public: bool,
    /// The accepted login types; empty means any.
    pub login_types: &'static [&'static str],
    /// One of these roles is required; empty means none.
    pub roles: &'static [&'static str],
    /// The required scopes.
    pub scopes: ScopeRequirement,
    /// The policy check, if any.
    pub policy: Option<PolicyRequirement>,
}

/// One route of a [`SecureRouter`](crate::SecureRouter): returned by `routes()`.
///
/// ```
/// use auth_runtime::prelude::*;
///
/// #[requires("reports:read")]
/// #[route(GET, "/reports/{id}")]
/// async fn get_report() {}
///
/// #[public]
/// #[route(GET, "/health")]
/// async fn health() {}
///
/// #[derive(SecureRouter)]
/// #[secure_router(routes(get_report, health))]
/// struct Api;
///
/// let routes = Api::routes();
/// assert_eq!(routes[0].method, "GET");
/// assert_eq!(routes[0].path, "/reports/{id}");
/// assert_eq!(routes[0].scopes, ScopeRequirement::All(&["reports:read"]));
/// assert!(routes[1].public);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// The handler function's name.
    pub handler: &'static str,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The axum path, such as `/reports/{id}`.
    pub path: &'static str,
    /// The accepted login types; empty means any.
    pub login_types: &'static [&'static str],
    /// One of these roles is required (`#[roles]`); empty means none.
    pub roles: &'static [&'static str],
    /// The required scopes.
    pub scopes: ScopeRequirement,
    /// The policy check, if any.
    pub policy: Option<PolicyRequirement>,
    /// `#[public]`: no credential needed.
    pub public: bool,
}

impl RouteInfo {
    /// The requirement of this route.
    pub fn requirement(&self) -> Requirement {
        Requirement {
            public: self.public,
            login_types: self.login_types,
            roles: self.roles,
            scopes: self.scopes,
            policy: self.policy,
        }
    }
}
