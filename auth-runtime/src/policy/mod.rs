//! The policy engine: attribute-based access control that explains itself.
//!
//! Rules allow or deny actions (`users:ban`) on resources (`users`), with the wildcard grammar of
//! scopes (`users:*`, `*:read`, `*`). A rule matches when its action and resource patterns match,
//! the caller has its scopes, every condition holds and every evaluator returns `true`.
//! **Explicit deny wins over allow; when no rule matches, access is denied.** Every
//! [`Decision`] names the rule that decided and why.
//!
//! ```
//! use auth_runtime::policy::{Attr, Decision, PolicyEngine, PolicyRequest, PolicyRule};
//! use serde_json::json;
//!
//! let engine = PolicyEngine::builder()
//!     .rule(
//!         PolicyRule::allow("admins-ban")
//!             .actions(["users:ban"])
//!             .resources(["users"])
//!             .scopes(["admin:*"])
//!             .when(Attr::env("method").eq("POST"))
//!             .reason("admins may ban users"),
//!     )
//!     .rule(
//!         PolicyRule::deny("no-self-ban")
//!             .actions(["users:ban"])
//!             .resources(["users"])
//!             .when(Attr::subject("sub").eq(Attr::env("params.user_id")))
//!             .reason("an admin cannot ban themselves"),
//!     )
//!     .build()
//!     .unwrap();
//!
//! let request = PolicyRequest::new("users:ban", "users")
//!     .subject(json!({ "sub": "7", "scope": "admin:*" }))
//!     .method("POST")
//!     .param("user_id", "42");
//! let decision = engine.decide_now(&request);
//! assert!(decision.is_allowed_by("admins-ban"), "{decision}");
//!
//! let decision = engine.decide_now(&request.clone().param("user_id", "7"));
//! assert!(decision.is_denied_by("no-self-ban"), "{decision}");
//! ```

mod condition;
mod context;
mod decision;
mod engine;
mod file;
mod loader;
mod rule;

pub use condition::{Attr, Condition, Op, Operand, Source};
pub use context::{Environment, PolicyContext, PolicyRequest};
pub use decision::Decision;
pub use engine::{PolicyEngine, PolicyEngineBuilder, PolicyError};
pub use file::{Evaluators, PolicyFileError};
pub use loader::{LoadError, LoadFuture, LoadedResource, ResourceLoader};
pub use rule::PolicyRule;

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Grants the action when the rule matches (unless a deny rule matches too).
    Allow,
    /// Refuses the action when the rule matches, whatever else allows it.
    Deny,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::HierarchicalScopes;
    use auth_grammar::pattern_matches;

    #[test]
    fn default_reasons_say_all_or_one_of() {
        let all = PolicyRule::allow("a").scopes(["x:y", "z:w"]);
        let any = PolicyRule::allow("b").any_scope(["x:y", "z:w"]);
        assert_eq!(all.reason_text(), "scopes x:y, z:w");
        assert_eq!(any.reason_text(), "one of scopes x:y, z:w");
    }

    #[test]
    fn name_patterns() {
        assert!(pattern_matches("users:ban", "users:ban"));
        assert!(pattern_matches("users:*", "users:ban"));
        assert!(pattern_matches("users:*", "users:x:y"));
        assert!(pattern_matches("*:read", "billing:read"));
        assert!(pattern_matches("*", "anything:at:all"));
        assert!(pattern_matches("*", "users"));
        assert!(!pattern_matches("users:*", "users"));
        assert!(!pattern_matches("users:ba", "users:ban"));
        assert!(!pattern_matches("*:read", "billing:write"));
        assert!(pattern_matches("billing:*", "billing:invoices"));
    }

    /// A granted scope and a rule's action pattern mean the same thing (one matcher).
    #[test]
    fn scopes_and_rules_agree_on_wildcards() {
        let scopes = HierarchicalScopes::new();
        for (pattern, name) in [
            ("*:read", "reports:x:read"),
            ("*:read", "reports:read"),
            ("reports:*", "reports:x:y"),
            ("reports:*:read", "reports:x:read"),
            ("reports:*", "billing:read"),
            ("*:read", "reports:write"),
        ] {
            let rule = PolicyRule::allow("r").actions([pattern]).resources(["*"]);
            assert_eq!(
                rule.applies_to(name, "docs"),
                scopes.covers(pattern, name),
                "{pattern} vs {name}"
            );
        }
    }
}
