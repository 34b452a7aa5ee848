//! Policies from JSON, validated when loaded, with errors that name the rule and the field.
//!
//! ```json
//! { "rules": [
//!   { "id": "admins-ban", "effect": "allow", "actions": ["users:ban"], "resources": ["users"],
//!     "scopes": ["admin:*"],
//!     "conditions": [ { "attr": "environment.method", "op": "eq", "value": "POST" } ],
//!     "reason": "admins may ban users" },
//!   { "id": "no-self-ban", "effect": "deny", "actions": ["users:ban"], "resources": ["users"],
//!     "conditions": [ { "attr": "subject.sub", "op": "eq", "attribute": "environment.params.user_id" } ] },
//!   { "id": "active-billing", "effect": "allow", "actions": ["billing:read"],
//!     "resources": ["billing"], "evaluators": ["account_active"] }
//! ] }
//! ```
//!
//! `scopes` requires all; `any_scopes` one of them. Evaluators are named and supplied in code.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::rule::Evaluator;
use super::{Attr, Condition, Effect, Op, Operand, PolicyContext, PolicyRule, Source};

/// What is wrong with a policy file: which rule, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFileError {
    /// The rule's id, or `#<index>` when it has none; `None` for the document itself.
    pub rule: Option<String>,
    /// The field, such as `conditions[1].op`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PolicyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Some(rule) => write!(
                f,
                "policy rule `{rule}`, field `{}`: {}",
                self.field, self.message
            ),
            None if self.field.is_empty() => write!(f, "policy file: {}", self.message),
            None => write!(f, "policy file, field `{}`: {}", self.field, self.message),
        }
    }
}

impl std::error::Error for PolicyFileError {}

/// Named evaluators that policy files can refer to (`"evaluators": ["account_active"]`).
#[derive(Clone, Default)]
pub struct Evaluators(HashMap<String, Evaluator>);

impl fmt::Debug for Evaluators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Evaluators {
    /// No evaluators.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a synchronous evaluator under `name`.
    pub fn add(
        mut self,
        name: impl Into<String>,
        f: impl Fn(&PolicyContext) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.0.insert(name.into(), Evaluator::Sync(Arc::new(f)));
        self
    }
}

const OPS: &[(&str, Op)] = &[
    ("eq", Op::Eq),
    ("ne", Op::Ne),
    ("in", Op::In),
    ("not_in", Op::NotIn),
    ("contains", Op::Contains),
    ("gt", Op::Gt),
    ("ge", Op::Ge),
    ("lt", Op::Lt),
    ("le", Op::Le),
    ("exists", Op::Exists),
];

const RULE_KEYS: &[&str] = &[
    "id",
    "effect",
    "actions",
    "resources",
    "scopes",
    "any_scopes",
    "conditions",
    "evaluators",
    "reason",
];

impl PolicyRule {
    /// Parses rules from a JSON policy document (see the module docs for the format).
    ///
    /// ```
    /// use auth_runtime::policy::{Evaluators, PolicyRule};
    ///
    /// let err = PolicyRule::from_json(
    ///     r#"{"rules": [{"id": "r1", "effect": "allow", "actions": ["users:ban"],
    ///        "resources": ["users"], "conditions": [{"attr": "env.method", "op": "eqq", "value": 1}]}]}"#,
    ///     &Evaluators::new(),
    /// )
    /// .unwrap_err();
    /// assert_eq!(err.rule.as_deref(), Some("r1"));
    /// assert_eq!(err.field, "conditions[0].op");
    /// ```
    pub fn from_json(
        text: &str,
        evaluators: &Evaluators,
    ) -> Result<Vec<PolicyRule>, PolicyFileError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| PolicyFileError {
            rule: None,
            field: String::new(),
            message: format!("not valid JSON: {e}"),
        })?;
        let doc_error = |field: &str, message: &str| PolicyFileError {
            rule: None,
            field: field.to_owned(),
            message: message.to_owned(),
        };
        let Some(root) = doc.as_object() else {
            return Err(doc_error("", "expected an object with a `rules` array"));
        };
        if let Some(key) = root.keys().find(|k| *k != "rules") {
            return Err(doc_error(
                key,
                "unknown field; the document has only `rules`",
            ));
        }
        let rules = root
            .get("rules")
            .and_then(Value::as_array)
            .ok_or_else(|| doc_error("rules", "expected an array of rules"))?;
        let rules = rules
            .iter()
            .enumerate()
            .map(|(i, r)| parse_rule(i, r, evaluators))
            .collect::<Result<Vec<_>, _>>()?;
        // The same checks as rules built in code, reported against the file.
        super::PolicyEngine::builder()
            .rules(rules.iter().cloned())
            .build()
            .map_err(|e| match e {
                super::PolicyError::DuplicateId(id) => PolicyFileError {
                    rule: Some(id),
                    field: "id".into(),
                    message: "another rule has the same id".into(),
                },
                super::PolicyError::InvalidRule {
                    rule,
                    field,
                    message,
                } => PolicyFileError {
                    rule: Some(rule),
                    field: field.into(),
                    message,
                },
            })?;
        Ok(rules)
    }
}

fn parse_rule(
    index: usize,
    value: &Value,
    evaluators: &Evaluators,
) -> Result<PolicyRule, PolicyFileError> {
    let fallback = format!("#{index}");
    let obj = value.as_object();
    let id = obj
        .and_then(|o| o.get("id"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let name = id.map_or(fallback, str::to_owned);
    let err = |field: &str, message: String| PolicyFileError {
        rule: Some(name.clone()),
        field: field.to_owned(),
        message,
    };
    let obj = obj.ok_or_else(|| err("", "a rule must be an object".into()))?;
    if let Some(key) = obj.keys().find(|k| !RULE_KEYS.contains(&k.as_str())) {
        let hint = auth_grammar::closest(key, RULE_KEYS.iter().copied())
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err(err(key, format!("unknown field{hint}")));
    }
    let id = id.ok_or_else(|| err("id", "a rule needs a non-empty string id".into()))?;
    let effect = match obj.get("effect").and_then(Value::as_str) {
        Some("allow") => Effect::Allow,
        Some("deny") => Effect::Deny,
        _ => return Err(err("effect", "expected `\"allow\"` or `\"deny\"`".into())),
    };
    let strings = |field: &str, required: bool| -> Result<Vec<String>, PolicyFileError> {
        match obj.get(field) {
            None if !required => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| err(&format!("{field}[{i}]"), "expected a string".into()))
                })
                .collect(),
            _ => Err(err(field, "expected an array of strings".into())),
        }
    };
    let mut rule = match effect {
        Effect::Allow => PolicyRule::allow(id),
        Effect::Deny => PolicyRule::deny(id),
    }
    .actions(strings("actions", true)?)
    .resources(strings("resources", true)?);
    let all = strings("scopes", false)?;
    let any = strings("any_scopes", false)?;
    if !all.is_empty() && !any.is_empty() {
        return Err(err(
            "any_scopes",
            "a rule has either `scopes` (all) or `any_scopes` (one of), not both".into(),
        ));
    }
    rule = if any.is_empty() {
        rule.scopes(all)
    } else {
        rule.any_scope(any)
    };
    if let Some(reason) = obj.get("reason") {
        let reason = reason
            .as_str()
            .ok_or_else(|| err("reason", "expected a string".into()))?;
        rule = rule.reason(reason);
    }
    match obj.get("conditions") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, c) in items.iter().enumerate() {
                let condition = parse_condition(c)
                    .map_err(|(field, message)| err(&format!("conditions[{i}]{field}"), message))?;
                rule = rule.when(condition);
            }
        }
        Some(_) => return Err(err("conditions", "expected an array of conditions".into())),
    }
    for (i, name) in strings("evaluators", false)?.into_iter().enumerate() {
        let evaluator = evaluators.0.get(&name).ok_or_else(|| {
            let mut known: Vec<&str> = evaluators.0.keys().map(String::as_str).collect();
            known.sort_unstable();
            err(
                &format!("evaluators[{i}]"),
                format!(
                    "no evaluator named `{name}` was supplied (known: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })?;
        rule.evaluators.push(evaluator.clone());
    }
    Ok(rule)
}

fn parse_attr(text: &str) -> Option<Attr> {
    let (source, key) = text.split_once('.')?;
    let source = match source {
        "subject" => Source::Subject,
        "resource" => Source::Resource,
        "environment" | "env" => Source::Environment,
        _ => return None,
    };
    (!key.is_empty()).then(|| Attr {
        source,
        key: key.to_owned(),
    })
}

fn parse_condition(value: &Value) -> Result<Condition, (String, String)> {
    let err = |field: &str, message: &str| (field.to_owned(), message.to_owned());
    let obj: &Map<String, Value> = value
        .as_object()
        .ok_or_else(|| err("", "a condition must be an object"))?;
    if let Some(key) = obj
        .keys()
        .find(|k| !["attr", "op", "value", "attribute"].contains(&k.as_str()))
    {
        return Err(err(
            &format!(".{key}"),
            "unknown field; a condition has `attr`, `op` and `value` or `attribute`",
        ));
    }
    let attr_error = "expected `subject.<key>`, `resource.<key>` or `environment.<key>`";
    let attr = obj
        .get("attr")
        .and_then(Value::as_str)
        .and_then(parse_attr)
        .ok_or_else(|| err(".attr", attr_error))?;
    let op_name = obj.get("op").and_then(Value::as_str).unwrap_or_default();
    let op = OPS
        .iter()
        .find(|(n, _)| *n == op_name)
        .map(|(_, op)| *op)
        .ok_or_else(|| {
            let names: Vec<&str> = OPS.iter().map(|(n, _)| *n).collect();
            (
                ".op".to_owned(),
                format!(
                    "unknown operator `{op_name}`; expected one of {}",
                    names.join(", ")
                ),
            )
        })?;
    let operand = match (obj.get("value"), obj.get("attribute")) {
        (Some(_), _) | (_, Some(_)) if op == Op::Exists => {
            return Err(err(".value", "`exists` takes no value"));
        }
        (Some(_), Some(_)) => {
            return Err(err(
                ".value",
                "give either `value` or `attribute`, not both",
            ));
        }
        (Some(v), None) if matches!(op, Op::In | Op::NotIn) && !v.is_array() => {
            return Err((
                ".value".to_owned(),
                format!("`{}` needs an array", op.symbol_name()),
            ));
        }
        (Some(v), None) => Some(Operand::Value(v.clone())),
        (None, Some(a)) => Some(Operand::Attr(
            a.as_str()
                .and_then(parse_attr)
                .ok_or_else(|| err(".attribute", attr_error))?,
        )),
        (None, None) if op == Op::Exists => None,
        (None, None) => {
            return Err(err(
                ".value",
                "this operator needs a `value` or `attribute`",
            ));
        }
    };
    Ok(Condition { attr, op, operand })
}
