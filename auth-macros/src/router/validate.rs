//! What a router's declaration alone can show: no `#[secure_router]`, no handlers, a generic
//! type, a handler listed twice, and the router's own login types and scopes. Conflicts between
//! the handlers' routes need the handlers' declarations: they are `const` checks (`emit`).

use proc_macro2::Span;
use quote::quote;
use syn::spanned::Spanned;
use syn::{DeriveInput, LitStr, Path};

use super::parse::RouterArgs;
use crate::ctxt::Ctxt;

/// Reports every mistake of the declaration.
pub(super) fn router(input: &DeriveInput, args: &RouterArgs, cx: &mut Ctxt) {
    if !args.found {
        cx.error_help(
            Span::call_site(),
            "`#[derive(SecureRouter)]` needs a `#[secure_router(...)]` attribute",
            "write `#[secure_router(state = AppState, routes(handler_a, handler_b))]`",
        );
    } else if args.routes.is_empty() {
        cx.error_help(
            Span::call_site(),
            "`#[secure_router]` lists no handlers",
            "write `routes(handler_a, handler_b)`",
        );
    }
    if !input.generics.params.is_empty() {
        cx.error(
            input.generics.span(),
            "`SecureRouter` cannot be derived for a generic type",
        );
    }
    let routes = &args.routes;
    for (i, r) in routes.iter().enumerate() {
        // Compared as text: `Path: PartialEq` needs syn's `extra-traits`, which we don't enable.
        let text = |p: &Path| quote!(#p).to_string();
        if routes[..i].iter().any(|p| text(p) == text(r)) {
            cx.error(
                r.span(),
                format!(
                    "handler `{}` is listed twice",
                    quote!(#r).to_string().replace(' ', "")
                ),
            );
        }
    }
    group_list(
        cx,
        &args.group_login_types,
        ("login_types", "login type", "\"admin\""),
        |v| auth_grammar::validate_login_type(v).map_err(|e| e.to_string()),
    );
    group_list(
        cx,
        &args.group_scopes,
        ("requires", "scope", "\"admin:read\""),
        |v| auth_grammar::validate_required_scope(v).map_err(|e| e.to_string()),
    );
}

/// Checks one list of a router's own requirement (`login_types(...)`, `requires(...)`): not
/// empty, every name valid, none twice. `what` is (key, kind of name, example).
fn group_list(
    cx: &mut Ctxt,
    list: &Option<(Span, Vec<LitStr>)>,
    (key, kind, example): (&str, &str, &str),
    validate: impl Fn(&str) -> Result<(), String>,
) {
    let Some((span, list)) = list else {
        return;
    };
    if list.is_empty() {
        cx.error_help(
            *span,
            format!("`{key}(...)` needs at least one {kind}"),
            format!("write `{key}({example})`"),
        );
    }
    for (i, l) in list.iter().enumerate() {
        let value = l.value();
        if let Err(e) = validate(&value) {
            cx.error(l.span(), format!("invalid {kind} `{value}`: {e}"));
        } else if list[..i].iter().any(|p| p.value() == value) {
            cx.error(l.span(), format!("{kind} `{value}` is listed twice"));
        }
    }
}
