//! Trusting an external issuer: a provider runs inside each test on 127.0.0.1 (an axum router
//! serving a discovery document and a JWKS of keys the test generated, counting its requests),
//! and an app accepts its tokens as login type `partner` beside its own `user` tokens.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use auth_runtime::federation::ExternalIssuer;
use auth_runtime::prelude::*;
use auth_runtime::{AuthManagerBuilder, InvalidToken};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::get;
use common::{assert_invalid_token, assert_ok, b64, get_as, now};
use serde_json::{Value, json};
use tokio::net::TcpListener;

// ---- the keys of the external issuer ------------------------------------------------------

enum Pair {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// One of the issuer's signing keys.
struct Signer {
    kid: String,
    pair: Pair,
}

impl Signer {
    fn rsa(kid: &str) -> Signer {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        Signer {
            kid: kid.into(),
            pair: Pair::Rsa(pair),
        }
    }

    fn ec(kid: &str) -> Signer {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        Signer {
            kid: kid.into(),
            pair: Pair::Ec(pair),
        }
    }

    fn ed(kid: &str) -> Signer {
        Signer {
            kid: kid.into(),
            pair: Pair::Ed(Ed25519KeyPair::generate().unwrap()),
        }
    }

    fn alg(&self) -> &'static str {
        match self.pair {
            Pair::Rsa(_) => "RS256",
            Pair::Ec(_) => "ES256",
            Pair::Ed(_) => "EdDSA",
        }
    }

    /// The public key's bytes: the PKCS#1 DER of RSA, the point of EC, the 32 bytes of Ed25519.
    fn public_bytes(&self) -> Vec<u8> {
        match &self.pair {
            Pair::Rsa(p) => p.public_key().as_ref().to_vec(),
            Pair::Ec(p) => p.public_key().as_ref().to_vec(),
            Pair::Ed(p) => p.public_key().as_ref().to_vec(),
        }
    }

    /// The public JWK (no `alg`: the key type says it).
    fn jwk(&self) -> Value {
        let public = self.public_bytes();
        match &self.pair {
            Pair::Rsa(_) => {
                let (n, e) = rsa_components(&public);
                json!({"kty": "RSA", "kid": self.kid, "use": "sig", "n": b64(n), "e": b64(e)})
            }
            Pair::Ec(_) => json!({
                "kty": "EC", "crv": "P-256", "kid": self.kid,
                "x": b64(&public[1..33]), "y": b64(&public[33..65]),
            }),
            Pair::Ed(_) => {
                json!({"kty": "OKP", "crv": "Ed25519", "kid": self.kid, "x": b64(&public)})
            }
        }
    }

    fn signature(&self, message: &[u8]) -> Vec<u8> {
        match &self.pair {
            Pair::Rsa(p) => {
                let mut signature = vec![0; p.public_modulus_len()];
                p.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .unwrap();
                signature
            }
            Pair::Ec(p) => p
                .sign(&SystemRandom::new(), message)
                .unwrap()
                .as_ref()
                .to_vec(),
            Pair::Ed(p) => p.sign(message).as_ref().to_vec(),
        }
    }

    /// A token with this key's `alg` and `kid`, plus `extra` header members.
    fn token_with(&self, extra: Value, claims: &Value) -> String {
        let mut header = json!({"alg": self.alg(), "typ": "JWT", "kid": self.kid});
        for (k, v) in extra.as_object().unwrap() {
            header[k] = v.clone();
        }
        let message = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        format!("{message}.{}", b64(self.signature(message.as_bytes())))
    }

    fn token(&self, claims: &Value) -> String {
        self.token_with(json!({}), claims)
    }
}

/// `n` and `e` of a PKCS#1 RSAPublicKey (`SEQUENCE { INTEGER n, INTEGER e }`).
fn rsa_components(der: &[u8]) -> (&[u8], &[u8]) {
    fn item(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = der[0];
        let (len, start) = match der[1] {
            l if l < 0x80 => (l as usize, 2),
            0x81 => (der[2] as usize, 3),
            0x82 => ((der[2] as usize) << 8 | der[3] as usize, 4),
            _ => panic!("unexpected DER length"),
        };
        (tag, &der[start..start + len], &der[start + len..])
    }
    let (tag, seq, _) = item(der);
    assert_eq!(tag, 0x30);
    let (_, n, rest) = item(seq);
    let (_, e, _) = item(rest);
    let n = &n[n.iter().position(|b| *b != 0).unwrap()..];
    (n, e)
}

// ---- the provider -------------------------------------------------------------------------

/// An identity provider on 127.0.0.1: discovery document and JWKS, requests counted.
struct Provider {
    issuer: String,
    jwks: Arc<RwLock<Value>>,
    jwks_hits: Arc<AtomicUsize>,
    discovery_hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct ProviderState {
    issuer: String,
    jwks: Arc<RwLock<Value>>,
    jwks_hits: Arc<AtomicUsize>,
    discovery_hits: Arc<AtomicUsize>,
}

async fn discovery(State(s): State<ProviderState>) -> Json<Value> {
    s.discovery_hits.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "issuer": s.issuer,
        "jwks_uri": format!("{}/keys", s.issuer),
        "authorization_endpoint": format!("{}/authorize", s.issuer),
    }))
}

async fn jwks(State(s): State<ProviderState>) -> impl axum::response::IntoResponse {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let body = s.jwks.read().unwrap().clone();
    ([(header::CACHE_CONTROL, "public, max-age=600")], Json(body))
}

impl Provider {
    async fn start(keys: &[&Signer]) -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = ProviderState {
            issuer: issuer.clone(),
            jwks: Arc::new(RwLock::new(json!({"keys": []}))),
            jwks_hits: Arc::new(AtomicUsize::new(0)),
            discovery_hits: Arc::new(AtomicUsize::new(0)),
        };
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/keys", get(jwks))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let provider = Provider {
            issuer,
            jwks: state.jwks,
            jwks_hits: state.jwks_hits,
            discovery_hits: state.discovery_hits,
            task,
        };
        provider.publish(keys);
        provider
    }

    /// Replaces the published keys (rotation).
    fn publish(&self, keys: &[&Signer]) {
        *self.jwks.write().unwrap() =
            json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()});
    }

    fn jwks_hits(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }

    fn discovery_hits(&self) -> usize {
        self.discovery_hits.load(Ordering::SeqCst)
    }

    /// Stops listening: connections are refused from now on.
    async fn stop(&self) {
        self.task.abort();
        while !self.task.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Valid claims of a caller of this issuer.
    fn claims(&self, sub: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer,
            "aud": ["reports-api", "other-api"],
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "groups": ["readers", "some-other-group"],
            "scp": "reports:read admin:* openid billing:read",
            "email": "ann@partner.example",
            "account_status": "active",
        })
    }
}

// ---- the app ------------------------------------------------------------------------------

/// What the app saw of its caller.
#[requires("reports:read")]
#[route(GET, "/reports")]
async fn reports(caller: Principal) -> Json<Value> {
    Json(json!({
        "sub": caller.subject(),
        "login_type": caller.login_type(),
        "scopes": caller.scopes().iter().collect::<Vec<_>>(),
        "roles": caller.claim("roles"),
        "email": caller.claim("email"),
        "account_status": caller.claim("account_status"),
    }))
}

#[login_type("partner")]
#[roles("reporter")]
#[route(GET, "/partner/reports")]
async fn partner_reports() -> &'static str {
    "partner reports"
}

#[roles("editor")]
#[route(GET, "/editors")]
async fn editors() -> &'static str {
    "editors"
}

#[login_type("user")]
#[route(GET, "/users/home")]
async fn user_home() -> &'static str {
    "home"
}

#[derive(SecureRouter)]
#[secure_router(routes(reports, partner_reports, editors, user_home))]
struct Api;

const USER_SECRET: &[u8] = b"the user login type's own secret, 32+ bytes";

fn issuer(provider_issuer: &str, interval: Duration) -> ExternalIssuer {
    ExternalIssuer::discovery(provider_issuer)
        .audience("reports-api")
        .roles_claim("groups")
        .map_role("readers", "reporter")
        .map_role("writers", "editor")
        .scope_claim("scp")
        .scopes_within(["reports:read", "billing:*"])
        .claims(["email"])
        .refresh_interval(interval)
        .fetch_timeout(Duration::from_secs(2))
}

fn builder(provider_issuer: &str, interval: Duration) -> AuthManagerBuilder {
    AuthManager::builder()
        .login_type(LoginType::new("user").key(SigningKey::hs256("user-1", USER_SECRET)))
        .role("reporter", ["reports:read"])
        .role("editor", ["reports:*"])
        .external_issuer("partner", issuer(provider_issuer, interval))
}

fn app(manager: &AuthManager) -> axum::Router {
    Api::router().with_state(manager.clone())
}

fn user_token(manager: &AuthManager) -> String {
    manager
        .create_access_token(&TokenRequest::new("user", "u-1").scopes(["reports:read"]))
        .unwrap()
        .access_token
}

// ---- the tests ----------------------------------------------------------------------------

#[tokio::test]
async fn a_valid_external_token_passes_with_its_mapped_scopes_and_roles() {
    let (rsa, ec, ed) = (Signer::rsa("rsa-1"), Signer::ec("ec-1"), Signer::ed("ed-1"));
    let provider = Provider::start(&[&rsa, &ec, &ed]).await;
    let manager = builder(&provider.issuer, Duration::from_secs(30))
        .build()
        .unwrap();
    let app = app(&manager);
    for signer in [&rsa, &ec, &ed] {
        let token = signer.token(&provider.claims("ann"));
        let reply = get_as(&app, "/reports", &token).await;
        assert_ok(&reply);
        assert_eq!(
            reply.json(),
            json!({
                "sub": "ann",
                "login_type": "partner",
                // `reports:read` from role `reporter` (group `readers`) and from `scp`;
                // `billing:read` from `scp` within `billing:*`; `admin:*` and `openid` not.
                "scopes": ["reports:read", "billing:read"],
                "roles": ["reporter"],
                "email": "ann@partner.example",
                // not kept: the issuer does not set the app's claims
                "account_status": null,
            }),
            "{}",
            signer.alg()
        );
        assert_ok(&get_as(&app, "/partner/reports", &token).await);
        // A role the mapping does not grant: 403.
        let reply = get_as(&app, "/editors", &token).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
        // A route of another login type: 401.
        let reply = get_as(&app, "/users/home", &token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    }
    // A group mapped to `editor`: its scopes and role.
    let mut claims = provider.claims("bob");
    claims["groups"] = json!("writers");
    claims["scp"] = json!(["openid"]);
    let reply = get_as(&app, "/editors", &ed.token(&claims)).await;
    assert_ok(&reply);
    // One discovery, one key set, for everything above.
    assert_eq!((provider.discovery_hits(), provider.jwks_hits()), (1, 1));
}

#[tokio::test]
async fn tokens_that_are_not_the_issuers_are_refused() {
    let (rsa, ed) = (Signer::rsa("rsa-1"), Signer::ed("ed-1"));
    let provider = Provider::start(&[&rsa, &ed]).await;
    let manager = builder(&provider.issuer, Duration::from_secs(30))
        .build()
        .unwrap();
    let app = app(&manager);
    let good = provider.claims("ann");
    let with = |changes: Value| {
        let mut claims = good.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    let describe = |reason: InvalidToken| reason.describe();
    let now = now();
    let cases: Vec<(&str, String, &str, InvalidToken)> = vec![
        (
            "wrong audience",
            ed.token(&with(json!({"aud": "another-api"}))),
            "partner",
            InvalidToken::Audience,
        ),
        (
            "no audience",
            ed.token(&with(json!({"aud": null}))),
            "partner",
            InvalidToken::Audience,
        ),
        (
            "expired",
            ed.token(&with(json!({"exp": now - 120}))),
            "partner",
            InvalidToken::Expired,
        ),
        (
            "no exp",
            ed.token(&with(json!({"exp": null}))),
            "partner",
            InvalidToken::MissingClaim("exp"),
        ),
        (
            "not yet valid",
            ed.token(&with(json!({"nbf": now + 120}))),
            "partner",
            InvalidToken::NotYetValid,
        ),
        (
            "issued in the future",
            ed.token(&with(json!({"iat": now + 120}))),
            "partner",
            InvalidToken::IssuedInFuture,
        ),
        (
            "no subject",
            ed.token(&with(json!({"sub": null}))),
            "partner",
            InvalidToken::MissingClaim("sub"),
        ),
        (
            "groups not strings",
            ed.token(&with(json!({"groups": {"readers": true}}))),
            "partner",
            InvalidToken::Malformed,
        ),
        (
            "critical header",
            ed.token_with(json!({"crit": ["exp"]}), &good),
            "partner",
            InvalidToken::CriticalHeader,
        ),
        (
            "a kid the issuer does not have",
            Signer::ed("ed-2").token(&good),
            "partner",
            InvalidToken::UnknownKey,
        ),
        // Wrong issuer: not the partner's token, so the app's own keys judge it (unknown kid).
        (
            "wrong issuer",
            ed.token(&with(json!({"iss": "http://127.0.0.1:1"}))),
            "user",
            InvalidToken::UnknownKey,
        ),
        (
            "no issuer",
            ed.token(&with(json!({"iss": null}))),
            "user",
            InvalidToken::UnknownKey,
        ),
    ];
    for (name, token, realm, reason) in &cases {
        let reply = get_as(&app, "/reports", token).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{name}: {}",
            reply.text()
        );
        assert_invalid_token(&reply, realm, &describe(*reason));
    }

    // A bad signature: another key under the issuer's kid; a tampered payload.
    let impostor = Signer::ed("ed-1").token(&good);
    assert_invalid_token(
        &get_as(&app, "/reports", &impostor).await,
        "partner",
        &describe(InvalidToken::Signature),
    );
    let genuine = ed.token(&good);
    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    parts[1] = b64(with(json!({"sub": "mallory"})).to_string());
    assert_invalid_token(
        &get_as(&app, "/reports", &parts.join(".")).await,
        "partner",
        &describe(InvalidToken::Signature),
    );

    // `alg: none`, and an algorithm other than the key's.
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "kid": "ed-1"}).to_string()),
        b64(good.to_string())
    );
    let rs_on_ed = rsa.token_with(json!({"kid": "ed-1"}), &good);
    for token in [unsigned, rs_on_ed] {
        assert_invalid_token(
            &get_as(&app, "/reports", &token).await,
            "partner",
            &describe(InvalidToken::Algorithm),
        );
    }

    // HS256 with the public key as the HMAC secret (algorithm confusion), in every form the
    // key's bytes could take: none verifies, the algorithm is the key's.
    let public = rsa.public_bytes();
    let (n, _) = rsa_components(&public);
    for secret in [
        rsa.public_bytes(),
        n.to_vec(),
        rsa.jwk().to_string().into_bytes(),
    ] {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"});
        let token = common::sign_with_header(&secret, &header, good.to_string().as_bytes());
        assert_invalid_token(
            &get_as(&app, "/reports", &token).await,
            "partner",
            &describe(InvalidToken::Algorithm),
        );
    }
    // The valid token still passes.
    assert_ok(&get_as(&app, "/reports", &genuine).await);
}

#[tokio::test]
async fn urls_and_keys_a_token_names_are_never_used() {
    let ed = Signer::ed("ed-1");
    let provider = Provider::start(&[&ed]).await;
    // The attacker's key server: counts connections, serves the attacker's key set.
    let attacker = Signer::ed("attacker-1");
    let trap = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let trap_url = format!("http://{}", trap.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let trap_task = tokio::spawn(async move {
        loop {
            if let Ok((_socket, _)) = trap.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let manager = builder(&provider.issuer, Duration::from_millis(10))
        .build()
        .unwrap();
    let app = app(&manager);
    let claims = provider.claims("mallory");
    let naming = json!({
        "jku": format!("{trap_url}/jwks.json"),
        "x5u": format!("{trap_url}/cert.pem"),
        "jwk": attacker.jwk(),
        "x5c": [b64(attacker.public_bytes())],
    });
    // Signed by the attacker under their own kid, and under the issuer's kid.
    for token in [
        attacker.token_with(naming.clone(), &claims),
        attacker.token_with(
            {
                let mut h = naming.clone();
                h["kid"] = json!("ed-1");
                h
            },
            &claims,
        ),
    ] {
        for _ in 0..3 {
            let reply = get_as(&app, "/reports", &token).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    }
    // A genuine token that names URLs too: verified with the issuer's keys, URLs ignored.
    assert_ok(
        &get_as(
            &app,
            "/reports",
            &ed.token_with(naming, &provider.claims("ann")),
        )
        .await,
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "no connection to a URL a token named"
    );
    assert!(
        provider.jwks_hits() >= 2,
        "the issuer's own key set was fetched again"
    );
    trap_task.abort();
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_on_its_unknown_kid() {
    let (old, new) = (Signer::rsa("2026-11"), Signer::ec("2026-12"));
    let provider = Provider::start(&[&old]).await;
    let manager = builder(&provider.issuer, Duration::from_millis(300))
        .build()
        .unwrap();
    manager.fetch_issuer_keys().await.unwrap();
    let app = app(&manager);
    assert_ok(&get_as(&app, "/reports", &old.token(&provider.claims("ann"))).await);
    assert_eq!(provider.jwks_hits(), 1);

    // The provider rotates: the new key is published, the old one withdrawn.
    provider.publish(&[&new]);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_ok(&get_as(&app, "/reports", &new.token(&provider.claims("ann"))).await);
    assert_eq!(provider.jwks_hits(), 2, "one fetch for the new kid");
    // The withdrawn key no longer verifies (and costs no fetch within the interval).
    assert_invalid_token(
        &get_as(&app, "/reports", &old.token(&provider.claims("ann"))).await,
        "partner",
        &InvalidToken::UnknownKey.describe(),
    );
    assert_eq!(provider.jwks_hits(), 2);
    assert_eq!(provider.discovery_hits(), 1, "discovery is read once");
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_at_most_one_fetch_per_interval() {
    let ed = Signer::ed("ed-1");
    let provider = Provider::start(&[&ed]).await;
    let manager = builder(&provider.issuer, Duration::from_secs(1))
        .build()
        .unwrap();
    manager.fetch_issuer_keys().await.unwrap();
    let app = app(&manager);
    assert_eq!(provider.jwks_hits(), 1);

    let flood = |round: usize| {
        let app = app.clone();
        let claims = provider.claims("mallory");
        async move {
            let requests = (0..100).map(|i| {
                let app = app.clone();
                let token = Signer::ed(&format!("unknown-{round}-{i}")).token(&claims);
                tokio::spawn(async move { get_as(&app, "/reports", &token).await.status })
            });
            for request in requests {
                assert_eq!(request.await.unwrap(), StatusCode::UNAUTHORIZED);
            }
        }
    };
    // Within the interval of the first fetch: no fetch at all.
    flood(0).await;
    assert_eq!(provider.jwks_hits(), 1);
    // After it: 100 concurrent misses share one fetch.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    flood(1).await;
    assert_eq!(provider.jwks_hits(), 2);
    // And the next hundred, still within the interval, none.
    flood(2).await;
    assert_eq!(provider.jwks_hits(), 2);
    // The genuine key never stopped working.
    assert_ok(&get_as(&app, "/reports", &ed.token(&provider.claims("ann"))).await);
}

#[tokio::test]
async fn a_provider_outage_keeps_the_last_keys_and_never_allows_without_any() {
    let ed = Signer::ed("ed-1");
    let provider = Provider::start(&[&ed]).await;
    let manager = builder(&provider.issuer, Duration::from_millis(50))
        .build()
        .unwrap();
    manager.fetch_issuer_keys().await.unwrap();
    let app = app(&manager);
    provider.stop().await;
    tokio::time::sleep(Duration::from_millis(60)).await;

    // The last good key still verifies.
    assert_ok(&get_as(&app, "/reports", &ed.token(&provider.claims("ann"))).await);
    // A kid it does not have cannot be judged while the provider is down: 503, not 200.
    let unknown = Signer::ed("ed-2").token(&provider.claims("ann"));
    let reply = get_as(&app, "/reports", &unknown).await;
    common::assert_problem(
        &reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "Authentication is temporarily unavailable; try again shortly",
    );
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
    assert!(manager.fetch_issuer_keys().await.is_err());

    // A manager that never got any key: every token of the issuer is 503, never 200.
    let fresh = builder(&provider.issuer, Duration::from_millis(50))
        .build()
        .unwrap();
    assert!(fresh.fetch_issuer_keys().await.is_err());
    let fresh_app = app_of(&fresh);
    for _ in 0..3 {
        let reply = get_as(&fresh_app, "/reports", &ed.token(&provider.claims("ann"))).await;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            reply.text()
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    // The app's own tokens do not depend on the provider.
    assert_ok(&get_as(&fresh_app, "/users/home", &user_token(&fresh)).await);
}

fn app_of(manager: &AuthManager) -> axum::Router {
    app(manager)
}

#[tokio::test]
async fn own_and_external_tokens_share_one_router() {
    let ed = Signer::ed("ed-1");
    let provider = Provider::start(&[&ed]).await;
    let manager = builder(&provider.issuer, Duration::from_secs(30))
        .build()
        .unwrap();
    let app = app(&manager);
    let ours = user_token(&manager);
    let theirs = ed.token(&provider.claims("ann"));

    let reply = get_as(&app, "/reports", &ours).await;
    assert_ok(&reply);
    assert_eq!(reply.json()["login_type"], "user");
    let reply = get_as(&app, "/reports", &theirs).await;
    assert_ok(&reply);
    assert_eq!(reply.json()["login_type"], "partner");

    assert_ok(&get_as(&app, "/users/home", &ours).await);
    assert_eq!(
        get_as(&app, "/users/home", &theirs).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_ok(&get_as(&app, "/partner/reports", &theirs).await);
    assert_eq!(
        get_as(&app, "/partner/reports", &ours).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A partner-looking token signed with the app's own secret: the partner's keys judge it.
    let forged = common::forge_hs256(USER_SECRET, Some("user-1"), &provider.claims("ann"));
    assert_invalid_token(
        &get_as(&app, "/reports", &forged).await,
        "partner",
        &InvalidToken::Algorithm.describe(),
    );
    // Outside the extractors (a WebSocket upgrade, gRPC): the same verification.
    let partner = manager
        .authenticate_token(&theirs, &["partner"])
        .await
        .unwrap();
    assert_eq!(
        (partner.subject(), partner.login_type()),
        ("ann", "partner")
    );
    assert!(matches!(
        manager.authenticate_token(&theirs, &["user"]).await,
        Err(auth_runtime::AuthError::LoginTypeMismatch { .. })
    ));
    assert!(manager.authenticate_token(&forged, &[]).await.is_err());
    assert_eq!(
        manager
            .authenticate_token(&ours, &[])
            .await
            .unwrap()
            .login_type(),
        "user"
    );
    // Our own tokens never cost a fetch at the provider.
    let fetches = provider.jwks_hits();
    for _ in 0..5 {
        assert_ok(&get_as(&app, "/reports", &ours).await);
    }
    assert_eq!(provider.jwks_hits(), fetches);
}

#[tokio::test]
async fn a_jwks_url_without_discovery_works_too() {
    let ec = Signer::ec("ec-1");
    let provider = Provider::start(&[&ec]).await;
    let manager = AuthManager::builder()
        .login_type(LoginType::new("user").key(SigningKey::hs256("user-1", USER_SECRET)))
        .login_type(LoginType::new("partner").leeway(Duration::from_secs(0)))
        .external_issuer(
            "partner",
            ExternalIssuer::jwks_url(&provider.issuer, format!("{}/keys", provider.issuer))
                .audience("reports-api")
                .scopes_within(["reports:read"]),
        )
        .build()
        .unwrap();
    let app = app(&manager);
    // The default scope claim is `scope`: the provider's `scp` grants nothing here.
    let reply = get_as(&app, "/reports", &ec.token(&provider.claims("ann"))).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    let mut claims = provider.claims("ann");
    claims["scope"] = json!("reports:read reports:write");
    let reply = get_as(&app, "/reports", &ec.token(&claims)).await;
    assert_ok(&reply);
    assert_eq!(reply.json()["scopes"], json!(["reports:read"]));
    assert_eq!(
        reply.json()["email"],
        Value::Null,
        "no claim kept unless asked"
    );
    assert_eq!((provider.discovery_hits(), provider.jwks_hits()), (0, 1));
    // The login type's leeway (zero here) applies to `exp`.
    let mut claims = provider.claims("ann");
    claims["exp"] = json!(now() - 2);
    assert_invalid_token(
        &get_as(&app, "/reports", &ec.token(&claims)).await,
        "partner",
        &InvalidToken::Expired.describe(),
    );
}

#[tokio::test]
async fn a_broken_configuration_is_refused_at_build() {
    use auth_runtime::ConfigError;
    let user = || LoginType::new("user").key(SigningKey::hs256("user-1", USER_SECRET));
    let reasons = |result: Result<AuthManager, ConfigError>| -> Vec<String> {
        match result.unwrap_err() {
            ConfigError::Many(all) => all.iter().map(ToString::to_string).collect(),
            one => vec![one.to_string()],
        }
    };
    let cases: Vec<(AuthManagerBuilder, &str)> = vec![
        (
            AuthManager::builder().login_type(user()).external_issuer(
                "partner",
                ExternalIssuer::discovery("http://idp.example").audience("api"),
            ),
            "plain http",
        ),
        (
            AuthManager::builder()
                .login_type(user())
                .external_issuer("partner", ExternalIssuer::discovery("https://idp.example")),
            "an audience is required",
        ),
        (
            AuthManager::builder().login_type(user()).external_issuer(
                "partner",
                ExternalIssuer::discovery("https://idp.example")
                    .audience("api")
                    .roles_claim("groups")
                    .map_role("readers", "nobody"),
            ),
            "role `nobody` is not declared",
        ),
        (
            AuthManager::builder().login_type(user()).external_issuer(
                "partner",
                ExternalIssuer::discovery("https://idp.example")
                    .audience("api")
                    .claims(["sub"]),
            ),
            "claim `sub` is set by the runtime",
        ),
        (
            AuthManager::builder()
                .login_type(user())
                .login_type(LoginType::new("partner").key(SigningKey::hs256("p", &[3; 32])))
                .external_issuer(
                    "partner",
                    ExternalIssuer::discovery("https://idp.example").audience("api"),
                ),
            "signing keys of its own",
        ),
        (
            AuthManager::builder()
                .login_type(user())
                .external_issuer(
                    "partner",
                    ExternalIssuer::discovery("https://idp.example").audience("api"),
                )
                .external_issuer(
                    "partner2",
                    ExternalIssuer::discovery("https://idp.example").audience("api"),
                ),
            "registered for another login type",
        ),
        (
            AuthManager::builder().login_type(user()).external_issuer(
                "partner",
                ExternalIssuer::discovery("https://idp.example")
                    .audience("api")
                    .refresh_interval(Duration::ZERO),
            ),
            "must not be zero",
        ),
    ];
    for (builder, expected) in cases {
        let reasons = reasons(builder.build());
        assert!(
            reasons
                .iter()
                .any(|r| r.contains(expected) && r.contains("login type `partner")),
            "{expected}: {reasons:?}"
        );
    }
}

// ---- the reference server -----------------------------------------------------------------

#[test]
fn the_reference_server_reads_its_external_issuer_from_the_environment() {
    let dir = std::env::temp_dir().join(format!("external-settings-{}", std::process::id()));
    let database = format!("sqlite://{}/auth.db", dir.display());
    let read = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain([("DATABASE_URL".to_owned(), database.clone())])
            .collect();
        examples::Settings::from_vars(move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    };
    assert_eq!(read(&[]).unwrap().external_issuer, None);
    let settings = read(&[
        ("AUTH_EXTERNAL_ISSUER", " https://login.partner.example "),
        ("AUTH_EXTERNAL_AUDIENCE", "reports-api"),
    ])
    .unwrap();
    assert_eq!(
        settings.external_issuer,
        Some(examples::ExternalIssuerSettings {
            issuer: "https://login.partner.example".into(),
            audience: "reports-api".into(),
        })
    );
    let refused = [
        (
            vec![("AUTH_EXTERNAL_ISSUER", "https://login.partner.example")],
            "AUTH_EXTERNAL_AUDIENCE",
        ),
        (
            vec![("AUTH_EXTERNAL_AUDIENCE", "reports-api")],
            "AUTH_EXTERNAL_ISSUER",
        ),
        (
            vec![
                ("AUTH_EXTERNAL_ISSUER", "login.partner.example"),
                ("AUTH_EXTERNAL_AUDIENCE", "reports-api"),
            ],
            "AUTH_EXTERNAL_ISSUER",
        ),
        (
            vec![
                ("AUTH_EXTERNAL_ISSUER", "https://"),
                ("AUTH_EXTERNAL_AUDIENCE", "reports-api"),
            ],
            "AUTH_EXTERNAL_ISSUER",
        ),
    ];
    for (vars, variable) in refused {
        let err = read(&vars).unwrap_err();
        assert_eq!(err.variable, variable, "{vars:?}: {err}");
    }
    // Plain http to another host passes the settings, and the manager refuses it at start.
    let mut settings = read(&[]).unwrap();
    settings.external_issuer = Some(examples::ExternalIssuerSettings {
        issuer: "http://login.partner.example".into(),
        audience: "reports-api".into(),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = runtime.block_on(async {
        let store = auth_runtime::store::SqlStore::connect("sqlite::memory:")
            .await
            .unwrap();
        examples::manager(&settings, store).unwrap_err()
    });
    assert!(err.to_string().contains("plain http"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_reference_server_serves_partners_within_role_reporter() {
    common::db::on_both(
        "the_reference_server_serves_partners_within_role_reporter",
        |db| async move {
            let ed = Signer::ed("partner-key");
            let provider = Provider::start(&[&ed]).await;
            let mut settings = common::server::settings(&db);
            settings.external_issuer = Some(examples::ExternalIssuerSettings {
                issuer: provider.issuer.clone(),
                audience: "reports-api".into(),
            });
            let manager = examples::builder(&settings, db.store().await)
                .password_hasher(auth_runtime::PasswordHasher::insecure_for_tests(64, 1, 1))
                .build()
                .unwrap();
            examples::seed_admin(&manager, &settings).await.unwrap();
            manager.fetch_issuer_keys().await.unwrap();
            let server = common::server::TestServer {
                store: db.store().await,
                manager: manager.clone(),
                app: examples::app(manager).unwrap(),
            };
            let mut claims = provider.claims("partner-7");
            claims["scope"] = json!("reports:read reports:write admin:*");
            let partner = ed.token(&claims);

            assert_ok(&server.get("/reports/1", Some(&partner)).await);
            let me = server.get("/auth/me", Some(&partner)).await;
            assert_ok(&me);
            let me = me.json();
            assert_eq!(me["login_type"], "partner");
            assert_eq!(me["sub"], "partner-7");
            assert_eq!(me["scopes"], json!(["reports:read"]));
            assert_eq!(me["credential"], "custom");
            // Beyond role `reporter`: refused, whatever the token says.
            assert_eq!(
                server.post("/reports", Some(&partner)).await.status,
                StatusCode::FORBIDDEN
            );
            assert_eq!(
                server.get("/admin/dashboard", Some(&partner)).await.status,
                StatusCode::UNAUTHORIZED
            );
            // The issuer cannot set the claims the billing policy reads.
            assert_eq!(
                server.get("/billing", Some(&partner)).await.status,
                StatusCode::FORBIDDEN
            );
            // A partner has no account here: the account routes do nothing for it, and never 5xx.
            for (method, path, body) in [
                ("POST", "/auth/logout", None),
                ("GET", "/auth/sessions", None),
                ("GET", "/auth/api-keys", None),
                (
                    "POST",
                    "/auth/api-keys",
                    Some(json!({"name": "k", "scopes": ["reports:read"], "expires_in_days": 1})),
                ),
                (
                    "POST",
                    "/auth/change-password",
                    Some(json!({"current_password": "x", "new_password": "a new long password"})),
                ),
            ] {
                let reply = match body {
                    Some(body) => server.post_json(path, Some(&partner), body).await,
                    None if method == "GET" => server.get(path, Some(&partner)).await,
                    None => server.post(path, Some(&partner)).await,
                };
                if method == "GET" {
                    assert_eq!(reply.json(), json!([]), "{method} {path}");
                } else {
                    assert!(
                        reply.status.is_client_error(),
                        "{method} {path}: {} {}",
                        reply.status,
                        reply.text()
                    );
                }
            }
            // The admin's own tokens work beside the partner's.
            let admin = server
                .post_form(
                    "/admin/login",
                    None,
                    &format!(
                        "username={}&password={}",
                        common::server::ADMIN_EMAIL,
                        common::server::ADMIN_PASSWORD.replace(' ', "+")
                    ),
                )
                .await
                .tokens();
            assert_ok(&server.get("/admin/dashboard", Some(&admin.access)).await);
            assert_ok(&server.get("/reports/1", Some(&partner)).await);
            assert_eq!(provider.jwks_hits(), 1);
        },
    )
    .await;
}
