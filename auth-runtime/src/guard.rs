//! The seam between the macros and the runtime: every path the macros expand to is
//! `::auth_runtime::__private::…`, re-exported here and nowhere else, so the boundary is
//! reviewable in one file. The definitions live where they belong (mostly in `handler`).

pub use crate::SecureRouter as SecureRouterTrait;
pub use crate::checks::{
    Message, RegistryNames, handler_problem, problem_screen, route_infos, undeclared,
    undeclared_in_group,
};
pub use crate::handler::{
    Guard, HandlerResponse, Routable, RouteSpec, SecuredHandler, add_route, spec_of, with_group,
};
pub use crate::manager::AuthState;
pub use crate::registry::Registry;
pub use crate::route::GroupRequirement as Group;
pub use crate::route::HandlerSpec;
pub use crate::route::PolicyRequirement as Policy;
pub use crate::route::RouteInfo;
pub use crate::scope::ScopeRequirement as Scopes;
pub use auth_grammar::{RouteConflict, route_conflict};
pub use axum::Router as AxumRouter;
