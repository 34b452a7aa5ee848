//! Reading `#[secure_router(state = ..., registry = ..., login_types(...), requires(...),
//! routes(...))]`. Every key's mistakes are reported here; what the values mean is checked in
//! `validate`.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{DeriveInput, LitStr, Path, Token, Type};

use crate::ctxt::Ctxt;

/// The keys of `#[secure_router]`.
const KEYS: [&str; 5] = ["state", "registry", "routes", "login_types", "requires"];

/// What `#[secure_router(...)]` says.
#[derive(Default)]
pub(super) struct RouterArgs {
    /// Whether the type has a `#[secure_router]` attribute at all.
    pub(super) found: bool,
    /// `state = AppState` (the default is the `AuthManager`).
    pub(super) state: Option<Type>,
    /// `registry = AppRegistry`.
    pub(super) registry: Option<Path>,
    /// `routes(a, b)`, as written.
    pub(super) routes: Vec<Path>,
    /// The router's own requirement (group protection, as FAuth's `SecureAPIRouter`):
    /// `login_types(...)`, with the key's span.
    pub(super) group_login_types: Option<(Span, Vec<LitStr>)>,
    /// `requires(...)`, with the key's span.
    pub(super) group_scopes: Option<(Span, Vec<LitStr>)>,
}

/// Reads the type's `#[secure_router]` attribute (a second one is an error).
pub(super) fn secure_router(input: &DeriveInput, cx: &mut Ctxt) -> RouterArgs {
    let mut args = RouterArgs::default();
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("secure_router"))
    {
        if args.found {
            cx.error(attr.span(), "duplicate `#[secure_router]` attribute");
            continue;
        }
        args.found = true;
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("state") {
                if args.state.is_some() {
                    cx.error(meta.path.span(), "duplicate key `state`");
                }
                args.state = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("registry") {
                if args.registry.is_some() {
                    cx.error(meta.path.span(), "duplicate key `registry`");
                }
                args.registry = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("routes") {
                let content;
                syn::parenthesized!(content in meta.input);
                let list = content.parse_terminated(Path::parse_mod_style, Token![,])?;
                args.routes.extend(list);
            } else if meta.path.is_ident("login_types") || meta.path.is_ident("requires") {
                let content;
                syn::parenthesized!(content in meta.input);
                let list: Vec<LitStr> = content
                    .parse_terminated(|input| input.parse::<LitStr>(), Token![,])
                    .map_err(|e| syn::Error::new(e.span(), "expected a string literal"))?
                    .into_iter()
                    .collect();
                let slot = if meta.path.is_ident("requires") {
                    &mut args.group_scopes
                } else {
                    &mut args.group_login_types
                };
                if slot.is_some() {
                    cx.error(meta.path.span(), "duplicate key in `#[secure_router]`");
                }
                *slot = Some((meta.path.span(), list));
            } else {
                let name = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let msg = format!("unknown key `{name}` in `#[secure_router]`");
                match auth_grammar::closest(&name, KEYS) {
                    Some(s) => cx.error_help(meta.path.span(), msg, format!("did you mean `{s}`?")),
                    None => cx.error_help(
                        meta.path.span(),
                        msg,
                        "the keys are `state`, `registry`, `login_types`, `requires` and `routes`",
                    ),
                }
                if meta.input.peek(Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                } else if meta.input.peek(syn::token::Paren) {
                    let _skip;
                    syn::parenthesized!(_skip in meta.input);
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.push(e);
        }
    }
    args
}
