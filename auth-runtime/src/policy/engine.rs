//! [`PolicyEngine`]: an immutable rule set indexed by action; deny wins, no match denies.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::decision::{decided, default_deny};
use super::rule::{Evaluator, validate};
use super::{Decision, Effect, PolicyContext, PolicyRequest, PolicyRule};
use crate::scope::{GrantedScopes, HierarchicalScopes, ScopeValidator};

/// Why a policy set cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// Two rules share an id.
    DuplicateId(String),
    /// A rule field is invalid.
    InvalidRule {
        /// The rule's id.
        rule: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::DuplicateId(id) => write!(f, "two policy rules have the id `{id}`"),
            PolicyError::InvalidRule {
                rule,
                field,
                message,
            } => write!(f, "policy rule `{rule}`, field `{field}`: {message}"),
        }
    }
}

impl std::error::Error for PolicyError {}

/// An immutable, indexed set of rules. Evaluation takes no lock: share it in an `Arc`.
#[derive(Clone)]
pub struct PolicyEngine {
    rules: Arc<[PolicyRule]>,
    /// Exact action → indices of rules naming it.
    by_action: Arc<HashMap<String, Vec<usize>>>,
    /// Indices of rules with a wildcard action pattern.
    wildcard: Arc<[usize]>,
    scopes: Arc<dyn ScopeValidator>,
}

impl fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

impl Default for PolicyEngine {
    fn default() -> Self {
        PolicyEngine::builder()
            .build()
            .unwrap_or_else(|_| unreachable!("an empty policy set is valid"))
    }
}

/// Builds a [`PolicyEngine`].
#[must_use]
#[derive(Default)]
pub struct PolicyEngineBuilder {
    rules: Vec<PolicyRule>,
    scopes: Option<Arc<dyn ScopeValidator>>,
}

impl PolicyEngineBuilder {
    /// Adds a rule.
    pub fn rule(mut self, rule: PolicyRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Adds rules.
    pub fn rules(mut self, rules: impl IntoIterator<Item = PolicyRule>) -> Self {
        self.rules.extend(rules);
        self
    }

    /// The validator for rules' required scopes (default: [`HierarchicalScopes::new`]; the
    /// [`AuthManager`](crate::AuthManager) passes its own).
    pub fn scope_validator(mut self, validator: Arc<dyn ScopeValidator>) -> Self {
        self.scopes = Some(validator);
        self
    }

    /// Validates and indexes the rules.
    pub fn build(self) -> Result<PolicyEngine, PolicyError> {
        let mut by_action: HashMap<String, Vec<usize>> = HashMap::new();
        let mut wildcard = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            validate(rule)?;
            if self.rules[..i].iter().any(|r| r.id == rule.id) {
                return Err(PolicyError::DuplicateId(rule.id.clone()));
            }
            if rule.actions.iter().any(|a| a.contains('*')) {
                wildcard.push(i);
            }
            for action in rule.actions.iter().filter(|a| !a.contains('*')) {
                let list = by_action.entry(action.clone()).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        Ok(PolicyEngine {
            rules: self.rules.into(),
            by_action: Arc::new(by_action),
            wildcard: wildcard.into(),
            scopes: self
                .scopes
                .unwrap_or_else(|| Arc::new(HierarchicalScopes::new())),
        })
    }
}

impl PolicyEngine {
    /// Starts a rule set.
    pub fn builder() -> PolicyEngineBuilder {
        PolicyEngineBuilder::default()
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The candidate rules for an action and resource, in declaration order.
    fn candidates<'a>(
        &'a self,
        action: &'a str,
        resource: &'a str,
    ) -> impl Iterator<Item = &'a PolicyRule> + 'a {
        let exact: &[usize] = self.by_action.get(action).map_or(&[], Vec::as_slice);
        let (mut i, mut j) = (0, 0);
        std::iter::from_fn(move || {
            // Merge two sorted index lists. A rule naming the action both exactly and through
            // a wildcard is in both: yield it once.
            let next = match (exact.get(i), self.wildcard.get(j)) {
                (Some(&a), Some(&b)) if a < b => {
                    i += 1;
                    a
                }
                (Some(&a), Some(&b)) if a == b => {
                    i += 1;
                    j += 1;
                    a
                }
                (Some(_), Some(&b)) | (None, Some(&b)) => {
                    j += 1;
                    b
                }
                (Some(&a), None) => {
                    i += 1;
                    a
                }
                (None, None) => return None,
            };
            Some(next)
        })
        .map(|index| &self.rules[index])
        .filter(move |r| r.applies_to(action, resource))
    }

    /// Decides, running async evaluators. Deny rules first (any match denies), then the first
    /// matching allow rule; no match denies.
    pub async fn decide(&self, ctx: Arc<PolicyContext>) -> Decision {
        let (action, resource) = (ctx.action.as_str(), ctx.resource_type.as_str());
        for rule in self
            .candidates(action, resource)
            .filter(|r| r.effect == Effect::Deny)
        {
            if rule.matches(&ctx, &*self.scopes).await {
                return decided(rule, false);
            }
        }
        for rule in self
            .candidates(action, resource)
            .filter(|r| r.effect == Effect::Allow)
        {
            if rule.matches(&ctx, &*self.scopes).await {
                return decided(rule, true);
            }
        }
        default_deny(action, resource)
    }

    /// Whether some allow rule for `action` on `resource` could admit a caller granted
    /// `scopes`, whatever the resource and the request turn out to be: the rule's scope
    /// requirement is met (its conditions and evaluators are not looked at). When none can,
    /// the decision is a deny before anything about the resource is known, so the guard
    /// answers 403 without running the resource loader: a caller who may not act learns
    /// nothing of which resources exist.
    ///
    /// ```
    /// use auth_runtime::policy::{PolicyEngine, PolicyRule};
    /// use auth_runtime::GrantedScopes;
    ///
    /// let engine = PolicyEngine::builder()
    ///     .rule(PolicyRule::allow("ban").actions(["users:ban"]).resources(["users"]).scopes(["admin:*"]))
    ///     .build()
    ///     .unwrap();
    /// assert!(engine.may_allow("users:ban", "users", GrantedScopes::new("admin:*")));
    /// assert!(!engine.may_allow("users:ban", "users", GrantedScopes::new("reports:read")));
    /// assert!(!engine.may_allow("users:delete", "users", GrantedScopes::new("admin:*")));
    /// ```
    pub fn may_allow(&self, action: &str, resource: &str, scopes: GrantedScopes<'_>) -> bool {
        self.candidates(action, resource)
            .any(|r| r.effect == Effect::Allow && r.scopes_met(scopes, &*self.scopes))
    }

    /// Decides without running async evaluators (rules that have them do not match): for tests
    /// and synchronous callers.
    pub fn decide_now(&self, request: &PolicyRequest) -> Decision {
        let ctx = &request.0;
        let (action, resource) = (ctx.action.as_str(), ctx.resource_type.as_str());
        let matching = |effect| {
            self.candidates(action, resource).find(|r| {
                r.effect == effect
                    && !r
                        .evaluators
                        .iter()
                        .any(|e| matches!(e, Evaluator::Async(_)))
                    && r.matches_sync(ctx, &*self.scopes)
            })
        };
        if let Some(rule) = matching(Effect::Deny) {
            return decided(rule, false);
        }
        if let Some(rule) = matching(Effect::Allow) {
            return decided(rule, true);
        }
        default_deny(action, resource)
    }

    /// The async version of [`decide_now`](Self::decide_now), for a [`PolicyRequest`].
    pub async fn check(&self, request: &PolicyRequest) -> Decision {
        self.decide(Arc::new(request.0.clone())).await
    }
}
