//! How the attributes of one handler go together: each at most once, `#[public]` alone,
//! `#[authenticated]` only without a more precise requirement, and a `#[route]` never alone
//! (secure by default).

use syn::ItemFn;

use crate::attr::{Attr, Kind};
use crate::ctxt::Ctxt;

/// Reports duplicate attributes and attributes that contradict each other.
pub(super) fn check(attrs: &[Attr], func: &ItemFn, cx: &mut Ctxt) {
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
}
