//! What a decision is about: [`PolicyContext`] (subject, resource, environment) and
//! [`PolicyRequest`], the same built by hand for tests.

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::{Map, Value};

use super::{Attr, Source, condition};

/// What a decision is about: the subject, resource and environment attributes.
#[derive(Debug, Clone, Default)]
pub struct PolicyContext {
    pub(super) action: String,
    pub(super) resource_type: String,
    pub(super) subject: Map<String, Value>,
    pub(super) resource: Map<String, Value>,
    pub(super) environment: Environment,
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

    pub(super) fn scope_claim(&self) -> &str {
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
pub struct PolicyRequest(pub(super) PolicyContext);

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

pub(super) fn into_map(value: Value) -> Map<String, Value> {
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
