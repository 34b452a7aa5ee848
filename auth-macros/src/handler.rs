//! The handler attributes: gather every auth attribute of a function, check them together,
//! rewrite the function once.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, LitStr, Meta};

use crate::attr::{self, Attr, Kind, Value};
use crate::ctxt::Ctxt;

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
    let out = rewrite(func, &spec, invalid, unroutable);
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

fn check(attrs: &[Attr], func: &ItemFn, cx: &mut Ctxt) -> Spec {
    let mut spec = Spec::default();

    // Duplicates: the second occurrence is the error.
    for (i, a) in attrs.iter().enumerate() {
        if attrs[..i].iter().any(|b| b.kind == a.kind) {
            let help = match a.kind {
                Kind::Requires => {
                    "list every scope in one attribute: `#[requires(\"a:b\", \"c:d\")]`"
                }
                Kind::LoginType => {
                    "list every accepted login type in one attribute: `#[login_type(\"user\", \"admin\")]`"
                }
                _ => "remove one of them",
            };
            cx.error_help(
                a.span,
                format!("duplicate `#[{}]` attribute", a.kind.name()),
                help,
            );
        }
    }

    let has = |k: Kind| attrs.iter().find(|a| a.kind == k);
    if let Some(public) = has(Kind::Public) {
        // One error naming every conflicting attribute, not one error each.
        let others: Vec<String> = [
            Kind::Requires,
            Kind::LoginType,
            Kind::Authenticated,
            Kind::Policy,
            Kind::Roles,
        ]
        .into_iter()
        .filter(|k| has(*k).is_some())
        .map(|k| format!("`#[{}]`", k.name()))
        .collect();
        if let Some((last, rest)) = others.split_last() {
            let list = if rest.is_empty() {
                last.clone()
            } else {
                format!("{} or {last}", rest.join(", "))
            };
            let help = if rest.is_empty() {
                format!("a handler is either public or protected: remove `#[public]` or {last}")
            } else {
                "a handler is either public or protected: remove `#[public]`, or remove the others"
                    .to_owned()
            };
            cx.error_help(
                public.span,
                format!("`#[public]` cannot be combined with {list}"),
                help,
            );
        }
    }
    if let Some(auth) = has(Kind::Authenticated) {
        // One error naming every attribute that makes it redundant.
        let others: Vec<String> = [Kind::Requires, Kind::LoginType, Kind::Policy, Kind::Roles]
            .into_iter()
            .filter(|k| has(*k).is_some())
            .map(|k| format!("`#[{}]`", k.name()))
            .collect();
        if !others.is_empty() {
            let (list, verb) = if others.len() == 1 {
                (others[0].clone(), "already requires")
            } else {
                (others.join(" and "), "already require")
            };
            cx.error_help(
                auth.span,
                format!("`#[authenticated]` is redundant next to {list}"),
                format!("{list} {verb} a signed-in caller: remove `#[authenticated]`"),
            );
        }
    }
    if let Some(route) = has(Kind::Route) {
        let guarded = attrs.iter().any(|a| a.kind != Kind::Route);
        if !guarded {
            cx.error_help(
                route.span,
                format!("handler `{}` has a `#[route]` but no auth attribute", func.sig.ident),
                "secure by default: add `#[public]` if anyone may call it, or `#[authenticated]`, `#[login_type(...)]`, `#[requires(...)]`, `#[roles(...)]` or `#[policy(...)]`",
            );
        }
    }

    for a in attrs {
        match &a.value {
            Value::Requires { any, scopes } => {
                spec.any = *any;
                for (i, s) in scopes.iter().enumerate() {
                    let value = s.value();
                    if let Err(e) = auth_grammar::validate_required_scope(&value) {
                        scope_error(cx, s, &value, e);
                    } else if scopes[..i].iter().any(|p| p.value() == value) {
                        cx.error(s.span(), format!("scope `{value}` is listed twice"));
                    } else {
                        spec.scopes.push(s.clone());
                    }
                }
            }
            Value::Roles(names) => {
                spec.roles = checked_names(
                    cx,
                    a,
                    names,
                    "role",
                    "write `#[roles(\"editor\")]`; the caller needs one of the listed roles",
                );
            }
            Value::LoginType(names) => {
                spec.login_types = checked_names(
                    cx,
                    a,
                    names,
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
                let mut ok = true;
                if let Some(action) = action
                    && let Err(e) = auth_grammar::validate_action(&action.value())
                {
                    ok = false;
                    let value = action.value();
                    let msg = format!("invalid policy action `{value}`: {}", action_error(e));
                    // `action = "ban"` next to `resource = "users"` most likely means `users:ban`.
                    let resource_name = resource.as_ref().map(LitStr::value);
                    match (e, resource_name) {
                        (auth_grammar::ScopeError::MissingSeparator, Some(r))
                            if auth_grammar::validate_action(&format!("{r}:{value}")).is_ok() =>
                        {
                            cx.error_help(
                                action.span(),
                                msg,
                                format!("did you mean `{r}:{value}`?"),
                            );
                        }
                        _ => cx.error(action.span(), msg),
                    }
                }
                if let Some(resource) = resource
                    && let Err(e) = auth_grammar::validate_resource(&resource.value())
                {
                    ok = false;
                    cx.error(
                        resource.span(),
                        format!("invalid policy resource `{}`: {e}", resource.value()),
                    );
                }
                if let (true, Some(action), Some(resource)) = (ok, action, resource) {
                    spec.policy = Some((action.clone(), resource.clone()));
                }
            }
            Value::Route { method, path } => {
                let method = method.as_ref().and_then(|m| {
                    let name = m.to_string();
                    match auth_grammar::parse_method(&name) {
                        Some(canonical) => Some(canonical.to_owned()),
                        None => {
                            let upper = name.to_ascii_uppercase();
                            // A typo keeps its first letter: `PSOT` is `POST`, but `FETCH` is
                            // not `PATCH`, so that one gets the list of methods instead.
                            let suggestion = auth_grammar::parse_method(&upper).or_else(|| {
                                auth_grammar::closest(&upper, auth_grammar::METHODS.iter().copied())
                                    .filter(|s| s.as_bytes().first() == upper.as_bytes().first())
                            });
                            let msg = format!("unknown HTTP method `{name}`");
                            match suggestion {
                                Some(s) => {
                                    cx.error_help(m.span(), msg, format!("did you mean `{s}`?"))
                                }
                                None => cx.error_help(
                                    m.span(),
                                    msg,
                                    format!(
                                        "use one of {}",
                                        auth_grammar::METHODS
                                            .iter()
                                            .map(|m| format!("`{m}`"))
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    ),
                                ),
                            }
                            None
                        }
                    }
                });
                let path = path.as_ref().and_then(|p| {
                    match auth_grammar::validate_route_path(&p.value()) {
                        Ok(()) => Some(p.clone()),
                        Err(e) => {
                            cx.error(p.span(), format!("invalid route path `{}`: {e}", p.value()));
                            None
                        }
                    }
                });
                if let (Some(m), Some(p)) = (method, path) {
                    spec.route = Some((m, p));
                }
            }
        }
    }
    spec
}

/// Why a policy action is invalid: the scope grammar, in words about actions.
fn action_error(e: auth_grammar::ScopeError) -> String {
    use auth_grammar::ScopeError;
    match e {
        ScopeError::MissingSeparator => {
            "an action has the form `resource:verb`, as in `users:ban`".to_owned()
        }
        ScopeError::Whitespace => "an action cannot contain whitespace".to_owned(),
        ScopeError::Wildcard | ScopeError::PartialWildcard => {
            "an action cannot contain `*`: name one action, such as `users:ban`".to_owned()
        }
        other => other.to_string().replace("a scope", "an action"),
    }
}

/// Reports an invalid required scope, with a `help:` where the fix is clear.
fn scope_error(cx: &mut Ctxt, lit: &LitStr, value: &str, e: auth_grammar::ScopeError) {
    use auth_grammar::ScopeError;
    let msg = if value.is_empty() {
        e.to_string()
    } else {
        format!("invalid scope `{value}`: {e}")
    };
    let parts: Vec<&str> = value.split_whitespace().collect();
    let dotted = value.replacen('.', ":", 1);
    let role_like = value.starts_with("ROLE_")
        || (value.chars().any(|c| c.is_ascii_uppercase())
            && !value.chars().any(|c| c.is_ascii_lowercase()));
    match e {
        ScopeError::MissingSeparator if role_like => {
            let role = value.trim_start_matches("ROLE_").to_ascii_lowercase();
            cx.error_help(
                lit.span(),
                msg,
                format!(
                    "`{value}` looks like a role: write `#[roles(\"{role}\")]` (a role is a set of scopes, configured with `AuthManagerBuilder::role`)"
                ),
            )
        }
        ScopeError::MissingSeparator
            if value.contains('.') && auth_grammar::validate_required_scope(&dotted).is_ok() =>
        {
            cx.error_help(lit.span(), msg, format!("did you mean `{dotted}`?"))
        }
        ScopeError::MissingSeparator => cx.error_help(
            lit.span(),
            msg,
            format!("name the action after a `:`, as in `{value}:read`"),
        ),
        ScopeError::Whitespace
            if parts.len() > 1
                && parts
                    .iter()
                    .all(|p| auth_grammar::validate_required_scope(p).is_ok()) =>
        {
            let list = parts
                .iter()
                .map(|p| format!("\"{p}\""))
                .collect::<Vec<_>>()
                .join(", ");
            cx.error_help(
                lit.span(),
                msg,
                format!("list each scope as its own string: `#[requires({list})]`"),
            );
        }
        ScopeError::Wildcard => {
            let example = match value.split(':').next() {
                Some(resource) if resource != "*" => format!("{resource}:read"),
                _ => "reports:read".to_owned(),
            };
            cx.error_help(
                lit.span(),
                msg,
                format!(
                    "require a concrete scope such as `{example}`; a token granted `{value}` still passes"
                ),
            );
        }
        _ => cx.error(lit.span(), msg),
    }
}

/// Checks a list of names (login types, roles): at least one, each valid, none twice. Returns
/// the valid ones; every problem is reported on its own literal.
fn checked_names(
    cx: &mut Ctxt,
    attr: &Attr,
    names: &[LitStr],
    what: &str,
    example: &str,
) -> Vec<LitStr> {
    if names.is_empty() {
        cx.error_help(
            attr.span,
            format!("`#[{}]` needs at least one {what}", attr.kind.name()),
            example,
        );
    }
    let mut valid = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let value = n.value();
        if value.is_empty() {
            cx.error(n.span(), format!("a {what} cannot be empty"));
        } else if let Err(e) = auth_grammar::validate_login_type(&value) {
            cx.error(n.span(), format!("invalid {what} `{value}`: {e}"));
        } else if names[..i].iter().any(|p| p.value() == value) {
            cx.error(n.span(), format!("{what} `{value}` is listed twice"));
        } else {
            valid.push(n.clone());
        }
    }
    valid
}

fn rewrite(mut func: ItemFn, spec: &Spec, invalid: bool, unroutable: bool) -> TokenStream {
    let name = func.sig.ident.clone();
    let vis = func.vis.clone();
    // The marker type carrying the handler's declaration has the handler's own name: a braced
    // struct lives in the type namespace only, so it does not clash with the function, it is
    // imported wherever the function is, and errors that show the guard read `Guard<get_report>`.
    let marker = name.clone();
    let name_str = name.to_string();
    let summary = doc_summary(&func.attrs);
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

/// The first paragraph of a doc comment (`///` lines or `#[doc = "..."]`), its lines trimmed
/// and joined by spaces.
fn doc_summary(attrs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        let syn::Meta::NameValue(nv) = &attr.meta else {
            continue;
        };
        if !nv.path.is_ident("doc") {
            continue;
        }
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) = &nv.value
        else {
            continue;
        };
        // `split`, not `lines`: an empty `///` line is a paragraph break.
        lines.extend(text.value().split('\n').map(|l| l.trim().to_owned()));
    }
    lines
        .into_iter()
        .skip_while(String::is_empty)
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::doc_summary;

    #[test]
    fn summary_is_the_first_paragraph() {
        let f: syn::ItemFn = syn::parse_quote! {
            ///
            /// Reads one report
            ///   by its id.
            ///
            /// Details that are not the summary.
            #[doc = "More."]
            async fn get_report() {}
        };
        assert_eq!(doc_summary(&f.attrs), "Reads one report by its id.");
        let none: syn::ItemFn = syn::parse_quote! { async fn health() {} };
        assert_eq!(doc_summary(&none.attrs), "");
        let block: syn::ItemFn = syn::parse_quote! {
            /** Block
                comment. */
            async fn b() {}
        };
        assert_eq!(doc_summary(&block.attrs), "Block comment.");
    }
}
