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

/// What a whole `SecureRouter` requires of every handler it lists:
/// `#[secure_router(login_types("admin"), requires("admin:read"), routes(...))]`. It combines
/// with each handler's own attributes (login types intersect, scopes add up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupRequirement {
    /// Login types every handler accepts at most; empty: no restriction.
    pub login_types: &'static [&'static str],
    /// Scopes every handler requires in addition to its own.
    pub scopes: &'static [&'static str],
}

impl GroupRequirement {
    /// Whether the group requires nothing.
    pub const fn is_empty(&self) -> bool {
        self.login_types.is_empty() && self.scopes.is_empty()
    }
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
#[non_exhaustive]
pub struct RouteInfo {
    /// The handler function's name.
    pub handler: &'static str,
    /// The first paragraph of the handler's doc comment, its lines joined by spaces (Markdown
    /// as written); empty when it has none. For OpenAPI summaries and audits.
    pub summary: &'static str,
    /// The module the handler is declared in, as `module_path!()` gives it there
    /// (`my_app::reports`); with [`handler`](Self::handler), a unique operation id.
    pub module_path: &'static str,
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
    /// What the router requires of all its handlers (`#[secure_router(login_types(...),
    /// requires(...))]`), on top of the fields above.
    pub group: GroupRequirement,
}

impl RouteInfo {
    /// The login types accepted, the handler's and the router's combined: the handler's when
    /// the router names none, the router's when the handler names none, otherwise those both
    /// name. Empty: any login type.
    pub fn effective_login_types(&self) -> Vec<&'static str> {
        match (self.login_types, self.group.login_types) {
            (own, []) => own.to_vec(),
            ([], group) => group.to_vec(),
            (own, group) => own.iter().copied().filter(|l| group.contains(l)).collect(),
        }
    }

    /// Every scope that must be granted: the router's, then the handler's own (for a handler
    /// with `#[requires(any(...))]`, only one of its own scopes is needed besides the
    /// router's; see [`scopes`](Self::scopes)).
    pub fn effective_scopes(&self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = self.group.scopes.to_vec();
        if let ScopeRequirement::All(own) = self.scopes {
            all.extend(own.iter().filter(|s| !self.group.scopes.contains(s)));
        }
        all
    }

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

/// What one annotated handler declares; emitted by the attribute macros as an associated const.
#[derive(Debug, Clone, Copy)]
pub struct HandlerSpec {
    /// The handler's name.
    pub handler: &'static str,
    /// The first paragraph of the handler's doc comment, lines joined; empty without one.
    pub summary: &'static str,
    /// The module the handler is declared in (`module_path!()`).
    pub module: &'static str,
    /// `Some` with `#[route]`.
    pub method: Option<&'static str>,
    /// `Some` with `#[route]`.
    pub path: Option<&'static str>,
    /// `#[public]`.
    pub public: bool,
    /// `#[login_type]`; empty: any.
    pub login_types: &'static [&'static str],
    /// `#[roles]`; empty: none required.
    pub roles: &'static [&'static str],
    /// `#[requires]`.
    pub scopes: ScopeRequirement,
    /// `#[policy]`.
    pub policy: Option<PolicyRequirement>,
    /// The attributes had errors (already reported on the handler): routers skip their checks
    /// of this handler instead of adding errors about the same mistake.
    pub invalid: bool,
}
