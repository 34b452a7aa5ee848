//! `#[policy(action = "users:ban", resource = "users")]`: the action has the grammar of a
//! required scope, the resource that of a resource name. (The keys themselves are parsed in
//! `attr.rs`.)

use syn::LitStr;

use crate::ctxt::Ctxt;

/// The action and resource, when both are present and valid; every problem is reported on its
/// literal.
pub(super) fn check(
    cx: &mut Ctxt,
    action: &Option<LitStr>,
    resource: &Option<LitStr>,
) -> Option<(LitStr, LitStr)> {
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
                cx.error_help(action.span(), msg, format!("did you mean `{r}:{value}`?"));
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
    match (ok, action, resource) {
        (true, Some(action), Some(resource)) => Some((action.clone(), resource.clone())),
        _ => None,
    }
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
