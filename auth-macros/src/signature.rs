//! Checks of a handler's signature where it is written, as `axum::debug_handler` does: what can
//! be told from the tokens (an argument that cannot be an extractor, a body extractor that is
//! not last, a `Path` on a route without captures, a `Principal` on a public handler, generic
//! handlers) is an error on the argument. What needs types (the return type is a response, the
//! future is `Send`) is checked by the handler's rewritten signature (`handler/rewrite.rs`).

use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, PathArguments, Type};

use crate::ctxt::Ctxt;

/// The last path segment of a type (`Json` for `axum::Json<T>`), unless it is a reference, a
/// tuple or something else without a name.
fn type_name(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        Type::Group(g) => type_name(&g.elem),
        Type::Paren(p) => type_name(&p.elem),
        _ => None,
    }
}

/// Types that are values, never extractors.
const PLAIN_VALUES: &[&str] = &[
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32",
    "f64", "bool", "char",
];

/// Extractors that read the request body, so they must come last.
const BODY_EXTRACTORS: &[&str] = &[
    "Json",
    "Form",
    "Bytes",
    "String",
    "Body",
    "Request",
    "Multipart",
    "RawForm",
    "JsonBody",
    "JsonOrForm",
];

/// What the route says about captures.
pub(crate) struct RouteShape {
    /// The route path, when the handler has a valid `#[route]`.
    pub(crate) path: Option<String>,
    /// Whether the handler is `#[public]`.
    pub(crate) public: bool,
}

/// The argument's binding, as written (`id` in `id: u64`).
fn binding(pat: &Pat) -> Option<String> {
    match pat {
        Pat::Ident(i) => Some(i.ident.to_string()),
        _ => None,
    }
}

/// Reports every signature mistake that the tokens show.
pub(crate) fn check(func: &ItemFn, route: &RouteShape, cx: &mut Ctxt) {
    let sig = &func.sig;
    if !sig.generics.params.is_empty() {
        cx.error_help(
            sig.generics.span(),
            format!("handler `{}` cannot be generic", sig.ident),
            "a secured handler is routed as one function: replace the type parameters with concrete types (or route a generic function's instances from non-generic handlers)",
        );
    }
    let typed: Vec<&syn::PatType> = sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(t) => Some(t),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let captures: Option<Vec<&str>> = route
        .path
        .as_deref()
        .map(|path| auth_grammar::captures(path).map(|c| c.name).collect());
    for (i, arg) in typed.iter().enumerate() {
        let last = i + 1 == typed.len();
        let Some(segment) = type_name(&arg.ty) else {
            if let Type::Reference(r) = &*arg.ty {
                cx.error_help(
                    r.span(),
                    "a handler argument cannot be a reference",
                    "take an owned extractor such as `Path<String>`, `Query<T>` or `Json<T>`",
                );
            }
            continue;
        };
        let name = segment.ident.to_string();
        if PLAIN_VALUES.contains(&name.as_str()) && matches!(segment.arguments, PathArguments::None)
        {
            let var = binding(&arg.pat).unwrap_or_else(|| "value".into());
            let help = match &captures {
                Some(c) if c.contains(&var.as_str()) => {
                    format!("take the path segment `{{{var}}}` with `Path({var}): Path<{name}>`")
                }
                _ => format!(
                    "wrap it in an extractor: `Path({var}): Path<{name}>` for a path segment, `Query(params): Query<Params>` for the query string"
                ),
            };
            cx.error_help(
                arg.ty.span(),
                format!("`{name}` is not an extractor: axum cannot fill argument `{var}` from the request"),
                help,
            );
            continue;
        }
        if !last && BODY_EXTRACTORS.contains(&name.as_str()) {
            cx.error_help(
                arg.ty.span(),
                format!("`{name}` reads the request body, so it must be the last argument"),
                format!(
                    "move the `{name}` argument of `{}` after the others",
                    sig.ident
                ),
            );
        }
        if name == "Path"
            && let Some(c) = &captures
            && c.is_empty()
        {
            cx.error_help(
                arg.ty.span(),
                format!(
                    "handler `{}` extracts `Path`, but its route `{}` has no captures",
                    sig.ident,
                    route.path.as_deref().unwrap_or_default()
                ),
                "add a capture to the route, as in `/reports/{id}`, or remove the `Path` argument",
            );
        }
        let needs_caller = matches!(name.as_str(), "Principal" | "CurrentUser");
        if route.public && needs_caller {
            cx.error_help(
                arg.ty.span(),
                format!("`#[public]` handler `{}` takes a `{name}`, which needs a signed-in caller", sig.ident),
                "take `Option<Principal>` to read the caller when there is one, or replace `#[public]` with `#[authenticated]`",
            );
        }
    }
}
