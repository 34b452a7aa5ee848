//! `TokenRequest::roles` and `TokenRequest::expires_in` on the wire: a token issued with roles
//! passes the `#[roles]` and `#[requires]` gates its roles' scopes open (and no other), an
//! unknown role issues nothing, and a token lives as long as asked within its login type's
//! `access_ttl`.

mod common;

use std::time::Duration;

use auth_runtime::accounts::AccountsConfig;
use auth_runtime::prelude::*;
use auth_runtime::store::SqlStore;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode, header};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use common::{Reply, assert_ok, assert_problem, get_as, payload_of, send};

#[roles("editor")]
#[route(GET, "/articles/edit")]
async fn edit() -> &'static str {
    "edit"
}

/// A scope of `editor`.
#[requires("articles:publish")]
#[route(GET, "/articles/publish")]
async fn publish() -> &'static str {
    "publish"
}

#[roles("editor")]
#[requires("articles:write")]
#[route(GET, "/articles/write")]
async fn write() -> &'static str {
    "write"
}

#[roles("admin")]
#[route(GET, "/admin/panel")]
async fn panel() -> &'static str {
    "panel"
}

/// Not a scope of `editor`.
#[requires("users:delete")]
#[route(GET, "/users/delete")]
async fn delete_user() -> &'static str {
    "delete"
}

/// What the test's own login handler is asked to issue.
#[derive(Deserialize)]
struct Issue {
    login_type: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    /// Seconds.
    expires_in: Option<u64>,
}

impl Issue {
    fn request(&self) -> TokenRequest {
        let mut request = TokenRequest::new(&self.login_type, "alice")
            .scopes(&self.scopes)
            .roles(&self.roles);
        if let Some(secs) = self.expires_in {
            request = request.expires_in(Duration::from_secs(secs));
        }
        request
    }
}

/// An app's own login handler: a stand-alone token, or a session when the manager has a store.
#[public]
#[route(POST, "/issue")]
async fn issue(
    State(manager): State<AuthManager>,
    Json(body): Json<Issue>,
) -> Result<Json<Value>, TokenError> {
    let request = body.request();
    let answer = match manager.create_access_token(&request) {
        Err(TokenError::SessionRequired) => json!(manager.create_session(&request).await?),
        token => json!(token?),
    };
    Ok(Json(answer))
}

#[derive(SecureRouter)]
#[secure_router(routes(edit, publish, write, panel, delete_user, issue))]
struct Api;

fn login_types() -> [LoginType; 2] {
    [
        LoginType::new("user")
            .key(SigningKey::hs256("user-1", &[1; 32]))
            .access_ttl(Duration::from_secs(900)),
        LoginType::new("admin")
            .key(SigningKey::hs256("admin-1", &[2; 32]))
            .access_ttl(Duration::from_secs(3600)),
    ]
}

fn builder() -> auth_runtime::AuthManagerBuilder {
    let [user, admin] = login_types();
    AuthManager::builder()
        .login_type(user)
        .login_type(admin)
        .role("editor", ["articles:write", "articles:publish"])
        .role("admin", ["admin:*", "users:*"])
        .accounts(AccountsConfig::default().role_login_types("admin", ["admin"]))
}

/// A stateless manager (tokens by `create_access_token`).
fn stateless() -> AuthManager {
    builder().build().expect("valid configuration")
}

/// A manager with a session store (tokens by `create_session`).
async fn with_sessions() -> AuthManager {
    let store = SqlStore::connect("sqlite::memory:").await.expect("store");
    builder()
        .sessions(store)
        .build()
        .expect("valid configuration")
}

async fn post_issue(app: &Router, body: Value) -> Reply {
    let request = Request::builder()
        .method("POST")
        .uri("/issue")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    send(app, request).await
}

/// Issues through `/issue` and returns the answer (a 200 is asserted).
async fn issued(app: &Router, body: Value) -> Value {
    let reply = post_issue(app, body).await;
    serde_json::from_str(&assert_ok(&reply)).expect("JSON token answer")
}

/// The gates an `editor` token passes and those it does not.
async fn assert_editor_gates(app: &Router, token: &str) {
    for path in ["/articles/edit", "/articles/publish", "/articles/write"] {
        assert_ok(&get_as(app, path, token).await);
    }
    assert_problem(
        &get_as(app, "/admin/panel", token).await,
        StatusCode::FORBIDDEN,
        "Token does not hold the required role: admin",
    );
    assert_problem(
        &get_as(app, "/users/delete", token).await,
        StatusCode::FORBIDDEN,
        "Token is missing required scope: users:delete",
    );
}

#[tokio::test]
async fn a_role_token_passes_the_gates_of_its_role_and_no_other() {
    let app = Api::router().with_state(stateless());
    let answer = issued(&app, json!({"login_type": "user", "roles": ["editor"]})).await;
    let token = answer["access_token"].as_str().expect("access token");
    let payload = payload_of(token);
    assert_eq!(payload["scope"], "articles:write articles:publish");
    assert_eq!(payload["roles"], json!(["editor"]));
    assert_editor_gates(&app, token).await;
}

#[tokio::test]
async fn role_scopes_join_the_explicit_ones_once() {
    let app = Api::router().with_state(stateless());
    let answer = issued(
        &app,
        json!({"login_type": "user", "scopes": ["users:delete", "articles:write"], "roles": ["editor"]}),
    )
    .await;
    let token = answer["access_token"].as_str().expect("access token");
    assert_eq!(
        payload_of(token)["scope"],
        "users:delete articles:write articles:publish"
    );
    assert_ok(&get_as(&app, "/articles/edit", token).await);
    assert_ok(&get_as(&app, "/users/delete", token).await);
}

#[tokio::test]
async fn a_session_of_roles_passes_the_gates_before_and_after_a_refresh() {
    let manager = with_sessions().await;
    let app = Api::router().with_state(manager.clone());
    let answer = issued(&app, json!({"login_type": "user", "roles": ["editor"]})).await;
    let token = answer["access_token"].as_str().expect("access token");
    assert!(answer["refresh_token"].is_string());
    assert_editor_gates(&app, token).await;

    let refresh = answer["refresh_token"].as_str().expect("refresh token");
    let next = manager.refresh(refresh).await.expect("refresh");
    assert_eq!(payload_of(&next.access_token)["roles"], json!(["editor"]));
    assert_editor_gates(&app, &next.access_token).await;
}

#[tokio::test]
async fn an_unknown_role_issues_nothing() {
    for manager in [stateless(), with_sessions().await] {
        let request = TokenRequest::new("user", "alice").roles(["editor", "editr"]);
        let err = match manager.create_access_token(&request) {
            Err(TokenError::SessionRequired) => manager.create_session(&request).await,
            other => other.map(|_| unreachable!("issued a token with an unknown role")),
        }
        .unwrap_err();
        assert_eq!(err, TokenError::UnknownRole("editr".into()));
        assert!(err.to_string().contains("role `editr` is not configured"));

        // As a handler's error: a 500 that tells the client nothing.
        let app = Api::router().with_state(manager);
        let reply = post_issue(&app, json!({"login_type": "user", "roles": ["editr"]})).await;
        assert_problem(&reply, StatusCode::INTERNAL_SERVER_ERROR, "Internal error");
        assert!(!reply.text().contains("editr"));
    }
}

#[tokio::test]
async fn a_role_limited_to_other_login_types_issues_nothing_there() {
    let manager = stateless();
    let err = manager
        .create_access_token(&TokenRequest::new("user", "alice").roles(["admin"]))
        .unwrap_err();
    assert_eq!(
        err,
        TokenError::RoleNotGranted {
            role: "admin".into(),
            login_type: "user".into()
        }
    );
    let app = Api::router().with_state(manager);
    let reply = post_issue(&app, json!({"login_type": "user", "roles": ["admin"]})).await;
    assert_problem(&reply, StatusCode::INTERNAL_SERVER_ERROR, "Internal error");

    // On its own login type the role is granted.
    let answer = issued(&app, json!({"login_type": "admin", "roles": ["admin"]})).await;
    let token = answer["access_token"].as_str().expect("access token");
    assert_ok(&get_as(&app, "/admin/panel", token).await);
    assert_ok(&get_as(&app, "/users/delete", token).await);
}

/// `exp - iat` of a token, from its payload.
fn lifetime_of(token: &str) -> u64 {
    let payload = payload_of(token);
    let (iat, exp) = (payload["iat"].as_u64(), payload["exp"].as_u64());
    exp.expect("exp") - iat.expect("iat")
}

#[tokio::test]
async fn a_token_lives_as_long_as_asked_within_its_login_type() {
    for manager in [stateless(), with_sessions().await] {
        let app = Api::router().with_state(manager);
        // (login type, asked, lived): shorter as asked, longer capped, none the login type's.
        for (login_type, asked, lived) in [
            ("user", Some(60), 60),
            ("user", Some(1), 1),
            ("user", Some(900), 900),
            ("user", Some(901), 900),
            ("user", Some(7 * 24 * 3600), 900),
            ("user", None, 900),
            ("admin", Some(1800), 1800),
            ("admin", Some(7200), 3600),
        ] {
            let answer = issued(
                &app,
                json!({"login_type": login_type, "roles": ["editor"], "expires_in": asked}),
            )
            .await;
            let token = answer["access_token"].as_str().expect("access token");
            assert_eq!(lifetime_of(token), lived, "{login_type}, asked {asked:?}");
            assert_eq!(answer["expires_in"], lived, "{login_type}, asked {asked:?}");
            // The token works (a capped one is within what verification accepts).
            assert_ok(&get_as(&app, "/articles/edit", token).await);
            if let Some(refresh) = answer["refresh_token"].as_str() {
                // The refresh token keeps the login type's lifetime (1 day by default).
                assert_eq!(lifetime_of(refresh), 24 * 3600);
            }
        }
    }
}

#[tokio::test]
async fn a_session_keeps_its_lifetime_across_refreshes() {
    let manager = with_sessions().await;
    let request = TokenRequest::new("user", "alice").expires_in(Duration::from_secs(45));
    let pair = manager.create_session(&request).await.expect("session");
    let mut refresh = pair.refresh_token;
    for _ in 0..2 {
        let next = manager.refresh(&refresh).await.expect("refresh");
        assert_eq!(next.expires_in, 45);
        assert_eq!(lifetime_of(&next.access_token), 45);
        refresh = next.refresh_token;
    }
}

#[tokio::test]
async fn a_zero_lifetime_issues_nothing() {
    for manager in [stateless(), with_sessions().await] {
        let request = TokenRequest::new("user", "alice").expires_in(Duration::ZERO);
        let err = match manager.create_access_token(&request) {
            Err(TokenError::SessionRequired) => manager.create_session(&request).await,
            other => other.map(|_| unreachable!("issued a token with no lifetime")),
        }
        .unwrap_err();
        assert_eq!(err, TokenError::InvalidLifetime(Duration::ZERO));
        assert_eq!(
            err.to_string(),
            "a token lifetime must be at least one second, not 0ns"
        );

        let app = Api::router().with_state(manager);
        let reply = post_issue(&app, json!({"login_type": "user", "expires_in": 0})).await;
        assert_problem(&reply, StatusCode::INTERNAL_SERVER_ERROR, "Internal error");
    }
}
