//! The security event log: registrations, sign-ins and their refusals, throttling, approvals,
//! password changes (an admin's too), stored-claims changes, refresh-token reuse and bans each
//! leave one event on the `auth_runtime::security` target, and nothing logged holds a password,
//! an email, a hash or a token. (Its own test binary: it installs a global tracing subscriber.)

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::json;

use common::LogBuffer;
use common::db::{TestDb, on_both};
use common::server::{PASSWORD, Payload, TestServer, request};

const EMAIL: &str = "ann@example.com";
const NEW_PASSWORD: &str = "a brand new secret 42";
const ADMIN_SET_PASSWORD: &str = "an admin's choice 77";

async fn account_lifecycle(db: TestDb) -> Vec<String> {
    let server = TestServer::start(&db).await;
    let mut secrets = vec![PASSWORD.to_owned(), NEW_PASSWORD.to_owned()];
    let register = || {
        server.post_json(
            "/auth/register",
            None,
            json!({ "email": EMAIL, "password": PASSWORD }),
        )
    };
    assert_eq!(register().await.status, StatusCode::CREATED);
    assert_eq!(register().await.status, StatusCode::CREATED);
    let admin = server.admin().await;
    let reply = server
        .post_json(
            "/auth/approve",
            Some(&admin.access),
            json!({ "email": EMAIL }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    // Wrong passwords from one address until the budget refuses.
    let guesser = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
    let mut throttled = false;
    for n in 0..12 {
        let reply = server
            .login_from(guesser, EMAIL, &format!("wrong guess {n}"))
            .await;
        throttled |= reply.status == StatusCode::TOO_MANY_REQUESTS;
        secrets.push(format!("wrong guess {n}"));
    }
    assert!(throttled);
    let tokens = server.login(EMAIL, PASSWORD).await.tokens();
    let reply = server
        .post_json(
            "/auth/change-password",
            Some(&tokens.access),
            json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    // A refresh token presented twice.
    let form = format!("grant_type=refresh_token&refresh_token={}", tokens.refresh);
    assert_eq!(
        server.post_form("/auth/token", None, &form).await.status,
        StatusCode::OK
    );
    assert_eq!(
        server.post_form("/auth/token", None, &form).await.status,
        StatusCode::BAD_REQUEST
    );
    let id = server.id_of(EMAIL).await;
    // An admin's changes: stored claims, a new password.
    let claims = request(
        "PUT",
        &format!("/admin/users/{id}/claims"),
        Some(&admin.access),
        Some(Payload::Json(json!({ "company_id": 7 }))),
    );
    let reply = server.send(claims).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    let password = request(
        "PUT",
        &format!("/admin/users/{id}/password"),
        Some(&admin.access),
        Some(Payload::Json(json!({ "password": ADMIN_SET_PASSWORD }))),
    );
    assert_eq!(server.send(password).await.status, StatusCode::NO_CONTENT);
    secrets.push(ADMIN_SET_PASSWORD.to_owned());
    let reply = server
        .post(&format!("/admin/users/{id}/ban"), Some(&admin.access))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let hash = stored_hash(&server, EMAIL).await;
    secrets.extend([
        tokens.access,
        tokens.refresh,
        admin.access,
        admin.refresh,
        hash,
    ]);
    secrets
}

async fn stored_hash(server: &TestServer, email: &str) -> String {
    use auth_runtime::store::UserStore as _;
    server
        .store
        .user_by_email(email)
        .await
        .unwrap()
        .and_then(|a| a.password_hash)
        .expect("a password hash")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_events_are_logged_without_secrets() {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .init();
    let secrets = Arc::new(Mutex::new(Vec::new()));
    let collected = secrets.clone();
    on_both("security events", move |db| {
        let collected = collected.clone();
        async move {
            let found = account_lifecycle(db).await;
            collected.lock().unwrap().extend(found);
        }
    })
    .await;

    let log = buffer.text();
    let events: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("auth_runtime::security"))
        .collect();
    for event in [
        "registered",
        "registration_for_existing_account",
        "registration_decided",
        "sign_in_failed",
        "sign_in_throttled",
        "signed_in",
        "password_changed",
        "claims_changed",
        "password_set_by_admin",
        "refresh_token_reused",
        "deactivated",
    ] {
        let needle = format!("event=\"{event}\"");
        assert!(
            events.iter().any(|l| l.contains(&needle)),
            "no {event} event in:\n{}",
            events.join("\n")
        );
    }
    // Nothing logged, security event or not, holds an email, a password, a hash or a token.
    assert!(!log.contains(EMAIL), "an email was logged:\n{log}");
    assert!(!log.contains("$argon2"), "a hash was logged:\n{log}");
    for secret in secrets.lock().unwrap().iter() {
        for part in secret.split('.').filter(|p| p.len() >= 8) {
            assert!(!log.contains(part), "a secret was logged:\n{log}");
        }
    }
}
