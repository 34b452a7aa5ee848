//! The policy engine: operators, rule matching and precedence, evaluators, decisions, builder
//! and JSON errors, and `#[policy]` handlers over HTTP (resource loaders, environment
//! attributes, 403/404/500 bodies).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use auth_runtime::ConfigError;
use auth_runtime::policy::{
    Attr, Condition, Decision, Evaluators, PolicyEngine, PolicyError, PolicyRequest, PolicyRule,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Engine unit tests
// ---------------------------------------------------------------------------------------------

/// An engine with one allow rule `r` on `docs:read`/`docs` whose only condition is `condition`.
fn one_condition(condition: Condition) -> PolicyEngine {
    PolicyEngine::builder()
        .rule(
            PolicyRule::allow("r")
                .actions(["docs:read"])
                .resources(["docs"])
                .when(condition),
        )
        .build()
        .expect("valid rule")
}

fn read_docs() -> PolicyRequest {
    PolicyRequest::new("docs:read", "docs")
}

/// Whether `condition` holds for a subject `subject` and resource `resource`.
fn holds(condition: Condition, subject: Value, resource: Value) -> bool {
    let decision = one_condition(condition).decide_now(
        &read_docs()
            .subject(subject)
            .resource(resource)
            .method("GET"),
    );
    assert!(
        decision.is_allowed_by("r") || decision.is_default_deny(),
        "{decision}"
    );
    decision.allowed
}

/// Whether `condition` holds on a subject with these claims.
fn holds_on(condition: Condition, subject: Value) -> bool {
    holds(condition, subject, json!({}))
}

#[test]
fn eq_and_ne_compare_numbers_by_value() {
    let s = json!({ "level": 1, "name": "ann", "flag": true });
    assert!(holds_on(Attr::subject("level").eq(1), s.clone()));
    assert!(holds_on(Attr::subject("level").eq(1.0), s.clone()));
    assert!(holds_on(Attr::subject("name").eq("ann"), s.clone()));
    assert!(holds_on(Attr::subject("flag").eq(true), s.clone()));
    assert!(!holds_on(Attr::subject("level").eq(2), s.clone()));
    assert!(!holds_on(Attr::subject("level").eq("1"), s.clone()));
    assert!(holds_on(Attr::subject("name").ne("bob"), s.clone()));
    assert!(!holds_on(Attr::subject("level").ne(1.0), s.clone()));
    assert!(holds_on(Attr::subject("level").ne("1"), s));
}

#[test]
fn large_integer_ids_are_compared_exactly() {
    // Snowflake-style ids above 2^53 differ in their last digits, which an `f64` loses.
    let owner = Attr::resource("owner_id").eq(Attr::subject("uid"));
    let (mine, theirs) = (1_234_567_890_123_456_789u64, 1_234_567_890_123_456_788u64);
    assert!(holds(
        owner.clone(),
        json!({ "uid": mine }),
        json!({ "owner_id": mine })
    ));
    assert!(!holds(
        owner,
        json!({ "uid": mine }),
        json!({ "owner_id": theirs })
    ));
    let s = json!({ "uid": mine });
    assert!(holds_on(Attr::subject("uid").ne(theirs), s.clone()));
    assert!(holds_on(Attr::subject("uid").gt(theirs), s.clone()));
    assert!(!holds_on(Attr::subject("uid").le(theirs), s.clone()));
    assert!(!holds_on(
        Attr::subject("uid").is_in(vec![theirs]),
        s.clone()
    ));
    assert!(holds_on(
        Attr::subject("uid").not_in(vec![theirs]),
        s.clone()
    ));
    assert!(holds_on(Attr::subject("uid").eq(mine), s.clone()));
    // Signed and unsigned integers compare across the sign.
    assert!(holds_on(Attr::subject("uid").gt(-1), s));
    assert!(holds_on(Attr::subject("n").lt(0u64), json!({ "n": -5 })));
}

#[test]
fn is_in_and_not_in_look_through_an_array() {
    let s = json!({ "role": "editor", "n": 2 });
    assert!(holds_on(
        Attr::subject("role").is_in(vec!["admin", "editor"]),
        s.clone()
    ));
    assert!(!holds_on(
        Attr::subject("role").is_in(vec!["admin", "owner"]),
        s.clone()
    ));
    assert!(holds_on(
        Attr::subject("n").is_in(vec![1.0, 2.0]),
        s.clone()
    ));
    assert!(holds_on(
        Attr::subject("role").not_in(vec!["admin", "owner"]),
        s.clone()
    ));
    assert!(!holds_on(
        Attr::subject("role").not_in(vec!["admin", "editor"]),
        s
    ));
}

#[test]
fn contains_on_arrays_objects_and_strings() {
    let s = json!({
        "groups": ["staff", "ops", 3],
        "flags": { "beta": false },
        "email": "ann@example.com",
    });
    assert!(holds_on(Attr::subject("groups").contains("ops"), s.clone()));
    assert!(holds_on(Attr::subject("groups").contains(3.0), s.clone()));
    assert!(!holds_on(
        Attr::subject("groups").contains("dev"),
        s.clone()
    ));
    // An object contains its keys, whatever their values.
    assert!(holds_on(Attr::subject("flags").contains("beta"), s.clone()));
    assert!(!holds_on(
        Attr::subject("flags").contains("alpha"),
        s.clone()
    ));
    assert!(holds_on(
        Attr::subject("email").contains("@example."),
        s.clone()
    ));
    assert!(!holds_on(
        Attr::subject("email").contains("@corp."),
        s.clone()
    ));
    // A number contains nothing.
    assert!(!holds_on(
        Attr::subject("n").contains("1"),
        json!({ "n": 123 })
    ));
}

#[test]
fn ordering_on_numbers_and_iso_dates() {
    let s = json!({ "age": 18, "since": "2024-03-01", "at": "2024-03-01T10:00:00Z" });
    assert!(holds_on(Attr::subject("age").gt(17.5), s.clone()));
    assert!(!holds_on(Attr::subject("age").gt(18), s.clone()));
    assert!(holds_on(Attr::subject("age").ge(18.0), s.clone()));
    assert!(holds_on(Attr::subject("age").lt(19), s.clone()));
    assert!(!holds_on(Attr::subject("age").lt(18), s.clone()));
    assert!(holds_on(Attr::subject("age").le(18), s.clone()));
    assert!(!holds_on(Attr::subject("age").le(17), s.clone()));
    assert!(holds_on(Attr::subject("since").lt("2024-12-31"), s.clone()));
    assert!(holds_on(Attr::subject("since").ge("2024-03-01"), s.clone()));
    assert!(!holds_on(
        Attr::subject("since").gt("2024-03-01"),
        s.clone()
    ));
    assert!(holds_on(
        Attr::subject("at").gt("2024-03-01T09:59:59Z"),
        s.clone()
    ));
    // A string and a number have no order: every comparison is false.
    assert!(!holds_on(Attr::subject("since").gt(0), s.clone()));
    assert!(!holds_on(Attr::subject("since").lt(0), s.clone()));
    assert!(!holds_on(Attr::subject("age").gt("1"), s));
}

#[test]
fn exists_is_presence_even_of_null_or_false() {
    let s = json!({ "nothing": null, "off": false, "profile": { "tier": "gold" } });
    assert!(holds_on(Attr::subject("nothing").exists(), s.clone()));
    assert!(holds_on(Attr::subject("off").exists(), s.clone()));
    assert!(holds_on(Attr::subject("profile.tier").exists(), s.clone()));
    assert!(!holds_on(Attr::subject("missing").exists(), s.clone()));
    assert!(!holds_on(Attr::subject("profile.missing").exists(), s));
}

#[test]
fn dotted_keys_reach_into_objects_and_arrays() {
    let s = json!({ "profile": { "tier": "gold", "limits": { "max": 5 } }, "tags": ["a", "b"] });
    assert!(holds_on(
        Attr::subject("profile.tier").eq("gold"),
        s.clone()
    ));
    assert!(holds_on(
        Attr::subject("profile.limits.max").ge(5),
        s.clone()
    ));
    assert!(holds_on(Attr::subject("tags.1").eq("b"), s.clone()));
    assert!(holds_on(Attr::subject("tags.0").eq("a"), s.clone()));
    assert!(!holds_on(Attr::subject("tags.2").exists(), s.clone()));
    assert!(!holds_on(Attr::subject("tags.x").exists(), s.clone()));
    assert!(!holds_on(Attr::subject("profile.tier.x").exists(), s));
    // A key that itself contains a dot is found as is.
    assert!(holds_on(
        Attr::subject("a.b").eq(1),
        json!({ "a.b": 1, "a": { "b": 2 } })
    ));
}

#[test]
fn attribute_compared_with_attribute() {
    let owner = Attr::resource("owner").eq(Attr::subject("sub"));
    assert!(holds(
        owner.clone(),
        json!({ "sub": "ann" }),
        json!({ "owner": "ann" })
    ));
    assert!(!holds(
        owner,
        json!({ "sub": "ann" }),
        json!({ "owner": "bob" })
    ));
    assert!(holds(
        Attr::subject("clearance").ge(Attr::resource("level")),
        json!({ "clearance": 3 }),
        json!({ "level": 2.5 })
    ));
    assert!(holds(
        Attr::resource("members").contains(Attr::subject("sub")),
        json!({ "sub": "ann" }),
        json!({ "members": ["bob", "ann"] })
    ));
}

/// docs/architecture.md §3: conditions fail closed. A deny rule whose condition reads a
/// missing attribute applies (the request is denied); an allow rule's does not (nothing is
/// allowed by it).
#[test]
fn a_missing_attribute_makes_a_deny_rule_apply() {
    let engine = PolicyEngine::builder()
        .rule(
            PolicyRule::allow("admins")
                .actions(["users:ban"])
                .resources(["users"])
                .scopes(["admin:*"]),
        )
        .rule(
            PolicyRule::deny("no-self-ban")
                .actions(["users:ban"])
                .resources(["users"])
                .when(Attr::subject("sub").eq(Attr::resource("id"))),
        )
        .rule(
            PolicyRule::deny("suspended")
                .actions(["users:ban"])
                .resources(["users"])
                .when(Attr::subject("account_status").ne("active")),
        )
        .build()
        .expect("valid rules");
    let base = PolicyRequest::new("users:ban", "users");
    let admin = json!({ "sub": "1", "scope": "admin:*", "account_status": "active" });
    // Every attribute present: the admin may ban account 2, not account 1 (themselves).
    assert!(
        engine
            .decide_now(
                &base
                    .clone()
                    .subject(admin.clone())
                    .resource(json!({ "id": "2" }))
            )
            .is_allowed_by("admins")
    );
    assert!(
        engine
            .decide_now(
                &base
                    .clone()
                    .subject(admin.clone())
                    .resource(json!({ "id": "1" }))
            )
            .is_denied_by("no-self-ban")
    );
    // The resource id is missing (no loader, a loader that forgot it): the self-ban rule
    // cannot tell, so it applies.
    let decision = engine.decide_now(&base.clone().subject(admin.clone()).resource(json!({})));
    assert!(decision.is_denied_by("no-self-ban"), "{decision}");
    // The subject has no status claim: `!= "active"` reads a missing attribute, so the
    // suspended rule applies.
    let no_status = json!({ "sub": "1", "scope": "admin:*" });
    let decision = engine.decide_now(
        &base
            .clone()
            .subject(no_status)
            .resource(json!({ "id": "2" })),
    );
    assert!(decision.is_denied_by("suspended"), "{decision}");
    // `exists` tests presence itself: a deny rule on `exists` does not apply to a missing one.
    let exists = PolicyEngine::builder()
        .rule(PolicyRule::allow("all").actions(["a:b"]).resources(["r"]))
        .rule(
            PolicyRule::deny("flagged")
                .actions(["a:b"])
                .resources(["r"])
                .when(Attr::subject("flag").exists()),
        )
        .build()
        .expect("valid rules");
    let request = PolicyRequest::new("a:b", "r");
    assert!(
        exists
            .decide_now(&request.clone().subject(json!({})))
            .is_allowed_by("all")
    );
    assert!(
        exists
            .decide_now(&request.subject(json!({ "flag": false })))
            .is_denied_by("flagged")
    );
}

#[test]
fn a_missing_attribute_on_either_side_makes_an_allow_condition_false() {
    let present = json!({ "a": 1 });
    let empty = json!({});
    // Missing left-hand side.
    for c in [
        Attr::subject("x").eq(1),
        Attr::subject("x").ne(1),
        Attr::subject("x").is_in(vec![1]),
        Attr::subject("x").not_in(vec![1]),
        Attr::subject("x").contains("a"),
        Attr::subject("x").gt(0),
        Attr::subject("x").le(0),
    ] {
        assert!(!holds_on(c.clone(), present.clone()), "{c}");
    }
    // Missing right-hand side (an attribute).
    for c in [
        Attr::subject("a").eq(Attr::resource("x")),
        Attr::subject("a").ne(Attr::resource("x")),
        Attr::subject("a").not_in(Attr::resource("x")),
        Attr::subject("a").lt(Attr::resource("x")),
    ] {
        assert!(!holds(c.clone(), present.clone(), empty.clone()), "{c}");
    }
    // Environment attributes that were not provided.
    for c in [
        Attr::env("route").ne("/x"),
        Attr::env("client_ip").ne("1.2.3.4"),
        Attr::env("params.id").ne("1"),
    ] {
        assert!(!holds_on(c.clone(), present.clone()), "{c}");
    }
}

#[test]
fn environment_attributes_from_the_request() {
    let engine = PolicyEngine::builder()
        .rule(
            PolicyRule::allow("r")
                .actions(["docs:read"])
                .resources(["docs"])
                .when(Attr::env("method").eq("GET"))
                .when(Attr::env("path").eq("/docs/7"))
                .when(Attr::env("params.id").eq("7"))
                .when(Attr::env("client_ip").eq("10.0.0.1"))
                .when(Attr::env("time").ge(1_700_000_000u64)),
        )
        .build()
        .unwrap();
    let request = read_docs()
        .method("GET")
        .path("/docs/7")
        .param("id", "7")
        .client_ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
        .time(1_700_000_001);
    assert!(engine.decide_now(&request).is_allowed_by("r"));
    for denied in [
        request.clone().method("POST"),
        request.clone().path("/docs/8"),
        request.clone().param("id", "8"),
        request
            .clone()
            .client_ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))),
        request.clone().time(1_699_999_999),
    ] {
        assert!(engine.decide_now(&denied).is_default_deny(), "{denied:?}");
    }
}

fn allow_and_deny(deny_first: bool) -> PolicyEngine {
    let allow = PolicyRule::allow("allow-all")
        .actions(["*"])
        .resources(["*"])
        .reason("everyone may");
    let deny = PolicyRule::deny("no-banned")
        .actions(["docs:read"])
        .resources(["docs"])
        .when(Attr::subject("banned").eq(true))
        .reason("banned users may not");
    let rules = if deny_first {
        vec![deny, allow]
    } else {
        vec![allow, deny]
    };
    PolicyEngine::builder().rules(rules).build().unwrap()
}

#[tokio::test]
async fn deny_overrides_allow_in_any_declaration_order() {
    for deny_first in [false, true] {
        let engine = allow_and_deny(deny_first);
        let banned = read_docs().subject(json!({ "banned": true }));
        let decision = engine.decide_now(&banned);
        assert!(decision.is_denied_by("no-banned"), "{decision}");
        assert_eq!(engine.check(&banned).await, decision);
        let fine = read_docs().subject(json!({ "banned": false }));
        assert!(engine.decide_now(&fine).is_allowed_by("allow-all"));
        assert!(engine.check(&fine).await.is_allowed_by("allow-all"));
    }
}

#[tokio::test]
async fn no_matching_rule_denies_by_default() {
    let engine = PolicyEngine::builder()
        .rule(
            PolicyRule::allow("r")
                .actions(["docs:read"])
                .resources(["docs"]),
        )
        .build()
        .unwrap();
    for request in [
        PolicyRequest::new("docs:write", "docs"),
        PolicyRequest::new("docs:read", "users"),
    ] {
        let decision = engine.decide_now(&request);
        assert!(decision.is_default_deny(), "{decision}");
        assert_eq!(decision.rule, None);
        assert_eq!(
            decision.to_string(),
            "denied by default: no policy rule allows it"
        );
        assert_eq!(engine.check(&request).await, decision);
    }
    let empty = PolicyEngine::default();
    assert!(empty.is_empty());
    assert!(empty.decide_now(&read_docs()).is_default_deny());
}

#[test]
fn the_first_matching_allow_rule_in_declaration_order_decides() {
    let engine = PolicyEngine::builder()
        .rule(
            PolicyRule::allow("gold")
                .actions(["docs:read"])
                .resources(["docs"])
                .when(Attr::subject("tier").eq("gold")),
        )
        .rule(
            PolicyRule::allow("wild")
                .actions(["docs:*"])
                .resources(["*"]),
        )
        .rule(
            PolicyRule::allow("exact")
                .actions(["docs:read"])
                .resources(["docs"]),
        )
        .build()
        .unwrap();
    assert_eq!(engine.len(), 3);
    let gold = read_docs().subject(json!({ "tier": "gold" }));
    assert!(engine.decide_now(&gold).is_allowed_by("gold"));
    // `wild` (a wildcard rule) comes before `exact`: declaration order, not specificity.
    let plain = read_docs().subject(json!({ "tier": "free" }));
    assert!(engine.decide_now(&plain).is_allowed_by("wild"));
}

#[test]
fn wildcard_actions_and_resources() {
    let engine = PolicyEngine::builder()
        .rule(
            PolicyRule::allow("users-any")
                .actions(["users:*"])
                .resources(["users"]),
        )
        .rule(
            PolicyRule::allow("read-anything")
                .actions(["*:read"])
                .resources(["billing:*"]),
        )
        .rule(
            PolicyRule::allow("root")
                .actions(["*"])
                .resources(["*"])
                .when(Attr::subject("sub").eq("root")),
        )
        .build()
        .unwrap();
    let decide = |action: &str, resource: &str, sub: &str| {
        engine.decide_now(&PolicyRequest::new(action, resource).subject(json!({ "sub": sub })))
    };
    assert!(decide("users:ban", "users", "a").is_allowed_by("users-any"));
    assert!(decide("users:x:y", "users", "a").is_allowed_by("users-any"));
    assert!(decide("users:ban", "groups", "a").is_default_deny());
    assert!(decide("billing:read", "billing:invoices", "a").is_allowed_by("read-anything"));
    assert!(decide("reports:read", "billing:invoices", "a").is_allowed_by("read-anything"));
    assert!(decide("reports:write", "billing:invoices", "a").is_default_deny());
    // `billing:*` needs a part after `billing`.
    assert!(decide("billing:read", "billing", "a").is_default_deny());
    assert!(decide("anything:at:all", "whatever", "root").is_allowed_by("root"));
}

#[test]
fn rule_scopes_all_of_and_any_of() {
    let engine = PolicyEngine::builder()
        .rule(
            PolicyRule::allow("admins")
                .actions(["users:ban"])
                .resources(["users"])
                .scopes(["admin:*"]),
        )
        .rule(
            PolicyRule::allow("both")
                .actions(["reports:export"])
                .resources(["reports"])
                .scopes(["reports:read", "reports:export"]),
        )
        .rule(
            PolicyRule::allow("either")
                .actions(["billing:read"])
                .resources(["billing"])
                .any_scope(["billing:read", "finance:*"]),
        )
        .build()
        .unwrap();
    let with = |action: &str, resource: &str, scope: &str| {
        engine.decide_now(&PolicyRequest::new(action, resource).subject(json!({ "scope": scope })))
    };
    assert!(with("users:ban", "users", "admin:*").allowed);
    assert!(with("users:ban", "users", "reports:read *:*").allowed);
    assert!(!with("users:ban", "users", "admin:ban").allowed);
    assert!(!with("users:ban", "users", "").allowed);
    assert!(with("reports:export", "reports", "reports:read reports:export").allowed);
    assert!(with("reports:export", "reports", "reports:*").allowed);
    assert!(!with("reports:export", "reports", "reports:read").allowed);
    assert!(with("billing:read", "billing", "billing:read").allowed);
    assert!(with("billing:read", "billing", "finance:*").allowed);
    assert!(!with("billing:read", "billing", "finance:read").allowed);
    assert!(!with("billing:read", "billing", "users:read").allowed);
    // No `scope` claim at all: no scopes.
    let none = PolicyRequest::new("billing:read", "billing").subject(json!({ "sub": "x" }));
    assert!(engine.decide_now(&none).is_default_deny());
}

#[tokio::test]
async fn sync_evaluators_see_the_context() {
    let engine = PolicyEngine::builder()
        .rule(
            PolicyRule::allow("even")
                .actions(["docs:read"])
                .resources(["docs"])
                .evaluator(|ctx| {
                    ctx.action() == "docs:read"
                        && ctx.resource_type() == "docs"
                        && ctx.environment().method == "GET"
                        && ctx
                            .resource("size")
                            .and_then(Value::as_u64)
                            .is_some_and(|n| n % 2 == 0)
                        && ctx.subject("sub") == Some(&json!("ann"))
                })
                .reason("even sizes only"),
        )
        .build()
        .unwrap();
    let request = read_docs()
        .method("GET")
        .subject(json!({ "sub": "ann" }))
        .resource(json!({ "size": 4 }));
    assert!(engine.decide_now(&request).is_allowed_by("even"));
    assert!(engine.check(&request).await.is_allowed_by("even"));
    let odd = request.clone().resource(json!({ "size": 3 }));
    assert!(engine.decide_now(&odd).is_default_deny());
    assert!(engine.check(&odd).await.is_default_deny());
}

#[tokio::test]
async fn async_evaluators_run_in_check_and_never_match_in_decide_now() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let engine = PolicyEngine::builder()
        .rule(
            PolicyRule::deny("suspended")
                .actions(["docs:read"])
                .resources(["docs"])
                .async_evaluator(|ctx: Arc<auth_runtime::policy::PolicyContext>| async move {
                    CALLS.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    ctx.subject("sub") == Some(&json!("mallory"))
                }),
        )
        .rule(
            PolicyRule::allow("members")
                .actions(["docs:read"])
                .resources(["docs"])
                .async_evaluator(|ctx: Arc<auth_runtime::policy::PolicyContext>| async move {
                    CALLS.fetch_add(1, Ordering::SeqCst);
                    ctx.subject("member") == Some(&json!(true))
                }),
        )
        .build()
        .unwrap();
    let member = read_docs().subject(json!({ "sub": "ann", "member": true }));
    assert!(engine.check(&member).await.is_allowed_by("members"));
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    let mallory = read_docs().subject(json!({ "sub": "mallory", "member": true }));
    assert!(engine.check(&mallory).await.is_denied_by("suspended"));
    assert_eq!(
        CALLS.load(Ordering::SeqCst),
        3,
        "the allow rule is not tried"
    );
    let outsider = read_docs().subject(json!({ "sub": "eve" }));
    assert!(engine.check(&outsider).await.is_default_deny());

    // `decide_now` does not run async evaluators: their rules do not match, deny or allow.
    let before = CALLS.load(Ordering::SeqCst);
    assert!(engine.decide_now(&member).is_default_deny());
    assert!(engine.decide_now(&mallory).is_default_deny());
    assert_eq!(CALLS.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn an_async_evaluator_runs_once_even_when_the_rule_names_the_action_twice() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    // `docs:read` both exactly and through `docs:*`: the rule is one candidate, not two.
    let engine = PolicyEngine::builder()
        .rule(
            PolicyRule::allow("r")
                .actions(["docs:read", "docs:*"])
                .resources(["docs"])
                .async_evaluator(|_| async {
                    CALLS.fetch_add(1, Ordering::SeqCst);
                    false
                }),
        )
        .build()
        .unwrap();
    assert!(engine.check(&read_docs()).await.is_default_deny());
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
}

#[test]
fn default_reasons_describe_scopes_and_conditions() {
    let engine = PolicyEngine::builder()
        .rule(
            PolicyRule::allow("ban")
                .actions(["users:ban"])
                .resources(["users"])
                .scopes(["admin:*"])
                .when(Attr::env("method").eq("POST")),
        )
        .rule(
            PolicyRule::allow("mine")
                .actions(["docs:read"])
                .resources(["docs"])
                .scopes(["docs:read", "docs:list"])
                .when(Attr::resource("owner").eq(Attr::subject("sub")))
                .when(Attr::resource("tags").contains("public"))
                .when(Attr::resource("state").is_in(vec!["a", "b"]))
                .when(Attr::subject("age").ge(18)),
        )
        .rule(
            PolicyRule::deny("bare")
                .actions(["docs:delete"])
                .resources(["docs"]),
        )
        .rule(
            PolicyRule::allow("flag")
                .actions(["docs:flag"])
                .resources(["docs"])
                .when(Attr::subject("profile.tier").exists())
                .when(Attr::subject("x").not_in(vec![1])),
        )
        .build()
        .unwrap();
    let ban = engine.decide_now(
        &PolicyRequest::new("users:ban", "users")
            .subject(json!({ "scope": "admin:*" }))
            .method("POST"),
    );
    assert_eq!(
        ban.reason,
        "scopes admin:* and environment.method == \"POST\""
    );
    let mine = engine.decide_now(
        &read_docs()
            .subject(json!({ "sub": "a", "age": 20,
        "scope": "docs:read docs:list" }))
            .resource(json!({ "owner": "a",
        "tags": ["public"], "state": "b" })),
    );
    assert_eq!(
        mine.reason,
        "scopes docs:read, docs:list and resource.owner == subject.sub and \
         resource.tags contains \"public\" and resource.state in [\"a\",\"b\"] and \
         subject.age >= 18",
        "{mine}"
    );
    let bare = engine.decide_now(&PolicyRequest::new("docs:delete", "docs"));
    assert_eq!(bare.to_string(), "denied by rule `bare`: the rule matched");
    let flag = engine.decide_now(
        &PolicyRequest::new("docs:flag", "docs")
            .subject(json!({ "profile": { "tier": "gold" }, "x": 2 })),
    );
    assert_eq!(
        flag.reason,
        "subject.profile.tier exists and subject.x not in [1]"
    );
}

#[test]
fn policy_requests_are_built_field_by_field() {
    let request = read_docs()
        .subject(json!(["not", "an", "object"]))
        .param("id", "1")
        .param("id", "2") // replaces `id=1`
        .param("v", "x")
        .path("/docs/2");
    let ctx = request.context();
    assert_eq!((ctx.action(), ctx.resource_type()), ("docs:read", "docs"));
    assert_eq!(ctx.subject("0"), None, "a non-object subject is ignored");
    assert_eq!(
        ctx.environment().params,
        [
            ("id".to_owned(), "2".to_owned()),
            ("v".to_owned(), "x".to_owned())
        ]
    );
    let engine = one_condition(Attr::env("params.id").eq("2"));
    assert!(engine.decide_now(&request).is_allowed_by("r"));
    // The default time is 0 and the default method empty.
    assert_eq!(ctx.environment().time, 0);
    assert!(
        one_condition(Attr::env("method").eq(""))
            .decide_now(&request)
            .allowed
    );
}

#[test]
fn decision_display_and_predicates() {
    let allowed = Decision {
        allowed: true,
        rule: Some("r1".into()),
        reason: "owners may".into(),
    };
    assert_eq!(allowed.to_string(), "allowed by rule `r1`: owners may");
    assert!(allowed.is_allowed_by("r1"));
    assert!(!allowed.is_allowed_by("r2"));
    assert!(!allowed.is_denied_by("r1"));
    assert!(!allowed.is_default_deny());
    let denied = Decision {
        allowed: false,
        rule: Some("d1".into()),
        reason: "banned".into(),
    };
    assert_eq!(denied.to_string(), "denied by rule `d1`: banned");
    assert!(denied.is_denied_by("d1"));
    assert!(!denied.is_default_deny());
    let default = Decision {
        allowed: false,
        rule: None,
        reason: "no policy rule allows it".into(),
    };
    assert_eq!(
        default.to_string(),
        "denied by default: no policy rule allows it"
    );
    assert!(default.is_default_deny());
    // The engine's decisions carry the rule's own reason.
    let engine = allow_and_deny(true);
    assert_eq!(
        engine
            .decide_now(&read_docs().subject(json!({ "banned": true })))
            .to_string(),
        "denied by rule `no-banned`: banned users may not"
    );
}

fn build_error(rules: Vec<PolicyRule>) -> PolicyError {
    PolicyEngine::builder()
        .rules(rules)
        .build()
        .expect_err("invalid rules")
}

fn invalid_field(error: &PolicyError) -> (&str, &str, &str) {
    match error {
        PolicyError::InvalidRule {
            rule,
            field,
            message,
        } => (rule.as_str(), field, message.as_str()),
        other => panic!("not an invalid rule: {other:?}"),
    }
}

fn docs_rule(id: &str) -> PolicyRule {
    PolicyRule::allow(id)
        .actions(["docs:read"])
        .resources(["docs"])
}

#[test]
fn builder_rejects_invalid_rules() {
    let dup = build_error(vec![docs_rule("a"), docs_rule("b"), docs_rule("a")]);
    assert_eq!(dup, PolicyError::DuplicateId("a".into()));
    assert_eq!(dup.to_string(), "two policy rules have the id `a`");

    let e = build_error(vec![PolicyRule::allow("no-actions").resources(["docs"])]);
    assert_eq!(
        invalid_field(&e),
        ("no-actions", "actions", "a rule needs at least one action")
    );
    assert_eq!(
        e.to_string(),
        "policy rule `no-actions`, field `actions`: a rule needs at least one action"
    );

    let e = build_error(vec![PolicyRule::allow("no-res").actions(["docs:read"])]);
    assert_eq!(
        invalid_field(&e),
        ("no-res", "resources", "a rule needs at least one resource")
    );

    let e = build_error(vec![
        PolicyRule::allow("bad-action")
            .actions(["docs:read", "Docs Read"])
            .resources(["docs"]),
    ]);
    let (rule, field, message) = invalid_field(&e);
    assert_eq!((rule, field), ("bad-action", "actions"));
    assert!(message.starts_with("`Docs Read`: "), "{message}");

    let e = build_error(vec![
        PolicyRule::allow("bad-res")
            .actions(["docs:read"])
            .resources(["docs", ""]),
    ]);
    assert_eq!(invalid_field(&e).1, "resources");

    let e = build_error(vec![
        docs_rule("in-scalar").when(Attr::subject("role").is_in(json!("admin"))),
    ]);
    assert_eq!(
        invalid_field(&e),
        ("in-scalar", "conditions", "`in` needs an array")
    );
    let e = build_error(vec![
        docs_rule("not-in-scalar").when(Attr::subject("role").not_in("admin")),
    ]);
    assert_eq!(
        invalid_field(&e),
        ("not-in-scalar", "conditions", "`not_in` needs an array")
    );

    let e = build_error(vec![
        docs_rule("empty-key").when(Attr::subject("").exists()),
    ]);
    assert_eq!(
        invalid_field(&e),
        (
            "empty-key",
            "conditions",
            "an attribute key cannot be empty"
        )
    );
    let e = build_error(vec![
        docs_rule("empty-rhs-key").when(Attr::subject("a").eq(Attr::env(""))),
    ]);
    assert_eq!(invalid_field(&e).1, "conditions", "{e}");

    let e = build_error(vec![
        PolicyRule::allow("").actions(["a:b"]).resources(["a"]),
    ]);
    assert_eq!(invalid_field(&e).1, "id");
}

#[test]
fn manager_builder_reports_policy_errors() {
    let builder = || {
        auth_runtime::AuthManager::builder().login_type(
            auth_runtime::LoginType::new("user")
                .key(auth_runtime::SigningKey::hs256("u1", &[1; 32])),
        )
    };
    let err = builder()
        .policies([docs_rule("same"), docs_rule("same")])
        .build()
        .expect_err("duplicate ids");
    assert!(
        matches!(&err, ConfigError::Policy(PolicyError::DuplicateId(id)) if id == "same"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "two policy rules have the id `same`");

    let err = builder()
        .policy(PolicyRule::deny("x").resources(["docs"]))
        .build()
        .expect_err("no actions");
    assert!(
        matches!(&err, ConfigError::Policy(PolicyError::InvalidRule { rule, field, .. })
            if rule == "x" && *field == "actions"),
        "{err:?}"
    );

    let ok = builder()
        .policies([docs_rule("a"), docs_rule("b")])
        .build()
        .expect("valid");
    assert_eq!(ok.policy_engine().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// JSON policy files
// ---------------------------------------------------------------------------------------------

const POLICY_FILE: &str = r#"{ "rules": [
  { "id": "admins-ban", "effect": "allow", "actions": ["users:ban"], "resources": ["users"],
    "scopes": ["admin:*"],
    "conditions": [ { "attr": "environment.method", "op": "eq", "value": "POST" } ],
    "reason": "admins may ban users" },
  { "id": "no-self-ban", "effect": "deny", "actions": ["users:ban"], "resources": ["users"],
    "conditions": [ { "attr": "subject.sub", "op": "eq", "attribute": "env.params.user_id" } ] },
  { "id": "owners-read", "effect": "allow", "actions": ["docs:*"], "resources": ["docs"],
    "any_scopes": ["docs:read", "docs:admin"],
    "conditions": [
      { "attr": "resource.owner", "op": "eq", "attribute": "subject.sub" },
      { "attr": "resource.state", "op": "in", "value": ["draft", "published"] },
      { "attr": "subject.profile.tier", "op": "exists" } ] },
  { "id": "active-billing", "effect": "allow", "actions": ["billing:read"],
    "resources": ["billing"], "evaluators": ["account_active"] }
] }"#;

fn account_active() -> Evaluators {
    Evaluators::new().add("account_active", |ctx| {
        ctx.subject("account_status") == Some(&json!("active"))
    })
}

fn rules_in_code() -> Vec<PolicyRule> {
    vec![
        PolicyRule::allow("admins-ban")
            .actions(["users:ban"])
            .resources(["users"])
            .scopes(["admin:*"])
            .when(Attr::env("method").eq("POST"))
            .reason("admins may ban users"),
        PolicyRule::deny("no-self-ban")
            .actions(["users:ban"])
            .resources(["users"])
            .when(Attr::subject("sub").eq(Attr::env("params.user_id"))),
        PolicyRule::allow("owners-read")
            .actions(["docs:*"])
            .resources(["docs"])
            .any_scope(["docs:read", "docs:admin"])
            .when(Attr::resource("owner").eq(Attr::subject("sub")))
            .when(Attr::resource("state").is_in(vec!["draft", "published"]))
            .when(Attr::subject("profile.tier").exists()),
        PolicyRule::allow("active-billing")
            .actions(["billing:read"])
            .resources(["billing"])
            .evaluator(|ctx| ctx.subject("account_status") == Some(&json!("active"))),
    ]
}

#[test]
fn a_json_policy_decides_like_the_same_rules_in_code() {
    let parsed = PolicyRule::from_json(POLICY_FILE, &account_active()).expect("valid file");
    assert_eq!(
        parsed.iter().map(PolicyRule::id).collect::<Vec<_>>(),
        ["admins-ban", "no-self-ban", "owners-read", "active-billing"]
    );
    let from_file = PolicyEngine::builder().rules(parsed).build().unwrap();
    let in_code = PolicyEngine::builder()
        .rules(rules_in_code())
        .build()
        .unwrap();
    let ban = |sub: &str, scope: &str, method: &str, target: &str| {
        PolicyRequest::new("users:ban", "users")
            .subject(json!({ "sub": sub, "scope": scope }))
            .method(method)
            .param("user_id", target)
    };
    let doc = |sub: &str, scope: &str, owner: &str, state: &str, tier: bool| {
        let mut subject = json!({ "sub": sub, "scope": scope });
        if tier {
            subject["profile"] = json!({ "tier": "gold" });
        }
        PolicyRequest::new("docs:edit", "docs")
            .subject(subject)
            .resource(json!({ "owner": owner, "state": state }))
    };
    let billing = |status: &str| {
        PolicyRequest::new("billing:read", "billing").subject(json!({ "account_status": status }))
    };
    let requests = [
        ban("7", "admin:*", "POST", "42"),
        ban("7", "admin:*", "POST", "7"),
        ban("7", "admin:*", "GET", "42"),
        ban("7", "admin:ban", "POST", "42"),
        doc("ann", "docs:read", "ann", "draft", true),
        doc("ann", "docs:admin", "ann", "published", true),
        doc("ann", "docs:write", "ann", "draft", true),
        doc("ann", "docs:read", "bob", "draft", true),
        doc("ann", "docs:read", "ann", "archived", true),
        doc("ann", "docs:read", "ann", "draft", false),
        billing("active"),
        billing("suspended"),
        PolicyRequest::new("reports:read", "reports"),
    ];
    let mut allowed = 0;
    for request in &requests {
        let a = from_file.decide_now(request);
        let b = in_code.decide_now(request);
        assert_eq!(a, b, "{request:?}");
        allowed += usize::from(a.allowed);
    }
    assert_eq!(allowed, 4);
    let self_ban = from_file.decide_now(&requests[1]);
    assert!(self_ban.is_denied_by("no-self-ban"));
    assert_eq!(self_ban.reason, "subject.sub == environment.params.user_id");
    assert!(
        from_file
            .decide_now(&requests[0])
            .is_allowed_by("admins-ban")
    );
    assert!(
        from_file
            .decide_now(&requests[10])
            .is_allowed_by("active-billing")
    );
}

/// The error of a one-rule file whose rule is `rule` (a JSON object's text).
fn rule_error(rule: &str) -> auth_runtime::policy::PolicyFileError {
    file_error(&format!(r#"{{ "rules": [ {rule} ] }}"#))
}

fn file_error(text: &str) -> auth_runtime::policy::PolicyFileError {
    PolicyRule::from_json(text, &account_active()).expect_err("invalid policy file")
}

/// A valid rule `r1` with `extra` fields spliced in (`extra` starts with a comma).
fn rule_with(extra: &str) -> String {
    format!(
        r#"{{ "id": "r1", "effect": "allow", "actions": ["docs:read"], "resources": ["docs"]{extra} }}"#
    )
}

/// A valid rule `r1` whose only condition is `condition`.
fn condition_error(condition: &str) -> auth_runtime::policy::PolicyFileError {
    rule_error(&rule_with(&format!(r#", "conditions": [ {condition} ]"#)))
}

#[test]
fn json_document_errors_name_no_rule() {
    let e = file_error("{ \"rules\": [ ");
    assert_eq!((e.rule.as_deref(), e.field.as_str()), (None, ""));
    assert!(e.message.starts_with("not valid JSON: "), "{e}");
    assert!(
        e.to_string().starts_with("policy file: not valid JSON"),
        "{e}"
    );

    let e = file_error(r#"{ "rules": [], "version": 2 }"#);
    assert_eq!((e.rule.as_deref(), e.field.as_str()), (None, "version"));
    assert_eq!(
        e.to_string(),
        "policy file, field `version`: unknown field; the document has only `rules`"
    );

    let e = file_error(r#"{ "rules": {} }"#);
    assert_eq!((e.rule.as_deref(), e.field.as_str()), (None, "rules"));
    let e = file_error("[]");
    assert_eq!(e.rule, None);

    // An empty rule list is valid.
    assert!(
        PolicyRule::from_json(r#"{ "rules": [] }"#, &Evaluators::new())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn json_rule_field_errors_name_rule_and_field() {
    let e = rule_error(&rule_with(r#", "condition": []"#));
    assert_eq!(
        (e.rule.as_deref(), e.field.as_str()),
        (Some("r1"), "condition")
    );
    assert!(e.message.contains("did you mean `conditions`?"), "{e}");
    assert_eq!(
        e.to_string(),
        "policy rule `r1`, field `condition`: unknown field; did you mean `conditions`?"
    );

    let e = rule_error(r#"{ "effect": "allow", "actions": ["docs:read"], "resources": ["docs"] }"#);
    assert_eq!((e.rule.as_deref(), e.field.as_str()), (Some("#0"), "id"));
    // The index counts from the start of the file.
    let e = file_error(&format!(
        r#"{{ "rules": [ {}, {{ "id": "", "effect": "allow" }} ] }}"#,
        rule_with("")
    ));
    assert_eq!((e.rule.as_deref(), e.field.as_str()), (Some("#1"), "id"));

    let e = rule_error(
        r#"{ "id": "r1", "effect": "permit", "actions": ["docs:read"], "resources": ["docs"] }"#,
    );
    assert_eq!(
        (e.rule.as_deref(), e.field.as_str()),
        (Some("r1"), "effect")
    );

    let e = rule_error(
        r#"{ "id": "r1", "effect": "deny", "actions": ["docs:read", 7], "resources": ["docs"] }"#,
    );
    assert_eq!(
        (e.rule.as_deref(), e.field.as_str()),
        (Some("r1"), "actions[1]")
    );
    assert_eq!(e.message, "expected a string");

    let e = rule_error(
        r#"{ "id": "r1", "effect": "deny", "actions": "docs:read", "resources": ["docs"] }"#,
    );
    assert_eq!(e.field, "actions");
    let e = rule_error(r#"{ "id": "r1", "effect": "deny", "actions": ["docs:read"] }"#);
    assert_eq!(e.field, "resources");
    let e = rule_error(r#"{ "id": "r1", "effect": "deny", "actions": [], "resources": ["docs"] }"#);
    assert_eq!(
        (e.rule.as_deref(), e.field.as_str(), e.message.as_str()),
        (Some("r1"), "actions", "a rule needs at least one action")
    );
    let e = rule_error(
        r#"{ "id": "r1", "effect": "deny", "actions": ["Bad Action"], "resources": ["docs"] }"#,
    );
    assert_eq!(e.field, "actions");

    let e = rule_error(&rule_with(r#", "reason": 3"#));
    assert_eq!(e.field, "reason");
    let e = rule_error(&rule_with(r#", "scopes": ["a:b"], "any_scopes": ["c:d"]"#));
    assert_eq!(
        (e.rule.as_deref(), e.field.as_str()),
        (Some("r1"), "any_scopes")
    );
    assert!(e.message.contains("not both"), "{e}");
}

#[test]
fn json_condition_errors_name_the_condition_and_its_field() {
    let e = condition_error(r#"{ "attr": "user.sub", "op": "eq", "value": "a" }"#);
    assert_eq!(
        (e.rule.as_deref(), e.field.as_str()),
        (Some("r1"), "conditions[0].attr")
    );
    assert_eq!(
        e.message,
        "expected `subject.<key>`, `resource.<key>` or `environment.<key>`"
    );
    let e = condition_error(r#"{ "attr": "subject.", "op": "eq", "value": "a" }"#);
    assert_eq!(e.field, "conditions[0].attr");

    let e = condition_error(r#"{ "attr": "subject.sub", "op": "equals", "value": "a" }"#);
    assert_eq!(e.field, "conditions[0].op");
    assert_eq!(
        e.message,
        "unknown operator `equals`; expected one of eq, ne, in, not_in, contains, gt, ge, lt, le, exists"
    );

    let e = condition_error(
        r#"{ "attr": "subject.sub", "op": "eq", "value": "a", "attribute": "resource.owner" }"#,
    );
    assert_eq!(e.field, "conditions[0].value");
    assert!(e.message.contains("not both"), "{e}");

    let e = condition_error(r#"{ "attr": "subject.sub", "op": "eq" }"#);
    assert_eq!(e.field, "conditions[0].value");
    assert_eq!(e.message, "this operator needs a `value` or `attribute`");

    let e = condition_error(r#"{ "attr": "subject.sub", "op": "eq", "attribute": "owner" }"#);
    assert_eq!(e.field, "conditions[0].attribute");

    let e = condition_error(r#"{ "attr": "subject.sub", "op": "eq", "value": 1, "note": "x" }"#);
    assert_eq!(e.field, "conditions[0].note");

    // The second condition of the rule is the one named.
    let e = rule_error(&rule_with(
        r#", "conditions": [ { "attr": "subject.sub", "op": "exists" },
            { "attr": "subject.role", "op": "in", "value": "admin" } ]"#,
    ));
    assert_eq!(
        (e.rule.as_deref(), e.field.as_str()),
        (Some("r1"), "conditions[1].value")
    );
    assert_eq!(e.message, "`in` needs an array");
    let e = condition_error(r#"{ "attr": "subject.role", "op": "not_in", "value": {} }"#);
    assert_eq!(e.field, "conditions[0].value");
    let e = condition_error(r#"{ "attr": "subject.role", "op": "exists", "value": true }"#);
    assert_eq!(
        (e.field.as_str(), e.message.as_str()),
        ("conditions[0].value", "`exists` takes no value")
    );
}

#[test]
fn json_evaluator_and_duplicate_errors() {
    let e = rule_error(&rule_with(
        r#", "evaluators": ["account_active", "is_owner"]"#,
    ));
    assert_eq!(
        (e.rule.as_deref(), e.field.as_str()),
        (Some("r1"), "evaluators[1]")
    );
    assert_eq!(
        e.message,
        "no evaluator named `is_owner` was supplied (known: account_active)"
    );
    let e = PolicyRule::from_json(
        &format!(
            r#"{{ "rules": [ {} ] }}"#,
            rule_with(r#", "evaluators": ["x"]"#)
        ),
        &Evaluators::new()
            .add("zeta", |_| true)
            .add("alpha", |_| true),
    )
    .unwrap_err();
    assert!(e.message.ends_with("(known: alpha, zeta)"), "{e}");
    let e = PolicyRule::from_json(
        &format!(
            r#"{{ "rules": [ {} ] }}"#,
            rule_with(r#", "evaluators": ["x"]"#)
        ),
        &Evaluators::new(),
    )
    .unwrap_err();
    assert!(e.message.ends_with("(known: none)"), "{e}");

    let e = file_error(&format!(
        r#"{{ "rules": [ {}, {} ] }}"#,
        rule_with(""),
        rule_with("")
    ));
    assert_eq!(
        (e.rule.as_deref(), e.field.as_str(), e.message.as_str()),
        (Some("r1"), "id", "another rule has the same id")
    );
}

// ---------------------------------------------------------------------------------------------
// `#[policy]` handlers over HTTP
// ---------------------------------------------------------------------------------------------

mod http {
    use super::*;

    use std::net::SocketAddr;

    use auth_runtime::policy::{LoadedResource, PolicyContext};
    use auth_runtime::prelude::*;
    use axum::Json;
    use axum::body::Body;
    use axum::extract::{ConnectInfo, Path};
    use axum::http::{HeaderMap, Request, StatusCode, header};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// A stored document, handed to handlers by the loader.
    #[derive(Debug)]
    pub(super) struct Doc {
        id: String,
        owner: String,
        title: String,
    }

    #[policy(action = "docs:read", resource = "docs")]
    #[route(GET, "/docs/{id}")]
    async fn read_doc(Resource(doc): Resource<Doc>, user: Principal) -> Json<Value> {
        Json(
            json!({ "id": doc.id, "owner": doc.owner, "title": doc.title, "reader": user.subject() }),
        )
    }

    #[requires("docs:write")]
    #[policy(action = "docs:edit", resource = "docs")]
    #[route(PUT, "/docs/{id}")]
    async fn edit_doc(Resource(doc): Resource<Doc>) -> String {
        format!("edited {}", doc.id)
    }

    /// The same action as `edit_doc` by another method: `owners-edit` needs PUT.
    #[requires("docs:write")]
    #[policy(action = "docs:edit", resource = "docs")]
    #[route(POST, "/docs/{id}")]
    async fn edit_doc_by_post() -> &'static str {
        "edited"
    }

    #[login_type("user")]
    #[policy(action = "site:manage", resource = "site")]
    #[route(GET, "/site/{section}")]
    async fn manage_site(Path(section): Path<String>) -> String {
        format!("managing {section}")
    }

    #[login_type("user")]
    #[policy(action = "site:launch", resource = "site")]
    #[route(POST, "/launch")]
    async fn launch() -> &'static str {
        "launched"
    }

    /// Extracts a `Resource<Doc>` although no loader is registered for `site`: a server bug.
    #[login_type("user")]
    #[policy(action = "site:manage", resource = "site")]
    #[route(GET, "/site/{section}/doc")]
    async fn site_doc(Resource(doc): Resource<Doc>) -> String {
        doc.title.clone()
    }

    #[policy(action = "billing:read", resource = "billing")]
    #[route(GET, "/billing/{account}")]
    async fn billing(Path(account): Path<String>) -> String {
        format!("billing of {account}")
    }

    #[derive(SecureRouter)]
    #[secure_router(routes(
        read_doc,
        edit_doc,
        edit_doc_by_post,
        manage_site,
        site_doc,
        launch,
        billing
    ))]
    struct Api;

    /// How many times the async membership evaluator ran (only `billing` tests use it).
    static MEMBERSHIP_LOOKUPS: AtomicUsize = AtomicUsize::new(0);

    fn rules() -> Vec<PolicyRule> {
        vec![
            PolicyRule::allow("owners-read")
                .actions(["docs:read"])
                .resources(["docs"])
                .when(Attr::resource("owner").eq(Attr::subject("sub")))
                .reason("owners may read their documents"),
            PolicyRule::deny("reserved-ids")
                .actions(["docs:*"])
                .resources(["docs"])
                .when(Attr::env("params.id").is_in(vec!["0", "root"]))
                .reason("reserved document ids"),
            PolicyRule::allow("owners-edit")
                .actions(["docs:edit"])
                .resources(["docs"])
                .when(Attr::resource("owner").eq(Attr::subject("sub")))
                .when(Attr::env("method").eq("PUT"))
                .when(Attr::env("route").eq("/docs/{id}"))
                .when(Attr::env("path").eq(Attr::resource("path"))),
            PolicyRule::allow("office-ops")
                .actions(["site:manage"])
                .resources(["site"])
                .when(Attr::env("client_ip").is_in(vec!["10.0.0.1", "::1"]))
                .when(Attr::subject("dept").eq("ops"))
                .when(Attr::env("time").gt(1_700_000_000u64))
                .when(Attr::env("time").lt(4_102_444_800u64))
                .reason("ops may manage the site from the office"),
            PolicyRule::allow("from-2100")
                .actions(["site:launch"])
                .resources(["site"])
                .when(Attr::env("time").ge(4_102_444_800u64)),
            PolicyRule::allow("account-members")
                .actions(["billing:read"])
                .resources(["billing"])
                .async_evaluator(|ctx: Arc<PolicyContext>| async move {
                    MEMBERSHIP_LOOKUPS.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    let account = ctx
                        .environment()
                        .params
                        .iter()
                        .find(|(k, _)| k == "account")
                        .map(|(_, v)| v.clone());
                    let sub = ctx.subject("sub").and_then(Value::as_str);
                    matches!((sub, account.as_deref()), (Some("ann"), Some("acme")))
                })
                .reason("members of the account may read its billing"),
        ]
    }

    /// A manager whose `docs` loader counts its runs in `loads`: documents `1` and `0` belong to
    /// ann, `2` to bob; `gone` does not exist; `boom` fails.
    fn manager(loads: Arc<AtomicUsize>) -> AuthManager {
        AuthManager::builder()
            .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
            .login_type(LoginType::new("svc").key(SigningKey::hs256("s1", &[2; 32])))
            .policies(rules())
            .resource_loader("docs", move |params: Vec<(String, String)>| {
                let loads = loads.clone();
                async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    let id = params
                        .iter()
                        .find(|(k, _)| k == "id")
                        .map(|(_, v)| v.clone())
                        .ok_or("no id")?;
                    let owner = match id.as_str() {
                        "1" | "0" => "ann",
                        "2" => "bob",
                        "gone" => return Ok(None),
                        _ => return Err("db down: connection refused".into()),
                    };
                    Ok::<_, String>(Some(
                        LoadedResource::new(
                            json!({ "owner": owner, "id": id, "path": format!("/docs/{id}") }),
                        )
                        .with_value(Doc {
                            title: format!("doc {id}"),
                            id,
                            owner: owner.into(),
                        }),
                    ))
                }
            })
            .build()
            .expect("valid configuration")
    }

    struct Reply {
        status: StatusCode,
        headers: HeaderMap,
        text: String,
        body: Value,
    }

    fn token(
        m: &AuthManager,
        login_type: &str,
        sub: &str,
        scopes: &[&str],
        extra: Value,
    ) -> String {
        let extra = match extra {
            Value::Object(map) => map,
            _ => Default::default(),
        };
        m.create_access_token(
            &TokenRequest::new(login_type, sub)
                .scopes(scopes)
                .claims(extra),
        )
        .unwrap()
        .access_token
    }

    async fn send(
        m: &AuthManager,
        method: &str,
        uri: &str,
        token: Option<&str>,
        client: Option<SocketAddr>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let mut request = request.body(Body::empty()).unwrap();
        if let Some(addr) = client {
            request.extensions_mut().insert(ConnectInfo(addr));
        }
        let response = Api::router()
            .with_state(m.clone())
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            body,
        }
    }

    fn setup() -> (AuthManager, Arc<AtomicUsize>) {
        let loads = Arc::new(AtomicUsize::new(0));
        (manager(loads.clone()), loads)
    }

    fn user(m: &AuthManager, sub: &str, scopes: &[&str]) -> String {
        token(m, "user", sub, scopes, json!({}))
    }

    #[tokio::test]
    async fn owners_read_their_documents_loaded_once_per_request() {
        let (m, loads) = setup();
        let ann = user(&m, "ann", &["docs:read"]);
        let r = send(&m, "GET", "/docs/1", Some(&ann), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            r.body,
            json!({ "id": "1", "owner": "ann", "title": "doc 1", "reader": "ann" })
        );
        assert_eq!(
            loads.load(Ordering::SeqCst),
            1,
            "the handler reuses the loaded doc"
        );

        let r = send(&m, "GET", "/docs/2", Some(&ann), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        assert_eq!(
            r.body["detail"],
            "Action `docs:read` on resource `docs` is denied: no policy rule allows it"
        );

        let bob = user(&m, "bob", &[]);
        let r = send(&m, "GET", "/docs/2", Some(&bob), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["title"], "doc 2");
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_policy_denial_is_a_403_problem_without_a_challenge() {
        let (m, _) = setup();
        let ann = user(&m, "ann", &["docs:read"]);
        // Ann owns document 0, but its id is reserved: the deny rule wins.
        let r = send(&m, "GET", "/docs/0", Some(&ann), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(r.headers.get(header::WWW_AUTHENTICATE), None);
        assert_eq!(
            r.body,
            json!({
                "type": "about:blank",
                "title": "Forbidden",
                "status": 403,
                "detail": "Action `docs:read` on resource `docs` is denied: reserved document ids",
            })
        );
    }

    #[tokio::test]
    async fn a_missing_resource_is_a_404_problem() {
        let (m, loads) = setup();
        let ann = user(&m, "ann", &["docs:read"]);
        let r = send(&m, "GET", "/docs/gone", Some(&ann), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(r.body["title"], "Not Found");
        assert_eq!(r.body["status"], 404);
        assert_eq!(
            r.body["detail"],
            "The requested `docs` resource does not exist"
        );
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failing_loader_is_a_500_that_does_not_leak_its_message() {
        let (m, loads) = setup();
        let ann = user(&m, "ann", &["docs:read"]);
        let r = send(&m, "GET", "/docs/boom", Some(&ann), None).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!r.text.contains("db down"), "{}", r.text);
        assert!(!r.text.contains("connection refused"), "{}", r.text);
        assert_eq!(r.body["detail"], "Internal error");
        assert_eq!(r.headers.get(header::WWW_AUTHENTICATE), None);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn authentication_and_scopes_are_checked_before_any_loader_runs() {
        let (m, loads) = setup();
        for uri in ["/docs/1", "/docs/boom", "/docs/gone"] {
            let r = send(&m, "GET", uri, None, None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}");
            assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
        }
        let r = send(&m, "GET", "/docs/1", Some("not-a-token"), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        // `#[requires]` comes before the policy: a 403 with a challenge, and no load.
        let reader = user(&m, "ann", &["docs:read"]);
        let r = send(&m, "PUT", "/docs/boom", Some(&reader), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            r.body["detail"],
            "Token is missing required scope: docs:write"
        );
        assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(loads.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn conditions_on_method_route_and_path() {
        let (m, loads) = setup();
        let ann = user(&m, "ann", &["docs:write"]);
        let r = send(&m, "PUT", "/docs/1", Some(&ann), None).await;
        assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, "edited 1"));
        // Same route pattern, POST: `owners-edit` needs PUT.
        let r = send(&m, "POST", "/docs/1", Some(&ann), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            r.body["detail"],
            "Action `docs:edit` on resource `docs` is denied: no policy rule allows it"
        );
        // Not the owner.
        let r = send(&m, "PUT", "/docs/2", Some(&ann), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // The reserved-ids deny covers `docs:*`.
        let r = send(&m, "PUT", "/docs/0", Some(&ann), None).await;
        assert_eq!(
            r.body["detail"],
            "Action `docs:edit` on resource `docs` is denied: reserved document ids"
        );
        assert_eq!(loads.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn conditions_on_client_ip_extra_claims_and_time() {
        let (m, loads) = setup();
        let ops = token(&m, "user", "olga", &[], json!({ "dept": "ops" }));
        let sales = token(&m, "user", "sam", &[], json!({ "dept": "sales" }));
        let office: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let home: SocketAddr = "192.168.1.9:40000".parse().unwrap();
        let local: SocketAddr = "[::1]:8080".parse().unwrap();

        for addr in [office, local] {
            let r = send(&m, "GET", "/site/menu", Some(&ops), Some(addr)).await;
            assert_eq!(r.status, StatusCode::OK, "{addr}: {}", r.text);
            assert_eq!(r.text, "managing menu");
        }
        let r = send(&m, "GET", "/site/menu", Some(&ops), Some(home)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // No `ConnectInfo`: `client_ip` is missing, so the condition is false.
        let r = send(&m, "GET", "/site/menu", Some(&ops), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = send(&m, "GET", "/site/menu", Some(&sales), Some(office)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.headers.get(header::WWW_AUTHENTICATE), None);

        // `time` is now: before 2100, so `from-2100` never allows a launch.
        let r = send(&m, "POST", "/launch", Some(&ops), Some(office)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            r.body["detail"],
            "Action `site:launch` on resource `site` is denied: no policy rule allows it"
        );
        // No loader is registered for `site`.
        assert_eq!(loads.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn extracting_a_resource_no_loader_provided_is_a_500() {
        let (m, loads) = setup();
        let ops = token(&m, "user", "olga", &[], json!({ "dept": "ops" }));
        let office: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let r = send(&m, "GET", "/site/menu/doc", Some(&ops), Some(office)).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.text);
        assert_eq!(r.body["detail"], "Internal error");
        assert_eq!(loads.load(Ordering::SeqCst), 0);
        // Denied by the policy first: 403, the handler's extractor never runs.
        let r = send(&m, "GET", "/site/menu/doc", Some(&ops), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn the_login_type_is_checked_before_the_policy() {
        let (m, _) = setup();
        let svc = token(&m, "svc", "olga", &[], json!({ "dept": "ops" }));
        let office: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let r = send(&m, "GET", "/site/menu", Some(&svc), Some(office)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
        // Handlers without `#[login_type]` accept any login type (the policy still decides).
        let svc_ann = token(&m, "svc", "ann", &[], json!({}));
        let r = send(&m, "GET", "/docs/1", Some(&svc_ann), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }

    #[tokio::test]
    async fn an_async_evaluator_decides_on_the_request_path() {
        let (m, _) = setup();
        let ann = user(&m, "ann", &[]);
        let bob = user(&m, "bob", &[]);
        let before = MEMBERSHIP_LOOKUPS.load(Ordering::SeqCst);
        let r = send(&m, "GET", "/billing/acme", Some(&ann), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.text, "billing of acme");
        let r = send(&m, "GET", "/billing/globex", Some(&ann), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            r.body["detail"],
            "Action `billing:read` on resource `billing` is denied: no policy rule allows it"
        );
        let r = send(&m, "GET", "/billing/acme", Some(&bob), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(MEMBERSHIP_LOOKUPS.load(Ordering::SeqCst) - before, 3);
        // Unauthenticated: the evaluator is not consulted.
        let r = send(&m, "GET", "/billing/acme", None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(MEMBERSHIP_LOOKUPS.load(Ordering::SeqCst) - before, 3);
    }

    #[test]
    fn routes_carry_their_policies() {
        let table: Vec<_> = Api::routes()
            .iter()
            .map(|r| (r.method, r.path, r.policy.map(|p| (p.action, p.resource))))
            .collect();
        assert_eq!(
            table,
            [
                ("GET", "/docs/{id}", Some(("docs:read", "docs"))),
                ("PUT", "/docs/{id}", Some(("docs:edit", "docs"))),
                ("POST", "/docs/{id}", Some(("docs:edit", "docs"))),
                ("GET", "/site/{section}", Some(("site:manage", "site"))),
                ("GET", "/site/{section}/doc", Some(("site:manage", "site"))),
                ("POST", "/launch", Some(("site:launch", "site"))),
                (
                    "GET",
                    "/billing/{account}",
                    Some(("billing:read", "billing"))
                ),
            ]
        );
    }
}
