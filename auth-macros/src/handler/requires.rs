//! `#[requires("a:b", "c:d")]` and `#[requires(any("a:b", "c:d"))]`: every scope valid and
//! concrete (no wildcard), none twice, with a `help:` for the usual mistakes (a role, a dotted
//! name, several scopes in one string).

use syn::LitStr;

use crate::ctxt::Ctxt;

/// The valid scopes of one `#[requires]`; every other one is reported on its literal.
pub(super) fn checked_scopes(cx: &mut Ctxt, scopes: &[LitStr]) -> Vec<LitStr> {
    let mut valid = Vec::new();
    for (i, s) in scopes.iter().enumerate() {
        let value = s.value();
        if let Err(e) = auth_grammar::validate_required_scope(&value) {
            scope_error(cx, s, &value, e);
        } else if scopes[..i].iter().any(|p| p.value() == value) {
            cx.error(s.span(), format!("scope `{value}` is listed twice"));
        } else {
            valid.push(s.clone());
        }
    }
    valid
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
