//! A policy denial is logged with the action, resource, deciding rule and reason, and never
//! with the token. (Its own test binary: it installs a global tracing subscriber.)

mod common;

use auth_runtime::policy::{Attr, PolicyRule};
use auth_runtime::prelude::*;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use common::LogBuffer;

#[login_type("admin")]
#[policy(action = "users:ban", resource = "users")]
#[route(POST, "/admin/users/{user_id}/ban")]
async fn ban_user() -> StatusCode {
    StatusCode::NO_CONTENT
}

#[derive(SecureRouter)]
#[secure_router(routes(ban_user))]
struct Api;

#[tokio::test]
async fn denials_are_logged_with_rule_and_reason_but_no_token() {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .init();

    let manager = AuthManager::builder()
        .login_type(LoginType::new("admin").key(SigningKey::hs256("admin-1", &[4; 32])))
        .policy(
            PolicyRule::allow("admins-ban")
                .actions(["users:ban"])
                .resources(["users"])
                .scopes(["admin:*"]),
        )
        .policy(
            PolicyRule::deny("no-self-ban")
                .actions(["users:ban"])
                .resources(["users"])
                .when(Attr::subject("sub").eq(Attr::env("params.user_id")))
                .reason("an admin cannot ban themselves"),
        )
        .build()
        .unwrap();
    let token = manager
        .create_access_token(&TokenRequest::new("admin", "7").scopes(["admin:*"]))
        .unwrap()
        .access_token;
    let response = Api::router()
        .with_state(manager)
        .oneshot(
            Request::builder()
                .method("POST")
                .uri("/admin/users/7/ban")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let log = buffer.text();
    let line = log
        .lines()
        .find(|l| l.contains("policy denied"))
        .unwrap_or_else(|| panic!("no denial logged in:\n{log}"));
    for expected in [
        "action=\"users:ban\"",
        "resource=\"users\"",
        "rule=\"no-self-ban\"",
        "reason=an admin cannot ban themselves",
        "subject=\"7\"",
    ] {
        assert!(line.contains(expected), "{expected} missing from: {line}");
    }
    // Neither the token nor any of its three parts appears anywhere in the log.
    for part in token.split('.') {
        assert!(!log.contains(part), "the token leaked into the log:\n{log}");
    }
}
