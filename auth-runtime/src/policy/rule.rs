//! [`PolicyRule`]: what a rule applies to, when it matches, and how it is validated.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use auth_grammar::pattern_matches;

use super::{Condition, Effect, Op, Operand, PolicyContext, PolicyError};
use crate::scope::{GrantedScopes, ScopeValidator};

type SyncEvaluator = dyn Fn(&PolicyContext) -> bool + Send + Sync;
type AsyncEvaluator =
    dyn Fn(Arc<PolicyContext>) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync;

#[derive(Clone)]
pub(super) enum Evaluator {
    Sync(Arc<SyncEvaluator>),
    Async(Arc<AsyncEvaluator>),
}

/// One policy rule. Build it with [`PolicyRule::allow`] or [`PolicyRule::deny`].
#[derive(Clone)]
pub struct PolicyRule {
    pub(super) id: String,
    pub(super) effect: Effect,
    pub(super) actions: Vec<String>,
    pub(super) resources: Vec<String>,
    pub(super) scopes: Vec<String>,
    pub(super) any_scope: bool,
    pub(super) conditions: Vec<Condition>,
    pub(super) evaluators: Vec<Evaluator>,
    pub(super) reason: Option<String>,
}

impl fmt::Debug for PolicyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyRule")
            .field("id", &self.id)
            .field("effect", &self.effect)
            .field("actions", &self.actions)
            .field("resources", &self.resources)
            .field("scopes", &self.scopes)
            .field("any_scope", &self.any_scope)
            .field("conditions", &self.conditions)
            .field("evaluators", &self.evaluators.len())
            .field("reason", &self.reason)
            .finish()
    }
}

impl PolicyRule {
    /// An allow rule with an id (named in every decision it makes).
    pub fn allow(id: impl Into<String>) -> Self {
        Self::new(id.into(), Effect::Allow)
    }

    /// A deny rule with an id.
    pub fn deny(id: impl Into<String>) -> Self {
        Self::new(id.into(), Effect::Deny)
    }

    fn new(id: String, effect: Effect) -> Self {
        PolicyRule {
            id,
            effect,
            actions: Vec::new(),
            resources: Vec::new(),
            scopes: Vec::new(),
            any_scope: false,
            conditions: Vec::new(),
            evaluators: Vec::new(),
            reason: None,
        }
    }

    /// The rule's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The rule's effect.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The actions it applies to (patterns: `users:ban`, `users:*`, `*:read`, `*`).
    pub fn actions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, actions: I) -> Self {
        self.actions.extend(actions.into_iter().map(Into::into));
        self
    }

    /// The resources it applies to (patterns: `users`, `billing:*`, `*`).
    pub fn resources<I: IntoIterator<Item = S>, S: Into<String>>(mut self, resources: I) -> Self {
        self.resources.extend(resources.into_iter().map(Into::into));
        self
    }

    /// Scopes the caller must all have (checked with the manager's scope validator).
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self.any_scope = false;
        self
    }

    /// Scopes of which the caller must have at least one.
    pub fn any_scope<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self.any_scope = true;
        self
    }

    /// A condition that must hold.
    pub fn when(mut self, condition: Condition) -> Self {
        self.conditions.push(condition);
        self
    }

    /// A custom check (a plain closure) that must return `true`.
    pub fn evaluator(mut self, f: impl Fn(&PolicyContext) -> bool + Send + Sync + 'static) -> Self {
        self.evaluators.push(Evaluator::Sync(Arc::new(f)));
        self
    }

    /// An async custom check (e.g. a database lookup) that must return `true`.
    pub fn async_evaluator<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Arc<PolicyContext>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        self.evaluators
            .push(Evaluator::Async(Arc::new(move |ctx| Box::pin(f(ctx)))));
        self
    }

    /// The human-readable reason given in decisions, logs and 403 bodies.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub(super) fn reason_text(&self) -> String {
        self.reason.clone().unwrap_or_else(|| {
            let mut parts: Vec<String> = self.conditions.iter().map(ToString::to_string).collect();
            if !self.scopes.is_empty() {
                let which = if self.any_scope {
                    "one of scopes"
                } else {
                    "scopes"
                };
                parts.insert(0, format!("{which} {}", self.scopes.join(", ")));
            }
            if parts.is_empty() {
                "the rule matched".to_owned()
            } else {
                parts.join(" and ")
            }
        })
    }

    pub(super) fn applies_to(&self, action: &str, resource: &str) -> bool {
        self.actions.iter().any(|p| pattern_matches(p, action))
            && self.resources.iter().any(|p| pattern_matches(p, resource))
    }

    pub(super) async fn matches(
        &self,
        ctx: &Arc<PolicyContext>,
        scopes: &dyn ScopeValidator,
    ) -> bool {
        self.matches_sync(ctx, scopes) && {
            for e in &self.evaluators {
                if let Evaluator::Async(f) = e
                    && !f(ctx.clone()).await
                {
                    return false;
                }
            }
            true
        }
    }

    /// Whether the rule's scope requirement is met by `granted` (true for a rule without one).
    pub(super) fn scopes_met(
        &self,
        granted: GrantedScopes<'_>,
        scopes: &dyn ScopeValidator,
    ) -> bool {
        if self.scopes.is_empty() {
            return true;
        }
        let has = |s: &String| scopes.has_scope(s, granted);
        if self.any_scope {
            self.scopes.iter().any(has)
        } else {
            self.scopes.iter().all(has)
        }
    }

    /// Everything but the async evaluators.
    pub(super) fn matches_sync(&self, ctx: &PolicyContext, scopes: &dyn ScopeValidator) -> bool {
        if !self.scopes_met(GrantedScopes::new(ctx.scope_claim()), scopes) {
            return false;
        }
        // Fail closed: a condition that reads a missing attribute counts as true in a deny rule
        // (the rule applies) and as false in an allow rule.
        let missing = self.effect == Effect::Deny;
        self.conditions
            .iter()
            .all(|c| c.evaluate(ctx).unwrap_or(missing))
            && self.evaluators.iter().all(|e| match e {
                Evaluator::Sync(f) => f(ctx),
                Evaluator::Async(_) => true,
            })
    }
}

pub(super) fn validate(rule: &PolicyRule) -> Result<(), PolicyError> {
    let invalid = |field, message: String| PolicyError::InvalidRule {
        rule: rule.id.clone(),
        field,
        message,
    };
    if rule.id.is_empty() {
        return Err(invalid("id", "a rule needs a non-empty id".into()));
    }
    if rule.actions.is_empty() {
        return Err(invalid(
            "actions",
            "a rule needs at least one action".into(),
        ));
    }
    if rule.resources.is_empty() {
        return Err(invalid(
            "resources",
            "a rule needs at least one resource".into(),
        ));
    }
    for a in &rule.actions {
        if a != "*"
            && let Err(e) = auth_grammar::validate_scope(a)
        {
            return Err(invalid("actions", format!("`{a}`: {e}")));
        }
    }
    for r in &rule.resources {
        let plain = r
            .split(':')
            .all(|p| p == "*" || auth_grammar::validate_resource(p).is_ok());
        if r.is_empty() || !plain {
            return Err(invalid(
                "resources",
                format!("`{r}` is not a resource name or pattern"),
            ));
        }
    }
    // A rule may require a wildcard grant itself (`admin:*`): satisfied by a token granted
    // `admin:*` or broader, not by `admin:ban`.
    for s in &rule.scopes {
        if let Err(e) = auth_grammar::validate_scope(s) {
            return Err(invalid("scopes", format!("`{s}`: {e}")));
        }
    }
    for c in &rule.conditions {
        if c.attr.key.is_empty() || matches!(&c.operand, Some(Operand::Attr(a)) if a.key.is_empty())
        {
            return Err(invalid(
                "conditions",
                "an attribute key cannot be empty".into(),
            ));
        }
        let needs_array = matches!(c.op, Op::In | Op::NotIn);
        match (&c.operand, c.op) {
            (None, Op::Exists) => {}
            (None, op) => {
                return Err(invalid(
                    "conditions",
                    format!("`{op:?}` needs a value to compare with"),
                ));
            }
            (Some(_), Op::Exists) => {
                return Err(invalid("conditions", "`exists` takes no value".into()));
            }
            (Some(Operand::Value(v)), _) if needs_array && !v.is_array() => {
                return Err(invalid(
                    "conditions",
                    format!("`{}` needs an array", c.op.symbol_name()),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

impl Op {
    pub(super) fn symbol_name(self) -> &'static str {
        match self {
            Op::In => "in",
            Op::NotIn => "not_in",
            _ => "this operator",
        }
    }
}
