//! Conditions: comparisons over subject, resource and environment attributes.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use super::PolicyContext;

/// Where an attribute is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The caller's token claims (`sub`, `scope`, extra claims; dotted keys reach into objects).
    Subject,
    /// The attributes returned by the resource loader of the resource type.
    Resource,
    /// The request: `method`, `path`, `route`, `params.<name>`, `client_ip`, `time`.
    Environment,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Subject => "subject",
            Source::Resource => "resource",
            Source::Environment => "environment",
        })
    }
}

/// An attribute reference such as `subject.profile.tier` or `environment.method`.
///
/// ```
/// use auth_runtime::policy::Attr;
///
/// let c = Attr::subject("sub").eq(Attr::env("params.user_id"));
/// assert_eq!(c.to_string(), "subject.sub == environment.params.user_id");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// The source.
    pub source: Source,
    /// The key; dots separate the levels of nested objects.
    pub key: String,
}

impl fmt::Display for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.source, self.key)
    }
}

/// How a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal (numbers compare by value: `1 == 1.0`).
    Eq,
    /// Not equal.
    Ne,
    /// The attribute is one of the elements of the operand (an array).
    In,
    /// The attribute is none of the elements of the operand (an array).
    NotIn,
    /// The attribute (an array) has the operand as an element, (an object) has it as a key, or
    /// (a string) has it as a substring.
    Contains,
    /// Greater than (numbers, or strings compared lexicographically, e.g. ISO dates).
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
    /// The attribute is present (takes no operand).
    Exists,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::In => "in",
            Op::NotIn => "not in",
            Op::Contains => "contains",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Exists => "exists",
        }
    }
}

/// The right-hand side of a condition: a literal value or another attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A literal JSON value.
    Value(Value),
    /// Another attribute (e.g. subject `sub` equals resource `owner`).
    Attr(Attr),
}

impl From<Attr> for Operand {
    fn from(a: Attr) -> Self {
        Operand::Attr(a)
    }
}

impl From<Value> for Operand {
    fn from(v: Value) -> Self {
        Operand::Value(v)
    }
}

macro_rules! operand_from {
    ($($t:ty),*) => {
        $(impl From<$t> for Operand {
            fn from(v: $t) -> Self {
                Operand::Value(Value::from(v))
            }
        })*
    };
}

operand_from!(&str, String, bool, i64, u64, f64, i32, u32);

impl<T: Into<Value>> From<Vec<T>> for Operand {
    fn from(v: Vec<T>) -> Self {
        Operand::Value(Value::Array(v.into_iter().map(Into::into).collect()))
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Value(v) => write!(f, "{v}"),
            Operand::Attr(a) => write!(f, "{a}"),
        }
    }
}

/// One comparison. A missing attribute (on either side) makes it false, never an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The attribute compared.
    pub attr: Attr,
    /// The comparison.
    pub op: Op,
    /// The right-hand side (`None` only for [`Op::Exists`]).
    pub operand: Option<Operand>,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.operand {
            Some(o) => write!(f, "{} {} {o}", self.attr, self.op.symbol()),
            None => write!(f, "{} {}", self.attr, self.op.symbol()),
        }
    }
}

macro_rules! comparisons {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {
        $($(#[$doc])*
        pub fn $name(self, rhs: impl Into<Operand>) -> Condition {
            Condition { attr: self, op: Op::$op, operand: Some(rhs.into()) }
        })*
    };
}

impl Attr {
    /// A subject (token claim) attribute.
    pub fn subject(key: impl Into<String>) -> Self {
        Attr {
            source: Source::Subject,
            key: key.into(),
        }
    }

    /// A resource attribute (from the resource loader).
    pub fn resource(key: impl Into<String>) -> Self {
        Attr {
            source: Source::Resource,
            key: key.into(),
        }
    }

    /// An environment attribute: `method`, `path`, `route`, `params.<name>`, `client_ip`,
    /// `time` (seconds since the Unix epoch).
    pub fn env(key: impl Into<String>) -> Self {
        Attr {
            source: Source::Environment,
            key: key.into(),
        }
    }

    comparisons! {
        /// `self == rhs`.
        eq => Eq,
        /// `self != rhs` (false when either side is missing).
        ne => Ne,
        /// `self` is an element of `rhs`.
        is_in => In,
        /// `self` is not an element of `rhs` (false when `self` is missing).
        not_in => NotIn,
        /// `self` contains `rhs`.
        contains => Contains,
        /// `self > rhs`.
        gt => Gt,
        /// `self >= rhs`.
        ge => Ge,
        /// `self < rhs`.
        lt => Lt,
        /// `self <= rhs`.
        le => Le,
    }

    /// The attribute is present.
    pub fn exists(self) -> Condition {
        Condition {
            attr: self,
            op: Op::Exists,
            operand: None,
        }
    }
}

/// Looks up a dotted key in a JSON object.
pub(crate) fn lookup<'a>(root: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(v) = root.get(key) {
        return Some(v);
    }
    let mut parts = key.split('.');
    let mut current = root.get(parts.next()?)?;
    for part in parts {
        current = match current {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

impl Condition {
    /// `Some(result)`, or `None` when an attribute the condition reads is missing (the rule's
    /// effect decides what that means: a deny rule applies, an allow rule does not). `exists`
    /// is never `None`: a missing attribute is what it tests.
    pub(crate) fn evaluate(&self, ctx: &PolicyContext) -> Option<bool> {
        let lhs = ctx.resolve(&self.attr);
        if self.op == Op::Exists {
            return Some(lhs.is_some());
        }
        let lhs = lhs?;
        let rhs: Cow<'_, Value> = match &self.operand {
            Some(Operand::Value(v)) => Cow::Borrowed(v),
            Some(Operand::Attr(a)) => ctx.resolve(a)?,
            None => return Some(false),
        };
        Some(compare(self.op, &lhs, &rhs))
    }
}

/// An integer as `i128`, so that every `i64` and `u64` compares exactly (an `f64` would make
/// distinct ids above 2^53 equal).
fn integer(n: &serde_json::Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

fn number_order(x: &serde_json::Number, y: &serde_json::Number) -> Option<Ordering> {
    match (integer(x), integer(y)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_order(x, y) == Some(Ordering::Equal),
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_order(x, y),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn compare(op: Op, lhs: &Value, rhs: &Value) -> bool {
    match op {
        Op::Eq => values_equal(lhs, rhs),
        Op::Ne => !values_equal(lhs, rhs),
        Op::In => rhs
            .as_array()
            .is_some_and(|items| items.iter().any(|i| values_equal(lhs, i))),
        Op::NotIn => rhs
            .as_array()
            .is_some_and(|items| !items.iter().any(|i| values_equal(lhs, i))),
        Op::Contains => match (lhs, rhs) {
            (Value::Array(items), _) => items.iter().any(|i| values_equal(i, rhs)),
            (Value::Object(map), Value::String(k)) => map.contains_key(k),
            (Value::String(s), Value::String(sub)) => s.contains(sub.as_str()),
            _ => false,
        },
        Op::Gt => order(lhs, rhs) == Some(Ordering::Greater),
        Op::Ge => matches!(order(lhs, rhs), Some(Ordering::Greater | Ordering::Equal)),
        Op::Lt => order(lhs, rhs) == Some(Ordering::Less),
        Op::Le => matches!(order(lhs, rhs), Some(Ordering::Less | Ordering::Equal)),
        Op::Exists => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn comparisons() {
        assert!(compare(Op::Eq, &json!(1), &json!(1.0)));
        assert!(compare(Op::Ne, &json!("a"), &json!("b")));
        assert!(compare(Op::In, &json!("a"), &json!(["b", "a"])));
        assert!(!compare(Op::In, &json!("a"), &json!("a")));
        assert!(compare(Op::NotIn, &json!("c"), &json!(["b", "a"])));
        assert!(compare(Op::Contains, &json!(["x", "y"]), &json!("y")));
        assert!(compare(Op::Contains, &json!({"k": 1}), &json!("k")));
        assert!(compare(Op::Contains, &json!("gold-tier"), &json!("gold")));
        assert!(compare(Op::Gt, &json!(3), &json!(2.5)));
        assert!(compare(Op::Le, &json!("2026-01-01"), &json!("2026-06-01")));
        assert!(!compare(Op::Gt, &json!("3"), &json!(2)));
    }

    #[test]
    fn dotted_lookup() {
        let map = json!({"profile": {"tier": "gold", "tags": ["a", "b"]}, "a.b": 1});
        let map = map.as_object().unwrap();
        assert_eq!(lookup(map, "profile.tier"), Some(&json!("gold")));
        assert_eq!(lookup(map, "profile.tags.1"), Some(&json!("b")));
        assert_eq!(lookup(map, "a.b"), Some(&json!(1)));
        assert_eq!(lookup(map, "profile.missing"), None);
        assert_eq!(lookup(map, "profile.tier.deeper"), None);
    }
}
