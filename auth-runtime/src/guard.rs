//! The seam between the macros and the runtime. Everything the macros expand to is reached
//! through `::auth_runtime::__private`, defined here, so the boundary is reviewable in one file.

use std::marker::PhantomData;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{MethodFilter, on};

use crate::diagnostics::AuthState;
use crate::error::AuthError;
use crate::route::PolicyRequirement;
use crate::scope::ScopeRequirement;

pub use crate::SecureRouter as SecureRouterTrait;
pub use crate::checks::{
    Message, RegistryNames, handler_problem, route_infos, undeclared, undeclared_in_group,
};
pub use crate::diagnostics::{Routable, SecuredHandler, spec_of};
pub use crate::registry::Registry;
pub use crate::route::GroupRequirement as Group;
pub use crate::route::PolicyRequirement as Policy;
pub use crate::route::RouteInfo;
pub use crate::scope::ScopeRequirement as Scopes;
pub use auth_grammar::{RouteConflict, route_conflict};
pub use axum::Router as AxumRouter;

/// What one annotated handler declares; emitted by the attribute macros as an associated const.
#[derive(Debug, Clone, Copy)]
pub struct HandlerSpec {
    /// The handler's name.
    pub handler: &'static str,
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

/// Implemented by the hidden marker type the macros emit next to each handler.
pub trait RouteSpec: 'static {
    /// The handler's declaration.
    const SPEC: HandlerSpec;
}

/// The extractor the macros insert as a handler's first parameter: it runs the checks of
/// `R::SPEC` before any other extractor (and before the body is read).
pub struct Guard<R>(PhantomData<fn() -> R>);

impl<S, R> FromRequestParts<S> for Guard<R>
where
    R: RouteSpec,
    S: AuthState,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let spec = &R::SPEC;
        if spec.public {
            // Nothing to check but the request's own consistency (DESIGN §5: two
            // `Authorization` headers are a 400 everywhere).
            let mut values = parts.headers.get_all(AUTHORIZATION).iter();
            if values.next().is_some() && values.next().is_some() {
                let manager = state.auth_manager();
                return Err(manager.render_error(&AuthError::DuplicateAuthorization));
            }
            return Ok(Guard(PhantomData));
        }
        let manager = state.auth_manager();
        match manager.check(parts, spec).await {
            Ok(_) => Ok(Guard(PhantomData)),
            Err(error) => {
                tracing::debug!(
                    handler = spec.handler,
                    status = error.status().as_u16(),
                    reason = %error,
                    "request rejected"
                );
                Err(manager.render_error(&error))
            }
        }
    }
}

/// Makes a router's own requirement known to the guards of its handlers (a request extension,
/// set by a route layer: nothing the client sends).
pub fn with_group<S>(router: Router<S>, group: crate::route::GroupRequirement) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.route_layer(axum::Extension(group))
}

/// Adds one handler to the router at its declared method and path.
pub fn add_route<S, H, T>(router: Router<S>, info: &RouteInfo, handler: H) -> Router<S>
where
    H: Routable<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    if info.method.is_empty() {
        // A handler without a route: a compile error was reported already.
        return router;
    }
    let filter = match info.method.as_bytes() {
        b"GET" => MethodFilter::GET,
        b"POST" => MethodFilter::POST,
        b"PUT" => MethodFilter::PUT,
        b"PATCH" => MethodFilter::PATCH,
        b"DELETE" => MethodFilter::DELETE,
        b"HEAD" => MethodFilter::HEAD,
        b"OPTIONS" => MethodFilter::OPTIONS,
        b"TRACE" => MethodFilter::TRACE,
        // The macros accept only the methods above and CONNECT.
        _ => MethodFilter::CONNECT,
    };
    router.route(info.path, on(filter, handler))
}
