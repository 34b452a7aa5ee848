//! The optional registry of an application's login types, scopes, roles, policy actions and
//! resources.
//!
//! Declare it once with [`registry!`](crate::registry) and name it in the router:
//! `#[secure_router(registry = AppRegistry, routes(...))]`. Every literal in the `requires`,
//! `login_type`, `roles` and `policy` attributes of the listed handlers must then be declared, or the
//! crate does not compile (with a "did you mean" where one is close). The check runs in `const`
//! evaluation, so it costs nothing at run time.

/// The names an application declares. Implemented by [`registry!`](crate::registry).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a registry",
    label = "not declared with `registry!`",
    note = "declare the registry with `auth_runtime::registry! {{ pub struct {Self} {{ login_types: [...], scopes: [...], roles: [...], actions: [...], resources: [...] }} }}`"
)]
pub trait Registry: 'static {
    /// The login types.
    const LOGIN_TYPES: &'static [&'static str];
    /// The scopes handlers may require.
    const SCOPES: &'static [&'static str];
    /// The policy actions.
    const ACTIONS: &'static [&'static str];
    /// The policy resources.
    const RESOURCES: &'static [&'static str];
    /// The roles of `#[roles(...)]`.
    const ROLES: &'static [&'static str];
}
