//! Sign-in from an app's own user table ([`IdentityLoader`]) through the built-in routes, with
//! sessions on SQLite and PostgreSQL: one answer for an unknown user and a wrong password,
//! roles → scopes per login type, the admin login for holders of the admin role only, and
//! refreshes that follow the table (a role taken away narrows, a deactivation ends).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use auth_runtime::prelude::*;
use auth_runtime::routes;
use auth_runtime::store::{Identity, IdentityLoader, SqlStore, StoreFuture};
use auth_runtime::{ConfigError, PasswordHasher};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::db::{TestDb, on_both};
use common::server::login_form;
use common::{Reply, assert_problem, get_as, payload_of, send};
use serde_json::json;

const PASSWORD: &str = "a long passphrase of alice";

/// The app's table: username → identity.
#[derive(Clone, Default)]
struct Users(Arc<Mutex<HashMap<String, Identity>>>);

impl Users {
    fn put(&self, username: &str, identity: Identity) {
        self.0.lock().unwrap().insert(username.to_owned(), identity);
    }

    fn update(&self, username: &str, f: impl FnOnce(Identity) -> Identity) {
        let mut table = self.0.lock().unwrap();
        let identity = table.remove(username).unwrap();
        table.insert(username.to_owned(), f(identity));
    }
}

impl IdentityLoader for Users {
    fn by_username<'a>(&'a self, username: &'a str) -> StoreFuture<'a, Option<Identity>> {
        let found = self.0.lock().unwrap().get(username).cloned();
        Box::pin(async move { Ok(found) })
    }

    fn by_subject<'a>(&'a self, subject: &'a str) -> StoreFuture<'a, Option<Identity>> {
        let found = self
            .0
            .lock()
            .unwrap()
            .values()
            .find(|i| i.subject == subject)
            .cloned();
        Box::pin(async move { Ok(found) })
    }
}

#[requires("reports:read")]
#[route(GET, "/reports")]
async fn reports(user: Principal) -> String {
    user.subject().to_owned()
}

#[derive(SecureRouter)]
#[secure_router(routes(reports))]
struct Api;

fn builder(users: Users) -> auth_runtime::AuthManagerBuilder {
    AuthManager::builder()
        .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
        .login_type(LoginType::new("admin").key(SigningKey::hs256("a1", &[2; 32])))
        .role("reader", ["reports:read"])
        .role("writer", ["reports:write"])
        .role("admin", ["users:*"])
        .identities(users)
}

async fn post_form(app: &Router, path: &str, form: &str) -> Reply {
    send(
        app,
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn an_apps_own_table_signs_in_through_the_built_in_routes() {
    on_both("identity", |db: TestDb| async move {
        let users = Users::default();
        let hash = PasswordHasher::default().hash(PASSWORD).await.unwrap();
        users.put(
            "alice",
            Identity::new("user-1", Some(hash.clone()))
                .roles(["reader", "writer"])
                .claim("tenant", 7),
        );
        users.put(
            "root",
            Identity::new("user-2", Some(hash.clone())).roles(["admin", "reader"]),
        );
        users.put(
            "gone",
            Identity::new("user-3", Some(hash.clone()))
                .roles(["reader"])
                .active(false),
        );
        let manager = builder(users.clone())
            .sessions(db.store().await)
            .build()
            .unwrap();
        let app: Router = routes::with_accounts::<Api>(&manager)
            .unwrap()
            .with_state(manager.clone());

        // Sign-in by username: the token carries the subject, the roles' scopes and claims.
        let reply = post_form(&app, "/auth/login", &login_form("alice", PASSWORD)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let pair = reply.json();
        let access = pair["access_token"].as_str().unwrap().to_owned();
        let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
        let claims = payload_of(&access);
        assert_eq!(claims["sub"], "user-1");
        assert_eq!(claims["scope"], "reports:read reports:write");
        assert_eq!(claims["roles"], json!(["reader", "writer"]));
        assert_eq!(claims["tenant"], 7);
        assert_eq!(
            get_as(&app, "/reports", &access).await.status,
            StatusCode::OK
        );

        // An unknown user and a wrong password: one answer.
        let unknown = post_form(&app, "/auth/login", &login_form("nobody", PASSWORD)).await;
        let wrong = post_form(
            &app,
            "/auth/login",
            &login_form("alice", "not the password"),
        )
        .await;
        for reply in [&unknown, &wrong] {
            assert_problem(
                reply,
                StatusCode::UNAUTHORIZED,
                "Invalid username or password",
            );
        }
        assert_eq!(unknown.body, wrong.body);
        // An inactive user with the right password.
        let gone = post_form(&app, "/auth/login", &login_form("gone", PASSWORD)).await;
        assert_problem(
            &gone,
            StatusCode::UNAUTHORIZED,
            "The account is deactivated",
        );

        // The admin login type: holders of the admin role only.
        let refused = post_form(&app, "/admin/login", &login_form("alice", PASSWORD)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
        let admin = post_form(&app, "/admin/login", &login_form("root", PASSWORD)).await;
        assert_eq!(admin.status, StatusCode::OK, "{}", admin.text());
        let admin_claims = payload_of(admin.json()["access_token"].as_str().unwrap());
        assert_eq!(admin_claims["login_type"], "admin");
        assert_eq!(admin_claims["scope"], "users:* reports:read");

        // The password grant with a narrower scope.
        let narrowed = post_form(
            &app,
            "/auth/token",
            &format!(
                "grant_type=password&{}&scope=reports%3Aread",
                login_form("alice", PASSWORD)
            ),
        )
        .await;
        assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.text());
        let narrowed = payload_of(narrowed.json()["access_token"].as_str().unwrap());
        assert_eq!(narrowed["scope"], "reports:read");

        // A role taken away in the table: the next refresh narrows.
        users.update("alice", |i| i.roles(["reader"]));
        let reply = post_form(
            &app,
            "/auth/token",
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let refreshed = reply.json();
        assert_eq!(
            payload_of(refreshed["access_token"].as_str().unwrap())["scope"],
            "reports:read"
        );
        // Deactivated in the table: the next refresh ends the session.
        users.update("alice", |i| i.active(false));
        let reply = post_form(
            &app,
            "/auth/token",
            &format!(
                "grant_type=refresh_token&refresh_token={}",
                refreshed["refresh_token"].as_str().unwrap()
            ),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
        assert_eq!(reply.json()["error"], "invalid_grant");
        // And the app ends live tokens at once.
        manager.revoke_subject("user-1").await.unwrap();
        assert_eq!(
            get_as(&app, "/reports", &access).await.status,
            StatusCode::UNAUTHORIZED
        );
    })
    .await;
}

/// A user store and an identity loader at once would be two sources of sign-ins.
#[tokio::test]
async fn a_user_store_and_an_identity_loader_are_refused_together() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    let err = builder(Users::default()).store(store).build().unwrap_err();
    assert!(
        matches!(&err, ConfigError::UsersAndIdentities)
            || matches!(&err, ConfigError::Many(all) if all.contains(&ConfigError::UsersAndIdentities)),
        "{err}"
    );
    assert!(err.to_string().contains("identity loader"), "{err}");
}

/// The sign-in hook sees the request: its claims ride in every token of the session, refreshes
/// included, never override what the grant says, and a reserved name fails the sign-in.
#[tokio::test]
async fn sign_in_claims_see_the_request_and_last_the_session() {
    use auth_runtime::accounts::AccountsConfig;

    on_both("sign-in claims", |db: TestDb| async move {
        let users = Users::default();
        let hash = PasswordHasher::default().hash(PASSWORD).await.unwrap();
        users.put(
            "alice",
            Identity::new("user-1", Some(hash))
                .roles(["reader"])
                .claim("tenant", 7),
        );
        let accounts = AccountsConfig::default().sign_in_claims(|ctx| {
            let mut extra = serde_json::Map::new();
            let device = ctx
                .headers
                .get("x-device")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none");
            extra.insert("device".into(), json!(device));
            extra.insert("signed_in_as".into(), json!(ctx.login_type));
            // The grant's own claim wins over the hook's.
            extra.insert("tenant".into(), json!(999));
            if device == "evil" {
                extra.insert("sub".into(), json!("someone else"));
            }
            extra
        });
        let manager = builder(users.clone())
            .accounts(accounts)
            .sessions(db.store().await)
            .build()
            .unwrap();
        let app: Router = routes::with_accounts::<Api>(&manager)
            .unwrap()
            .with_state(manager.clone());
        let login = |device: &'static str| {
            Request::post("/auth/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("x-device", device)
                .body(Body::from(login_form("alice", PASSWORD)))
                .unwrap()
        };
        let reply = send(&app, login("phone-42")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let access = payload_of(reply.json()["access_token"].as_str().unwrap());
        assert_eq!(access["device"], "phone-42");
        assert_eq!(access["signed_in_as"], "user");
        assert_eq!(access["tenant"], 7);
        assert!(access.get("session_claims").is_none(), "{access}");

        // A refresh keeps them (the token endpoint's request has no `x-device`).
        users.update("alice", |i| i.claim("tenant", 8));
        let refresh = reply.json()["refresh_token"].as_str().unwrap().to_owned();
        let refreshed = post_form(
            &app,
            "/auth/token",
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
        )
        .await;
        assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text());
        let access = payload_of(refreshed.json()["access_token"].as_str().unwrap());
        assert_eq!(access["device"], "phone-42");
        assert_eq!(access["tenant"], 8, "the grant's claims are re-read");

        // A hook that returns a reserved name: no tokens, a 500 that says nothing of it.
        let reply = send(&app, login("evil")).await;
        assert_eq!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{}",
            reply.text()
        );
        assert!(!reply.text().contains("someone else"));
    })
    .await;
}
