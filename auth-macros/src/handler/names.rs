//! The lists of names of `#[login_type("user", "admin")]` and `#[roles("editor")]`.

use syn::LitStr;

use crate::attr::Attr;
use crate::ctxt::Ctxt;

/// Checks a list of names (login types, roles): at least one, each valid, none twice. Returns
/// the valid ones; every problem is reported on its own literal.
pub(super) fn checked(
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
