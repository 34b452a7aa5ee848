//! The extractors of the verified caller: [`Principal`], `Option<Principal>`, [`CurrentUser`]
//! (the application's own user, through its [`UserLoader`]) and [`Resource`] (what a policy's
//! loader loaded). They reach the manager through the router state ([`AuthState`]) and run the
//! same authentication as the guard; a principal the guard verified is reused.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::response::Response;

use crate::error::{AuthError, InvalidToken};
use crate::manager::AuthState;
use crate::principal::Principal;

impl<S> FromRequestParts<S> for Principal
where
    S: AuthState,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let manager = state.auth_manager();
        manager
            .pipeline()
            .authenticate(parts, &[])
            .await
            .map_err(|e| manager.render_error(&e))
    }
}

impl<S> OptionalFromRequestParts<S> for Principal
where
    S: AuthState,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let manager = state.auth_manager();
        manager
            .pipeline()
            .principal_of(parts, &[])
            .await
            .map_err(|e| manager.render_error(&e))
    }
}

/// Loads the application's own user for a verified [`Principal`] (from a database, a cache, ...).
///
/// Put the loader in your state (reachable through `FromRef`) and extract
/// [`CurrentUser<YourLoader>`](CurrentUser).
///
/// ```
/// use auth_runtime::{Principal, UserLoader};
///
/// #[derive(Clone)]
/// struct User { id: String }
///
/// #[derive(Clone)]
/// struct Users;
/// impl UserLoader for Users {
///     type User = User;
///     type Error = std::convert::Infallible;
///     async fn load(&self, principal: &Principal) -> Result<Option<User>, Self::Error> {
///         Ok(Some(User { id: principal.subject().to_owned() }))
///     }
/// }
/// ```
pub trait UserLoader: Send + Sync + 'static {
    /// The application's user type.
    type User: Clone + Send + Sync + 'static;
    /// A failure to load (database down); answered as 500 and logged.
    type Error: fmt::Display + Send;

    /// The user of `principal`, or `None` if it no longer exists (answered as 401).
    fn load(
        &self,
        principal: &Principal,
    ) -> impl Future<Output = Result<Option<Self::User>, Self::Error>> + Send;
}

/// Extracts the application's user through the [`UserLoader`] `L` in the state.
///
/// A missing or invalid credential is a 401; a principal whose user no longer exists is a 401;
/// a loader error is a 500 (logged, never shown). The user is loaded once per request, however
/// many extractors ask.
///
/// ```
/// use auth_runtime::prelude::*;
/// use axum::extract::FromRef;
///
/// #[derive(Clone)]
/// struct Member { id: String, name: String }
///
/// #[derive(Clone)]
/// struct Members; // would hold a database pool
/// impl UserLoader for Members {
///     type User = Member;
///     type Error = std::convert::Infallible;
///     async fn load(&self, principal: &Principal) -> Result<Option<Member>, Self::Error> {
///         Ok(Some(Member { id: principal.subject().to_owned(), name: "Ann".into() }))
///     }
/// }
///
/// #[derive(Clone)]
/// struct AppState { manager: AuthManager, members: Members }
/// impl FromRef<AppState> for AuthManager {
///     fn from_ref(state: &AppState) -> Self { state.manager.clone() }
/// }
/// impl FromRef<AppState> for Members {
///     fn from_ref(state: &AppState) -> Self { state.members.clone() }
/// }
///
/// #[authenticated]
/// #[route(GET, "/hello")]
/// async fn hello(me: CurrentUser<Members>) -> String {
///     format!("hello {} ({})", me.user.name, me.user.id)
/// }
///
/// #[derive(SecureRouter)]
/// #[secure_router(state = AppState, routes(hello))]
/// struct Api;
/// ```
pub struct CurrentUser<L: UserLoader> {
    /// The loaded user.
    pub user: L::User,
    /// The verified principal it was loaded for.
    pub principal: Principal,
    _loader: PhantomData<fn() -> L>,
}

impl<L: UserLoader> fmt::Debug for CurrentUser<L>
where
    L::User: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentUser")
            .field("user", &self.user)
            .field("principal", &self.principal)
            .finish()
    }
}

impl<S, L> FromRequestParts<S> for CurrentUser<L>
where
    L: UserLoader + FromRef<S>,
    S: AuthState,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<LoadedUser<L::User>>() {
            return Ok(CurrentUser {
                user: user.user.clone(),
                principal: user.principal.clone(),
                _loader: PhantomData,
            });
        }
        let manager = state.auth_manager();
        let principal = manager
            .pipeline()
            .authenticate(parts, &[])
            .await
            .map_err(|e| manager.render_error(&e))?;
        let loader = L::from_ref(state);
        match loader.load(&principal).await {
            Ok(Some(user)) => {
                parts.extensions.insert(LoadedUser {
                    user: user.clone(),
                    principal: principal.clone(),
                });
                Ok(CurrentUser {
                    user,
                    principal,
                    _loader: PhantomData,
                })
            }
            Ok(None) => Err(manager.render_error(&AuthError::InvalidToken {
                realm: principal.login_type().to_owned(),
                reason: InvalidToken::UnknownSubject,
            })),
            Err(e) => {
                tracing::error!(error = %e, subject = principal.subject(), "user loader failed");
                Err(manager.render_error(&AuthError::Internal))
            }
        }
    }
}

#[derive(Clone)]
struct LoadedUser<U> {
    user: U,
    principal: Principal,
}

/// The resource the policy engine loaded for this request (see
/// [`AuthManagerBuilder::resource_loader`](crate::AuthManagerBuilder::resource_loader)), handed
/// to the handler so it is not loaded twice. `T` is the type given to
/// [`LoadedResource::with_value`](crate::policy::LoadedResource::with_value).
///
/// Extracting it where no loader ran (no `#[policy]`, no loader for the resource type, or
/// another value type) is a server bug: 500, logged.
#[derive(Debug)]
pub struct Resource<T>(pub Arc<T>);

impl<S, T> FromRequestParts<S> for Resource<T>
where
    T: Send + Sync + 'static,
    S: AuthState,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match parts
            .extensions
            .get::<Arc<crate::policy::LoadedResource>>()
            .and_then(|loaded| loaded.value::<T>())
        {
            Some(value) => Ok(Resource(value)),
            None => {
                tracing::error!(
                    r#type = std::any::type_name::<T>(),
                    "Resource<T> extracted but no resource of that type was loaded"
                );
                Err(state.auth_manager().render_error(&AuthError::Internal))
            }
        }
    }
}
