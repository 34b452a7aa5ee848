//! `#[derive(SecureRouter)]`: registers annotated handlers into one router.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Path, Token, Type};

use crate::ctxt::Ctxt;

pub(crate) fn expand(item: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(item) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let mut cx = Ctxt::default();
    let mut state: Option<Type> = None;
    let mut registry: Option<Path> = None;
    let mut routes: Vec<Path> = Vec::new();
    let mut found = false;

    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("secure_router"))
    {
        if found {
            cx.error(attr.span(), "duplicate `#[secure_router]` attribute");
            continue;
        }
        found = true;
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("state") {
                if state.is_some() {
                    cx.error(meta.path.span(), "duplicate key `state`");
                }
                state = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("registry") {
                if registry.is_some() {
                    cx.error(meta.path.span(), "duplicate key `registry`");
                }
                registry = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("routes") {
                let content;
                syn::parenthesized!(content in meta.input);
                let list = content.parse_terminated(Path::parse_mod_style, Token![,])?;
                routes.extend(list);
            } else {
                let name = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let msg = format!("unknown key `{name}` in `#[secure_router]`");
                match auth_grammar::closest(&name, ["state", "registry", "routes"]) {
                    Some(s) => cx.error_help(meta.path.span(), msg, format!("did you mean `{s}`?")),
                    None => cx.error_help(
                        meta.path.span(),
                        msg,
                        "the keys are `state`, `registry` and `routes`",
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
    if !found {
        cx.error_help(
            Span::call_site(),
            "`#[derive(SecureRouter)]` needs a `#[secure_router(...)]` attribute",
            "write `#[secure_router(state = AppState, routes(handler_a, handler_b))]`",
        );
    } else if routes.is_empty() {
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
    if !cx.is_empty() {
        return cx.into_compile_errors();
    }

    let name = &input.ident;
    let p = quote!(::auth_runtime::__private);
    let state = state.map_or_else(|| quote!(::auth_runtime::AuthManager), |s| quote!(#s));
    let infos = routes.iter().map(|r| {
        quote_spanned! {r.span()=> #p::route_info(#p::spec_of(&#r)) }
    });
    let adds = routes.iter().enumerate().map(|(i, r)| {
        quote! { let router = #p::add_route(router, &Self::ROUTES[#i], #r); }
    });
    let mut registry_checks = Vec::new();
    if let Some(reg) = &registry {
        for r in &routes {
            for i in 0..crate::handler::REGISTRY_CHECKS {
                registry_checks.push(quote_spanned! {r.span()=>
                    const _: () = #p::check_registry::<#reg, _, _, #i>(&#r);
                });
            }
        }
    }
    let mut collisions = Vec::new();
    for j in 0..routes.len() {
        for i in 0..j {
            let (a, b) = (&routes[i], &routes[j]);
            let msg = format!(
                "handlers `{}` and `{}` are routed to the same method and path\n\nhelp: change the method or path of one of them; captures match by position, so `/a/{{{{id}}}}` and `/a/{{{{name}}}}` are the same path",
                quote!(#a).to_string().replace(' ', ""),
                quote!(#b).to_string().replace(' ', "")
            );
            let conflict = format!(
                "handlers `{}` and `{}` name the captures of the same path differently; axum would panic when building the router\n\nhelp: use the same capture names for the path under every method, such as `/reports/{{{{id}}}}`",
                quote!(#a).to_string().replace(' ', ""),
                quote!(#b).to_string().replace(' ', "")
            );
            collisions.push(quote_spanned! {b.span()=>
                const _: () = if #p::captures_conflict(
                    #name::ROUTES[#i].method, #name::ROUTES[#i].path,
                    #name::ROUTES[#j].method, #name::ROUTES[#j].path,
                ) {
                    ::core::panic!(#conflict)
                };
            });
            collisions.push(quote_spanned! {b.span()=>
                const _: () = if #p::routes_collide(
                    #name::ROUTES[#i].method, #name::ROUTES[#i].path,
                    #name::ROUTES[#j].method, #name::ROUTES[#j].path,
                ) {
                    ::core::panic!(#msg)
                };
            });
        }
    }

    let out = quote! {
        impl #name {
            /// The routes of this router: method, path, login types, scopes, policy, public.
            pub const ROUTES: &'static [#p::RouteInfo] = &[#(#infos),*];

            /// An axum router with every listed handler at its declared method and path.
            pub fn router() -> #p::AxumRouter<#state> {
                let router: #p::AxumRouter<#state> = #p::AxumRouter::new();
                #(#adds)*
                router
            }

            /// The static table of routes.
            pub fn routes() -> &'static [#p::RouteInfo] {
                Self::ROUTES
            }
        }

        impl #p::SecureRouterTrait for #name {
            type State = #state;

            fn router() -> #p::AxumRouter<#state> {
                #name::router()
            }

            fn routes() -> &'static [#p::RouteInfo] {
                #name::ROUTES
            }
        }

        const _: () = #p::assert_state::<#state>();
        #(#collisions)*
        #(#registry_checks)*
    };
    crate::debug_print("SecureRouter", &out);
    out
}
