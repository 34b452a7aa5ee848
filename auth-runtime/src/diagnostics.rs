//! Traits whose job is a clear compile error: the macros check handlers and routers against
//! them, and each carries the message a newcomer needs. [`AuthState`] is also the bound of
//! every extractor of this crate.

use axum::extract::FromRef;
use axum::handler::Handler;
use axum::response::IntoResponse;

use crate::guard::{Guard, HandlerSpec, RouteSpec};
use crate::manager::AuthManager;

/// An axum state that gives access to the [`AuthManager`]: the manager itself, or any state
/// with `FromRef<State> for AuthManager` (implemented for you by the blanket impl).
///
/// ```
/// use auth_runtime::{AuthManager, LoginType, SigningKey};
/// use auth_runtime::diagnostics::AuthState;
/// use axum::extract::FromRef;
///
/// #[derive(Clone)]
/// struct AppState { auth: AuthManager }
/// impl FromRef<AppState> for AuthManager {
///     fn from_ref(state: &AppState) -> Self { state.auth.clone() }
/// }
///
/// fn manager_of<S: AuthState>(state: &S) -> AuthManager { state.auth_manager() }
/// # let auth = AuthManager::builder()
/// #     .login_type(LoginType::new("user").key(SigningKey::hs256("u", &[1; 32])))
/// #     .build().unwrap();
/// let _ = manager_of(&AppState { auth });
/// ```
#[diagnostic::on_unimplemented(
    message = "the router state `{Self}` does not give access to an `AuthManager`",
    label = "this state has no `AuthManager`",
    note = "implement `axum::extract::FromRef<{Self}> for AuthManager`, or leave out `state = ...` to use `AuthManager` itself as the state"
)]
pub trait AuthState: Send + Sync {
    /// The manager in this state.
    fn auth_manager(&self) -> AuthManager;
}

#[diagnostic::do_not_recommend]
impl<S: Send + Sync> AuthState for S
where
    AuthManager: FromRef<S>,
{
    fn auth_manager(&self) -> AuthManager {
        AuthManager::from_ref(self)
    }
}

/// A handler's return type must be a response.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a response",
    label = "a handler must return a type that implements `IntoResponse`",
    note = "return `Json<T>`, `String`, `StatusCode`, `(StatusCode, Json<T>)`, a `Result` of responses, or `impl IntoResponse`"
)]
pub trait HandlerResponse {}

#[diagnostic::do_not_recommend]
impl<T: IntoResponse> HandlerResponse for T {}

/// A handler the router can serve with its state: axum's `Handler`, with a message that says
/// what to look at.
#[diagnostic::on_unimplemented(
    message = "this handler cannot be served with the router's state `{S}`",
    label = "an argument of this handler is not an extractor for `{S}`",
    note = "a handler that takes `State<T>` needs a router with `#[secure_router(state = T, ...)]` (or a state from which `T` is taken with `FromRef`); every other argument must be an extractor for that state"
)]
pub trait Routable<T, S>: Handler<T, S> {}

#[diagnostic::do_not_recommend]
impl<H: Handler<T, S>, T, S> Routable<T, S> for H {}

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
