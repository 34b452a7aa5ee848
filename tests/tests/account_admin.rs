//! An admin's account changes on the reference server (docs/architecture.md §5), on SQLite and
//! on PostgreSQL: `PUT /admin/users/{user_id}/claims` and `PUT /admin/users/{user_id}/password`,
//! and the façade's look-ups behind them (`AuthManager::account_by_email`, `account`).

mod common;

use std::sync::{Arc, Mutex};

use auth_runtime::TokenRequest;
use auth_runtime::accounts::AccountError;
use auth_runtime::store::{
    Account, AccountStatus, NewAccount, PasswordWrite, SqlStore, StoreFuture, UserStore,
};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use common::db::{TestDb, on_both};
use common::server::{PASSWORD, TestServer, Tokens};
use common::{Reply, assert_invalid_token, assert_oauth_error, assert_problem, payload_of};

const ANN: &str = "ann@example.com";
const NEW_PASSWORD: &str = "a brand new secret 42";

fn status(reply: &Reply, expected: StatusCode) {
    assert_eq!(reply.status, expected, "{}", reply.text());
}

/// `PUT path` with a raw JSON body, as `token`.
async fn put_raw(server: &TestServer, path: &str, token: &str, body: String) -> Reply {
    server
        .send(
            Request::put(path)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .expect("request"),
        )
        .await
}

/// `PUT path` with a JSON body, as `token`.
async fn put_json(server: &TestServer, path: &str, token: &str, body: Value) -> Reply {
    put_raw(server, path, token, body.to_string()).await
}

/// `PUT /admin/users/{id}/claims`.
async fn set_claims(server: &TestServer, id: &str, token: &str, claims: Value) -> Reply {
    put_json(server, &format!("/admin/users/{id}/claims"), token, claims).await
}

/// `PUT /admin/users/{id}/password`.
async fn set_password(server: &TestServer, id: &str, token: &str, password: &str) -> Reply {
    put_json(
        server,
        &format!("/admin/users/{id}/password"),
        token,
        json!({ "password": password }),
    )
    .await
}

/// `POST /auth/token` with `grant_type=refresh_token`.
async fn refresh(server: &TestServer, token: &str) -> Reply {
    server
        .post_form(
            "/auth/token",
            None,
            &format!("grant_type=refresh_token&refresh_token={token}"),
        )
        .await
}

/// A refresh token that is no longer good.
fn refused_refresh(reply: &Reply) {
    assert_oauth_error(
        reply,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "The token has been revoked",
    );
}

/// A key of the caller for `reports:read`.
async fn new_key(server: &TestServer, token: &str) -> String {
    let reply = server
        .post_json(
            "/auth/api-keys",
            Some(token),
            json!({ "name": "ci", "scopes": ["reports:read"], "expires_in_days": 30 }),
        )
        .await;
    status(&reply, StatusCode::CREATED);
    reply.json()["key"].as_str().expect("key").to_owned()
}

/// `GET /reports/1` with `X-API-Key: key`.
async fn with_key(server: &TestServer, key: &str) -> Reply {
    server
        .send(
            Request::get("/reports/1")
                .header("x-api-key", key)
                .body(Body::empty())
                .expect("request"),
        )
        .await
}

/// The stored account.
async fn stored(server: &TestServer, id: &str) -> Account {
    server
        .store
        .user_by_id(id)
        .await
        .expect("store")
        .expect("account")
}

/// How many rows of `auth_users` match `condition` (read outside the store).
async fn users_where(db: &TestDb, condition: &str) -> i64 {
    db.scalar(&format!(
        "SELECT COUNT(*) FROM auth_users WHERE {condition}"
    ))
    .await
}

fn object(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().expect("a JSON object").clone()
}

// ---------------------------------------------------------------------------------------------
// Stored claims
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn claims_reach_the_next_sign_in_and_a_refresh() {
    on_both("set claims", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let before = server.approved_user(ANN).await;
        let key = new_key(&server, &before.access).await;
        let id = server.id_of(ANN).await;
        let version = stored(&server, &id).await.credential_version;
        assert!(payload_of(&before.access).get("company_id").is_none());

        let reply = set_claims(
            &server,
            &id,
            &admin.access,
            json!({ "company_id": 7, "plan": "team", "tags": ["a", "b"] }),
        )
        .await;
        status(&reply, StatusCode::NO_CONTENT);
        assert!(reply.body.is_empty());

        // Stored as given; no credential change.
        let account = stored(&server, &id).await;
        assert_eq!(
            account.claims,
            object(json!({ "company_id": 7, "plan": "team", "tags": ["a", "b"] }))
        );
        assert_eq!(account.credential_version, version);
        assert_eq!(account.roles, ["user"]);

        // The live session, its refresh token and the key go on.
        status(
            &server.get("/auth/me", Some(&before.access)).await,
            StatusCode::OK,
        );
        status(&with_key(&server, &key).await, StatusCode::OK);

        // A refresh picks the claims up, beside the ones the runtime writes.
        let refreshed = refresh(&server, &before.refresh).await.tokens();
        let payload = payload_of(&refreshed.access);
        assert_eq!(payload["company_id"], 7);
        assert_eq!(payload["plan"], "team");
        assert_eq!(payload["tags"], json!(["a", "b"]));
        assert_eq!(payload["email"], ANN);
        assert_eq!(payload["account_status"], "active");
        assert_eq!(payload["roles"], json!(["user"]));
        assert_eq!(payload["sub"], id.as_str());
        assert_eq!(payload_of(&refreshed.refresh)["company_id"], 7);
        // So does the next sign-in.
        let next = server.login(ANN, PASSWORD).await.tokens();
        assert_eq!(payload_of(&next.access)["company_id"], 7);

        // Replaced, not merged: a claim left out is gone at the next refresh.
        let reply = set_claims(&server, &id, &admin.access, json!({ "plan": "pro" })).await;
        status(&reply, StatusCode::NO_CONTENT);
        let again = refresh(&server, &refreshed.refresh).await.tokens();
        let payload = payload_of(&again.access);
        assert_eq!(payload["plan"], "pro");
        assert!(payload.get("company_id").is_none(), "{payload}");
        // And `{}` clears them.
        let reply = set_claims(&server, &id, &admin.access, json!({})).await;
        status(&reply, StatusCode::NO_CONTENT);
        assert!(stored(&server, &id).await.claims.is_empty());
        let cleared = server.login(ANN, PASSWORD).await.tokens();
        assert!(payload_of(&cleared.access).get("plan").is_none());
        assert_eq!(stored(&server, &id).await.credential_version, version);
    })
    .await;
}

#[tokio::test]
async fn reserved_names_and_bodies_that_are_no_claims_are_refused() {
    on_both("reserved claims", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let user = server.approved_user(ANN).await;
        let id = server.id_of(ANN).await;
        let claims = json!({ "company_id": 7 });
        status(
            &set_claims(&server, &id, &admin.access, claims.clone()).await,
            StatusCode::NO_CONTENT,
        );

        for name in [
            "email",
            "roles",
            "account_status",
            "service_account",
            "sub",
            "scope",
            "login_type",
            "exp",
            "sid",
            "jti",
        ] {
            let mut body = json!({ "company_id": 8 });
            body[name] = json!("forged");
            assert_problem(
                &set_claims(&server, &id, &admin.access, body).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("The claim `{name}` is reserved: the runtime sets it"),
            );
        }
        for body in [json!([]), json!("company_id"), json!(7), Value::Null] {
            assert_problem(
                &set_claims(&server, &id, &admin.access, body).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "The request body must be a JSON object of claims by name",
            );
        }
        assert_problem(
            &put_raw(
                &server,
                &format!("/admin/users/{id}/claims"),
                &admin.access,
                r#"{"company_id": "#.into(),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "The request body is not valid JSON",
        );
        let large = json!({ "blob": "x".repeat(3000) });
        let reply = set_claims(&server, &id, &admin.access, large).await;
        status(&reply, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.detail().contains("at most 2048"), "{}", reply.text());

        // Nothing was written: the claims set first are still the account's.
        assert_eq!(stored(&server, &id).await.claims, object(claims));
        let payload = payload_of(&refresh(&server, &user.refresh).await.tokens().access);
        assert_eq!(payload["email"], ANN);
        assert_eq!(payload["roles"], json!(["user"]));
        assert_eq!(payload["company_id"], 7);
    })
    .await;
}

#[tokio::test]
async fn a_service_account_keeps_its_marks() {
    on_both("service account claims", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let reply = server
            .post_json(
                "/admin/service-accounts",
                Some(&admin.access),
                json!({ "name": "ci", "roles": ["reporter"] }),
            )
            .await;
        status(&reply, StatusCode::CREATED);
        let created = reply.json();
        let id = created["id"].as_str().expect("id").to_owned();
        let secret = created["client_secret"]
            .as_str()
            .expect("secret")
            .to_owned();

        assert_problem(
            &set_claims(&server, &id, &admin.access, json!({ "name": "other" })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The claim `name` is reserved: the runtime sets it",
        );
        status(
            &set_claims(&server, &id, &admin.access, json!({ "team": "ops" })).await,
            StatusCode::NO_CONTENT,
        );
        assert_eq!(
            stored(&server, &id).await.claims,
            object(json!({ "service_account": true, "name": "ci", "team": "ops" }))
        );
        // Still a service account: the client-credentials grant works and carries the claim.
        let reply = server
            .post_form(
                "/auth/token",
                None,
                &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
            )
            .await;
        status(&reply, StatusCode::OK);
        let payload = payload_of(reply.json()["access_token"].as_str().expect("token"));
        assert_eq!(payload["login_type"], "service");
        assert_eq!(payload["team"], "ops");
        assert_eq!(payload["name"], "ci");

        // It has a client secret, not a password.
        assert_problem(
            &set_password(&server, &id, &admin.access, NEW_PASSWORD).await,
            StatusCode::CONFLICT,
            "A service account has a client secret, not a password",
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// An admin's password reset
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_admin_password_reset_ends_every_session_and_key() {
    on_both("admin password reset", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let first = server.approved_user(ANN).await;
        let second = server.login(ANN, PASSWORD).await.tokens();
        let key = new_key(&server, &first.access).await;
        status(&with_key(&server, &key).await, StatusCode::OK);
        let id = server.id_of(ANN).await;
        let before = stored(&server, &id).await;

        let reply = set_password(&server, &id, &admin.access, NEW_PASSWORD).await;
        status(&reply, StatusCode::NO_CONTENT);
        assert!(reply.body.is_empty());

        // The old password is refused, the new one works at once.
        status(&server.login(ANN, PASSWORD).await, StatusCode::UNAUTHORIZED);
        let fresh = server.login(ANN, NEW_PASSWORD).await.tokens();
        status(
            &server.get("/auth/me", Some(&fresh.access)).await,
            StatusCode::OK,
        );
        // Every earlier session ended, access and refresh tokens alike, and the key.
        for tokens in [&first, &second] {
            assert_invalid_token(
                &server.get("/auth/me", Some(&tokens.access)).await,
                "user",
                "The token has been revoked",
            );
            refused_refresh(&refresh(&server, &tokens.refresh).await);
        }
        assert_invalid_token(
            &with_key(&server, &key).await,
            "user",
            "The API key is not valid",
        );
        // The new session lives on and refreshes.
        let refreshed = refresh(&server, &fresh.refresh).await.tokens();
        status(
            &server.get("/auth/me", Some(&refreshed.access)).await,
            StatusCode::OK,
        );
        // The admin's own session is untouched.
        status(
            &server.get("/admin/users", Some(&admin.access)).await,
            StatusCode::OK,
        );

        // The row: a new argon2id PHC string, never the password; a credential change.
        let after = stored(&server, &id).await;
        let hash = after.password_hash.clone().expect("a hash");
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert_ne!(Some(hash.as_str()), before.password_hash.as_deref());
        assert!(!hash.contains(NEW_PASSWORD));
        assert_eq!(after.credential_version, before.credential_version + 1);
        assert_eq!(after.status, before.status);
        assert_eq!(after.roles, before.roles);
        assert_eq!(
            users_where(
                &db,
                &format!("public_id = '{id}' AND password_hash LIKE '$argon2id$%'")
            )
            .await,
            1
        );
        assert_eq!(
            users_where(&db, &format!("password_hash LIKE '%{NEW_PASSWORD}%'")).await,
            0
        );
        // The same new password once more is one more credential change.
        status(
            &set_password(&server, &id, &admin.access, NEW_PASSWORD).await,
            StatusCode::NO_CONTENT,
        );
        assert_eq!(
            stored(&server, &id).await.credential_version,
            before.credential_version + 2
        );
        status(
            &server.get("/auth/me", Some(&refreshed.access)).await,
            StatusCode::UNAUTHORIZED,
        );
    })
    .await;
}

#[tokio::test]
async fn a_weak_password_changes_nothing() {
    on_both("weak admin password", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let user = server.approved_user(ANN).await;
        let id = server.id_of(ANN).await;
        let before = stored(&server, &id).await;

        assert_problem(
            &set_password(&server, &id, &admin.access, "short").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The password must have at least 8 characters",
        );
        assert_problem(
            &set_password(&server, &id, &admin.access, &"x".repeat(129)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The password must have at most 128 characters",
        );
        assert_problem(
            &set_password(&server, &id, &admin.access, "password1").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The password is too common: choose one that is harder to guess",
        );
        for body in [json!({}), json!({ "password": 12345678 })] {
            status(
                &put_json(
                    &server,
                    &format!("/admin/users/{id}/password"),
                    &admin.access,
                    body,
                )
                .await,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }

        // Nothing changed: the row, the session, the old password.
        let after = stored(&server, &id).await;
        assert_eq!(after.password_hash, before.password_hash);
        assert_eq!(after.credential_version, before.credential_version);
        status(
            &server.get("/auth/me", Some(&user.access)).await,
            StatusCode::OK,
        );
        let refreshed = refresh(&server, &user.refresh).await.tokens();
        status(
            &server.get("/auth/me", Some(&refreshed.access)).await,
            StatusCode::OK,
        );
        status(&server.login(ANN, PASSWORD).await, StatusCode::OK);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Who may, and on what
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_accounts_are_404_and_only_admins_with_users_modify_may() {
    on_both("account admin guard", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let user = server.approved_user(ANN).await;
        let id = server.id_of(ANN).await;

        for unknown in ["nobody", "00000000-0000-0000-0000-000000000000"] {
            assert_problem(
                &set_claims(&server, unknown, &admin.access, json!({ "plan": "pro" })).await,
                StatusCode::NOT_FOUND,
                "No such account",
            );
            assert_problem(
                &set_password(&server, unknown, &admin.access, NEW_PASSWORD).await,
                StatusCode::NOT_FOUND,
                "No such account",
            );
        }

        // A `user` token is refused by login type (401, as on every admin route); an `admin`
        // token without `users:modify` by scope (403).
        let admin_id = server.id_of(common::server::ADMIN_EMAIL).await;
        let narrow: Tokens = {
            let pair = server
                .manager
                .create_session(&TokenRequest::new("admin", admin_id).scopes(["users:list"]))
                .await
                .expect("an admin session");
            Tokens {
                access: pair.access_token,
                refresh: pair.refresh_token,
            }
        };
        for token in [&user.access, &narrow.access] {
            let claims = set_claims(&server, &id, token, json!({ "plan": "pro" })).await;
            let password = set_password(&server, &id, token, NEW_PASSWORD).await;
            for reply in [claims, password] {
                if *token == user.access {
                    status(&reply, StatusCode::UNAUTHORIZED);
                } else {
                    status(&reply, StatusCode::FORBIDDEN);
                    assert_eq!(
                        reply.www_authenticate(),
                        Some(
                            r#"Bearer realm="admin", error="insufficient_scope", scope="users:modify""#
                        )
                    );
                }
            }
        }
        // Neither did anything.
        assert!(stored(&server, &id).await.claims.is_empty());
        status(&server.login(ANN, PASSWORD).await, StatusCode::OK);
        status(
            &server.get("/auth/me", Some(&user.access)).await,
            StatusCode::OK,
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The façade's look-ups
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn accounts_are_found_by_any_spelling_of_their_email_and_by_id() {
    on_both("account look-ups", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user(ANN).await;
        let id = server.id_of(ANN).await;
        let manager = &server.manager;
        for spelling in [
            ANN,
            "  ann@example.com\t",
            "ANN@EXAMPLE.COM",
            " Ann@Example.Com ",
            "ａｎｎ@ｅｘａｍｐｌｅ.ｃｏｍ",
        ] {
            let found = manager
                .account_by_email(spelling)
                .await
                .expect("store")
                .unwrap_or_else(|| panic!("{spelling:?} is ann's"));
            assert_eq!(found.id, id);
            assert_eq!(found.email, ANN);
        }
        for nobody in [
            "bob@example.com",
            "ann",
            "",
            "   ",
            "ann\u{200B}@example.com",
        ] {
            assert_eq!(
                manager.account_by_email(nobody).await.expect("store"),
                None,
                "{nobody:?}"
            );
        }
        let account = manager.account(&id).await.expect("store").expect("ann");
        assert_eq!(account.email, ANN);
        assert_eq!(
            Some(account),
            manager.account_by_email(ANN).await.expect("store")
        );
        assert_eq!(manager.account("nobody").await.expect("store"), None);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Races: each admin write held right after it read the account, a competing change completed,
// then the write resumed
// ---------------------------------------------------------------------------------------------

/// A held read: `read` fires once the account was read, `resume` lets the reader go on.
struct Hold {
    read: oneshot::Sender<()>,
    resume: oneshot::Receiver<()>,
}

/// [`SqlStore`] whose next `user_by_id` can be held after it has read the account.
#[derive(Clone)]
struct PausingStore {
    inner: SqlStore,
    hold: Arc<Mutex<Option<Hold>>>,
}

impl PausingStore {
    /// Runs `first` until it has read the account (its next `user_by_id`), then `change` to
    /// the end, then lets `first` go on; returns what `first` returned.
    async fn read_then_change<T: Send + 'static>(
        &self,
        first: impl Future<Output = T> + Send + 'static,
        change: impl Future<Output = ()>,
    ) -> T {
        let (read_tx, read_rx) = oneshot::channel();
        let (resume_tx, resume_rx) = oneshot::channel();
        *self.hold.lock().unwrap() = Some(Hold {
            read: read_tx,
            resume: resume_rx,
        });
        let first = tokio::spawn(first);
        read_rx.await.expect("the first operation read the account");
        change.await;
        resume_tx.send(()).expect("the first operation waits");
        first.await.expect("the first operation")
    }
}

impl UserStore for PausingStore {
    fn create_user(&self, account: NewAccount) -> StoreFuture<'_, Account> {
        self.inner.create_user(account)
    }
    fn user_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<Account>> {
        self.inner.user_by_email(email)
    }
    fn user_by_id<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Account>> {
        Box::pin(async move {
            let account = self.inner.user_by_id(id).await?;
            let hold = self.hold.lock().unwrap().take();
            if let Some(hold) = hold {
                let _ = hold.read.send(());
                let _ = hold.resume.await;
            }
            Ok(account)
        })
    }
    fn replace_password_hash<'a>(
        &'a self,
        id: &'a str,
        current: &'a str,
        new: &'a str,
        write: PasswordWrite,
    ) -> StoreFuture<'a, bool> {
        self.inner.replace_password_hash(id, current, new, write)
    }
    fn transition_status<'a>(
        &'a self,
        id: &'a str,
        from: &'a [AccountStatus],
        to: AccountStatus,
    ) -> StoreFuture<'a, bool> {
        self.inner.transition_status(id, from, to)
    }
    fn set_roles_and_claims<'a>(
        &'a self,
        id: &'a str,
        roles: &'a [String],
        claims: &'a Map<String, Value>,
    ) -> StoreFuture<'a, bool> {
        self.inner.set_roles_and_claims(id, roles, claims)
    }
    fn set_roles<'a>(&'a self, id: &'a str, roles: &'a [String]) -> StoreFuture<'a, bool> {
        self.inner.set_roles(id, roles)
    }
    fn set_claims<'a>(
        &'a self,
        id: &'a str,
        claims: &'a Map<String, Value>,
    ) -> StoreFuture<'a, bool> {
        self.inner.set_claims(id, claims)
    }
    fn users_with_status(&self, status: AccountStatus) -> StoreFuture<'_, Vec<Account>> {
        self.inner.users_with_status(status)
    }
    fn users_page<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: u32,
    ) -> StoreFuture<'a, Option<Vec<Account>>> {
        self.inner.users_page(after, limit)
    }
}

/// The reference server reading accounts through a [`PausingStore`] on the same database.
async fn pausing_server(db: &TestDb) -> (TestServer, PausingStore) {
    let pausing = PausingStore {
        inner: db.store().await,
        hold: Arc::default(),
    };
    let users = pausing.clone();
    let server = TestServer::start_with(db, move |builder| builder.users(users)).await;
    (server, pausing)
}

#[tokio::test]
async fn a_claims_write_racing_a_role_change_undoes_neither() {
    on_both("claims race roles", |db| async move {
        let (server, pausing) = pausing_server(&db).await;
        server.approved_user(ANN).await;
        let id = server.id_of(ANN).await;
        let manager = server.manager.clone();
        let (who, claims) = (id.clone(), object(json!({ "plan": "pro" })));
        let written = pausing
            .read_then_change(
                async move { manager.set_claims(&who, claims).await },
                async {
                    server
                        .manager
                        .set_roles(&id, &["editor".to_owned()])
                        .await
                        .expect("roles set");
                },
            )
            .await;
        assert_eq!(written, Ok(()));
        let account = stored(&server, &id).await;
        assert_eq!(account.roles, ["editor"], "the role change was undone");
        assert_eq!(account.claims, object(json!({ "plan": "pro" })));
        let next = server.login(ANN, PASSWORD).await.tokens();
        let payload = payload_of(&next.access);
        assert_eq!(payload["roles"], json!(["editor"]));
        assert_eq!(payload["plan"], "pro");
    })
    .await;
}

#[tokio::test]
async fn a_role_change_racing_a_claims_write_undoes_neither() {
    on_both("roles race claims", |db| async move {
        let (server, pausing) = pausing_server(&db).await;
        server.approved_user(ANN).await;
        let id = server.id_of(ANN).await;
        let manager = server.manager.clone();
        let who = id.clone();
        let written = pausing
            .read_then_change(
                async move { manager.set_roles(&who, &["editor".to_owned()]).await },
                async {
                    server
                        .manager
                        .set_claims(&id, object(json!({ "company_id": 8 })))
                        .await
                        .expect("claims set");
                },
            )
            .await;
        assert_eq!(written, Ok(()));
        let account = stored(&server, &id).await;
        assert_eq!(
            account.claims,
            object(json!({ "company_id": 8 })),
            "the claims write was undone"
        );
        assert_eq!(account.roles, ["editor"]);
    })
    .await;
}

#[tokio::test]
async fn an_admin_password_racing_a_password_change_is_the_one_that_stays() {
    on_both("admin password race", |db| async move {
        let (server, pausing) = pausing_server(&db).await;
        let tokens = server.approved_user(ANN).await;
        let id = server.id_of(ANN).await;
        let version = stored(&server, &id).await.credential_version;
        let ann = server
            .manager
            .authenticate_token(&tokens.access, &["user"])
            .await
            .expect("ann");
        let manager = server.manager.clone();
        let who = id.clone();
        let written = pausing
            .read_then_change(
                async move { manager.set_password(&who, NEW_PASSWORD).await },
                async {
                    server
                        .manager
                        .change_password(&ann, PASSWORD, "the owner's own choice")
                        .await
                        .expect("password changed");
                },
            )
            .await;
        assert_eq!(written, Ok(()));
        // Both writes happened, the admin's last: its hash was read again, not overwritten blind.
        assert_eq!(stored(&server, &id).await.credential_version, version + 2);
        for old in [PASSWORD, "the owner's own choice"] {
            assert_eq!(
                server.manager.sign_in(ANN, old, "user", None).await,
                Err(AccountError::InvalidCredentials)
            );
        }
        server
            .manager
            .sign_in(ANN, NEW_PASSWORD, "user", None)
            .await
            .expect("the admin's password signs in");
        // The session the owner changed the password from ended too.
        assert_invalid_token(
            &server.get("/auth/me", Some(&tokens.access)).await,
            "user",
            "The token has been revoked",
        );
        refused_refresh(&refresh(&server, &tokens.refresh).await);
    })
    .await;
}
