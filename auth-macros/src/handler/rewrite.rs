//! The handler rewritten: a marker type carrying its declaration (`RouteSpec`), and the
//! function as axum sees it, taking the guard first.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemFn;
use syn::spanned::Spanned;

use super::Spec;

/// The handler's marker type and `RouteSpec`, and the handler itself: with the guard, or, when
/// its signature has errors (`unroutable`), a stand-in of the same name.
pub(super) fn rewrite(
    mut func: ItemFn,
    spec: &Spec,
    invalid: bool,
    unroutable: bool,
) -> TokenStream {
    let name = func.sig.ident.clone();
    let vis = func.vis.clone();
    // The marker type carrying the handler's declaration has the handler's own name: a braced
    // struct lives in the type namespace only, so it does not clash with the function, it is
    // imported wherever the function is, and errors that show the guard read `Guard<get_report>`.
    let marker = name.clone();
    let name_str = name.to_string();
    let summary = super::doc::summary(&func.attrs);
    let p = quote!(::auth_runtime::__private);

    let method = match &spec.route {
        Some((m, _)) => quote!(::core::option::Option::Some(#m)),
        None => quote!(::core::option::Option::None),
    };
    let path = match &spec.route {
        Some((_, path)) => quote!(::core::option::Option::Some(#path)),
        None => quote!(::core::option::Option::None),
    };
    let public = spec.public;
    let login_types = &spec.login_types;
    let roles = &spec.roles;
    let scopes = &spec.scopes;
    let scopes = if scopes.is_empty() {
        quote!(#p::Scopes::None)
    } else if spec.any {
        quote!(#p::Scopes::AnyOf(&[#(#scopes),*]))
    } else {
        quote!(#p::Scopes::All(&[#(#scopes),*]))
    };
    let policy = match &spec.policy {
        Some((action, resource)) => {
            quote!(::core::option::Option::Some(#p::Policy { action: #action, resource: #resource }))
        }
        None => quote!(::core::option::Option::None),
    };

    let guard: syn::FnArg = syn::parse_quote_spanned! {name.span()=>
        _: #p::Guard<#marker>
    };
    let func = if unroutable {
        // Its signature errors are reported already. A router that lists it would add "cannot
        // be served" errors about the same arguments: it gets a valid handler of the same name
        // instead, and the function as written sits inside, so that its body is still checked
        // (the crate does not compile, so the stand-in never runs).
        let attrs = std::mem::take(&mut func.attrs);
        func.vis = syn::Visibility::Inherited;
        let inner = quote! { #(#attrs)* #[allow(dead_code)] #func };
        quote_spanned! {name.span()=>
            #vis async fn #name(#guard) -> ::core::convert::Infallible {
                #inner
                ::core::unreachable!()
            }
        }
    } else {
        split_handler(func, &guard)
    };

    let marker_def = quote_spanned! {name.span()=>
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #marker {}
    };
    quote! {
        #marker_def
        impl #p::RouteSpec for #marker {
            const SPEC: #p::HandlerSpec = #p::HandlerSpec {
                handler: #name_str,
                summary: #summary,
                module: ::core::module_path!(),
                method: #method,
                path: #path,
                public: #public,
                login_types: &[#(#login_types),*],
                roles: &[#(#roles),*],
                scopes: #scopes,
                policy: #policy,
                invalid: #invalid,
            };
        }
        #func
    }
}

/// The handler as axum sees it: a function taking the guard first, whose future is declared
/// `Send` and whose output a response, calling the function as written (inside it, unchanged).
/// A future that is not `Send` or a return type that is not a response is then one error, on
/// the handler (rustc names the value held across `.await`), and the function stays a valid
/// axum handler for every router that lists it: no second error there.
fn split_handler(mut func: ItemFn, guard: &syn::FnArg) -> TokenStream {
    let name = func.sig.ident.clone();
    let vis = std::mem::replace(&mut func.vis, syn::Visibility::Inherited);
    let (mut outer_attrs, mut inner_attrs) = (Vec::new(), Vec::new());
    for attr in std::mem::take(&mut func.attrs) {
        let path = attr.path();
        let is = |n: &str| path.is_ident(n);
        if is("doc") || is("cfg") || is("cfg_attr") || is("deprecated") {
            outer_attrs.push(attr);
        } else if is("allow") || is("warn") || is("deny") || is("forbid") {
            outer_attrs.push(attr.clone());
            inner_attrs.push(attr);
        } else {
            inner_attrs.push(attr);
        }
    }
    func.attrs = inner_attrs;

    // The outer function's parameters: the argument's own name where it has one, `arg{i}` for
    // a pattern (`Path(id)`), unless the handler already names an argument so.
    let simple = |pat: &syn::Pat| match pat {
        syn::Pat::Ident(p) if p.subpat.is_none() => Some(p.ident.clone()),
        _ => None,
    };
    let taken: Vec<String> = func
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(t) => simple(&t.pat).map(|i| i.to_string()),
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    let mut params = Vec::new();
    let mut args = Vec::new();
    for (i, input) in func.sig.inputs.iter().enumerate() {
        let syn::FnArg::Typed(t) = input else {
            continue;
        };
        let arg = simple(&t.pat).unwrap_or_else(|| {
            let mut name = format!("arg{i}");
            while taken.contains(&name) {
                name.insert(0, '_');
            }
            quote::format_ident!("{}", name)
        });
        let ty = &t.ty;
        params.push(quote!(#arg: #ty));
        args.push(arg);
    }
    // The output bound carries the return type's span (an error there says the type is not a
    // response), the `Send` bound the handler's name (rustc then names the value held across
    // an `.await`).
    let ret_span = match &func.sig.output {
        syn::ReturnType::Default => name.span(),
        syn::ReturnType::Type(_, ty) => ty.span(),
    };
    let future = quote_spanned! {ret_span=>
        impl ::core::future::Future<Output = impl ::auth_runtime::__private::HandlerResponse>
    };
    let send = quote_spanned!(name.span()=> + ::core::marker::Send);
    // The item's own tokens carry the original's spans, so that "defined here" notes show the
    // handler as written.
    let first = func
        .sig
        .asyncness
        .map_or(func.sig.fn_token.span, |a| a.span);
    let mut body = proc_macro2::Group::new(
        proc_macro2::Delimiter::Brace,
        quote! {
            #func
            #name(#(#args),*)
        },
    );
    body.set_span(func.block.brace_token.span.join());
    quote_spanned! {first=>
        #(#outer_attrs)*
        #vis fn #name(#guard, #(#params),*) -> #future #send #body
    }
}
