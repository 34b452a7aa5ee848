//! The policy JSON loader and the engine.
//!
//! The input is a policy document, a NUL byte, then a request: `action`, `resource`, the
//! subject's claims (JSON), `method` and `name=value` parameters, one per line. Properties:
//! - loading never panics, and neither does deciding;
//! - an empty policy set denies every request;
//! - a set of deny rules only never allows;
//! - the loaded rules decide the same in the synchronous and the async engine when they have
//!   no evaluators.
#![no_main]

use auth_fuzz::RUNTIME;
use auth_runtime::policy::{Effect, Evaluators, PolicyEngine, PolicyRequest, PolicyRule};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (doc, request) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let doc = String::from_utf8_lossy(doc);
    let request = String::from_utf8_lossy(request);
    let mut lines = request.split('\n');
    let action = lines.next().unwrap_or("users:ban");
    let resource = lines.next().unwrap_or("users");
    let subject = lines
        .next()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_else(|| serde_json::json!({ "sub": "7", "scope": "admin:* users:ban" }));
    let method = lines.next().unwrap_or("POST");
    let mut req = PolicyRequest::new(action, resource)
        .subject(subject)
        .method(method);
    for param in lines {
        if let Some((name, value)) = param.split_once('=') {
            req = req.param(name, value);
        }
    }

    let empty = PolicyEngine::builder()
        .build()
        .expect("an empty set is valid");
    assert!(empty.is_empty());
    let decision = empty.decide_now(&req);
    assert!(
        !decision.allowed && decision.is_default_deny(),
        "{decision}"
    );

    let evaluators = Evaluators::new()
        .add("always", |_| true)
        .add("never", |_| false);
    let Ok(rules) = PolicyRule::from_json(&doc, &evaluators) else {
        return;
    };
    let engine = PolicyEngine::builder()
        .rules(rules.iter().cloned())
        .build()
        .expect("rules that loaded build");
    let decision = engine.decide_now(&req);
    let _ = decision.to_string();
    if rules.iter().all(|r| r.effect() == Effect::Deny) {
        assert!(!decision.allowed, "deny rules allowed: {decision}");
    }
    let async_decision = RUNTIME.block_on(engine.check(&req));
    assert_eq!(async_decision.allowed, decision.allowed);
});
