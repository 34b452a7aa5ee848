//! Attribute macros of `auth-runtime`. Use them through `auth_runtime::prelude`; every expansion
//! reaches the runtime only through `::auth_runtime::__private`.
//!
//! The attributes on one handler (`requires`, `login_type`, `public`, `authenticated`, `policy`,
//! `route`) stack in any order: whichever runs first reads all of them, checks them together and
//! rewrites the handler once. Set `AUTH_MACROS_DEBUG=1` to print each expansion.

use proc_macro::TokenStream;

mod attr;
mod context;
mod ctxt;
mod handler;
mod registry;
mod router;
mod signature;

/// Requires every listed scope (`#[requires("a:b", "c:d")]`) or one of them
/// (`#[requires(any("a:b", "c:d"))]`).
#[proc_macro_attribute]
pub fn requires(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(attr::Kind::Requires, args.into(), item.into()).into()
}

/// Accepts only tokens of the listed login types: `#[login_type("admin")]`.
#[proc_macro_attribute]
pub fn login_type(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(attr::Kind::LoginType, args.into(), item.into()).into()
}

/// Requires one of the listed roles (`#[roles("editor", "admin")]`); each role is a set of
/// scopes configured with `AuthManagerBuilder::role`.
#[proc_macro_attribute]
pub fn roles(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(attr::Kind::Roles, args.into(), item.into()).into()
}

/// Marks a handler as explicitly unauthenticated.
#[proc_macro_attribute]
pub fn public(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(attr::Kind::Public, args.into(), item.into()).into()
}

/// Requires a signed-in caller of any login type.
#[proc_macro_attribute]
pub fn authenticated(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(attr::Kind::Authenticated, args.into(), item.into()).into()
}

/// Lets the policy engine decide: `#[policy(action = "users:ban", resource = "users")]`.
#[proc_macro_attribute]
pub fn policy(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(attr::Kind::Policy, args.into(), item.into()).into()
}

/// Declares the handler's method and path for `SecureRouter`: `#[route(GET, "/reports/{id}")]`.
#[proc_macro_attribute]
pub fn route(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(attr::Kind::Route, args.into(), item.into()).into()
}

/// Registers annotated handlers into one router:
/// `#[secure_router(state = AppState, routes(a, b))]`.
#[proc_macro_derive(SecureRouter, attributes(secure_router))]
pub fn derive_secure_router(item: TokenStream) -> TokenStream {
    router::expand(item.into()).into()
}

/// Declares the names an application may use: `registry! { pub struct AppRegistry {
/// login_types: [...], scopes: [...], roles: [...], actions: [...], resources: [...] } }`.
#[proc_macro]
pub fn registry(input: TokenStream) -> TokenStream {
    registry::expand(input.into()).into()
}

/// Prints an expansion when `AUTH_MACROS_DEBUG` is set (as axum does with `AXUM_MACROS_DEBUG`).
fn debug_print(what: &str, tokens: &proc_macro2::TokenStream) {
    if std::env::var_os("AUTH_MACROS_DEBUG").is_some() {
        eprintln!("--- auth-macros: {what} ---\n{tokens}\n");
    }
}
