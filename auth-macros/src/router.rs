//! `#[derive(SecureRouter)]`: registers annotated handlers into one router.

/// How many registry checks the derive emits per handler: one name each, the last one covering
/// every remaining name (a handler rarely uses more than seven).
const REGISTRY_CHECKS: usize = 8;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, LitStr, Path, Token, Type};

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
    // The router's own requirement (group protection, as FAuth's `SecureAPIRouter`).
    let mut group_login_types: Option<(Span, Vec<LitStr>)> = None;
    let mut group_scopes: Option<(Span, Vec<LitStr>)> = None;
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
            } else if meta.path.is_ident("login_types") || meta.path.is_ident("requires") {
                let content;
                syn::parenthesized!(content in meta.input);
                let list: Vec<LitStr> = content
                    .parse_terminated(|input| input.parse::<LitStr>(), Token![,])
                    .map_err(|e| syn::Error::new(e.span(), "expected a string literal"))?
                    .into_iter()
                    .collect();
                let slot = if meta.path.is_ident("requires") {
                    &mut group_scopes
                } else {
                    &mut group_login_types
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
                let keys = ["state", "registry", "routes", "login_types", "requires"];
                match auth_grammar::closest(&name, keys) {
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
    check_group_list(
        &mut cx,
        &group_login_types,
        ("login_types", "login type", "\"admin\""),
        |v| auth_grammar::validate_login_type(v).map_err(|e| e.to_string()),
    );
    check_group_list(
        &mut cx,
        &group_scopes,
        ("requires", "scope", "\"admin:read\""),
        |v| auth_grammar::validate_required_scope(v).map_err(|e| e.to_string()),
    );
    let group_login_types: Vec<LitStr> = group_login_types.map(|(_, l)| l).unwrap_or_default();
    let group_scopes: Vec<LitStr> = group_scopes.map(|(_, l)| l).unwrap_or_default();
    let has_group = !group_login_types.is_empty() || !group_scopes.is_empty();

    let name = &input.ident;
    let p = quote!(::auth_runtime::__private);
    let state_span = state.as_ref().map_or_else(Span::call_site, Spanned::span);
    let state = state.map_or_else(|| quote!(::auth_runtime::AuthManager), |s| quote!(#s));
    if !cx.is_empty() {
        // Still emit the type's functions (with no routes), so that calls of `Api::router()`
        // add no errors after the ones above.
        let errors = cx.into_compile_errors();
        return quote! {
            #errors
            impl #name {
                /// The routes of this router (none: its declaration has errors).
                pub const ROUTES: &'static [#p::RouteInfo] = &[];
                /// An empty router (its declaration has errors).
                pub fn router() -> #p::AxumRouter<#state> {
                    #p::AxumRouter::new()
                }
                /// The static table of routes.
                pub fn routes() -> &'static [#p::RouteInfo] {
                    Self::ROUTES
                }
            }
        };
    }

    // The state must give the manager: one error, on the state, if it does not. Every guard and
    // extractor of the router's handlers is checked under that assumption, so they add none.
    let state_bound = quote_spanned! {state_span=> #state: ::auth_runtime::__private::AuthState };
    let count = routes.len();
    let with_group = if has_group {
        quote! { let router = #p::with_group(router, Self::__AUTH_GROUP); }
    } else {
        TokenStream::new()
    };
    let specs = routes
        .iter()
        .map(|r| quote_spanned! {r.span()=> #p::spec_of(&#r) });
    let adds = routes.iter().enumerate().map(|(i, r)| {
        quote! { let router = #p::add_route(router, &Self::ROUTES[#i], #r); }
    });
    // One item per handler (O(n)): its own problems and its conflicts with earlier handlers,
    // evaluated at compile time and spanned on its name in `routes(...)`.
    let problems = routes.iter().enumerate().map(|(i, r)| {
        quote_spanned! {r.span()=>
            // (No let chains: the expansion is compiled in the user's edition.)
            const _: () = if #name::__AUTH_SCREEN[#i] {
                if let ::core::option::Option::Some(problem) =
                    #p::handler_problem(&#name::__AUTH_SPECS, #name::__AUTH_GROUP, #i)
                {
                    ::core::panic!("{}", problem.as_str())
                }
            };
        }
    });
    let mut registry_checks = Vec::new();
    if let Some(reg) = &registry {
        // The registry's names, read once through the trait: a type that is not a registry is
        // one error, on it, and the checks below (which use the names, not the trait) add none.
        let r = reg.span();
        registry_checks.push(quote_spanned! {r=>
            impl #name {
                #[doc(hidden)]
                const __AUTH_REGISTRY: #p::RegistryNames = #p::RegistryNames {
                    login_types: <#reg as ::auth_runtime::Registry>::LOGIN_TYPES,
                    scopes: <#reg as ::auth_runtime::Registry>::SCOPES,
                    actions: <#reg as ::auth_runtime::Registry>::ACTIONS,
                    resources: <#reg as ::auth_runtime::Registry>::RESOURCES,
                    roles: <#reg as ::auth_runtime::Registry>::ROLES,
                };
            }
        });
        if has_group {
            registry_checks.push(quote_spanned! {r=>
                const _: () = if let ::core::option::Option::Some(problem) =
                    #p::undeclared_in_group(&#name::__AUTH_REGISTRY, #name::__AUTH_GROUP)
                {
                    ::core::panic!("{}", problem.as_str())
                };
            });
        }
        for (i, r) in routes.iter().enumerate() {
            for k in 0..REGISTRY_CHECKS {
                let rest = k + 1 == REGISTRY_CHECKS;
                registry_checks.push(quote_spanned! {r.span()=>
                    const _: () = if let ::core::option::Option::Some(problem) =
                        #p::undeclared(&#name::__AUTH_REGISTRY, &#name::__AUTH_SPECS[#i], #k, #rest)
                    {
                        ::core::panic!("{}", problem.as_str())
                    };
                });
            }
        }
    }

    let out = quote! {
        impl #name {
            #[doc(hidden)]
            const __AUTH_SPECS: [#p::HandlerSpec; #count] = [#(#specs),*];

            #[doc(hidden)]
            const __AUTH_GROUP: #p::Group = #p::Group {
                login_types: &[#(#group_login_types),*],
                scopes: &[#(#group_scopes),*],
            };

            #[doc(hidden)]
            const __AUTH_SCREEN: [bool; #count] =
                #p::problem_screen(&Self::__AUTH_SPECS, Self::__AUTH_GROUP);

            /// The routes of this router: method, path, login types, scopes, policy, public.
            pub const ROUTES: &'static [#p::RouteInfo] =
                &#p::route_infos(&Self::__AUTH_SPECS, Self::__AUTH_GROUP);

            /// An axum router with every listed handler at its declared method and path.
            pub fn router() -> #p::AxumRouter<#state>
            where
                #state_bound
            {
                let router: #p::AxumRouter<#state> = #p::AxumRouter::new();
                #(#adds)*
                #with_group
                router
            }

            /// The static table of routes.
            pub fn routes() -> &'static [#p::RouteInfo] {
                Self::ROUTES
            }
        }

        impl #p::SecureRouterTrait for #name
        where
            #state_bound
        {
            type State = #state;

            fn router() -> #p::AxumRouter<#state> {
                #name::router()
            }

            fn routes() -> &'static [#p::RouteInfo] {
                #name::ROUTES
            }
        }

        #(#problems)*
        #(#registry_checks)*
    };
    crate::debug_print("SecureRouter", &out);
    out
}

/// Checks one list of a router's own requirement (`login_types(...)`, `requires(...)`): not
/// empty, every name valid, none twice. `what` is (key, kind of name, example).
fn check_group_list(
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
