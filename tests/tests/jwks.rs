//! `/.well-known/jwks.json`: the public keys of the asymmetric login types, never a secret or
//! a private part; a service token of the reference server verifies with the published key
//! alone; during a rotation both keys are listed and the old key's tokens still verify.

mod common;

use auth_runtime::prelude::*;
use auth_runtime::routes::{JWKS_MAX_AGE, JwksRoutes};
use axum::Router;
use axum::http::{StatusCode, header};
use common::db::TestDb;
use common::server::TestServer;
use common::{get, get_as};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

const RSA_PRIVATE: &[u8] = include_bytes!("../keys/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../keys/rsa_public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("../keys/ec_private.pem");
const EC_PUBLIC: &[u8] = include_bytes!("../keys/ec_public.pem");

#[requires("reports:read")]
#[route(GET, "/reports")]
async fn reports(user: Principal) -> String {
    user.subject().to_owned()
}

#[derive(SecureRouter)]
#[secure_router(routes(reports))]
struct Api;

/// Verifies `token` with nothing but a published key set, the algorithm fixed by the key.
fn verify_with(keys: &JwkSet, token: &str) -> Result<Value, String> {
    let kid = jsonwebtoken::decode_header(token)
        .map_err(|e| e.to_string())?
        .kid
        .ok_or("no kid")?;
    let jwk = keys
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not published"))?;
    let alg = match jwk
        .common
        .key_algorithm
        .map(|a| format!("{a:?}"))
        .as_deref()
    {
        Some("RS256") => Algorithm::RS256,
        Some("ES256") => Algorithm::ES256,
        Some("EdDSA") => Algorithm::EdDSA,
        other => return Err(format!("unexpected alg {other:?}")),
    };
    let mut validation = Validation::new(alg);
    validation.validate_aud = false;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_reference_server_publishes_its_service_key_and_nothing_else() {
    let db = TestDb::sqlite().await;
    let server = TestServer::start(&db).await;
    let reply = server.get("/.well-known/jwks.json", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply.headers[header::CACHE_CONTROL],
        format!("public, max-age={JWKS_MAX_AGE}").as_str()
    );
    assert_eq!(reply.content_type(), Some("application/json"));
    let body = reply.json();
    let keys = body["keys"].as_array().expect("a keys array");
    // `service` alone signs with an asymmetric key; `user` and `admin` are HS256.
    assert_eq!(keys.len(), 1, "{body}");
    let key = &keys[0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
    assert_eq!(
        key["x"].as_str().map(str::len),
        Some(43),
        "32 bytes, base64url"
    );
    let mut members: Vec<&str> = key
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x"], "no `d`");

    // A service account's client-credentials token verifies with the published key alone.
    let admin = server.admin().await;
    let created = server
        .post_json(
            "/admin/service-accounts",
            Some(&admin.access),
            json!({ "name": "billing", "roles": ["reporter"] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let created = created.json();
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        common::server::encode(created["client_id"].as_str().unwrap()),
        common::server::encode(created["client_secret"].as_str().unwrap()),
    );
    let token = server.post_form("/auth/token", None, &form).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text());
    let token = token.json()["access_token"].as_str().unwrap().to_owned();
    let published: JwkSet = serde_json::from_slice(&reply.body).unwrap();
    let claims = verify_with(&published, &token).expect("verifies with the JWKS");
    assert_eq!(claims["login_type"], "service");
    assert_eq!(claims["scope"], "reports:read");
    // A tampered token does not.
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert!(verify_with(&published, &tampered).is_err());
    db.cleanup().await;
}

/// During a rotation the new key signs and the old one is still published and verifies, on
/// our side and on a JWKS consumer's; HS256 login types never appear.
#[tokio::test]
async fn a_rotation_publishes_both_keys() {
    let before = AuthManager::builder()
        .login_type(
            LoginType::new("partner").key(SigningKey::es256_pem("ec-old", EC_PRIVATE, EC_PUBLIC)),
        )
        .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[7; 32])))
        .build()
        .unwrap();
    let request = TokenRequest::new("partner", "acme").scopes(["reports:read"]);
    let old_token = before.create_access_token(&request).unwrap().access_token;

    let after = AuthManager::builder()
        .login_type(
            LoginType::new("partner")
                .key(SigningKey::rs256_pem("rsa-new", RSA_PRIVATE, RSA_PUBLIC))
                .previous_key(SigningKey::es256_pem("ec-old", EC_PRIVATE, EC_PUBLIC)),
        )
        .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[7; 32])))
        .build()
        .unwrap();
    let new_token = after.create_access_token(&request).unwrap().access_token;
    let app: Router = Api::router()
        .merge(JwksRoutes::router())
        .with_state(after.clone());

    let reply = get(&app, "/.well-known/jwks.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    let published: JwkSet = serde_json::from_slice(&reply.body).unwrap();
    let kids: Vec<&str> = published
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.as_deref())
        .collect();
    assert_eq!(kids, ["rsa-new", "ec-old"]);
    let body = reply.json();
    assert_eq!(body["keys"][0]["kty"], "RSA");
    assert_eq!(body["keys"][1]["kty"], "EC");
    assert_eq!(body["keys"][1]["crv"], "P-256");
    for key in body["keys"].as_array().unwrap() {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{private} in {key}");
        }
    }
    for token in [&old_token, &new_token] {
        assert!(verify_with(&published, token).is_ok());
        assert_eq!(get_as(&app, "/reports", token).await.status, StatusCode::OK);
    }
    // An HS256-only manager publishes an empty set.
    let hs_only = AuthManager::builder()
        .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[7; 32])))
        .build()
        .unwrap();
    assert!(hs_only.jwks().keys.is_empty());
}
