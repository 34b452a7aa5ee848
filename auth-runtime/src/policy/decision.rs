//! [`Decision`]: the outcome of a policy check, naming the rule that decided.

use std::fmt;

use super::PolicyRule;

/// The outcome of a policy check, with the rule that decided and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// The id of the rule that decided; `None` when no rule matched (default deny).
    pub rule: Option<String>,
    /// Why, in words.
    pub reason: String,
}

impl Decision {
    /// Allowed by the rule with this id.
    pub fn is_allowed_by(&self, rule: &str) -> bool {
        self.allowed && self.rule.as_deref() == Some(rule)
    }

    /// Denied by the rule with this id.
    pub fn is_denied_by(&self, rule: &str) -> bool {
        !self.allowed && self.rule.as_deref() == Some(rule)
    }

    /// Denied because no rule allowed it.
    pub fn is_default_deny(&self) -> bool {
        !self.allowed && self.rule.is_none()
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rule, self.allowed) {
            (Some(rule), true) => write!(f, "allowed by rule `{rule}`: {}", self.reason),
            (Some(rule), false) => write!(f, "denied by rule `{rule}`: {}", self.reason),
            (None, _) => write!(f, "denied by default: {}", self.reason),
        }
    }
}

pub(super) fn decided(rule: &PolicyRule, allowed: bool) -> Decision {
    Decision {
        allowed,
        rule: Some(rule.id.clone()),
        reason: rule.reason_text(),
    }
}

pub(super) fn default_deny(_action: &str, _resource: &str) -> Decision {
    Decision {
        allowed: false,
        rule: None,
        reason: "no policy rule allows it".to_owned(),
    }
}
