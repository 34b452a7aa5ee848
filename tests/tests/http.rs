//! In-process HTTP tests of the guards: every rule of docs/architecture.md §2–§4 on the wire, through
//! `tower::ServiceExt::oneshot` on the router (no sockets).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use auth_runtime::prelude::*;
use auth_runtime::{
    ActionHierarchy, AuthManagerBuilder, ConfigError, ErrorRenderer, HierarchicalScopes, KeyError,
    MAX_TOKEN_LEN, PolicyRequirement, RESERVED_CLAIMS, SimpleScopes, TokenError,
};
use axum::body::Body;
use axum::extract::{FromRef, Path};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Map, Value, json};

use common::*;

// ---------------------------------------------------------------------------------------------
// The application under test
// ---------------------------------------------------------------------------------------------

const ISSUER: &str = "auth-test";
const USER_SECRET: [u8; 32] = [1; 32];
const USER_OLD_SECRET: [u8; 32] = [3; 32];
const ADMIN_SECRET: [u8; 32] = [2; 32];
const PARTNER_SECRET: [u8; 32] = [4; 32];
const RSA_PRIVATE: &[u8] = include_bytes!("../keys/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../keys/rsa_public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("../keys/ec_private.pem");
const EC_PUBLIC: &[u8] = include_bytes!("../keys/ec_public.pem");
const ED_PRIVATE: &[u8] = include_bytes!("../keys/ed25519_private.pem");
const ED_PUBLIC: &[u8] = include_bytes!("../keys/ed25519_public.pem");

/// Reads one report
/// for the caller.
///
/// Not part of the summary.
#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
async fn get_report(Path(id): Path<u64>, user: Principal) -> Json<Value> {
    Json(json!({ "id": id, "sub": user.subject() }))
}

#[requires("reports:write")]
#[route(POST, "/reports")]
async fn create_report(user: Principal, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({ "by": user.subject(), "body": body })),
    )
}

#[requires("reports:read", "billing:read")]
#[route(GET, "/both")]
async fn both() -> &'static str {
    "both"
}

#[requires(any("billing:read", "billing:admin"))]
#[route(GET, "/billing")]
async fn billing() -> &'static str {
    "billing"
}

#[login_type("admin")]
#[route(GET, "/admin/dashboard")]
async fn dashboard(admin: Principal) -> String {
    format!("welcome {}", admin.subject())
}

#[login_type("user")]
#[route(GET, "/user/home")]
async fn user_home() -> &'static str {
    "home"
}

/// Takes the principal twice: the second extraction reuses the first verification.
#[authenticated]
#[route(GET, "/me")]
async fn me(who: Principal, again: Principal) -> Json<Value> {
    Json(json!({
        "sub": who.subject(),
        "login_type": who.login_type(),
        "scopes": who.scopes().iter().collect::<Vec<_>>(),
        "tenant": who.claim("tenant"),
        "jti": who.token_id(),
        "iat": who.issued_at(),
        "exp": who.expires_at(),
        "same": again.subject() == who.subject() && again.token_id() == who.token_id(),
    }))
}

#[public]
#[route(GET, "/health")]
async fn health() -> &'static str {
    "ok"
}

#[login_type("admin")]
#[policy(action = "users:ban", resource = "users")]
#[route(POST, "/admin/users/{user_id}/ban")]
async fn ban_user(Path(_user_id): Path<String>) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[derive(SecureRouter)]
#[secure_router(routes(
    get_report,
    create_report,
    both,
    billing,
    dashboard,
    user_home,
    me,
    health,
    ban_user
))]
struct Api;

/// A plain axum handler (no attribute): the principal is optional.
async fn maybe(who: Option<Principal>) -> String {
    match who {
        Some(p) => format!("hello {}", p.subject()),
        None => "hello stranger".to_owned(),
    }
}

fn rsa_key() -> SigningKey {
    SigningKey::rs256_pem("rsa-1", RSA_PRIVATE, RSA_PUBLIC)
}

fn builder() -> AuthManagerBuilder {
    AuthManager::builder()
        .login_type(
            LoginType::new("user")
                .key(SigningKey::hs256("user-2", &USER_SECRET))
                .previous_key(SigningKey::hs256("user-1", &USER_OLD_SECRET))
                .issuer(ISSUER)
                .leeway(Duration::from_secs(30)),
        )
        .login_type(
            LoginType::new("admin")
                .key(SigningKey::hs256("admin-1", &ADMIN_SECRET))
                .issuer(ISSUER),
        )
        .login_type(
            LoginType::new("partner")
                .key(SigningKey::hs256("partner-1", &PARTNER_SECRET))
                .audience("partner-api"),
        )
        .login_type(LoginType::new("rsa").key(rsa_key()))
        .login_type(LoginType::new("ec").key(SigningKey::es256_pem("ec-1", EC_PRIVATE, EC_PUBLIC)))
        .login_type(
            LoginType::new("ed").key(SigningKey::ed25519_pem("ed-1", ED_PRIVATE, ED_PUBLIC)),
        )
}

fn manager() -> AuthManager {
    builder().build().expect("valid configuration")
}

fn app_with(manager: AuthManager) -> Router {
    Api::router()
        .route("/maybe", routing::get(maybe))
        .with_state(manager)
}

fn setup() -> (AuthManager, Router) {
    let m = manager();
    (m.clone(), app_with(m))
}

fn access(m: &AuthManager, login_type: &str, sub: &str, scopes: &[&str]) -> String {
    m.create_access_token(&TokenRequest::new(login_type, sub).scopes(scopes))
        .expect("token")
        .access_token
}

/// Claims of a `user` token (issuer set), as the manager would issue them.
fn user_claims(scope: &str) -> Value {
    with(claims("user", "alice", scope), json!({ "iss": ISSUER }))
}

fn user_token(claims: &Value) -> String {
    forge_hs256(&USER_SECRET, Some("user-2"), claims)
}

// ---------------------------------------------------------------------------------------------
// The Authorization header
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn missing_authorization_is_401_with_a_bare_challenge() {
    let (_, app) = setup();
    let reply = get(&app, "/reports/1").await;
    assert_problem(&reply, StatusCode::UNAUTHORIZED, "Authentication required");
    // RFC 6750 §3.1: no error code when no credential was presented.
    assert_eq!(reply.www_authenticate(), Some(r#"Bearer realm="user""#));

    // The realm is the login type the handler accepts.
    let reply = get(&app, "/admin/dashboard").await;
    assert_problem(&reply, StatusCode::UNAUTHORIZED, "Authentication required");
    assert_eq!(reply.www_authenticate(), Some(r#"Bearer realm="admin""#));
}

#[tokio::test]
async fn other_schemes_are_401_without_an_error_code() {
    // RFC 6750 §3.1: a client using another scheme gets a challenge without an error code.
    let (m, app) = setup();
    let good = access(&m, "user", "alice", &["reports:read"]);
    let values: Vec<HeaderValue> = vec![
        HeaderValue::from_static("Token x"),
        HeaderValue::from_str(&format!("Basic {good}")).unwrap(),
        HeaderValue::from_static(""),
        HeaderValue::from_static("Bear"),
        HeaderValue::from_bytes(b"\xc3\xa9Bearer abc.def.ghi").unwrap(),
    ];
    for value in values {
        let reply = send(
            &app,
            request("GET", "/reports/1", std::slice::from_ref(&value)),
        )
        .await;
        assert_problem(
            &reply,
            StatusCode::UNAUTHORIZED,
            "The Authorization header must be `Bearer <token>`",
        );
        assert_eq!(
            reply.www_authenticate(),
            Some(r#"Bearer realm="user""#),
            "{value:?}"
        );
    }
}

#[tokio::test]
async fn malformed_bearer_headers_are_401_invalid_token() {
    // docs/architecture.md §4: a presented credential that is unusable is `error="invalid_token"`.
    let (m, app) = setup();
    let good = access(&m, "user", "alice", &["reports:read"]);
    let values: Vec<HeaderValue> = vec![
        HeaderValue::from_static("Bearer"),
        HeaderValue::from_static("Bearer "),
        HeaderValue::from_static("Bearer    "),
        HeaderValue::from_str(&format!("Bearer{good}")).unwrap(),
        HeaderValue::from_str(&format!("Bearer\t{good}")).unwrap(),
        HeaderValue::from_str(&format!("Bearer {good} extra")).unwrap(),
        HeaderValue::from_bytes(b"Bearer \xff\xfe\x80").unwrap(),
        HeaderValue::from_bytes("Bearer jeton-été".as_bytes()).unwrap(),
    ];
    for value in values {
        let reply = send(
            &app,
            request("GET", "/reports/1", std::slice::from_ref(&value)),
        )
        .await;
        assert_problem(
            &reply,
            StatusCode::UNAUTHORIZED,
            "The Authorization header must be `Bearer <token>`",
        );
        assert_eq!(
            reply.www_authenticate(),
            Some(r#"Bearer realm="user", error="invalid_token""#),
            "{value:?}"
        );
    }
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    // RFC 7235 §2.1: the scheme is case-insensitive (a documented design decision).
    let (m, app) = setup();
    let token = access(&m, "user", "alice", &["reports:read"]);
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let reply = get_with(&app, "/reports/7", &format!("{scheme} {token}")).await;
        assert_ok(&reply);
        assert_eq!(reply.json(), json!({ "id": 7, "sub": "alice" }));
    }
    // Extra spaces between scheme and token are tolerated.
    assert_ok(&get_with(&app, "/reports/7", &format!("Bearer   {token}")).await);
}

#[tokio::test]
async fn two_authorization_headers_are_400() {
    let (m, app) = setup();
    let token = access(&m, "user", "alice", &["reports:read"]);
    let value = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    for path in ["/reports/1", "/me", "/maybe", "/health"] {
        // Even two copies of one valid token: the request is ambiguous, on public routes too.
        let reply = send(&app, request("GET", path, &[value.clone(), value.clone()])).await;
        assert_problem(
            &reply,
            StatusCode::BAD_REQUEST,
            "The request has more than one Authorization header",
        );
        assert_eq!(reply.www_authenticate(), None);
    }
    let other = HeaderValue::from_static("Bearer x.y.z");
    let reply = send(&app, request("GET", "/reports/1", &[value, other])).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn oversized_tokens_are_401_without_echoing_them() {
    let (_, app) = setup();
    let too_long = "a".repeat(MAX_TOKEN_LEN + 1);
    let segments = format!(
        "{}.{}.{}",
        "e".repeat(4096),
        "x".repeat(4096),
        "s".repeat(512)
    );
    let huge = "b".repeat(256 * 1024);
    for token in [too_long, segments, huge] {
        assert!(token.len() > MAX_TOKEN_LEN);
        let reply = get_as(&app, "/reports/1", &token).await;
        assert_invalid_token(&reply, "user", "The token is too large");
        assert!(reply.body.len() < 512, "the token is not echoed");
    }
}

// ---------------------------------------------------------------------------------------------
// Signatures, algorithms and keys
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn alg_none_is_rejected() {
    let (_, app) = setup();
    let payload = user_claims("reports:read");
    for alg in ["none", "None", "NONE"] {
        for header in [
            json!({ "alg": alg, "typ": "JWT" }),
            json!({ "alg": alg, "typ": "JWT", "kid": "user-2" }),
        ] {
            for signature in ["", "AAAA"] {
                let token = raw_token(&header, &payload, signature);
                let reply = get_as(&app, "/reports/1", &token).await;
                assert_eq!(
                    reply.status,
                    StatusCode::UNAUTHORIZED,
                    "{header} {signature:?}"
                );
                assert_eq!(
                    reply.www_authenticate(),
                    Some(r#"Bearer realm="user", error="invalid_token""#)
                );
                let detail = reply.detail();
                assert!(
                    detail == "The token is malformed"
                        || detail == "The token's algorithm is not accepted",
                    "{detail}"
                );
            }
        }
    }
}

#[tokio::test]
async fn token_signed_with_a_wrong_key_is_401() {
    let (_, app) = setup();
    let claims = user_claims("reports:read");
    // The current kid, someone else's secret.
    let token = forge_hs256(&[9; 32], Some("user-2"), &claims);
    assert_invalid_token(
        &get_as(&app, "/reports/1", &token).await,
        "user",
        "The token's signature is invalid",
    );
    // The admin secret, claiming to be a user token under the user kid.
    let token = forge_hs256(&ADMIN_SECRET, Some("user-2"), &claims);
    assert_invalid_token(
        &get_as(&app, "/reports/1", &token).await,
        "user",
        "The token's signature is invalid",
    );
    // No kid: the login_type claim selects the user keys, none of which signed it.
    let token = forge_hs256(&ADMIN_SECRET, None, &claims);
    assert_invalid_token(
        &get_as(&app, "/reports/1", &token).await,
        "user",
        "The token's signature is invalid",
    );
    // The admin kid and key, claiming login type `user`: not a user token.
    let token = forge_hs256(&ADMIN_SECRET, Some("admin-1"), &claims);
    assert_eq!(
        get_as(&app, "/reports/1", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn token_without_kid_is_verified_with_its_login_types_keys() {
    let (_, app) = setup();
    let token = forge_hs256(&USER_SECRET, None, &user_claims("reports:read"));
    assert_ok(&get_as(&app, "/reports/1", &token).await);
    // ... including a previous key.
    let token = forge_hs256(&USER_OLD_SECRET, None, &user_claims("reports:read"));
    assert_ok(&get_as(&app, "/reports/1", &token).await);
    // Without kid and without login_type there is nothing to verify it with.
    let token = forge_hs256(
        &USER_SECRET,
        None,
        &with(user_claims("reports:read"), json!({ "login_type": null })),
    );
    assert_invalid_token(
        &get_as(&app, "/reports/1", &token).await,
        "user",
        "The token has no `login_type` claim",
    );
}

#[tokio::test]
async fn token_of_another_login_type_is_a_login_type_mismatch() {
    let (m, app) = setup();
    let admin = access(&m, "admin", "root", &["reports:read"]);
    let reply = get_as(&app, "/user/home", &admin).await;
    assert_invalid_token(
        &reply,
        "user",
        "A token of login type `admin` is not accepted here (expected `user`)",
    );
    assert!(!reply.detail().contains("signature"));

    let user = access(&m, "user", "alice", &["admin:*"]);
    let reply = get_as(&app, "/admin/dashboard", &user).await;
    assert_invalid_token(
        &reply,
        "admin",
        "A token of login type `user` is not accepted here (expected `admin`)",
    );

    // Each login type on its own route works.
    assert_eq!(
        assert_ok(&get_as(&app, "/admin/dashboard", &admin).await),
        "welcome root"
    );
    let user = access(&m, "user", "alice", &[]);
    assert_eq!(assert_ok(&get_as(&app, "/user/home", &user).await), "home");
}

#[tokio::test]
async fn asymmetric_login_types_issue_and_verify() {
    let (m, app) = setup();
    for (login_type, kid, alg) in [
        ("rsa", "rsa-1", Algorithm::RS256),
        ("ec", "ec-1", Algorithm::ES256),
        ("ed", "ed-1", Algorithm::EdDSA),
    ] {
        let token = access(&m, login_type, "svc", &[]);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, alg);
        assert_eq!(header.kid.as_deref(), Some(kid));
        let reply = get_as(&app, "/me", &token).await;
        assert_ok(&reply);
        assert_eq!(reply.json()["login_type"], login_type);
    }
}

#[tokio::test]
async fn hs256_token_for_an_asymmetric_login_type_is_algorithm_confusion() {
    let (_, app) = setup();
    // The classic attack: HMAC-sign with the *public* key as the secret, name the RSA/EC kid.
    for (login_type, kid, public) in [
        ("rsa", "rsa-1", RSA_PUBLIC),
        ("ec", "ec-1", EC_PUBLIC),
        ("ed", "ed-1", ED_PUBLIC),
    ] {
        let claims = claims(login_type, "mallory", "");
        for kid in [Some(kid), None] {
            let token = forge_hs256(public, kid, &claims);
            assert_invalid_token(
                &get_as(&app, "/me", &token).await,
                "user",
                "The token's algorithm is not accepted",
            );
        }
    }
    // A genuine ES256 signature presented under the RS256 key's kid.
    let ec = EncodingKey::from_ec_pem(EC_PRIVATE).unwrap();
    let token = forge(
        &ec,
        Algorithm::ES256,
        Some("rsa-1"),
        &claims("rsa", "m", ""),
    );
    assert_invalid_token(
        &get_as(&app, "/me", &token).await,
        "user",
        "The token's algorithm is not accepted",
    );
    // HS512 with the right HS256 secret and kid: only the key's own algorithm is accepted.
    let token = forge(
        &EncodingKey::from_secret(&USER_SECRET),
        Algorithm::HS512,
        Some("user-2"),
        &user_claims(""),
    );
    assert_invalid_token(
        &get_as(&app, "/me", &token).await,
        "user",
        "The token's algorithm is not accepted",
    );
}

#[tokio::test]
async fn unknown_kid_is_401() {
    let (_, app) = setup();
    for kid in ["user-3", "nope", "", "../../etc/passwd"] {
        let token = forge_hs256(&USER_SECRET, Some(kid), &user_claims("reports:read"));
        assert_invalid_token(
            &get_as(&app, "/reports/1", &token).await,
            "user",
            "The token's signing key is unknown",
        );
    }
}

#[tokio::test]
async fn tampered_payload_is_401() {
    let (m, app) = setup();
    let token = access(&m, "user", "alice", &["reports:read"]);
    let mut parts: Vec<&str> = token.split('.').collect();
    let escalated = with(
        payload_of(&token),
        json!({ "scope": "*:*", "sub": "admin" }),
    );
    let payload = b64(escalated.to_string());
    parts[1] = &payload;
    let tampered = parts.join(".");
    assert_invalid_token(
        &get_as(&app, "/reports/1", &tampered).await,
        "user",
        "The token's signature is invalid",
    );
    // A flipped signature character.
    let mut bytes = token.into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(bytes).unwrap();
    assert_invalid_token(
        &get_as(&app, "/reports/1", &flipped).await,
        "user",
        "The token's signature is invalid",
    );
}

#[tokio::test]
async fn key_rotation_accepts_previous_keys_and_signs_with_the_current_one() {
    // Yesterday's deployment: only `user-1`.
    let before = AuthManager::builder()
        .login_type(
            LoginType::new("user")
                .key(SigningKey::hs256("user-1", &USER_OLD_SECRET))
                .issuer(ISSUER),
        )
        .build()
        .unwrap();
    let old = access(&before, "user", "alice", &["reports:read"]);
    assert_eq!(
        jsonwebtoken::decode_header(&old).unwrap().kid.as_deref(),
        Some("user-1")
    );

    // Today's: `user-2` current, `user-1` previous.
    let (m, app) = setup();
    assert_ok(&get_as(&app, "/reports/1", &old).await);
    let new = access(&m, "user", "alice", &["reports:read"]);
    assert_eq!(
        jsonwebtoken::decode_header(&new).unwrap().kid.as_deref(),
        Some("user-2")
    );
    assert_ok(&get_as(&app, "/reports/1", &new).await);

    // Each kid verifies with its own key only.
    let crossed = forge_hs256(
        &USER_OLD_SECRET,
        Some("user-2"),
        &user_claims("reports:read"),
    );
    assert_invalid_token(
        &get_as(&app, "/reports/1", &crossed).await,
        "user",
        "The token's signature is invalid",
    );

    // Once the previous key is dropped, its tokens stop working.
    let after = app_with(
        AuthManager::builder()
            .login_type(
                LoginType::new("user")
                    .key(SigningKey::hs256("user-2", &USER_SECRET))
                    .issuer(ISSUER),
            )
            .build()
            .unwrap(),
    );
    assert_invalid_token(
        &get_as(&after, "/reports/1", &old).await,
        "user",
        "The token's signing key is unknown",
    );
}

// ---------------------------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn expiry_honours_the_leeway() {
    let (_, app) = setup();
    let now = now();
    // Expired 10 s ago, leeway 30 s: accepted.
    let token = user_token(&with(
        user_claims("reports:read"),
        json!({ "iat": now - 600, "exp": now - 10 }),
    ));
    assert_ok(&get_as(&app, "/reports/1", &token).await);
    // Expired 2 minutes ago: rejected.
    let token = user_token(&with(
        user_claims("reports:read"),
        json!({ "iat": now - 600, "exp": now - 120 }),
    ));
    assert_invalid_token(
        &get_as(&app, "/reports/1", &token).await,
        "user",
        "The token has expired",
    );
    // Long expired.
    let token = user_token(&with(
        user_claims("reports:read"),
        json!({ "iat": 1, "exp": 2 }),
    ));
    assert_invalid_token(
        &get_as(&app, "/reports/1", &token).await,
        "user",
        "The token has expired",
    );
}

#[tokio::test]
async fn not_before_and_issued_at_in_the_future_are_401() {
    let (_, app) = setup();
    let now = now();
    let token = user_token(&with(
        user_claims("reports:read"),
        json!({ "nbf": now + 300 }),
    ));
    assert_invalid_token(
        &get_as(&app, "/reports/1", &token).await,
        "user",
        "The token is not valid yet",
    );
    // Within the leeway: fine.
    let token = user_token(&with(
        user_claims("reports:read"),
        json!({ "nbf": now + 10 }),
    ));
    assert_ok(&get_as(&app, "/reports/1", &token).await);
    let token = user_token(&with(
        user_claims("reports:read"),
        json!({ "iat": now + 3600, "exp": now + 7200 }),
    ));
    assert_invalid_token(
        &get_as(&app, "/reports/1", &token).await,
        "user",
        "The token is issued in the future",
    );
}

#[tokio::test]
async fn required_claims_must_be_present() {
    let (_, app) = setup();
    for claim in ["exp", "iat", "sub", "typ", "login_type"] {
        let token = user_token(&with(user_claims("reports:read"), json!({ claim: null })));
        assert_invalid_token(
            &get_as(&app, "/reports/1", &token).await,
            "user",
            &format!("The token has no `{claim}` claim"),
        );
    }
    let token = user_token(&with(user_claims("reports:read"), json!({ "sub": "" })));
    assert_invalid_token(
        &get_as(&app, "/reports/1", &token).await,
        "user",
        "The token has no `sub` claim",
    );
}

#[tokio::test]
async fn issuer_must_match() {
    let (_, app) = setup();
    for iss in [json!("someone-else"), json!(null), json!("AUTH-TEST")] {
        let token = user_token(&with(user_claims("reports:read"), json!({ "iss": iss })));
        assert_invalid_token(
            &get_as(&app, "/reports/1", &token).await,
            "user",
            "The token's issuer is not accepted",
        );
    }
}

#[tokio::test]
async fn audience_is_checked_both_ways() {
    let (m, app) = setup();
    let partner = |aud: Value| {
        forge_hs256(
            &PARTNER_SECRET,
            Some("partner-1"),
            &with(claims("partner", "p", ""), json!({ "aud": aud })),
        )
    };
    // Issued tokens carry the configured audience and pass.
    let issued = access(&m, "partner", "p", &[]);
    assert_eq!(payload_of(&issued)["aud"], "partner-api");
    assert_ok(&get_as(&app, "/me", &issued).await);
    assert_ok(&get_as(&app, "/me", &partner(json!(["other", "partner-api"]))).await);
    // Wrong, missing, or empty.
    for aud in [json!("other-api"), json!(null), json!([]), json!(["other"])] {
        assert_invalid_token(
            &get_as(&app, "/me", &partner(aud)).await,
            "user",
            "The token's audience is not accepted",
        );
    }
    // An audience where none is configured.
    let token = user_token(&with(
        user_claims("reports:read"),
        json!({ "aud": "partner-api" }),
    ));
    assert_invalid_token(
        &get_as(&app, "/reports/1", &token).await,
        "user",
        "The token's audience is not accepted",
    );
}

#[tokio::test]
async fn refresh_token_is_not_an_access_token() {
    let (m, app) = setup();
    // Forged with the user key: refresh tokens are issued only by sessions (tested with the
    // stores), but the typ rule is the same.
    let refresh = user_token(&with(
        user_claims("reports:read"),
        json!({ "typ": "refresh" }),
    ));
    assert_eq!(payload_of(&refresh)["typ"], "refresh");
    for path in ["/reports/1", "/me", "/maybe"] {
        assert_invalid_token(
            &get_as(&app, path, &refresh).await,
            "user",
            "The token is not an access token",
        );
    }
    // A forged `typ` other than access is rejected too.
    let token = user_token(&with(user_claims("reports:read"), json!({ "typ": "id" })));
    assert_invalid_token(
        &get_as(&app, "/reports/1", &token).await,
        "user",
        "The token is not an access token",
    );
    // And the refresh token still verifies as one.
    assert_eq!(
        m.verify_refresh_token(&refresh, "user").unwrap().subject(),
        "alice"
    );
}

#[tokio::test]
async fn ambiguous_or_non_json_payloads_are_401_even_when_signed() {
    let (_, app) = setup();
    let now = now();
    let base = format!(
        r#""login_type":"user","typ":"access","iat":{now},"exp":{},"jti":"j1","iss":"{ISSUER}","scope":"reports:read""#,
        now + 600
    );
    let payloads = [
        // Duplicate claims: which one wins must not be a parser's choice.
        format!(r#"{{"sub":"alice","sub":"admin",{base}}}"#),
        format!(r#"{{"sub":"alice",{base},"scope":"*:*"}}"#),
        format!(r#"{{"sub":"alice",{base},"login_type":"admin"}}"#),
        format!(r#"{{"sub":"alice",{base},"exp":99999999999}}"#),
        // Not one JSON object.
        format!(r#"{{"sub":"alice",{base}}}{{"sub":"admin"}}"#),
        format!(r#"{{"sub":"alice",{base}}} trailing"#),
        format!("\u{feff}{{\"sub\":\"alice\",{base}}}"),
        format!(r#"{{"sub":"alice",{base},}}"#),
        format!(r#"{{"sub":"alice",/* hi */{base}}}"#),
        format!(r#"{{'sub':'alice',{base}}}"#),
        // Numbers a u64 cannot hold.
        format!(r#"{{"sub":"alice",{base},"nbf":18446744073709551616}}"#),
        format!(r#"{{"sub":"alice",{base},"nbf":1e2}}"#),
        format!(r#"{{"sub":"alice",{base},"nbf":NaN}}"#),
    ];
    for payload in &payloads {
        for kid in [Some("user-2"), None] {
            let token = sign_raw(&USER_SECRET, kid, payload.as_bytes());
            let reply = get_as(&app, "/reports/1", &token).await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{payload} {kid:?} -> {}",
                reply.text()
            );
            assert_eq!(
                reply.www_authenticate(),
                Some(r#"Bearer realm="user", error="invalid_token""#)
            );
        }
    }
    // The same bytes without the oddity are fine (the signing helper is sound).
    let token = sign_raw(
        &USER_SECRET,
        Some("user-2"),
        format!(r#"{{"sub":"alice",{base}}}"#).as_bytes(),
    );
    assert_ok(&get_as(&app, "/reports/1", &token).await);
}

/// The rules sessions depend on: `jti` on every token, no lifetime beyond the login type's, no
/// critical header extensions, claims that are a JSON object.
#[tokio::test]
async fn token_hardening_rules() {
    let (_, app) = setup();
    let good = user_claims("reports:read");
    assert_ok(&get_as(&app, "/reports/1", &user_token(&good)).await);

    for jti in [Value::Null, json!("")] {
        assert_invalid_token(
            &get_as(
                &app,
                "/reports/1",
                &user_token(&with(good.clone(), json!({ "jti": jti }))),
            )
            .await,
            "user",
            "The token has no `jti` claim",
        );
    }
    // A `jti` that is not a string is malformed.
    assert_invalid_token(
        &get_as(
            &app,
            "/reports/1",
            &user_token(&with(good.clone(), json!({ "jti": 7 }))),
        )
        .await,
        "user",
        "The token is malformed",
    );

    // `exp - iat` may be the access lifetime (15 min) plus the leeway (30 s), not more.
    let now = now();
    let longest = with(good.clone(), json!({ "iat": now, "exp": now + 900 + 30 }));
    assert_ok(&get_as(&app, "/reports/1", &user_token(&longest)).await);
    let too_long = with(good.clone(), json!({ "iat": now, "exp": now + 900 + 31 }));
    assert_invalid_token(
        &get_as(&app, "/reports/1", &user_token(&too_long)).await,
        "user",
        "The token's lifetime is longer than its login type allows",
    );
    let decade = with(
        good.clone(),
        json!({ "iat": now - 60, "exp": now + 315_360_000 }),
    );
    assert_invalid_token(
        &get_as(&app, "/reports/1", &user_token(&decade)).await,
        "user",
        "The token's lifetime is longer than its login type allows",
    );

    // RFC 7515 §4.1.11: `crit` names extensions the recipient must understand; we know none.
    let payload = good.to_string();
    for crit in [json!(["exp"]), json!(["b64"]), json!([])] {
        let header = json!({ "alg": "HS256", "typ": "JWT", "kid": "user-2", "crit": crit });
        let token = sign_with_header(&USER_SECRET, &header, payload.as_bytes());
        assert_invalid_token(
            &get_as(&app, "/reports/1", &token).await,
            "user",
            "The token's header names critical extensions that are not supported",
        );
    }
    let header = json!({ "alg": "HS256", "typ": "JWT", "kid": "user-2", "crit": "exp" });
    let token = sign_with_header(&USER_SECRET, &header, payload.as_bytes());
    assert_invalid_token(
        &get_as(&app, "/reports/1", &token).await,
        "user",
        "The token is malformed",
    );

    // RFC 7519 §7.2: the claims set is a JSON object. A JSON array in field order would
    // otherwise deserialize into the claims struct.
    let array = json!([
        "alice",
        "user",
        "access",
        now,
        now + 600,
        null,
        "j1",
        null,
        "reports:read",
        ISSUER,
        null
    ]);
    for kid in [Some("user-2"), None] {
        let token = sign_raw(&USER_SECRET, kid, array.to_string().as_bytes());
        let reply = get_as(&app, "/reports/1", &token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    }
    let token = sign_raw(&USER_SECRET, Some("user-2"), array.to_string().as_bytes());
    assert_invalid_token(
        &get_as(&app, "/reports/1", &token).await,
        "user",
        "The token is malformed",
    );
}

// ---------------------------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------------------------

async fn scope_status(app: &Router, m: &AuthManager, scopes: &[&str]) -> StatusCode {
    let token = access(m, "user", "alice", scopes);
    get_as(app, "/reports/1", &token).await.status
}

#[tokio::test]
async fn hierarchical_scopes_and_wildcards() {
    let (m, app) = setup();
    for granted in [
        &["reports:read"][..],
        &["billing:read", "reports:read"],
        &["reports:*"],
        &["*:read"],
        &["*:*"],
    ] {
        assert_eq!(
            scope_status(&app, &m, granted).await,
            StatusCode::OK,
            "{granted:?}"
        );
    }
    for granted in [
        &["reports:rea"][..],
        &["reports:readx"],
        &["report:read"],
        &["Reports:read"],
        &["reports:write"],
        &["billing:*"],
        &["*:write"],
        &["reports:edit"], // no action hierarchy by default
        &["*"],            // bare `*` only when opted in
        &[],
    ] {
        assert_eq!(
            scope_status(&app, &m, granted).await,
            StatusCode::FORBIDDEN,
            "{granted:?}"
        );
    }
}

#[tokio::test]
async fn bare_wildcard_needs_opting_in() {
    let m = builder()
        .scope_validator(HierarchicalScopes::new().allow_bare_wildcard(true))
        .build()
        .unwrap();
    let app = app_with(m.clone());
    assert_eq!(scope_status(&app, &m, &["*"]).await, StatusCode::OK);
    assert_eq!(
        scope_status(&app, &m, &["reports:rea"]).await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn action_hierarchy_when_configured() {
    let m = builder()
        .scope_validator(
            HierarchicalScopes::new().hierarchy(
                ActionHierarchy::new()
                    .implies("admin", ["edit"])
                    .implies("edit", ["read"]),
            ),
        )
        .build()
        .unwrap();
    let app = app_with(m.clone());
    assert_eq!(
        scope_status(&app, &m, &["reports:edit"]).await,
        StatusCode::OK
    );
    assert_eq!(
        scope_status(&app, &m, &["reports:admin"]).await,
        StatusCode::OK
    );
    assert_eq!(scope_status(&app, &m, &["*:edit"]).await, StatusCode::OK);
    assert_eq!(
        scope_status(&app, &m, &["billing:edit"]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        scope_status(&app, &m, &["reports:rea"]).await,
        StatusCode::FORBIDDEN
    );
    // read does not imply write.
    let token = access(&m, "user", "alice", &["reports:read"]);
    let reply = send(
        &app,
        Request::post("/reports")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn simple_scopes_match_exactly() {
    let m = builder().scope_validator(SimpleScopes).build().unwrap();
    let app = app_with(m.clone());
    assert_eq!(
        scope_status(&app, &m, &["reports:read"]).await,
        StatusCode::OK
    );
    for granted in ["reports:*", "*:read", "*:*", "*"] {
        assert_eq!(
            scope_status(&app, &m, &[granted]).await,
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn missing_scope_is_403_with_an_insufficient_scope_challenge() {
    let (m, app) = setup();
    // Empty scope claim.
    let token = access(&m, "user", "alice", &[]);
    assert_eq!(payload_of(&token)["scope"], "");
    let reply = send(
        &app,
        Request::post("/reports")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"title":"q3"}"#))
            .unwrap(),
    )
    .await;
    assert_problem(
        &reply,
        StatusCode::FORBIDDEN,
        "Token is missing required scope: reports:write",
    );
    assert_eq!(
        reply.www_authenticate(),
        Some(r#"Bearer realm="user", error="insufficient_scope", scope="reports:write""#)
    );

    // No scope claim at all: the same.
    let token = user_token(&with(user_claims(""), json!({ "scope": null })));
    let reply = get_as(&app, "/reports/1", &token).await;
    assert_problem(
        &reply,
        StatusCode::FORBIDDEN,
        "Token is missing required scope: reports:read",
    );

    // Several required: only the missing ones are named.
    let token = access(&m, "user", "alice", &["reports:read"]);
    let reply = get_as(&app, "/both", &token).await;
    assert_problem(
        &reply,
        StatusCode::FORBIDDEN,
        "Token is missing required scope: billing:read",
    );
    assert_eq!(
        reply.www_authenticate(),
        Some(r#"Bearer realm="user", error="insufficient_scope", scope="billing:read""#)
    );
    let token = access(&m, "user", "alice", &["other:read"]);
    let reply = get_as(&app, "/both", &token).await;
    assert_problem(
        &reply,
        StatusCode::FORBIDDEN,
        "Token is missing required scopes: reports:read, billing:read",
    );
    assert_eq!(
        reply.www_authenticate(),
        Some(
            r#"Bearer realm="user", error="insufficient_scope", scope="reports:read billing:read""#
        )
    );
    let token = access(&m, "user", "alice", &["reports:read", "billing:read"]);
    assert_eq!(assert_ok(&get_as(&app, "/both", &token).await), "both");

    // The realm of a 403 is the caller's login type.
    let token = access(&m, "admin", "root", &[]);
    let reply = get_as(&app, "/reports/1", &token).await;
    assert_eq!(
        reply.www_authenticate(),
        Some(r#"Bearer realm="admin", error="insufficient_scope", scope="reports:read""#)
    );
}

#[tokio::test]
async fn requires_any_needs_one_of_the_scopes() {
    let (m, app) = setup();
    for granted in ["billing:read", "billing:admin", "billing:*"] {
        let token = access(&m, "user", "alice", &[granted]);
        assert_eq!(
            assert_ok(&get_as(&app, "/billing", &token).await),
            "billing"
        );
    }
    let token = access(&m, "user", "alice", &["reports:read"]);
    let reply = get_as(&app, "/billing", &token).await;
    assert_problem(
        &reply,
        StatusCode::FORBIDDEN,
        "Token needs one of the scopes: billing:read, billing:admin",
    );
    assert_eq!(
        reply.www_authenticate(),
        Some(
            r#"Bearer realm="user", error="insufficient_scope", scope="billing:read billing:admin""#
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Handler attributes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn authenticated_accepts_every_login_type_and_nothing_else() {
    let (m, app) = setup();
    for login_type in ["user", "admin", "partner", "rsa", "ec", "ed"] {
        let token = access(&m, login_type, "someone", &[]);
        let reply = get_as(&app, "/me", &token).await;
        assert_ok(&reply);
        assert_eq!(reply.json()["login_type"], login_type);
    }
    let reply = get(&app, "/me").await;
    assert_problem(&reply, StatusCode::UNAUTHORIZED, "Authentication required");
    assert_eq!(reply.www_authenticate(), Some(r#"Bearer realm="user""#));
}

#[tokio::test]
async fn public_needs_nothing_and_ignores_credentials() {
    let (_, app) = setup();
    assert_eq!(assert_ok(&get(&app, "/health").await), "ok");
    assert_eq!(assert_ok(&get_as(&app, "/health", "garbage").await), "ok");
}

#[tokio::test]
async fn policy_denies_by_default() {
    let (m, app) = setup();
    let admin = access(&m, "admin", "root", &["admin:*", "users:*"]);
    let reply = send(
        &app,
        request(
            "POST",
            "/admin/users/42/ban",
            &[HeaderValue::from_str(&format!("Bearer {admin}")).unwrap()],
        ),
    )
    .await;
    assert_problem(
        &reply,
        StatusCode::FORBIDDEN,
        "Action `users:ban` on resource `users` is denied: no policy rule allows it",
    );
    assert_eq!(reply.www_authenticate(), None);

    // Authentication and login type come first.
    let reply = send(&app, request("POST", "/admin/users/42/ban", &[])).await;
    assert_problem(&reply, StatusCode::UNAUTHORIZED, "Authentication required");
    assert_eq!(reply.www_authenticate(), Some(r#"Bearer realm="admin""#));
    let user = access(&m, "user", "alice", &["admin:*"]);
    let reply = send(
        &app,
        request(
            "POST",
            "/admin/users/42/ban",
            &[HeaderValue::from_str(&format!("Bearer {user}")).unwrap()],
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_guard_runs_before_body_and_path_extractors() {
    let (m, app) = setup();
    let post = |token: Option<&str>, content_type: Option<&str>, body: &'static str| {
        let mut b = Request::post("/reports");
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(c) = content_type {
            b = b.header(header::CONTENT_TYPE, c);
        }
        b.body(Body::from(body)).unwrap()
    };
    // No token, invalid JSON: 401, not 400/422.
    let reply = send(&app, post(None, Some("application/json"), "{not json")).await;
    assert_problem(&reply, StatusCode::UNAUTHORIZED, "Authentication required");
    // No token, no content type: 401, not 415.
    let reply = send(&app, post(None, None, "{not json")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // Not enough scope, invalid JSON: 403.
    let reader = access(&m, "user", "alice", &["reports:read"]);
    let reply = send(&app, post(Some(&reader), Some("application/json"), "{")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Allowed: now the body extractor gets its say.
    let writer = access(&m, "user", "alice", &["reports:write"]);
    let reply = send(&app, post(Some(&writer), Some("application/json"), "{")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = send(
        &app,
        post(Some(&writer), Some("application/json"), r#"{"title":"q3"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({ "by": "alice", "body": { "title": "q3" } })
    );

    // A bad path parameter without a token: 401, not 400.
    let reply = get(&app, "/reports/not-a-number").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let token = access(&m, "user", "alice", &["reports:read"]);
    let reply = get_as(&app, "/reports/not-a-number", &token).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn principal_sees_subject_scopes_and_extra_claims() {
    let (m, app) = setup();
    let mut extra = Map::new();
    extra.insert("tenant".into(), json!("acme"));
    extra.insert("account_status".into(), json!("active"));
    let issued = m
        .create_access_token(
            &TokenRequest::new("user", "alice")
                .scopes(["reports:read", "billing:*"])
                .claims(extra),
        )
        .unwrap();
    let payload = payload_of(&issued.access_token);
    let reply = get_as(&app, "/me", &issued.access_token).await;
    assert_ok(&reply);
    let body = reply.json();
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["login_type"], "user");
    assert_eq!(body["scopes"], json!(["reports:read", "billing:*"]));
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["jti"], payload["jti"]);
    assert_eq!(body["iat"], payload["iat"]);
    assert_eq!(body["exp"], payload["exp"]);
    assert_eq!(body["same"], true);
    assert_eq!(payload["iss"], ISSUER);
    assert_eq!(payload["typ"], "access");
    assert_eq!(payload["account_status"], "active");
    assert_eq!(issued.expires_in, 900);
}

#[tokio::test]
async fn a_request_is_verified_once() {
    let (m, app) = setup();
    let alice = m
        .verify_access_token(&access(&m, "user", "alice", &[]), &[])
        .unwrap();
    // A principal already verified for this request (by the guard, in the request's
    // extensions) is what every later extractor sees; the header is not verified again.
    let bob = access(&m, "user", "bob", &[]);
    let mut req = request(
        "GET",
        "/me",
        &[HeaderValue::from_str(&format!("Bearer {bob}")).unwrap()],
    );
    req.extensions_mut().insert(alice);
    let reply = send(&app, req).await;
    assert_ok(&reply);
    assert_eq!(reply.json()["sub"], "alice");
    assert_eq!(reply.json()["same"], true);
}

#[tokio::test]
async fn optional_principal_on_a_plain_handler() {
    let (m, app) = setup();
    assert_eq!(assert_ok(&get(&app, "/maybe").await), "hello stranger");
    for login_type in ["user", "admin"] {
        let token = access(&m, login_type, "carol", &[]);
        assert_eq!(
            assert_ok(&get_as(&app, "/maybe", &token).await),
            "hello carol"
        );
    }
    // A credential that is presented must be valid: no silent downgrade to anonymous.
    let forged = forge_hs256(&[9; 32], Some("user-2"), &user_claims(""));
    assert_invalid_token(
        &get_as(&app, "/maybe", &forged).await,
        "user",
        "The token's signature is invalid",
    );
    let reply = get_with(&app, "/maybe", "Token x").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------------
// CurrentUser
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
struct User {
    name: String,
}

#[derive(Clone, Default)]
struct Users {
    calls: Arc<AtomicUsize>,
}

impl UserLoader for Users {
    type User = User;
    type Error = String;

    async fn load(&self, principal: &Principal) -> Result<Option<User>, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match principal.subject() {
            "ghost" => Ok(None),
            "broken" => Err("connection to postgres://app:hunter2@db failed".to_owned()),
            name => Ok(Some(User {
                name: name.to_owned(),
            })),
        }
    }
}

#[derive(Clone)]
struct AppState {
    auth: AuthManager,
    users: Users,
}

impl FromRef<AppState> for AuthManager {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for Users {
    fn from_ref(state: &AppState) -> Self {
        state.users.clone()
    }
}

#[authenticated]
#[route(GET, "/profile")]
async fn profile(user: CurrentUser<Users>, again: CurrentUser<Users>) -> Json<Value> {
    Json(json!({
        "name": user.user.name,
        "sub": user.principal.subject(),
        "same": user.user == again.user,
    }))
}

#[derive(SecureRouter)]
#[secure_router(state = AppState, routes(profile))]
struct UserApi;

#[tokio::test]
async fn current_user_loads_once_and_maps_failures() {
    let m = manager();
    let users = Users::default();
    let app = UserApi::router().with_state(AppState {
        auth: m.clone(),
        users: users.clone(),
    });

    let token = access(&m, "user", "dave", &[]);
    let reply = get_as(&app, "/profile", &token).await;
    assert_ok(&reply);
    assert_eq!(
        reply.json(),
        json!({ "name": "dave", "sub": "dave", "same": true })
    );
    assert_eq!(
        users.calls.load(Ordering::SeqCst),
        1,
        "loaded once per request"
    );

    // The user no longer exists: 401.
    let token = access(&m, "user", "ghost", &[]);
    let reply = get_as(&app, "/profile", &token).await;
    assert_invalid_token(&reply, "user", "The token's subject no longer exists");

    // The loader fails: 500, and its error text stays on the server.
    let token = access(&m, "user", "broken", &[]);
    let reply = get_as(&app, "/profile", &token).await;
    assert_problem(&reply, StatusCode::INTERNAL_SERVER_ERROR, "Internal error");
    assert_eq!(reply.www_authenticate(), None);
    for secret in ["hunter2", "postgres", "connection"] {
        assert!(!reply.text().contains(secret), "{}", reply.text());
    }

    // No token: 401 before the loader is asked.
    let before = users.calls.load(Ordering::SeqCst);
    let reply = get(&app, "/profile").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(users.calls.load(Ordering::SeqCst), before);
}

// ---------------------------------------------------------------------------------------------
// Error rendering
// ---------------------------------------------------------------------------------------------

struct PlainText;

impl ErrorRenderer for PlainText {
    fn render(&self, error: &AuthError) -> Response {
        (
            error.status(),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("nope ({}): {}", error.status().as_u16(), error.detail()),
        )
            .into_response()
    }
}

struct OwnChallenge;

impl ErrorRenderer for OwnChallenge {
    fn render(&self, error: &AuthError) -> Response {
        (
            error.status(),
            [(header::WWW_AUTHENTICATE, r#"Bearer realm="custom""#)],
            "custom",
        )
            .into_response()
    }
}

#[tokio::test]
async fn custom_error_renderer_replaces_the_body_but_keeps_the_challenge() {
    let m = builder().error_renderer(PlainText).build().unwrap();
    let app = app_with(m.clone());

    let reply = get(&app, "/reports/1").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(reply.text(), "nope (401): Authentication required");
    assert_eq!(reply.www_authenticate(), Some(r#"Bearer realm="user""#));

    let reply = get_as(&app, "/reports/1", "a.b.c").await;
    assert_eq!(reply.text(), "nope (401): The token is malformed");
    assert_eq!(
        reply.www_authenticate(),
        Some(r#"Bearer realm="user", error="invalid_token""#)
    );

    let token = access(&m, "user", "alice", &[]);
    let reply = get_as(&app, "/reports/1", &token).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.text(),
        "nope (403): Token is missing required scope: reports:read"
    );
    assert_eq!(
        reply.www_authenticate(),
        Some(r#"Bearer realm="user", error="insufficient_scope", scope="reports:read""#)
    );

    // Extractors outside the guard use the renderer too.
    let reply = get_as(&app, "/maybe", "a.b.c").await;
    assert_eq!(reply.text(), "nope (401): The token is malformed");

    // A renderer that sets its own challenge keeps it.
    let app = app_with(builder().error_renderer(OwnChallenge).build().unwrap());
    let reply = get(&app, "/reports/1").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.text(), "custom");
    assert_eq!(reply.www_authenticate(), Some(r#"Bearer realm="custom""#));
}

// ---------------------------------------------------------------------------------------------
// Configuration and issuing
// ---------------------------------------------------------------------------------------------

#[test]
fn reserved_claims_cannot_be_set_as_extra_claims() {
    let m = manager();
    for &claim in RESERVED_CLAIMS {
        let mut extra = Map::new();
        extra.insert(claim.to_owned(), json!("x"));
        assert_eq!(
            m.create_access_token(
                &TokenRequest::new("user", "alice")
                    .scopes(["reports:read"])
                    .claims(extra.clone())
            )
            .unwrap_err(),
            TokenError::ReservedClaim(claim.to_owned())
        );
    }
    for claim in [
        "sub",
        "exp",
        "login_type",
        "scope",
        "typ",
        "iss",
        "aud",
        "jti",
        "sid",
    ] {
        assert!(RESERVED_CLAIMS.contains(&claim), "{claim}");
    }
    assert_eq!(
        m.create_access_token(&TokenRequest::new("nobody", "alice").scopes(["a:b"]))
            .unwrap_err(),
        TokenError::UnknownLoginType("nobody".into())
    );
    assert_eq!(
        m.create_access_token(&TokenRequest::new("user", "").scopes(["a:b"]))
            .unwrap_err(),
        TokenError::EmptySubject
    );
    assert!(matches!(
        m.create_access_token(&TokenRequest::new("user", "alice").scopes(["a b:c"])),
        Err(TokenError::InvalidScope { .. })
    ));
}

fn hs(kid: &str) -> SigningKey {
    SigningKey::hs256(kid, &[5; 32])
}

#[test]
fn manager_build_errors_are_errors() {
    let dup = AuthManager::builder()
        .login_type(LoginType::new("user").key(hs("a")))
        .login_type(LoginType::new("user").key(hs("b")))
        .build()
        .unwrap_err();
    assert_eq!(dup, ConfigError::DuplicateLoginType("user".into()));
    assert!(dup.to_string().contains("registered twice"));

    let empty = AuthManager::builder()
        .login_type(LoginType::new("").key(hs("a")))
        .build()
        .unwrap_err();
    assert!(
        matches!(&empty, ConfigError::InvalidLoginType { name, .. } if name.is_empty()),
        "{empty:?}"
    );

    let secret = b"too-short-secret-hunter2";
    let weak = AuthManager::builder()
        .login_type(LoginType::new("user").key(SigningKey::hs256("a", secret)))
        .build()
        .unwrap_err();
    assert_eq!(
        weak,
        ConfigError::Key {
            login_type: "user".into(),
            kid: "a".into(),
            reason: KeyError::WeakSecret { len: secret.len() },
        }
    );
    assert!(weak.to_string().contains("at least 32"));
    assert!(!weak.to_string().contains("hunter2"));
    assert!(!format!("{weak:?}").contains("hunter2"));

    let kid = AuthManager::builder()
        .login_type(LoginType::new("user").key(hs("same")))
        .login_type(LoginType::new("admin").key(SigningKey::hs256("same", &[6; 32])))
        .build()
        .unwrap_err();
    assert_eq!(kid, ConfigError::DuplicateKid("same".into()));
    // One HS256 secret for two login types: a token of one would verify as the other.
    let shared = AuthManager::builder()
        .login_type(LoginType::new("user").key(hs("u1")))
        .login_type(
            LoginType::new("admin")
                .key(SigningKey::hs256("a2", &[6; 32]))
                .previous_key(hs("a1")),
        )
        .build()
        .unwrap_err();
    assert_eq!(
        shared,
        ConfigError::SharedSecret {
            first: "user".into(),
            second: "admin".into()
        }
    );
    assert_eq!(
        shared.to_string(),
        "login types `user` and `admin` share an HS256 secret; give each its own"
    );
    let kid = AuthManager::builder()
        .login_type(
            LoginType::new("user")
                .key(hs("same"))
                .previous_key(hs("same")),
        )
        .build()
        .unwrap_err();
    assert_eq!(kid, ConfigError::DuplicateKid("same".into()));

    assert_eq!(
        AuthManager::builder().build().unwrap_err(),
        ConfigError::NoLoginTypes
    );
    assert_eq!(
        AuthManager::builder()
            .login_type(LoginType::new("user"))
            .build()
            .unwrap_err(),
        ConfigError::NoKey("user".into())
    );
    assert_eq!(
        AuthManager::builder()
            .login_type(LoginType::new("user").previous_key(hs("old")))
            .build()
            .unwrap_err(),
        ConfigError::NoKey("user".into())
    );
    let bad_pem = AuthManager::builder()
        .login_type(LoginType::new("rsa").key(SigningKey::rs256_pem("r", b"nope", RSA_PUBLIC)))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            bad_pem,
            ConfigError::Key {
                reason: KeyError::InvalidPem { part: "private" },
                ..
            }
        ),
        "{bad_pem:?}"
    );

    // Every problem is reported, not only the first.
    let many = AuthManager::builder()
        .login_type(LoginType::new("user").key(SigningKey::hs256("a", b"short")))
        .login_type(LoginType::new("user").key(hs("b")))
        .build()
        .unwrap_err();
    match many {
        ConfigError::Many(all) => assert_eq!(all.len(), 2, "{all:?}"),
        other => panic!("expected several errors, got {other:?}"),
    }
}

#[test]
fn routes_table_lists_every_route() {
    let routes = Api::routes();
    let table: Vec<(&str, &str, &str)> = routes
        .iter()
        .map(|r| (r.handler, r.method, r.path))
        .collect();
    assert_eq!(
        table,
        [
            ("get_report", "GET", "/reports/{id}"),
            ("create_report", "POST", "/reports"),
            ("both", "GET", "/both"),
            ("billing", "GET", "/billing"),
            ("dashboard", "GET", "/admin/dashboard"),
            ("user_home", "GET", "/user/home"),
            ("me", "GET", "/me"),
            ("health", "GET", "/health"),
            ("ban_user", "POST", "/admin/users/{user_id}/ban"),
        ]
    );
    let by = |name: &str| *routes.iter().find(|r| r.handler == name).unwrap();

    let r = by("get_report");
    assert_eq!(r.scopes, ScopeRequirement::All(&["reports:read"]));
    // The doc comment's first paragraph, and where the handler lives (for operation ids).
    assert_eq!(r.summary, "Reads one report for the caller.");
    assert_eq!(r.module_path, "http");
    assert_eq!(by("health").summary, "");
    assert!(r.login_types.is_empty() && r.policy.is_none() && !r.public);
    assert_eq!(
        by("both").scopes,
        ScopeRequirement::All(&["reports:read", "billing:read"])
    );
    assert_eq!(
        by("billing").scopes,
        ScopeRequirement::AnyOf(&["billing:read", "billing:admin"])
    );
    let r = by("dashboard");
    assert_eq!(r.login_types, ["admin"]);
    assert_eq!(r.scopes, ScopeRequirement::None);
    let r = by("me");
    assert!(r.login_types.is_empty() && !r.public && r.scopes == ScopeRequirement::None);
    let r = by("health");
    assert!(r.public);
    assert_eq!(r.scopes, ScopeRequirement::None);
    let r = by("ban_user");
    assert_eq!(r.login_types, ["admin"]);
    assert_eq!(
        r.policy,
        Some(PolicyRequirement {
            action: "users:ban",
            resource: "users",
        })
    );
    let req = r.requirement();
    assert_eq!(req.policy, r.policy);
    assert!(!req.public);

    let users = UserApi::routes();
    assert_eq!(users.len(), 1);
    assert_eq!((users[0].method, users[0].path), ("GET", "/profile"));
}

// ---------------------------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------------------------

/// A tiny deterministic PRNG (xorshift64*), so the test needs no extra dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("fits")
    }

    /// A byte allowed in a header value: visible ASCII, space, tab, or obs-text.
    fn header_byte(&mut self) -> u8 {
        loop {
            let b = u8::try_from(self.next() & 0xff).expect("byte");
            if b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80 {
                return b;
            }
        }
    }
}

fn hostile_values(m: &AuthManager) -> Vec<Vec<u8>> {
    let mut values: Vec<Vec<u8>> = Vec::new();
    let mut push = |s: String| values.push(s.into_bytes());

    for raw in [
        "Bearer a.b",
        "Bearer a.b.c",
        "Bearer a.b.c.d",
        "Bearer ....",
        "Bearer ..",
        "Bearer .",
        "Bearer ...",
        "Bearer =.=.=",
        "Bearer %00.%00.%00",
        "Bearer eyJ.eyJ.eyJ",
        "Bearer null",
        "Bearer \"\"",
        "Bearer {}",
        "Bearer Bearer",
        "Bearer  Bearer x",
        "Basic dXNlcjpwYXNz",
        "Digest username=\"a\"",
        "Bearer\t\tx.y.z",
        "  Bearer x.y.z",
        "Bearer x.y.z ",
        ",",
        "Bearer ,",
    ] {
        push(raw.to_owned());
    }
    let big = "A".repeat(3000);
    push(format!("Bearer {big}.{big}.{big}"));
    push(format!(
        "Bearer {}.{}.{}",
        "A".repeat(8000),
        "B".repeat(8000),
        "C"
    ));
    push(format!("Bearer {}", ".".repeat(MAX_TOKEN_LEN)));
    push(format!("Bearer {}", "a.".repeat(MAX_TOKEN_LEN)));
    push(format!("Bearer {}.{}.", b64("{}"), b64("{}")));
    push(format!("Bearer {}.{}.sig", b64("[]"), b64("[]")));
    push(format!("Bearer {}.{}.sig", b64("not json"), b64("{")));
    push(format!(
        "Bearer {}.{}.sig",
        b64([0xff, 0xfe, 0x00]),
        b64([0x80])
    ));
    push(format!(
        "Bearer {}.!!!!.sig",
        b64(r#"{"alg":"HS256","kid":"user-2"}"#)
    ));
    push(format!(
        "Bearer {}.{}.{}",
        b64(r#"{"alg":"HS256","kid":5}"#),
        b64("{}"),
        b64("sig")
    ));
    push(format!(
        "Bearer {}",
        raw_token(
            &json!({ "alg": "HS256", "kid": "user-2", "crit": ["exp"] }),
            &user_claims("reports:read"),
            "AAAA"
        )
    ));
    push(format!(
        "Bearer {}",
        raw_token(
            &json!({ "alg": "HS256", "kid": "x".repeat(5000) }),
            &json!({}),
            ""
        )
    ));

    // Correctly signed with the real key, but with claims of the wrong shape or value.
    let valid = user_claims("reports:read");
    let overrides = [
        json!({ "exp": "soon" }),
        json!({ "exp": 1e30 }),
        json!({ "exp": -1 }),
        json!({ "exp": i64::MIN }),
        json!({ "exp": 1.5 }),
        json!({ "exp": 1.8e19 }),
        json!({ "exp": true }),
        json!({ "exp": [1] }),
        json!({ "exp": {} }),
        json!({ "iat": -5 }),
        json!({ "iat": "now" }),
        json!({ "nbf": "later" }),
        json!({ "nbf": -1 }),
        json!({ "nbf": u64::MAX }),
        json!({ "iat": u64::MAX }),
        json!({ "sub": 5 }),
        json!({ "sub": ["alice"] }),
        json!({ "scope": 5 }),
        json!({ "scope": ["reports:read"] }),
        json!({ "login_type": 5 }),
        json!({ "login_type": "admin" }),
        json!({ "login_type": "nobody" }),
        json!({ "typ": 5 }),
        json!({ "typ": "ACCESS" }),
        json!({ "iss": 5 }),
        json!({ "aud": 5 }),
        json!({ "aud": [5] }),
        json!({ "jti": 5 }),
    ];
    for o in overrides {
        push(format!("Bearer {}", user_token(&with(valid.clone(), o))));
    }
    for payload in [json!([]), json!("string"), json!(42), json!(null)] {
        push(format!("Bearer {}", user_token(&payload)));
    }
    // Deep nesting in an extra claim must not blow the stack.
    let deep = format!("{}1{}", "[".repeat(3000), "]".repeat(3000));
    let deep_payload =
        format!(r#"{{"sub":"a","login_type":"user","typ":"access","iat":1,"exp":"x","n":{deep}}}"#);
    // No kid, so the payload is parsed to find the login type.
    push(format!(
        "Bearer {}.{}.sig",
        b64(r#"{"alg":"HS256"}"#),
        b64(deep_payload)
    ));
    // A valid token with one byte of each part damaged.
    let good = access(m, "user", "alice", &["reports:read"]);
    for i in [0, 10, good.len() / 2, good.len() - 1] {
        let mut bytes = good.clone().into_bytes();
        bytes[i] = if bytes[i] == b'.' { b'x' } else { b'.' };
        values.push([b"Bearer ".as_slice(), &bytes].concat());
    }

    // Random header-valid bytes, with and without a Bearer prefix.
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for i in 0..300 {
        let len = rng.below(if i % 10 == 0 { 12_000 } else { 80 });
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.header_byte()).collect();
        if i % 2 == 0 {
            bytes = [b"Bearer ".as_slice(), &bytes].concat();
        }
        values.push(bytes);
    }
    values
}

#[tokio::test]
async fn nothing_panics_on_hostile_authorization_values() {
    let (m, app) = setup();
    let values = hostile_values(&m);
    assert!(values.len() > 350);
    for bytes in values {
        let Ok(value) = HeaderValue::from_bytes(&bytes) else {
            continue;
        };
        for path in ["/reports/1", "/admin/dashboard", "/me", "/maybe"] {
            let reply = send(&app, request("GET", path, std::slice::from_ref(&value))).await;
            assert!(
                matches!(
                    reply.status,
                    StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED
                ),
                "{path} {value:?} -> {} {}",
                reply.status,
                reply.text()
            );
            assert_eq!(reply.content_type(), Some("application/problem+json"));
            let body = reply.json();
            assert_eq!(body["status"], reply.status.as_u16());
            assert!(body["detail"].is_string());
            // The credential is never echoed back.
            if bytes.len() > 40 {
                let token = &bytes[bytes.len() - 32..];
                assert!(
                    !reply.body.windows(token.len()).any(|w| w == token),
                    "token echoed: {}",
                    reply.text()
                );
            }
            let challenge = reply.www_authenticate();
            if reply.status == StatusCode::UNAUTHORIZED {
                let challenge = challenge.expect("401 has a challenge");
                assert!(challenge.starts_with("Bearer realm=\""), "{challenge}");
            }
        }
    }
    // And the public route shrugs it all off.
    let reply = get_with(&app, "/health", "Bearer ....").await;
    assert_eq!(reply.status, StatusCode::OK);
}
