//! Writing the router: `ROUTES`, `router()` and `routes()`, the `SecureRouter` impl, and one
//! `const` item per check, evaluated at compile time by the runtime's `const fn`s
//! (`auth_runtime::__private`) and spanned on the handler's name in `routes(...)`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{LitStr, Type};

use super::parse::RouterArgs;
use crate::ctxt::Ctxt;

/// How many registry checks the derive emits per handler: one name each, the last one covering
/// every remaining name (a handler rarely uses more than seven).
const REGISTRY_CHECKS: usize = 8;

/// The router's state type: `state = ...`, or the `AuthManager`.
fn state_type(state: Option<&Type>) -> TokenStream {
    state.map_or_else(|| quote!(::auth_runtime::AuthManager), |s| quote!(#s))
}

/// The errors, and the type's functions with no routes, so that calls of `Api::router()` add no
/// errors after them.
pub(super) fn with_errors(name: &Ident, state: Option<Type>, cx: Ctxt) -> TokenStream {
    let p = quote!(::auth_runtime::__private);
    let state = state_type(state.as_ref());
    let errors = cx.into_compile_errors();
    quote! {
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
    }
}

/// The router of a declaration without errors.
pub(super) fn router(name: &Ident, args: RouterArgs) -> TokenStream {
    let RouterArgs {
        state,
        registry,
        routes,
        group_login_types,
        group_scopes,
        ..
    } = args;
    let group_login_types: Vec<LitStr> = group_login_types.map(|(_, l)| l).unwrap_or_default();
    let group_scopes: Vec<LitStr> = group_scopes.map(|(_, l)| l).unwrap_or_default();
    let has_group = !group_login_types.is_empty() || !group_scopes.is_empty();

    let p = quote!(::auth_runtime::__private);
    let state_span = state.as_ref().map_or_else(Span::call_site, Spanned::span);
    let state = state_type(state.as_ref());

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

    quote! {
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
    }
}
