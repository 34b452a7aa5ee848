//! What the attribute macros turn a handler into, and what a `SecureRouter` needs from it: the
//! [`Guard`] extractor inserted as a handler's first argument, the declaration it checks
//! ([`HandlerSpec`]), and the traits whose job is a clear compile error (each carries the
//! message a newcomer needs). Applications do not use this module directly.

use std::marker::PhantomData;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::handler::Handler;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};

use crate::error::AuthError;
use crate::manager::{AuthManager, AuthState};
use crate::route::{HandlerSpec, RouteInfo};

/// What a secured handler returns: any [`IntoResponse`], under a name whose compile error says
/// so on the handler's return type ("`Report` is not a response", with the usual fixes).
/// A rewritten handler's signature reads `-> impl Future<Output = impl HandlerResponse> + Send`.
///
/// ```
/// use auth_runtime::HandlerResponse;
/// use axum::http::StatusCode;
///
/// fn is_a_response(_: impl HandlerResponse) {}
/// is_a_response((StatusCode::CREATED, "made"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a response",
    label = "a handler must return a type that implements `IntoResponse`",
    note = "return `Json<T>`, `String`, `StatusCode`, `(StatusCode, Json<T>)`, a `Result` of responses, or `impl IntoResponse`"
)]
pub trait HandlerResponse: IntoResponse {}

#[diagnostic::do_not_recommend]
impl<T: IntoResponse> HandlerResponse for T {}

/// A handler the router can serve with its state: axum's `Handler`, with a message that says
/// what to look at.
#[diagnostic::on_unimplemented(
    message = "this handler cannot be served by a router whose state is `{S}`",
    label = "an argument of this handler is not an extractor for `{S}`",
    note = "a handler that takes `State<T>` (its signature is in the line above) needs a router declared with `#[secure_router(state = T, ...)]`, or a router state from which `T` is taken with `FromRef`; every other argument must be an extractor for the router's state"
)]
pub trait Routable<T, S>: Handler<T, S> {}

#[diagnostic::do_not_recommend]
impl<H: Handler<T, S>, T, S> Routable<T, S> for H {}

/// Implemented by every handler whose first parameter is a [`Guard`], i.e. every handler the
/// attribute macros rewrote; a [`SecureRouter`](trait@crate::SecureRouter) accepts only these
/// (secure by default: a handler without an auth attribute does not compile there). `M` is
/// inferred.
///
/// ```
/// use auth_runtime::SecuredHandler;
/// use auth_runtime::prelude::*;
///
/// #[requires("reports:read")]
/// #[route(GET, "/reports")]
/// async fn list_reports() -> &'static str { "reports" }
///
/// fn declared_route<F: SecuredHandler<M>, M>(_handler: F) -> Option<&'static str> {
///     F::SPEC.path
/// }
/// assert_eq!(declared_route(list_reports), Some("/reports"));
/// ```
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
        #[diagnostic::do_not_recommend]
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

/// Implemented by the hidden marker type the macros emit next to each handler.
pub trait RouteSpec: 'static {
    /// The handler's declaration.
    const SPEC: HandlerSpec;
}

/// The extractor the macros insert as a handler's first parameter: it runs the checks of
/// `R::SPEC` before any other extractor (and before the body is read). `R` is a type the macros
/// emit next to the handler, with the handler's own name, so a rewritten handler's signature
/// reads `fn(Guard<list_reports>, ...)` in its documentation and in compile errors.
///
/// The macros turn `async fn list_reports(args...) -> T` into
/// `fn list_reports(Guard<list_reports>, args...) -> impl Future<Output = impl IntoResponse> + Send`,
/// which calls the function as written: a return type that is not a response, or a future that
/// is not `Send`, is then an error on the handler itself, and never a second one in the routers
/// that list it. A guard is created only by a passing check; handlers never name it.
///
/// ```
/// use auth_runtime::Guard;
/// use auth_runtime::prelude::*;
///
/// #[requires("reports:read")]
/// async fn list_reports() -> &'static str { "reports" }
///
/// // What the macro turned the handler into: the guard comes first.
/// fn takes_a_guard<R, Fut>(_handler: impl FnOnce(Guard<R>) -> Fut) {}
/// takes_a_guard(list_reports);
/// ```
pub struct Guard<R>(PhantomData<fn() -> R>);

impl<S, R> FromRequestParts<S> for Guard<R>
where
    R: RouteSpec,
    S: AuthState,
{
    type Rejection = Response;

    fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        // Everything happens in one non-generic function, compiled once for all handlers; the
        // per-handler part is this wrapper (compile time grows with the number of handlers).
        let check = run_guard(parts, state.auth_manager(), &R::SPEC);
        async move { check.await.map(|()| Guard(PhantomData)) }
    }
}

/// The checks of one handler's declaration, for every guard.
async fn run_guard(
    parts: &mut Parts,
    manager: AuthManager,
    spec: &'static HandlerSpec,
) -> Result<(), Response> {
    if spec.public {
        // Nothing to check but the request's own consistency (docs/architecture.md §5: two
        // `Authorization` headers are a 400 everywhere).
        let mut values = parts.headers.get_all(AUTHORIZATION).iter();
        if values.next().is_some() && values.next().is_some() {
            return Err(manager.render_error(&AuthError::DuplicateAuthorization));
        }
        return Ok(());
    }
    match manager.pipeline().check(parts, spec).await {
        Ok(_) => Ok(()),
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
