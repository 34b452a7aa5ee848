//! The seam between the macros and the runtime. Everything the macros expand to is reached
//! through `::auth_runtime::__private`, defined here, so the boundary is reviewable in one file.

use std::marker::PhantomData;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts};
use axum::handler::Handler;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{MethodFilter, on};

use crate::error::AuthError;
use crate::manager::AuthManager;
use crate::route::PolicyRequirement;
use crate::scope::ScopeRequirement;

pub use crate::SecureRouter as SecureRouterTrait;
pub use crate::checks::{Message, handler_problem, route_infos, undeclared};
pub use crate::registry::Registry;
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
    AuthManager: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let spec = &R::SPEC;
        if spec.public {
            // Nothing to check but the request's own consistency (DESIGN §5: two
            // `Authorization` headers are a 400 everywhere).
            let mut values = parts.headers.get_all(AUTHORIZATION).iter();
            if values.next().is_some() && values.next().is_some() {
                let manager = AuthManager::from_ref(state);
                return Err(manager.render_error(&AuthError::DuplicateAuthorization));
            }
            return Ok(Guard(PhantomData));
        }
        let manager = AuthManager::from_ref(state);
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

/// Implemented by every handler whose first parameter is a [`Guard`], i.e. every handler the
/// attribute macros rewrote. `M` is inferred.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a secured handler",
    label = "this handler has no auth attribute",
    note = "secure by default: every handler in a `SecureRouter` needs `#[public]`, `#[authenticated]`, `#[login_type(...)]`, `#[requires(...)]`, `#[roles(...)]` or `#[policy(...)]`, and a `#[route(METHOD, \"/path\")]`"
)]
pub trait SecuredHandler<M> {
    /// The hidden marker type emitted next to the handler.
    type Marker: RouteSpec;
    /// The handler's declaration.
    const SPEC: HandlerSpec;
}

macro_rules! impl_secured_handler {
    ($($ty:ident),*) => {
        impl<F, Fut, R, $($ty,)*> SecuredHandler<(R, $($ty,)*)> for F
        where
            F: FnOnce(Guard<R>, $($ty,)*) -> Fut,
            R: RouteSpec,
        {
            type Marker = R;
            const SPEC: HandlerSpec = R::SPEC;
        }
    };
}

impl_secured_handler!();
impl_secured_handler!(T1);
impl_secured_handler!(T1, T2);
impl_secured_handler!(T1, T2, T3);
impl_secured_handler!(T1, T2, T3, T4);
impl_secured_handler!(T1, T2, T3, T4, T5);
impl_secured_handler!(T1, T2, T3, T4, T5, T6);
impl_secured_handler!(T1, T2, T3, T4, T5, T6, T7);
impl_secured_handler!(T1, T2, T3, T4, T5, T6, T7, T8);
impl_secured_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9);
impl_secured_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10);
impl_secured_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11);
impl_secured_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12);
impl_secured_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13);
impl_secured_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14);
impl_secured_handler!(
    T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15
);

/// The declaration of a handler, found through its value (so that a handler without our
/// attributes fails with [`SecuredHandler`]'s message).
pub const fn spec_of<F: SecuredHandler<M>, M>(_handler: &F) -> HandlerSpec {
    F::SPEC
}

/// The state of a `SecureRouter` must lead to the [`AuthManager`] (checked once per router, so
/// the error names `FromRef` instead of failing every handler).
#[diagnostic::on_unimplemented(
    message = "the router state `{Self}` does not give access to an `AuthManager`",
    label = "this state has no `AuthManager`",
    note = "implement `axum::extract::FromRef<{Self}> for AuthManager`, or leave out `state = ...` to use `AuthManager` itself as the state"
)]
pub trait StateWithManager {}

/// Names the missing piece (`FromRef`) when the state has no manager.
#[diagnostic::do_not_recommend]
impl<S> StateWithManager for S where AuthManager: FromRef<S> {}

/// Compile-time check emitted by `#[derive(SecureRouter)]` for its state type.
pub const fn assert_state<S: StateWithManager>() {}

/// Adds one handler to the router at its declared method and path.
pub fn add_route<S, H, T>(router: Router<S>, info: &RouteInfo, handler: H) -> Router<S>
where
    H: Handler<T, S>,
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
