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
mod file;

use std::any::Any;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use auth_grammar::pattern_matches;
use serde_json::{Map, Value};

pub use condition::{Attr, Condition, Op, Operand, Source};
pub use file::{Evaluators, PolicyFileError};

use crate::scope::{GrantedScopes, HierarchicalScopes, ScopeValidator};

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Grants the action when the rule matches (unless a deny rule matches too).
    Allow,
    /// Refuses the action when the rule matches, whatever else allows it.
    Deny,
}

type SyncEvaluator = dyn Fn(&PolicyContext) -> bool + Send + Sync;
type AsyncEvaluator =
    dyn Fn(Arc<PolicyContext>) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync;

#[derive(Clone)]
enum Evaluator {
    Sync(Arc<SyncEvaluator>),
    Async(Arc<AsyncEvaluator>),
}

/// One policy rule. Build it with [`PolicyRule::allow`] or [`PolicyRule::deny`].
#[derive(Clone)]
pub struct PolicyRule {
    id: String,
    effect: Effect,
    actions: Vec<String>,
    resources: Vec<String>,
    scopes: Vec<String>,
    any_scope: bool,
    conditions: Vec<Condition>,
    evaluators: Vec<Evaluator>,
    reason: Option<String>,
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

    fn reason_text(&self) -> String {
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

    fn applies_to(&self, action: &str, resource: &str) -> bool {
        self.actions.iter().any(|p| pattern_matches(p, action))
            && self.resources.iter().any(|p| pattern_matches(p, resource))
    }

    async fn matches(&self, ctx: &Arc<PolicyContext>, scopes: &dyn ScopeValidator) -> bool {
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

    /// Everything but the async evaluators.
    fn matches_sync(&self, ctx: &PolicyContext, scopes: &dyn ScopeValidator) -> bool {
        if !self.scopes.is_empty() {
            let granted = GrantedScopes::new(ctx.scope_claim());
            let has = |s: &String| scopes.has_scope(s, granted);
            let ok = if self.any_scope {
                self.scopes.iter().any(has)
            } else {
                self.scopes.iter().all(has)
            };
            if !ok {
                return false;
            }
        }
        self.conditions.iter().all(|c| c.holds(ctx))
            && self.evaluators.iter().all(|e| match e {
                Evaluator::Sync(f) => f(ctx),
                Evaluator::Async(_) => true,
            })
    }
}

/// What a decision is about: the subject, resource and environment attributes.
#[derive(Debug, Clone, Default)]
pub struct PolicyContext {
    action: String,
    resource_type: String,
    subject: Map<String, Value>,
    resource: Map<String, Value>,
    environment: Environment,
}

/// The request's attributes, readable by conditions as `environment.<key>`.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `method`: the HTTP method.
    pub method: String,
    /// `path`: the request path as sent (still percent-encoded; `params.<name>` are decoded).
    pub path: String,
    /// `route`: the matched route pattern (`/users/{id}`).
    pub route: Option<String>,
    /// `params.<name>`: the path parameters.
    pub params: Vec<(String, String)>,
    /// `client_ip`: the client address, when the server provides it (`ConnectInfo`).
    pub client_ip: Option<IpAddr>,
    /// `time`: seconds since the Unix epoch.
    pub time: u64,
}

impl Environment {
    fn get(&self, key: &str) -> Option<Value> {
        match key {
            "method" => Some(Value::from(self.method.as_str())),
            "path" => Some(Value::from(self.path.as_str())),
            "route" => self.route.as_deref().map(Value::from),
            "client_ip" => self.client_ip.map(|ip| Value::from(ip.to_string())),
            "time" => Some(Value::from(self.time)),
            _ => {
                let name = key.strip_prefix("params.")?;
                self.params
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| Value::from(v.as_str()))
            }
        }
    }
}

impl PolicyContext {
    /// The action asked for.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The resource type asked about.
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// A subject attribute (token claim; dotted keys reach into objects).
    pub fn subject(&self, key: &str) -> Option<&Value> {
        condition::lookup(&self.subject, key)
    }

    /// A resource attribute (from the resource loader).
    pub fn resource(&self, key: &str) -> Option<&Value> {
        condition::lookup(&self.resource, key)
    }

    /// The environment (method, path, route, path parameters, client address, time).
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    fn scope_claim(&self) -> &str {
        self.subject
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub(crate) fn resolve(&self, attr: &Attr) -> Option<Cow<'_, Value>> {
        match attr.source {
            Source::Subject => self.subject(&attr.key).map(Cow::Borrowed),
            Source::Resource => self.resource(&attr.key).map(Cow::Borrowed),
            Source::Environment => self.environment.get(&attr.key).map(Cow::Owned),
        }
    }
}

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

fn validate(rule: &PolicyRule) -> Result<(), PolicyError> {
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
    fn symbol_name(self) -> &'static str {
        match self {
            Op::In => "in",
            Op::NotIn => "not_in",
            _ => "this operator",
        }
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

fn decided(rule: &PolicyRule, allowed: bool) -> Decision {
    Decision {
        allowed,
        rule: Some(rule.id.clone()),
        reason: rule.reason_text(),
    }
}

fn default_deny(_action: &str, _resource: &str) -> Decision {
    Decision {
        allowed: false,
        rule: None,
        reason: "no policy rule allows it".to_owned(),
    }
}

/// A decision request built by hand: for unit-testing policies without HTTP.
///
/// ```
/// use auth_runtime::policy::{PolicyEngine, PolicyRequest, PolicyRule};
/// use serde_json::json;
///
/// let engine = PolicyEngine::builder()
///     .rule(PolicyRule::allow("read-own").actions(["docs:read"]).resources(["docs"])
///         .when(auth_runtime::policy::Attr::resource("owner").eq(
///             auth_runtime::policy::Attr::subject("sub"))))
///     .build()
///     .unwrap();
/// let mine = PolicyRequest::new("docs:read", "docs")
///     .subject(json!({"sub": "ann"}))
///     .resource(json!({"owner": "ann"}));
/// assert!(engine.decide_now(&mine).is_allowed_by("read-own"));
/// let theirs = mine.clone().resource(json!({"owner": "bob"}));
/// assert!(engine.decide_now(&theirs).is_default_deny());
/// ```
#[derive(Debug, Clone)]
pub struct PolicyRequest(PolicyContext);

impl PolicyRequest {
    /// A request for `action` on `resource`, with no attributes yet.
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        PolicyRequest(PolicyContext {
            action: action.into(),
            resource_type: resource.into(),
            ..PolicyContext::default()
        })
    }

    /// The subject's claims (a JSON object; anything else is ignored).
    pub fn subject(mut self, claims: Value) -> Self {
        self.0.subject = into_map(claims);
        self
    }

    /// The resource's attributes (a JSON object).
    pub fn resource(mut self, attributes: Value) -> Self {
        self.0.resource = into_map(attributes);
        self
    }

    /// The HTTP method.
    pub fn method(mut self, method: &str) -> Self {
        self.0.environment.method = method.to_owned();
        self
    }

    /// The request path.
    pub fn path(mut self, path: &str) -> Self {
        self.0.environment.path = path.to_owned();
        self
    }

    /// A path parameter (replacing one of the same name).
    pub fn param(mut self, name: &str, value: &str) -> Self {
        let params = &mut self.0.environment.params;
        params.retain(|(k, _)| k != name);
        params.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The client address.
    pub fn client_ip(mut self, ip: IpAddr) -> Self {
        self.0.environment.client_ip = Some(ip);
        self
    }

    /// The time (seconds since the Unix epoch).
    pub fn time(mut self, time: u64) -> Self {
        self.0.environment.time = time;
        self
    }

    /// The context the rules see.
    pub fn context(&self) -> &PolicyContext {
        &self.0
    }
}

fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl PolicyContext {
    pub(crate) fn for_request(
        action: &str,
        resource_type: &str,
        subject: Map<String, Value>,
        resource: Map<String, Value>,
        environment: Environment,
    ) -> Self {
        PolicyContext {
            action: action.to_owned(),
            resource_type: resource_type.to_owned(),
            subject,
            resource,
            environment,
        }
    }
}

/// What a [`ResourceLoader`] found: attributes for the policy, and optionally the object itself
/// for the handler (extract it with [`Resource<T>`](crate::Resource), so it is loaded once).
#[derive(Clone, Default)]
pub struct LoadedResource {
    attributes: Map<String, Value>,
    value: Option<Arc<dyn Any + Send + Sync>>,
}

impl fmt::Debug for LoadedResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedResource")
            .field("attributes", &self.attributes)
            .field("has_value", &self.value.is_some())
            .finish()
    }
}

impl LoadedResource {
    /// Attributes for conditions (`resource.<key>`); a non-object is treated as empty.
    pub fn new(attributes: Value) -> Self {
        LoadedResource {
            attributes: into_map(attributes),
            value: None,
        }
    }

    /// Also hands `value` to the handler.
    pub fn with_value<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.value = Some(Arc::new(value));
        self
    }

    pub(crate) fn attributes(&self) -> &Map<String, Value> {
        &self.attributes
    }

    pub(crate) fn value<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.value.clone()?.downcast::<T>().ok()
    }
}

/// The boxed future a [`ResourceLoader`] returns.
pub type LoadFuture = Pin<Box<dyn Future<Output = Result<Option<LoadedResource>, String>> + Send>>;

/// Loads the resource a policy decides about, from the request's path parameters. Register one
/// per resource type with
/// [`AuthManagerBuilder::resource_loader`](crate::AuthManagerBuilder::resource_loader).
/// `Ok(None)` answers 404; `Err` answers 500 (the message is logged, never sent).
///
/// Any `Fn(Vec<(String, String)>) -> impl Future<Output = Result<Option<LoadedResource>, String>>`
/// closure is a loader.
pub trait ResourceLoader: Send + Sync + 'static {
    /// Loads the resource named by the path parameters.
    fn load(&self, params: Vec<(String, String)>) -> LoadFuture;
}

impl<F, Fut> ResourceLoader for F
where
    F: Fn(Vec<(String, String)>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<LoadedResource>, String>> + Send + 'static,
{
    fn load(&self, params: Vec<(String, String)>) -> LoadFuture {
        Box::pin(self(params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
