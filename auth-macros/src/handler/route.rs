//! `#[route(GET, "/reports/{id}")]`: a method axum knows (with "did you mean" for a typo) and a
//! path axum 0.8 accepts (`auth_grammar::validate_route_path`).

use syn::{Ident, LitStr};

use crate::ctxt::Ctxt;

/// The canonical method and the path, when both are valid; every problem is reported on its
/// token.
pub(super) fn check(
    cx: &mut Ctxt,
    method: &Option<Ident>,
    path: &Option<LitStr>,
) -> Option<(String, LitStr)> {
    let method = method.as_ref().and_then(|m| {
        let name = m.to_string();
        match auth_grammar::parse_method(&name) {
            Some(canonical) => Some(canonical.to_owned()),
            None => {
                let upper = name.to_ascii_uppercase();
                // A typo keeps its first letter: `PSOT` is `POST`, but `FETCH` is not `PATCH`,
                // so that one gets the list of methods instead.
                let suggestion = auth_grammar::parse_method(&upper).or_else(|| {
                    auth_grammar::closest(&upper, auth_grammar::METHODS.iter().copied())
                        .filter(|s| s.as_bytes().first() == upper.as_bytes().first())
                });
                let msg = format!("unknown HTTP method `{name}`");
                match suggestion {
                    Some(s) => cx.error_help(m.span(), msg, format!("did you mean `{s}`?")),
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
    let path = path
        .as_ref()
        .and_then(|p| match auth_grammar::validate_route_path(&p.value()) {
            Ok(()) => Some(p.clone()),
            Err(e) => {
                cx.error(p.span(), format!("invalid route path `{}`: {e}", p.value()));
                None
            }
        });
    method.zip(path)
}
