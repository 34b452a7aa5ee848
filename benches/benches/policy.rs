//! Policy decisions per second: this engine vs Cedar (RBAC and ABAC) and casbin (RBAC, where
//! its model expresses the same rules), on rule sets of 10, 100 and 1,000 rules. Policies are parsed/built once, outside the timed loop; each
//! iteration decides one request whose matching rule is the *last* one declared (the worst case
//! for an engine that scans). `scripts/bench-ratios.py` prints the ratios.

use std::hint::black_box;

use auth_runtime::policy::{Attr, PolicyEngine, PolicyRequest, PolicyRule};
use casbin::prelude::*;
use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicySet, Request};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

const SIZES: [usize; 3] = [10, 100, 1000];

/// RBAC: rule `i` allows `read` on resource kind `res{i}` to holders of role scope `role{i}:use`.
fn rbac_engine(n: usize) -> PolicyEngine {
    PolicyEngine::builder()
        .rules((0..n).map(|i| {
            PolicyRule::allow(format!("rbac-{i}"))
                .actions([format!("res{i}:read")])
                .resources([format!("res{i}")])
                .scopes([format!("role{i}:use")])
        }))
        .build()
        .expect("valid rules")
}

fn rbac_cedar(n: usize) -> PolicySet {
    (0..n)
        .map(|i| {
            format!(
                "permit(principal, action == Action::\"res{i}:read\", resource == Res::\"res{i}\") \
                 when {{ principal.roles.contains(\"role{i}:use\") }};\n"
            )
        })
        .collect::<String>()
        .parse()
        .expect("valid cedar")
}

/// ABAC: rule `i` allows `read` on kind `res{i}` when the subject's department equals the
/// resource's and the resource's level is at most the subject's clearance.
fn abac_engine(n: usize) -> PolicyEngine {
    PolicyEngine::builder()
        .rules((0..n).map(|i| {
            PolicyRule::allow(format!("abac-{i}"))
                .actions([format!("res{i}:read")])
                .resources([format!("res{i}")])
                .when(Attr::subject("department").eq(Attr::resource("department")))
                .when(Attr::resource("level").le(Attr::subject("clearance")))
        }))
        .build()
        .expect("valid rules")
}

fn abac_cedar(n: usize) -> PolicySet {
    (0..n)
        .map(|i| {
            format!(
                "permit(principal, action == Action::\"res{i}:read\", resource == Res::\"res{i}\") \
                 when {{ principal.department == resource.department && resource.level <= principal.clearance }};\n"
            )
        })
        .collect::<String>()
        .parse()
        .expect("valid cedar")
}

const CASBIN_RBAC: &str = r#"
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act
"#;

/// The RBAC set in casbin: one `p` line per rule, alice holding `role{last}:use` and another role.
fn rbac_casbin(rt: &tokio::runtime::Runtime, n: usize) -> Enforcer {
    rt.block_on(async {
        let model = DefaultModel::from_str(CASBIN_RBAC).await.expect("model");
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default())
            .await
            .expect("enforcer");
        let rules: Vec<Vec<String>> = (0..n)
            .map(|i| {
                vec![
                    format!("role{i}:use"),
                    format!("res{i}"),
                    format!("res{i}:read"),
                ]
            })
            .collect();
        enforcer.add_policies(rules).await.expect("policies");
        for role in ["other:use".to_owned(), format!("role{}:use", n - 1)] {
            enforcer
                .add_grouping_policy(vec!["alice".to_owned(), role])
                .await
                .expect("grouping");
        }
        enforcer
    })
}

fn cedar_request(i: usize) -> (Request, Entities) {
    let uid = |s: &str| s.parse::<EntityUid>().expect("uid");
    let request = Request::new(
        uid(r#"User::"alice""#),
        uid(&format!(r#"Action::"res{i}:read""#)),
        uid(&format!(r#"Res::"res{i}""#)),
        Context::empty(),
        None,
    )
    .expect("request");
    let entities = Entities::from_json_value(
        json!([
            { "uid": { "type": "User", "id": "alice" },
              "attrs": { "roles": ["other:use", format!("role{i}:use")], "department": "ops", "clearance": 3 },
              "parents": [] },
            { "uid": { "type": "Res", "id": format!("res{i}") },
              "attrs": { "department": "ops", "level": 2 },
              "parents": [] }
        ]),
        None,
    )
    .expect("entities");
    (request, entities)
}

fn ours_request(i: usize) -> PolicyRequest {
    PolicyRequest::new(format!("res{i}:read"), format!("res{i}"))
        .subject(
            json!({ "sub": "alice", "scope": format!("other:use role{i}:use"),
                         "department": "ops", "clearance": 3 }),
        )
        .resource(json!({ "department": "ops", "level": 2 }))
}

fn bench(c: &mut Criterion) {
    let authorizer = Authorizer::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    for (kind, engine, cedar) in [
        (
            "rbac",
            rbac_engine as fn(usize) -> PolicyEngine,
            rbac_cedar as fn(usize) -> PolicySet,
        ),
        ("abac", abac_engine, abac_cedar),
    ] {
        let mut group = c.benchmark_group(format!("policy_{kind}"));
        for n in SIZES {
            let last = n - 1;
            let engine = engine(n);
            let request = ours_request(last);
            let policies = cedar(n);
            let (cedar_request, entities) = cedar_request(last);
            // Both must allow, or the comparison means nothing.
            assert!(
                engine.decide_now(&request).allowed,
                "{kind} {n}: ours denies"
            );
            assert_eq!(
                authorizer
                    .is_authorized(&cedar_request, &policies, &entities)
                    .decision(),
                cedar_policy::Decision::Allow,
                "{kind} {n}: cedar denies"
            );
            group.bench_function(format!("ours_{n}"), |b| {
                b.iter(|| black_box(engine.decide_now(black_box(&request))))
            });
            if kind == "rbac" {
                let enforcer = rbac_casbin(&rt, n);
                let (res, act) = (format!("res{last}"), format!("res{last}:read"));
                assert!(
                    enforcer
                        .enforce(("alice", res.as_str(), act.as_str()))
                        .expect("enforce"),
                    "rbac {n}: casbin denies"
                );
                group.bench_function(format!("casbin_{n}"), |b| {
                    b.iter(|| {
                        black_box(enforcer.enforce(black_box((
                            "alice",
                            res.as_str(),
                            act.as_str(),
                        ))))
                    })
                });
            }
            group.bench_function(format!("cedar_{n}"), |b| {
                b.iter(|| {
                    black_box(authorizer.is_authorized(
                        black_box(&cedar_request),
                        &policies,
                        &entities,
                    ))
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
