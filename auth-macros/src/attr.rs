//! Parsing of each attribute's arguments. Grammar only; meaning is checked in `handler`.

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Token};

use crate::ctxt::Ctxt;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Requires,
    LoginType,
    Public,
    Authenticated,
    Policy,
    Route,
    Roles,
}

impl Kind {
    pub(crate) const ALL: [Kind; 7] = [
        Kind::Requires,
        Kind::LoginType,
        Kind::Public,
        Kind::Authenticated,
        Kind::Policy,
        Kind::Route,
        Kind::Roles,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Requires => "requires",
            Kind::LoginType => "login_type",
            Kind::Public => "public",
            Kind::Authenticated => "authenticated",
            Kind::Policy => "policy",
            Kind::Route => "route",
            Kind::Roles => "roles",
        }
    }

    /// Recognises the attribute however it was imported: `#[requires]`,
    /// `#[auth_runtime::requires]`, `#[auth::requires]` after `use auth_runtime::prelude as
    /// auth`, or an app's own re-export module. A macro cannot see what a path resolves to, so
    /// the last segment decides.
    pub(crate) fn of_path(path: &syn::Path) -> Option<Kind> {
        let last = path.segments.last()?.ident.to_string();
        Kind::ALL.into_iter().find(|k| k.name() == last)
    }
}

/// One parsed attribute.
pub(crate) struct Attr {
    pub(crate) kind: Kind,
    /// The attribute (for "duplicate" and "conflict" errors).
    pub(crate) span: Span,
    pub(crate) value: Value,
}

pub(crate) enum Value {
    Requires {
        any: bool,
        scopes: Vec<LitStr>,
    },
    LoginType(Vec<LitStr>),
    Roles(Vec<LitStr>),
    Flag,
    Policy {
        action: Option<LitStr>,
        resource: Option<LitStr>,
    },
    Route {
        method: Option<Ident>,
        path: Option<LitStr>,
    },
    /// The attribute is malformed and its error was reported: it counts as present (no
    /// "missing attribute" error follows) but declares nothing.
    Invalid,
}

pub(crate) fn parse(kind: Kind, span: Span, args: TokenStream, cx: &mut Ctxt) -> Attr {
    let value = match kind {
        Kind::Requires => parse_requires(span, args, cx),
        Kind::LoginType => Value::LoginType(parse_strings(
            args,
            cx,
            "a login type string such as `\"admin\"`",
        )),
        Kind::Public | Kind::Authenticated => {
            if !args.is_empty() {
                cx.error(
                    args.span(),
                    format!("`#[{}]` takes no arguments", kind.name()),
                );
            }
            Value::Flag
        }
        Kind::Policy => parse_policy(span, args, cx),
        Kind::Route => parse_route(span, args, cx),
        Kind::Roles => Value::Roles(parse_strings(
            args,
            cx,
            "a role name string such as `\"editor\"`",
        )),
    };
    Attr { kind, span, value }
}

/// A comma-separated list of string literals; anything else is reported and skipped.
fn parse_strings(args: TokenStream, cx: &mut Ctxt, expected: &str) -> Vec<LitStr> {
    let mut out = Vec::new();
    let parser = |input: ParseStream<'_>| {
        while !input.is_empty() {
            if input.peek(LitStr) {
                out.push(input.parse::<LitStr>()?);
            } else {
                let tt: proc_macro2::TokenTree = input.parse()?;
                cx.error(tt.span(), format!("expected {expected}"));
                // skip to the next comma
                while !input.is_empty() && !input.peek(Token![,]) {
                    input.parse::<proc_macro2::TokenTree>()?;
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(())
    };
    if let Err(e) = parser.parse2(args) {
        cx.push(e);
    }
    out
}

fn parse_requires(span: Span, args: TokenStream, cx: &mut Ctxt) -> Value {
    // `any("a:b", "c:d")` alone, or a list of strings.
    let mut tokens = args.clone().into_iter();
    if let (Some(proc_macro2::TokenTree::Ident(ident)), Some(proc_macro2::TokenTree::Group(g))) =
        (tokens.next(), tokens.next())
        && ident == "any"
        && g.delimiter() == proc_macro2::Delimiter::Parenthesis
    {
        // A trailing comma is fine; point at the first real extra argument.
        if let Some(extra) =
            tokens.find(|t| !matches!(t, proc_macro2::TokenTree::Punct(p) if p.as_char() == ','))
        {
            // Moving the extra scope into `any(...)` would change the meaning ("a or b, and c"
            // is not "a or b or c"), so the help says how to write the conjunction instead.
            cx.error_help(
                extra.span(),
                "`any(...)` cannot be combined with other scopes in one `#[requires]`",
                "`#[requires]` means either all of its scopes or `any(...)` of them; for \"one of these, and also that\" declare a role (a set of scopes) and use `#[roles(...)]`, or write a `#[policy]` rule with `any_scope` and `scopes`",
            );
        }
        let scopes = parse_strings(g.stream(), cx, "a scope string such as `\"reports:read\"`");
        if scopes.is_empty() {
            cx.error(g.span(), "`any(...)` needs at least one scope");
        }
        return Value::Requires { any: true, scopes };
    }
    let scopes = parse_strings(
        args.clone(),
        cx,
        "a scope string such as `\"reports:read\"`",
    );
    if args.is_empty() {
        cx.error_help(
            span,
            "`#[requires]` needs at least one scope",
            "name the scope, as in `#[requires(\"reports:read\")]`; for any signed-in caller use `#[authenticated]`",
        );
    }
    Value::Requires { any: false, scopes }
}

fn parse_policy(span: Span, args: TokenStream, cx: &mut Ctxt) -> Value {
    // `#[policy("users:ban", "users")]`: one error that shows the named form with these values.
    if let Some(proc_macro2::TokenTree::Literal(_)) = args.clone().into_iter().next() {
        let strings = parse_strings(args.clone(), &mut Ctxt::default(), "");
        let action = strings.first().map_or("users:ban".into(), LitStr::value);
        let resource = strings.get(1).map_or("users".into(), LitStr::value);
        cx.error_help(
            args.span(),
            "`#[policy]` takes named arguments",
            format!("write `#[policy(action = \"{action}\", resource = \"{resource}\")]`"),
        );
        return Value::Invalid;
    }
    let mut action: Option<LitStr> = None;
    let mut resource: Option<LitStr> = None;
    // Keys suggested for a misspelt key: not reported missing a second time.
    let mut suggested: Vec<&str> = Vec::new();
    let parser = syn::meta::parser(|meta| {
        let key = meta.path.get_ident().map(ToString::to_string);
        let slot = match key.as_deref() {
            Some("action") => &mut action,
            Some("resource") => &mut resource,
            _ => {
                let name = key.unwrap_or_else(|| "?".into());
                let msg = format!("unknown key `{name}` in `#[policy]`");
                match auth_grammar::closest(&name, ["action", "resource"]) {
                    Some(s) => {
                        suggested.push(s);
                        cx.error_help(meta.path.span(), msg, format!("did you mean `{s}`?"));
                    }
                    None => cx.error_help(
                        meta.path.span(),
                        msg,
                        "the keys are `action` and `resource`",
                    ),
                }
                // consume the value so parsing goes on
                if meta.input.peek(Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                }
                return Ok(());
            }
        };
        let lit: LitStr = meta
            .value()?
            .parse()
            .map_err(|e| syn::Error::new(e.span(), "expected a string literal"))?;
        if slot.is_some() {
            cx.error(
                meta.path.span(),
                format!(
                    "duplicate key `{}` in `#[policy]`",
                    meta.path
                        .get_ident()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
            );
        } else {
            *slot = Some(lit);
        }
        Ok(())
    });
    if let Err(e) = parser.parse2(args) {
        cx.push(e);
    }
    let example = "`#[policy(action = \"users:ban\", resource = \"users\")]`";
    if action.is_none() && !suggested.contains(&"action") {
        cx.error_help(
            span,
            "`#[policy]` is missing `action`",
            format!("write {example}"),
        );
    }
    if resource.is_none() && !suggested.contains(&"resource") {
        cx.error_help(
            span,
            "`#[policy]` is missing `resource`",
            format!("write {example}"),
        );
    }
    Value::Policy { action, resource }
}

fn parse_route(span: Span, args: TokenStream, cx: &mut Ctxt) -> Value {
    let mut method = None;
    let mut path = None;
    let parser = |input: ParseStream<'_>| {
        if input.is_empty() {
            return Ok(());
        }
        if input.peek(LitStr) {
            let quoted: LitStr = input.parse()?;
            let value = quoted.value();
            let message = if value.starts_with('/') {
                format!(
                    "`#[route]` needs the HTTP method before the path\n\nhelp: write `#[route(GET, \"{value}\")]` (or `POST`, `PUT`, `PATCH`, `DELETE`, ...)"
                )
            } else {
                format!(
                    "expected an HTTP method such as `GET`\n\nhelp: write the method without quotes: `{}`",
                    value.to_ascii_uppercase()
                )
            };
            return Err(syn::Error::new(quoted.span(), message));
        }
        method = Some(
            input
                .parse::<Ident>()
                .map_err(|e| syn::Error::new(e.span(), "expected an HTTP method such as `GET`"))?,
        );
        input.parse::<Token![,]>()?;
        path = Some(input.parse::<LitStr>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the route path as a string, such as `\"/reports/{id}\"`",
            )
        })?);
        let _: Option<Token![,]> = input.parse()?;
        Ok(())
    };
    if let Err(e) = parser.parse2(args) {
        cx.push(e);
        return Value::Route {
            method: None,
            path: None,
        };
    }
    if method.is_none() {
        cx.error_help(
            span,
            "`#[route]` needs a method and a path",
            "write `#[route(GET, \"/reports/{id}\")]`",
        );
    }
    Value::Route { method, path }
}
