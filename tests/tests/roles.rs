//! `#[roles(...)]`: any-of role requirements, roles mapped to scopes by configuration.

use auth_runtime::prelude::*;
use auth_runtime::{AuthError, ConfigError};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

#[roles("editor", "admin")]
#[route(POST, "/articles")]
async fn publish() -> StatusCode {
    StatusCode::CREATED
}

#[login_type("staff")]
#[roles("admin")]
#[route(DELETE, "/articles/{id}")]
async fn delete_article() -> StatusCode {
    StatusCode::NO_CONTENT
}

#[roles("auditor")]
#[route(GET, "/audit")]
async fn audit() -> &'static str {
    "log"
}

#[derive(SecureRouter)]
#[secure_router(routes(publish, delete_article, audit))]
struct Api;

fn manager() -> AuthManager {
    AuthManager::builder()
        .login_type(LoginType::new("staff").key(SigningKey::hs256("staff-1", &[3; 32])))
        .role("editor", ["articles:*"])
        .role("admin", ["articles:*", "users:*"])
        .build()
        .expect("valid configuration")
}

async fn call(method: &str, uri: &str, scopes: &[&str]) -> (StatusCode, Option<String>, Value) {
    let m = manager();
    let token = m
        .create_access_token(&TokenRequest::new("staff", "s1").scopes(scopes))
        .unwrap()
        .access_token;
    let response = Api::router()
        .with_state(m)
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        challenge,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn one_of_the_roles_is_enough() {
    assert_eq!(
        call("POST", "/articles", &["articles:*"]).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        call("POST", "/articles", &["articles:*", "users:*"])
            .await
            .0,
        StatusCode::CREATED
    );
    // `*:*` covers every scope of the role.
    assert_eq!(
        call("POST", "/articles", &["*:*"]).await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_partial_role_is_not_a_role() {
    let (status, challenge, body) = call("POST", "/articles", &["articles:read"]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer realm="staff", error="insufficient_scope""#)
    );
    assert_eq!(
        body["detail"],
        "Token holds none of the roles: editor, admin"
    );

    let (status, _, body) = call("DELETE", "/articles/1", &["articles:*"]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["detail"],
        "Token does not hold the required role: admin"
    );
    assert_eq!(
        call("DELETE", "/articles/1", &["articles:*", "users:*"])
            .await
            .0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn an_unconfigured_role_is_held_by_nobody() {
    let (status, _, body) = call("GET", "/audit", &["*:*"]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["detail"],
        "Token does not hold the required role: auditor"
    );
}

#[test]
fn roles_are_in_the_route_table() {
    assert_eq!(Api::routes()[0].roles, ["editor", "admin"]);
    assert!(Api::routes()[0].login_types.is_empty());
    assert_eq!(Api::routes()[1].login_types, ["staff"]);
}

#[test]
fn bad_role_configuration_is_an_error() {
    let build = |name: &str, scopes: &[&str]| {
        AuthManager::builder()
            .login_type(LoginType::new("staff").key(SigningKey::hs256("k", &[3; 32])))
            .role(name, scopes.iter().copied())
            .build()
            .unwrap_err()
    };
    assert!(matches!(
        build("", &["a:b"]),
        ConfigError::InvalidRole { .. }
    ));
    assert_eq!(
        build("editor", &[]).to_string(),
        "role `editor`: a role needs at least one scope"
    );
    assert!(
        build("editor", &["articles"])
            .to_string()
            .contains("scope `articles`")
    );
    let twice = AuthManager::builder()
        .login_type(LoginType::new("staff").key(SigningKey::hs256("k", &[3; 32])))
        .role("editor", ["a:b"])
        .role("editor", ["c:d"])
        .build()
        .unwrap_err();
    assert_eq!(twice.to_string(), "role `editor`: declared twice");
    // The error type renders as 403 with a challenge.
    let err = AuthError::MissingRole {
        realm: "staff".into(),
        roles: vec!["admin".into()],
    };
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
}
