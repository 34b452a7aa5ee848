//! [`AuthState`]: how extractors reach the [`AuthManager`] from the router's state.

use axum::extract::FromRef;

use super::AuthManager;

/// An axum state that gives access to the [`AuthManager`]: the manager itself, or any state
/// with `FromRef<State> for AuthManager` (implemented for you by the blanket impl).
///
/// ```
/// use auth_runtime::{AuthManager, AuthState, LoginType, SigningKey};
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
