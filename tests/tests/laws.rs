//! Laws of the authorization model, checked on generated inputs (proptest): deny rules only
//! ever take access away, an empty policy set denies, granting scopes never removes access,
//! matching is case-sensitive and never by prefix, the compile-time grammar and the run-time
//! validators agree, and issuing then verifying a token gives back what was put in it.

use auth_grammar::{
    validate_action, validate_login_type, validate_required_scope, validate_resource,
    validate_scope,
};
use auth_runtime::policy::{Attr, PolicyEngine, PolicyRequest, PolicyRule};
use auth_runtime::{
    ActionHierarchy, AuthManager, GrantedScopes, HierarchicalScopes, LoginType, RESERVED_CLAIMS,
    ScopeValidator, SigningKey, SimpleScopes, TokenRequest,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Few cases each: the whole file runs in a few seconds.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies: small alphabets, so that generated rules, grants and requests meet often
// ---------------------------------------------------------------------------------------------

fn part() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "reports", "billing", "users", "read", "write", "edit", "x",
    ])
    .prop_map(str::to_owned)
}

/// A concrete scope or action (`reports:read`, `users:x:edit`).
fn concrete() -> impl Strategy<Value = String> {
    prop::collection::vec(part(), 2..4).prop_map(|parts| parts.join(":"))
}

/// A granted scope or action pattern: concrete, or with `*` parts, or a bare `*`.
fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => concrete(),
        2 => prop::collection::vec(prop_oneof![3 => part(), 1 => Just("*".to_owned())], 2..4)
            .prop_map(|parts| parts.join(":")),
        1 => Just("*".to_owned()),
    ]
}

fn resource() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["reports", "billing", "users", "*", "users:*"])
        .prop_map(str::to_owned)
}

fn granted() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(pattern(), 0..4)
}

/// A rule: effect, action and resource patterns, required scopes, maybe a condition on the
/// method. `id` is filled in by [`rule_set`].
#[derive(Debug, Clone)]
struct RuleSpec {
    allow: bool,
    actions: Vec<String>,
    resources: Vec<String>,
    scopes: Vec<String>,
    any_scope: bool,
    method: Option<&'static str>,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        any::<bool>(),
        prop::collection::vec(pattern(), 1..3),
        prop::collection::vec(resource(), 1..3),
        prop::collection::vec(pattern(), 0..2),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec!["GET", "POST"])),
    )
        .prop_map(
            |(allow, actions, resources, scopes, any_scope, method)| RuleSpec {
                allow,
                actions,
                resources,
                scopes,
                any_scope,
                method,
            },
        )
}

fn build_rule(id: &str, spec: &RuleSpec) -> PolicyRule {
    let rule = if spec.allow {
        PolicyRule::allow(id)
    } else {
        PolicyRule::deny(id)
    }
    .actions(spec.actions.clone())
    .resources(spec.resources.clone());
    let rule = if spec.any_scope && !spec.scopes.is_empty() {
        rule.any_scope(spec.scopes.clone())
    } else {
        rule.scopes(spec.scopes.clone())
    };
    match spec.method {
        Some(m) => rule.when(Attr::env("method").eq(m)),
        None => rule,
    }
}

fn engine(specs: &[RuleSpec], extra: Option<&RuleSpec>) -> PolicyEngine {
    let mut builder = PolicyEngine::builder().scope_validator(std::sync::Arc::new(
        HierarchicalScopes::new().hierarchy(ActionHierarchy::new().implies("edit", ["read"])),
    ));
    for (i, spec) in specs.iter().enumerate() {
        builder = builder.rule(build_rule(&format!("r{i}"), spec));
    }
    if let Some(spec) = extra {
        builder = builder.rule(build_rule("extra", spec));
    }
    builder.build().expect("generated rules are valid")
}

#[derive(Debug, Clone)]
struct RequestSpec {
    action: String,
    resource: &'static str,
    granted: Vec<String>,
    method: &'static str,
}

fn request_spec() -> impl Strategy<Value = RequestSpec> {
    (
        concrete(),
        prop::sample::select(vec!["reports", "billing", "users"]),
        granted(),
        prop::sample::select(vec!["GET", "POST"]),
    )
        .prop_map(|(action, resource, granted, method)| RequestSpec {
            action,
            resource,
            granted,
            method,
        })
}

fn request(spec: &RequestSpec) -> PolicyRequest {
    PolicyRequest::new(spec.action.as_str(), spec.resource)
        .subject(serde_json::json!({ "sub": "7", "scope": spec.granted.join(" ") }))
        .method(spec.method)
}

fn validators() -> [Box<dyn ScopeValidator>; 4] {
    [
        Box::new(SimpleScopes),
        Box::new(HierarchicalScopes::new()),
        Box::new(HierarchicalScopes::new().allow_bare_wildcard(true)),
        Box::new(
            HierarchicalScopes::new().hierarchy(
                ActionHierarchy::new()
                    .implies("write", ["edit"])
                    .implies("edit", ["read"]),
            ),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    /// Adding a deny rule to any policy set never turns a deny into an allow (and an allow
    /// either stays or becomes a deny).
    #[test]
    fn a_deny_rule_never_grants(
        specs in prop::collection::vec(rule_spec(), 0..5),
        deny in rule_spec(),
        req in request_spec(),
    ) {
        let deny = RuleSpec { allow: false, ..deny };
        let request = request(&req);
        let before = engine(&specs, None).decide_now(&request);
        let after = engine(&specs, Some(&deny)).decide_now(&request);
        prop_assert!(!after.allowed || before.allowed, "before: {before}; after: {after}");
    }

    /// An empty policy set denies every request, whatever it names.
    #[test]
    fn an_empty_policy_set_denies(
        action in ".{0,24}",
        resource in ".{0,24}",
        req in request_spec(),
    ) {
        let empty = PolicyEngine::builder().build().unwrap();
        for request in [
            PolicyRequest::new(action.as_str(), resource.as_str()),
            request(&req),
        ] {
            let decision = empty.decide_now(&request);
            prop_assert!(!decision.allowed && decision.is_default_deny(), "{decision}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    /// Granting more scopes never removes access: the allowed requirements of a superset of
    /// grants are a superset.
    #[test]
    fn granting_a_scope_never_removes_access(
        granted in granted(),
        more in granted(),
        required in concrete(),
    ) {
        let fewer = granted.join(" ");
        let all = [granted.join(" "), more.join(" ")].join(" ");
        for v in validators() {
            if v.has_scope(&required, GrantedScopes::new(&fewer)) {
                prop_assert!(v.has_scope(&required, GrantedScopes::new(&all)), "{required} {fewer} / {all}");
            }
        }
    }

    /// Matching is case-sensitive and never by prefix, in either direction.
    #[test]
    fn no_prefix_no_case_folding(required in "[a-zA-Z][a-zA-Z0-9_.-]{0,8}(:[a-zA-Z0-9_.-]{1,8}){1,3}") {
        prop_assume!(validate_required_scope(&required).is_ok());
        for v in validators() {
            prop_assert!(v.has_scope(&required, GrantedScopes::new(&required)));
            for (i, _) in required.char_indices().skip(1) {
                let prefix = &required[..i];
                prop_assert!(!v.has_scope(&required, GrantedScopes::new(prefix)), "{prefix} ⊢ {required}");
                prop_assert!(!v.has_scope(prefix, GrantedScopes::new(&required)), "{required} ⊢ {prefix}");
            }
            for other in [required.to_ascii_uppercase(), required.to_ascii_lowercase()] {
                if other != required {
                    prop_assert!(!v.has_scope(&required, GrantedScopes::new(&other)), "{other} ⊢ {required}");
                }
            }
        }
    }
}

#[test]
fn the_documented_prefix_case() {
    for v in validators() {
        assert!(!v.has_scope("reports:read", GrantedScopes::new("reports:rea")));
        assert!(!v.has_scope("reports:read", GrantedScopes::new("Reports:read")));
        assert!(!v.has_scope("reports:read", GrantedScopes::new("")));
    }
}

// ---------------------------------------------------------------------------------------------
// The macros' grammar (auth-grammar) and the run-time validators
// ---------------------------------------------------------------------------------------------

/// Strings near the grammar's edges: name characters, separators, wildcards, whitespace, a
/// few non-ASCII letters, and sometimes something long.
fn edgy() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z0-9_.*: é\t-]{0,12}",
        1 => "[a-z:]{120,140}",
        1 => ".{0,8}",
    ]
}

fn hs256_user(name: &str) -> LoginType {
    LoginType::new(name).key(SigningKey::hs256(format!("{name}-kid"), &[7; 32]))
}

proptest! {
    #![proptest_config(config(512))]

    /// What `#[requires]`, `#[login_type]` and `#[policy]` accept at compile time, the
    /// manager, token issuing and policy rules accept at run time, and conversely where the
    /// run time uses the same notion.
    #[test]
    fn compile_time_and_run_time_agree(s in edgy()) {
        let manager = AuthManager::builder().login_type(hs256_user("user")).build().unwrap();

        // A granted scope in a token, and in a role.
        let issued = manager.create_access_token(&TokenRequest::new("user", "alice").scopes([s.as_str()]));
        prop_assert_eq!(issued.is_ok(), validate_scope(&s).is_ok(), "token scope {:?}", s);
        let role = AuthManager::builder()
            .login_type(hs256_user("user"))
            .role("r", [s.as_str()])
            .build();
        prop_assert_eq!(role.is_ok(), validate_scope(&s).is_ok(), "role scope {:?}", s);

        // A login type.
        let login_type = AuthManager::builder().login_type(hs256_user(&s)).build();
        prop_assert_eq!(login_type.is_ok(), validate_login_type(&s).is_ok(), "login type {:?}", s);

        // A required scope (`#[requires]`) is a grantable scope, and a token granted exactly it
        // satisfies it.
        if validate_required_scope(&s).is_ok() {
            prop_assert!(validate_scope(&s).is_ok());
            let token = issued.unwrap().access_token;
            let principal = manager.verify_access_token(&token, &["user"]).unwrap();
            prop_assert!(HierarchicalScopes::new().has_scope(&s, principal.scopes()));
        }

        // A policy action: rules take it (and patterns, a superset), and a rule naming it
        // matches a request for it.
        let rule = PolicyEngine::builder()
            .rule(PolicyRule::allow("r").actions([s.as_str()]).resources(["users"]))
            .build();
        prop_assert_eq!(rule.is_ok(), s == "*" || validate_scope(&s).is_ok(), "action {:?}", s);
        if validate_action(&s).is_ok() {
            let decision = rule.unwrap().decide_now(&PolicyRequest::new(s.as_str(), "users"));
            prop_assert!(decision.is_allowed_by("r"), "{}", decision);
        }

        // A policy resource.
        if !s.contains('*') {
            let rule = PolicyEngine::builder()
                .rule(PolicyRule::allow("r").actions(["users:ban"]).resources([s.as_str()]))
                .build();
            prop_assert_eq!(rule.is_ok(), validate_resource(&s).is_ok(), "resource {:?}", s);
            if let Ok(engine) = rule {
                let decision = engine.decide_now(&PolicyRequest::new("users:ban", s.as_str()));
                prop_assert!(decision.is_allowed_by("r"), "{}", decision);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

fn manager() -> AuthManager {
    AuthManager::builder()
        .login_type(hs256_user("user"))
        .login_type(LoginType::new("svc").key(SigningKey::es256_pem(
            "svc-kid",
            include_bytes!("../keys/ec_private.pem"),
            include_bytes!("../keys/ec_public.pem"),
        )))
        .build()
        .unwrap()
}

fn claim_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(64))]

    /// Issuing then verifying returns the subject, the login type, the scopes in order and
    /// every extra claim.
    #[test]
    fn issue_then_verify_round_trips(
        svc in any::<bool>(),
        subject in ".{1,24}",
        scopes in prop::collection::vec(pattern(), 0..4),
        claims in prop::collection::btree_map("[a-z_]{1,10}", claim_value(), 0..4),
    ) {
        let claims: Map<String, Value> = claims
            .into_iter()
            .filter(|(k, _)| !RESERVED_CLAIMS.contains(&k.as_str()))
            .collect();
        let login_type = if svc { "svc" } else { "user" };
        let manager = manager();
        let request = TokenRequest::new(login_type, subject.as_str())
            .scopes(scopes.clone())
            .claims(claims.clone());
        let token = manager.create_access_token(&request).unwrap();
        let principal = manager.verify_access_token(&token.access_token, &[login_type]).unwrap();
        prop_assert_eq!(principal.subject(), subject.as_str());
        prop_assert_eq!(principal.login_type(), login_type);
        prop_assert_eq!(principal.scopes().iter().collect::<Vec<_>>(), scopes.iter().map(String::as_str).collect::<Vec<_>>());
        for (name, value) in &claims {
            prop_assert_eq!(principal.claim(name), Some(value), "claim {}", name);
        }
        // The other login type refuses it.
        let other = if svc { "user" } else { "svc" };
        prop_assert!(manager.verify_access_token(&token.access_token, &[other]).is_err());
    }
}
