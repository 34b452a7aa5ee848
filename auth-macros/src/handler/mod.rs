//! The handler attributes: gather every auth attribute of a function, check them together,
//! rewrite the function once.
//!
//! [`expand`] gathers the attributes (the one being expanded and its siblings) and checks the
//! function's shape; [`conflicts`] checks how the attributes go together; [`requires`],
//! [`names`] (login types, roles), [`policy`] and [`route`] check each attribute's arguments;
//! the signature is checked in `crate::signature`; [`rewrite`] writes the result, with the
//! summary from [`doc`].

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{ItemFn, LitStr, Meta};

use crate::attr::{self, Attr, Kind, Value};
use crate::ctxt::Ctxt;

mod conflicts;
mod doc;
mod names;
mod policy;
mod requires;
mod rewrite;
mod route;

pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::default();
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            cx.error(
                Span::call_site(),
                format!(
                    "`#[{}]` can only be used on an `async fn` handler",
                    kind.name()
                ),
            );
            let errors = cx.into_compile_errors();
            return quote! { #errors #item };
        }
    };

    if crate::context::in_impl_block(func.sig.fn_token.span) {
        // One error, and the function as written (without our attributes), so that nothing
        // generated for it adds errors of its own.
        cx.error_help(
            func.sig.ident.span(),
            format!(
                "`{}` is in an `impl` block, but a secured handler must be a free function",
                func.sig.ident
            ),
            "move it out of the `impl` block, next to the `SecureRouter` that lists it (a `SecureRouter` lists handlers by path, such as `reports::list`)",
        );
        func.attrs.retain(|a| Kind::of_path(a.path()).is_none());
        let errors = cx.into_compile_errors();
        return quote! { #errors #func };
    }

    // The attribute being expanded, then its siblings in source order.
    let mut attrs = vec![attr::parse(kind, Span::call_site(), args, &mut cx)];
    let mut kept = Vec::new();
    for a in std::mem::take(&mut func.attrs) {
        let Some(k) = Kind::of_path(a.path()) else {
            kept.push(a);
            continue;
        };
        let tokens = match &a.meta {
            Meta::Path(_) => TokenStream::new(),
            Meta::List(list) => list.tokens.clone(),
            Meta::NameValue(nv) => {
                let value = &nv.value;
                cx.error_help(
                    nv.span(),
                    format!("`#[{} = ...]` is not the form of this attribute", k.name()),
                    format!("write `#[{}({})]`", k.name(), quote!(#value)),
                );
                // It still counts as present: no "has no auth attribute" error follows.
                attrs.push(attr::Attr {
                    kind: k,
                    span: nv.span(),
                    value: Value::Invalid,
                });
                continue;
            }
        };
        // The attribute's name (`requires`): a span over the whole attribute would show only
        // its `#` on stable, where spans cannot be joined.
        let name_span = a
            .path()
            .segments
            .last()
            .map_or_else(|| a.span(), |s| s.ident.span());
        attrs.push(attr::parse(k, name_span, tokens, &mut cx));
    }
    func.attrs = kept;

    let spec = check(&attrs, &func, &mut cx);
    let before = cx.len();
    crate::signature::check(
        &func,
        &crate::signature::RouteShape {
            path: spec.route.as_ref().map(|(_, p)| p.value()),
            public: spec.public,
        },
        &mut cx,
    );
    // A signature with these errors is no axum handler: routers listing it get a stand-in.
    let unroutable = cx.len() > before;
    if func.sig.asyncness.is_none() {
        cx.error_help(
            func.sig.fn_token.span,
            "secured handlers must be `async fn`",
            format!("write `async fn {}`", func.sig.ident),
        );
        // Go on as if it were `async`: a `SecureRouter` listing it then type-checks, instead of
        // adding "not a secured handler" and "not a `Handler`" errors after this one.
        func.sig.asyncness = Some(syn::token::Async(func.sig.fn_token.span));
    }
    if let Some(receiver) = func.sig.receiver() {
        cx.error(receiver.span(), "a handler cannot take `self`");
        let errors = cx.into_compile_errors();
        return quote! { #errors #func };
    }

    let invalid = !cx.is_empty();
    let errors = cx.into_compile_errors();
    let out = rewrite::rewrite(func, &spec, invalid, unroutable);
    let out = quote! { #errors #out };
    crate::debug_print("handler", &out);
    out
}

/// What the attributes declare, after checking.
#[derive(Default)]
struct Spec {
    public: bool,
    any: bool,
    scopes: Vec<LitStr>,
    login_types: Vec<LitStr>,
    roles: Vec<LitStr>,
    policy: Option<(LitStr, LitStr)>,
    route: Option<(String, LitStr)>,
}

/// Checks the attributes together, then each one's arguments; what is valid is declared.
fn check(attrs: &[Attr], func: &ItemFn, cx: &mut Ctxt) -> Spec {
    let mut spec = Spec::default();
    conflicts::check(attrs, func, cx);
    for a in attrs {
        match &a.value {
            Value::Requires { any, scopes } => {
                spec.any = *any;
                spec.scopes.extend(requires::checked_scopes(cx, scopes));
            }
            Value::Roles(list) => {
                spec.roles = names::checked(
                    cx,
                    a,
                    list,
                    "role",
                    "write `#[roles(\"editor\")]`; the caller needs one of the listed roles",
                );
            }
            Value::LoginType(list) => {
                spec.login_types = names::checked(
                    cx,
                    a,
                    list,
                    "login type",
                    "write `#[login_type(\"admin\")]`",
                );
            }
            Value::Flag => {
                if a.kind == Kind::Public {
                    spec.public = true;
                }
            }
            Value::Invalid => {}
            Value::Policy { action, resource } => {
                if let Some(policy) = policy::check(cx, action, resource) {
                    spec.policy = Some(policy);
                }
            }
            Value::Route { method, path } => {
                if let Some(route) = route::check(cx, method, path) {
                    spec.route = Some(route);
                }
            }
        }
    }
    spec
}
