//! The reference server (docs/architecture.md §5), in-process, on SQLite and on PostgreSQL:
//! every account route and rule, on the wire.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use auth_runtime::SessionConfig;
use auth_runtime::accounts::AdminSeed;
use auth_runtime::store::{AccountStatus, UserStore as _};
use axum::http::{StatusCode, header};
use serde_json::{Map, Value, json};

use common::db::{TestDb, on_both};
use common::server::{
    PASSWORD, STALENESS, TestServer, Tokens, from_ip, login_form, raw_status, request,
};
use common::{Reply, assert_invalid_token, assert_oauth_error, assert_problem, payload_of};

fn revoked(reply: &Reply, realm: &str) {
    assert_invalid_token(reply, realm, "The token has been revoked");
}

/// A refresh token that is no longer good: `invalid_grant` (RFC 6749 §5.2).
fn refused_refresh(reply: &Reply) {
    assert_oauth_error(
        reply,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "The token has been revoked",
    );
}

fn ok(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
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

// ---------------------------------------------------------------------------------------------
// Public routes and the route table
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn health_and_the_route_table() {
    on_both("health", |db| async move {
        let server = TestServer::start(&db).await;
        let reply = server.get("/health", None).await;
        ok(&reply);
        assert_eq!(reply.text(), "ok");
    })
    .await;
    let table: Vec<(&str, &str, bool, &[&str])> = examples::Api::routes()
        .iter()
        .chain(auth_runtime::routes::AccountRoutes::routes())
        .chain(auth_runtime::routes::UserAdminRoutes::routes())
        .chain(auth_runtime::routes::PasswordResetRoutes::routes())
        .map(|r| (r.method, r.path, r.public, r.login_types))
        .collect();
    let admin: &[&str] = &["admin"];
    let any: &[&str] = &[];
    assert_eq!(
        table,
        [
            ("GET", "/health", true, any),
            ("GET", "/reports/{id}", false, any),
            ("POST", "/reports", false, any),
            ("GET", "/admin/dashboard", false, admin),
            ("POST", "/admin/users/{user_id}/ban", false, admin),
            ("GET", "/billing", false, any),
            ("POST", "/auth/register", true, any),
            ("POST", "/auth/login", true, any),
            ("POST", "/admin/login", true, any),
            ("POST", "/auth/token", true, any),
            ("POST", "/auth/logout", false, any),
            ("GET", "/auth/me", false, any),
            ("POST", "/auth/change-password", false, any),
            ("GET", "/auth/sessions", false, any),
            ("DELETE", "/auth/sessions/{id}", false, any),
            ("POST", "/auth/api-keys", false, any),
            ("GET", "/auth/api-keys", false, any),
            ("DELETE", "/auth/api-keys/{id}", false, any),
            ("GET", "/auth/pending", false, admin),
            ("POST", "/auth/approve", false, admin),
            ("POST", "/auth/reject", false, admin),
            ("GET", "/admin/users", false, admin),
            ("POST", "/admin/users/{user_id}/deactivate", false, admin),
            ("POST", "/admin/users/{user_id}/reactivate", false, admin),
            ("PUT", "/admin/users/{user_id}/roles", false, admin),
            ("PUT", "/admin/users/{user_id}/claims", false, admin),
            ("PUT", "/admin/users/{user_id}/password", false, admin),
            ("GET", "/admin/users/{user_id}/sessions", false, admin),
            ("DELETE", "/admin/users/{user_id}/sessions", false, admin),
            ("POST", "/admin/service-accounts", false, admin),
            (
                "POST",
                "/admin/service-accounts/{user_id}/deactivate",
                false,
                admin
            ),
            (
                "POST",
                "/admin/service-accounts/{user_id}/api-keys",
                false,
                admin
            ),
            ("POST", "/auth/password-reset", true, any),
            ("POST", "/auth/password-reset/confirm", true, any),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn registration_is_pending_until_approved() {
    on_both("registration", |db| async move {
        let server = TestServer::start(&db).await;
        let reply = server
            .post_json(
                "/auth/register",
                None,
                json!({ "email": "Ann@Example.com ", "password": PASSWORD }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        assert_eq!(reply.json(), json!({ "status": "pending" }));
        let account = server
            .store
            .user_by_email("ann@example.com")
            .await
            .unwrap()
            .expect("stored, normalized");
        assert_eq!(account.status, AccountStatus::Pending);
        assert_eq!(account.roles, ["user"]);
        let hash = account.password_hash.clone().expect("hash");
        assert!(hash.starts_with("$argon2id$"), "PHC string");
        assert!(!hash.contains(PASSWORD));

        // The same email in another case is the same account: the same answer as a new
        // registration (no oracle of which emails have accounts), and nothing changes.
        let reply = server
            .post_json(
                "/auth/register",
                None,
                json!({ "email": "ANN@example.com", "password": "another password 123" }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        assert_eq!(reply.json(), json!({ "status": "pending" }));
        let again = server
            .store
            .user_by_email("ann@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again, account, "the existing account is untouched");
        // Pending accounts cannot sign in.
        assert_problem(
            &server.login("ann@example.com", PASSWORD).await,
            StatusCode::FORBIDDEN,
            "The account is awaiting approval",
        );
        assert_eq!(db.scalar("SELECT COUNT(*) FROM auth_users").await, 2);
    })
    .await;
}

#[tokio::test]
async fn registration_rejects_bad_input_with_problems() {
    on_both("bad registrations", |db| async move {
        let server = TestServer::start(&db).await;
        let register = |body: Value| {
            let server = &server;
            async move { server.post_json("/auth/register", None, body).await }
        };
        for email in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "a b@c.de",
            "a@b..c",
            "<a@b.c>",
        ] {
            assert_problem(
                &register(json!({ "email": email, "password": PASSWORD })).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "The email address is not valid",
            );
        }
        // Under 8 characters, counted as characters: 7 two-byte letters are too short, 8 are
        // fine.
        assert_problem(
            &register(json!({ "email": "a@b.co", "password": "short12" })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The password must have at least 8 characters",
        );
        assert_problem(
            &register(json!({ "email": "a@b.co", "password": "ééééééé" })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The password must have at least 8 characters",
        );
        assert_eq!(
            register(json!({ "email": "u@b.co", "password": "éééééééé" }))
                .await
                .status,
            StatusCode::CREATED
        );
        assert_problem(
            &register(json!({ "email": "a@b.co", "password": "x".repeat(129) })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The password must have at most 128 characters",
        );
        assert_problem(
            &register(json!({ "email": "a@b.co" })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The field `password` is required",
        );
        assert_problem(
            &register(json!({ "email": "a@b.co", "password": 12345678 })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "A field of the request body has the wrong type or value",
        );
        let reply = server
            .send(request(
                "POST",
                "/auth/register",
                None,
                Some(common::server::Payload::Form("email=a%40b.co".into())),
            ))
            .await;
        assert_problem(
            &reply,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The request body must be `application/json`",
        );
        let mut broken = request("POST", "/auth/register", None, None);
        broken
            .headers_mut()
            .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        *broken.body_mut() = axum::body::Body::from("{\"email\":");
        assert_problem(
            &server.send(broken).await,
            StatusCode::BAD_REQUEST,
            "The request body is not valid JSON",
        );
        // Nothing but the one valid registration was stored (and the seeded admin).
        assert_eq!(db.scalar("SELECT COUNT(*) FROM auth_users").await, 2);
    })
    .await;
}

#[tokio::test]
async fn unknown_registration_fields_are_ignored() {
    on_both("unknown fields", |db| async move {
        let server = TestServer::start(&db).await;
        let reply = server
            .post_json(
                "/auth/register",
                None,
                json!({ "email": "eve@example.com", "password": PASSWORD, "roles": ["admin"],
                        "is_admin": true, "status": "active", "claims": { "company_id": 1 } }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        let account = server
            .store
            .user_by_email("eve@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(account.status, AccountStatus::Pending);
        assert_eq!(account.roles, ["user"]);
        assert!(account.claims.is_empty());
        // Even after approval, the admin login refuses the account.
        let admin = server.admin().await;
        server
            .post_json(
                "/auth/approve",
                Some(&admin.access),
                json!({ "email": "eve@example.com" }),
            )
            .await;
        assert_problem(
            &server
                .post_json(
                    "/admin/login",
                    None,
                    json!({ "email": "eve@example.com", "password": PASSWORD }),
                )
                .await,
            StatusCode::FORBIDDEN,
            "The account may not sign in here",
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_email_make_one_account() {
    on_both("registration race", |db| async move {
        let server = std::sync::Arc::new(TestServer::start(&db).await);
        let mut tasks = Vec::new();
        for i in 0..16 {
            let server = server.clone();
            tasks.push(tokio::spawn(async move {
                server
                    .post_json(
                        "/auth/register",
                        None,
                        json!({ "email": "race@example.com", "password": format!("{PASSWORD}{i}") }),
                    )
                    .await
                    .status
            }));
        }
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        // Every registration gets the same answer; one account exists.
        let created = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        assert_eq!(created, 16, "{statuses:?}");
        assert_eq!(
            db.scalar("SELECT COUNT(*) FROM auth_users WHERE email = 'race@example.com'")
                .await,
            1
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn login_with_a_form_or_json_returns_a_token_pair() {
    on_both("login", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user("ann@example.com").await;
        let form = server.login("ann@example.com", PASSWORD).await;
        let json = server
            .post_json(
                "/auth/login",
                None,
                json!({ "email": "ann@example.com", "password": PASSWORD }),
            )
            .await;
        for reply in [&form, &json] {
            ok(reply);
            assert_eq!(
                reply.headers.get(header::CACHE_CONTROL).unwrap(),
                "no-store"
            );
            let body = reply.json();
            assert_eq!(body["token_type"], "Bearer");
            assert_eq!(body["expires_in"], 900);
            let access = payload_of(body["access_token"].as_str().unwrap());
            let refresh = payload_of(body["refresh_token"].as_str().unwrap());
            assert_eq!(access["login_type"], "user");
            assert_eq!(access["typ"], "access");
            assert_eq!(refresh["typ"], "refresh");
            assert_eq!(access["iss"], "auth-demo");
            assert_eq!(
                access["exp"].as_u64().unwrap() - access["iat"].as_u64().unwrap(),
                900
            );
            assert_eq!(access["sid"], refresh["sid"]);
            assert_ne!(access["jti"], refresh["jti"]);
            assert_eq!(access["scope"], "reports:read billing:read");
            assert_eq!(access["account_status"], "active");
            assert_eq!(access["email"], "ann@example.com");
            assert_eq!(access["roles"], json!(["user"]));
            // Nothing secret in the token.
            let text = access.to_string();
            assert!(!text.contains(PASSWORD) && !text.contains("argon2"));
        }
        // Two logins are two sessions.
        assert_ne!(
            payload_of(form.json()["access_token"].as_str().unwrap())["sid"],
            payload_of(json.json()["access_token"].as_str().unwrap())["sid"]
        );
        // The token works.
        let token = form.tokens().access;
        ok(&server.get("/reports/7", Some(&token)).await);
        // Malformed requests are problems too.
        assert_problem(
            &server
                .post_form("/auth/login", None, "username=ann%40example.com")
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The field `password` is required",
        );
        assert_problem(
            &server.post("/auth/login", None).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The request body must be `application/json` or `application/x-www-form-urlencoded`",
        );
    })
    .await;
}

#[tokio::test]
async fn unknown_account_and_wrong_password_are_byte_identical() {
    on_both("no enumeration", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user("ann@example.com").await;
        let wrong = server.login("ann@example.com", "wrong password").await;
        let unknown = server.login("nobody@example.com", "wrong password").await;
        assert_problem(
            &wrong,
            StatusCode::UNAUTHORIZED,
            "Invalid username or password",
        );
        assert_eq!(wrong.status, unknown.status);
        assert_eq!(wrong.headers, unknown.headers);
        assert_eq!(wrong.body, unknown.body);
        // An address that is not even an email answers the same.
        let garbage = server.login("not an email", "wrong password").await;
        assert_eq!(
            (garbage.status, &garbage.headers, &garbage.body),
            (wrong.status, &wrong.headers, &wrong.body)
        );
        // So does a pending account with a wrong password.
        server
            .post_json(
                "/auth/register",
                None,
                json!({ "email": "pending@example.com", "password": PASSWORD }),
            )
            .await;
        let pending = server.login("pending@example.com", "wrong password").await;
        assert_eq!(
            (pending.status, &pending.headers, &pending.body),
            (wrong.status, &wrong.headers, &wrong.body)
        );
    })
    .await;
}

#[tokio::test]
async fn rejected_and_deactivated_accounts_cannot_sign_in() {
    on_both("account states", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        server
            .post_json(
                "/auth/register",
                None,
                json!({ "email": "rex@example.com", "password": PASSWORD }),
            )
            .await;
        let reply = server
            .post_json(
                "/auth/reject",
                Some(&admin.access),
                json!({ "email": "rex@example.com" }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
        assert_problem(
            &server.login("rex@example.com", PASSWORD).await,
            StatusCode::FORBIDDEN,
            "The account registration was rejected",
        );
        // A rejected account cannot be approved later; an approved one stays approved.
        assert_problem(
            &server
                .post_json(
                    "/auth/approve",
                    Some(&admin.access),
                    json!({ "email": "rex@example.com" }),
                )
                .await,
            StatusCode::CONFLICT,
            "The account is not awaiting approval",
        );
        server.approved_user("ann@example.com").await;
        let ann = server.id_of("ann@example.com").await;
        let reply = server
            .post(&format!("/admin/users/{ann}/ban"), Some(&admin.access))
            .await;
        ok(&reply);
        assert_problem(
            &server.login("ann@example.com", PASSWORD).await,
            StatusCode::UNAUTHORIZED,
            "The account is deactivated",
        );
    })
    .await;
}

#[tokio::test]
async fn admin_login_is_for_admins() {
    on_both("admin login", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let claims = payload_of(&admin.access);
        assert_eq!(claims["login_type"], "admin");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            3600
        );
        assert_eq!(
            claims["scope"],
            "reports:read billing:read admin:* users:* reports:*"
        );
        ok(&server.get("/admin/dashboard", Some(&admin.access)).await);
        // A user token cannot open admin routes, an admin token can open `me`.
        let user = server.approved_user("ann@example.com").await;
        assert_eq!(
            server
                .get("/admin/dashboard", Some(&user.access))
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        let me = server.get("/auth/me", Some(&admin.access)).await;
        ok(&me);
        assert_eq!(me.json()["login_type"], "admin");
        // Users are refused with a correct password, and the wrong password is the usual 401.
        assert_problem(
            &server
                .post_json(
                    "/admin/login",
                    None,
                    json!({ "email": "ann@example.com", "password": PASSWORD }),
                )
                .await,
            StatusCode::FORBIDDEN,
            "The account may not sign in here",
        );
        assert_problem(
            &server
                .post_form(
                    "/admin/login",
                    None,
                    &login_form(common::server::ADMIN_EMAIL, "nope nope"),
                )
                .await,
            StatusCode::UNAUTHORIZED,
            "Invalid username or password",
        );
    })
    .await;
}

#[tokio::test]
async fn me_describes_the_caller() {
    on_both("me", |db| async move {
        let server = TestServer::start(&db).await;
        let user = server.approved_user("ann@example.com").await;
        let reply = server.get("/auth/me", Some(&user.access)).await;
        ok(&reply);
        let id = server.id_of("ann@example.com").await;
        assert_eq!(
            reply.json(),
            json!({ "sub": id, "email": "ann@example.com", "login_type": "user",
                    "scopes": ["reports:read", "billing:read"], "roles": ["user"],
                    "credential": "bearer" })
        );
        assert_eq!(
            server.get("/auth/me", None).await.status,
            StatusCode::UNAUTHORIZED
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The token endpoint and refresh rotation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn token_endpoint_grants() {
    on_both("token endpoint", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user("ann@example.com").await;
        let reply = server
            .post_form(
                "/auth/token",
                None,
                &format!(
                    "grant_type=password&{}",
                    login_form("ann@example.com", PASSWORD)
                ),
            )
            .await;
        let first = reply.tokens();
        assert_eq!(
            reply.headers.get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );

        let reply = refresh(&server, &first.refresh).await;
        let second = reply.tokens();
        assert_eq!(
            reply.headers.get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        assert_ne!(second.access, first.access);
        assert_ne!(second.refresh, first.refresh);
        assert_eq!(
            payload_of(&second.access)["sid"],
            payload_of(&first.access)["sid"]
        );
        ok(&server.get("/reports/1", Some(&second.access)).await);

        // RFC 6749 §5.2 errors, readable by OAuth2 clients and as problems.
        let unsupported =
            "Unsupported `grant_type`: use `password`, `refresh_token` or `client_credentials`";
        for (body, error, detail) in [
            (
                "grant_type=authorization_code",
                "unsupported_grant_type",
                unsupported,
            ),
            ("grant_type=", "unsupported_grant_type", unsupported),
            (
                "refresh_token=x",
                "invalid_request",
                "`grant_type` is required",
            ),
            (
                "grant_type=refresh_token",
                "invalid_request",
                "`refresh_token` is required",
            ),
            (
                "grant_type=password&username=a%40b.co",
                "invalid_request",
                "`password` is required",
            ),
            (
                "grant_type=password&username=ann%40example.com&password=wrong+password",
                "invalid_grant",
                "Invalid username or password",
            ),
            (
                "grant_type=password&username=ann%40example.com&password=correct+horse+battery\
                 &scope=reports:read+admin:users",
                "invalid_scope",
                "The scope `admin:users` is not granted to this account",
            ),
            (
                "grant_type=password&username=ann%40example.com&password=correct+horse+battery\
                 &scope=reports:*",
                "invalid_scope",
                "The scope `reports:*` is not granted to this account",
            ),
            (
                "grant_type=refresh_token&refresh_token=x&scope=reports:read",
                "invalid_scope",
                "A refresh keeps the session's scopes; `scope` is not taken here",
            ),
        ] {
            assert_oauth_error(
                &server.post_form("/auth/token", None, body).await,
                StatusCode::BAD_REQUEST,
                error,
                detail,
            );
        }
        // Not a refresh token at all, or an access token in its place.
        for (token, detail) in [
            ("garbage", "The token is malformed"),
            (second.access.as_str(), "The token is not an access token"),
        ] {
            let reply = refresh(&server, token).await;
            assert_oauth_error(&reply, StatusCode::BAD_REQUEST, "invalid_grant", detail);
        }
        // `scope` narrows the tokens of a password grant.
        let narrowed = server
            .post_form(
                "/auth/token",
                None,
                &format!(
                    "grant_type=password&{}&scope=reports:read",
                    login_form("ann@example.com", PASSWORD)
                ),
            )
            .await
            .tokens();
        assert_eq!(payload_of(&narrowed.access)["scope"], "reports:read");
        assert_eq!(
            payload_of(&refresh(&server, &narrowed.refresh).await.tokens().access)["scope"],
            "reports:read",
            "a refresh keeps the narrowed scopes"
        );
        // The pair from before is still good: failed attempts revoke nothing.
        ok(&server.get("/reports/1", Some(&second.access)).await);
    })
    .await;
}

#[tokio::test]
async fn a_spent_refresh_token_revokes_its_family() {
    on_both("reuse detection", |db| async move {
        let server = TestServer::start(&db).await;
        let first = server.approved_user("ann@example.com").await;
        let other = server.login("ann@example.com", PASSWORD).await.tokens();
        let second = refresh(&server, &first.refresh).await.tokens();
        // The spent one again: 401, and the whole session with it.
        refused_refresh(&refresh(&server, &first.refresh).await);
        revoked(
            &server.get("/reports/1", Some(&second.access)).await,
            "user",
        );
        refused_refresh(&refresh(&server, &second.refresh).await);
        // Another session of the same account is untouched.
        ok(&server.get("/reports/1", Some(&other.access)).await);
        ok(&refresh(&server, &other.refresh).await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refresh_with_one_token_gives_exactly_one_200() {
    on_both("refresh race", |db| async move {
        let server = std::sync::Arc::new(TestServer::start(&db).await);
        let tokens = server.approved_user("ann@example.com").await;
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let server = server.clone();
            let token = tokens.refresh.clone();
            tasks.push(tokio::spawn(async move {
                refresh(&server, &token).await.status
            }));
        }
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        let wins = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        let losses = statuses
            .iter()
            .filter(|s| **s == StatusCode::BAD_REQUEST)
            .count();
        assert_eq!((wins, losses), (1, 7), "{statuses:?}");
    })
    .await;
}

#[tokio::test]
async fn a_role_change_ends_refresh_and_the_next_sign_in_carries_the_new_roles() {
    on_both("role change", |db| async move {
        let server = TestServer::start(&db).await;
        let tokens = server.approved_user("ann@example.com").await;
        let id = server.id_of("ann@example.com").await;
        // New claims with the same roles are no credential change: the refresh carries them.
        let tenant: Map<String, Value> = [("tenant".to_owned(), json!(7))].into_iter().collect();
        server
            .store
            .set_roles_and_claims(&id, &["user".into()], &tenant)
            .await
            .unwrap();
        let next = refresh(&server, &tokens.refresh).await.tokens();
        assert_eq!(payload_of(&next.access)["tenant"], 7);
        // Promoted to editor: a credential change, so the session cannot be refreshed (it
        // would carry the old grant) ...
        server
            .store
            .set_roles_and_claims(&id, &["user".into(), "editor".into()], &Map::new())
            .await
            .unwrap();
        refused_refresh(&refresh(&server, &next.refresh).await);
        // ... and the next sign-in carries the new roles.
        let fresh = server.login("ann@example.com", PASSWORD).await.tokens();
        let claims = payload_of(&fresh.access);
        assert_eq!(claims["scope"], "reports:read billing:read reports:*");
        assert_eq!(claims["roles"], json!(["user", "editor"]));
        // Deactivated in the store: the refresh ends the session.
        assert!(
            server
                .store
                .transition_status(&id, &[AccountStatus::Active], AccountStatus::Deactivated)
                .await
                .unwrap()
        );
        refused_refresh(&refresh(&server, &fresh.refresh).await);
        revoked(&server.get("/auth/me", Some(&fresh.access)).await, "user");
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Logout, password change, ban
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn logout_ends_the_session() {
    on_both("logout", |db| async move {
        let server = TestServer::start(&db).await;
        let a = server.approved_user("ann@example.com").await;
        let b = server.login("ann@example.com", PASSWORD).await.tokens();
        let reply = server.post("/auth/logout", Some(&a.access)).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
        revoked(&server.get("/reports/1", Some(&a.access)).await, "user");
        revoked(&server.post("/auth/logout", Some(&a.access)).await, "user");
        refused_refresh(&refresh(&server, &a.refresh).await);
        ok(&server.get("/reports/1", Some(&b.access)).await);
        assert_eq!(
            server.post("/auth/logout", None).await.status,
            StatusCode::UNAUTHORIZED
        );
    })
    .await;
}

#[tokio::test]
async fn change_password_revokes_every_other_session() {
    on_both("change password", |db| async move {
        let server = TestServer::start(&db).await;
        let here = server.approved_user("ann@example.com").await;
        let elsewhere = server.login("ann@example.com", PASSWORD).await.tokens();
        let change = |current: &str, new: &str| {
            let body = json!({ "current_password": current, "new_password": new });
            let server = &server;
            let token = here.access.clone();
            async move {
                server
                    .post_json("/auth/change-password", Some(&token), body)
                    .await
            }
        };
        assert_problem(
            &change("wrong password", "new password 1").await,
            StatusCode::BAD_REQUEST,
            "The current password is wrong",
        );
        assert_problem(
            &change(PASSWORD, "short").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The password must have at least 8 characters",
        );
        // Failed attempts changed nothing.
        ok(&server.get("/reports/1", Some(&elsewhere.access)).await);

        let reply = change(PASSWORD, "new password 1").await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
        ok(&server.get("/reports/1", Some(&here.access)).await);
        revoked(
            &server.get("/reports/1", Some(&elsewhere.access)).await,
            "user",
        );
        refused_refresh(&refresh(&server, &elsewhere.refresh).await);
        assert_eq!(
            server.login("ann@example.com", PASSWORD).await.status,
            StatusCode::UNAUTHORIZED
        );
        ok(&server.login("ann@example.com", "new password 1").await);
        // The session that changed it can still refresh.
        ok(&refresh(&server, &here.refresh).await);
    })
    .await;
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled_per_account() {
    on_both("change password throttle", |db| async move {
        let server = TestServer::start(&db).await;
        let ann = server.approved_user("ann@example.com").await;
        let bob = server.approved_user("bob@example.com").await;
        let change = |token: &str, current: &str| {
            let body = json!({ "current_password": current, "new_password": "new password 1" });
            let server = &server;
            let token = token.to_owned();
            async move {
                server
                    .post_json("/auth/change-password", Some(&token), body)
                    .await
            }
        };
        for _ in 0..10 {
            assert_eq!(
                change(&ann.access, "guess guess").await.status,
                StatusCode::BAD_REQUEST
            );
        }
        let reply = change(&ann.access, PASSWORD).await;
        assert_eq!(
            reply.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            reply.text()
        );
        assert!(reply.headers.contains_key(header::RETRY_AFTER));
        // Another account is not affected (no shared per-address budget here).
        assert_eq!(
            change(&bob.access, PASSWORD).await.status,
            StatusCode::NO_CONTENT
        );
    })
    .await;
}

#[tokio::test]
async fn ban_deactivates_real_accounts_and_never_oneself() {
    on_both("ban", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let admin_id = payload_of(&admin.access)["sub"]
            .as_str()
            .unwrap()
            .to_owned();
        let user = server.approved_user("ann@example.com").await;
        let ann = server.id_of("ann@example.com").await;

        // Self-ban: denied by the rule, on the loaded account. Ids are opaque and compared
        // exactly, so other spellings are no account at all.
        assert_problem(
            &server
                .post(&format!("/admin/users/{admin_id}/ban"), Some(&admin.access))
                .await,
            StatusCode::FORBIDDEN,
            "Action `users:ban` on resource `users` is denied: an admin cannot ban themselves",
        );
        for id in [
            format!("{admin_id}%20"),
            format!("00{admin_id}"),
            format!("+{admin_id}"),
            admin_id.to_uppercase(),
            "1".into(),
            "abc".into(),
        ] {
            assert_problem(
                &server
                    .post(&format!("/admin/users/{id}/ban"), Some(&admin.access))
                    .await,
                StatusCode::NOT_FOUND,
                "The requested `users` resource does not exist",
            );
        }
        // Invalid UTF-8 in the id is a 400, not an empty parameter list.
        assert_problem(
            &server
                .post("/admin/users/%FF/ban", Some(&admin.access))
                .await,
            StatusCode::BAD_REQUEST,
            "A path parameter is not valid UTF-8 once percent-decoded",
        );
        // A user token cannot ban.
        assert_eq!(
            server
                .post(&format!("/admin/users/{admin_id}/ban"), Some(&user.access))
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        ok(&server.get("/reports/1", Some(&user.access)).await);

        let reply = server
            .post(&format!("/admin/users/{ann}/ban"), Some(&admin.access))
            .await;
        ok(&reply);
        assert_eq!(
            reply.json(),
            json!({ "id": ann, "email": "ann@example.com", "status": "deactivated" })
        );
        let stored = server.store.user_by_id(&ann).await.unwrap().unwrap();
        assert_eq!(stored.status, AccountStatus::Deactivated);
        revoked(&server.get("/reports/1", Some(&user.access)).await, "user");
        refused_refresh(&refresh(&server, &user.refresh).await);
        ok(&server.get("/admin/dashboard", Some(&admin.access)).await);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Approval queue
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_approval_queue_is_for_admins() {
    on_both("approval queue", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let user = server.approved_user("ann@example.com").await;
        for email in ["b@example.com", "c@example.com"] {
            server
                .post_json(
                    "/auth/register",
                    None,
                    json!({ "email": email, "password": PASSWORD }),
                )
                .await;
        }
        let reply = server.get("/auth/pending", Some(&admin.access)).await;
        ok(&reply);
        let emails: Vec<Value> = reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["email"].clone())
            .collect();
        assert_eq!(emails, [json!("b@example.com"), json!("c@example.com")]);
        // Users (another login type) and anonymous callers are refused.
        for token in [Some(user.access.as_str()), None] {
            assert_eq!(
                server.get("/auth/pending", token).await.status,
                StatusCode::UNAUTHORIZED
            );
            assert_eq!(
                server
                    .post_json("/auth/approve", token, json!({ "email": "b@example.com" }))
                    .await
                    .status,
                StatusCode::UNAUTHORIZED
            );
        }
        for route in ["/auth/approve", "/auth/reject"] {
            assert_problem(
                &server
                    .post_json(
                        route,
                        Some(&admin.access),
                        json!({ "email": "nobody@example.com" }),
                    )
                    .await,
                StatusCode::NOT_FOUND,
                "No such account",
            );
        }
        let reply = server
            .post_json(
                "/auth/approve",
                Some(&admin.access),
                json!({ "email": "B@example.com" }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
        // Approving twice is fine.
        assert_eq!(
            server
                .post_json(
                    "/auth/approve",
                    Some(&admin.access),
                    json!({ "email": "b@example.com" })
                )
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        ok(&server.login("b@example.com", PASSWORD).await);
        let reply = server.get("/auth/pending", Some(&admin.access)).await;
        assert_eq!(reply.json().as_array().unwrap().len(), 1);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Throttling
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn login_throttling_has_floors_and_does_not_lock_out_the_real_user() {
    on_both("throttling", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user("ann@example.com").await;
        let attacker = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
        let user = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
        // Ten failures for one account within the window: never a 429.
        for _ in 0..10 {
            assert_eq!(
                server
                    .login_from(attacker, "ann@example.com", "guess guess")
                    .await
                    .status,
                StatusCode::UNAUTHORIZED
            );
        }
        // The eleventh is refused, even with the right password, with a Retry-After.
        let reply = server
            .login_from(attacker, "ann@example.com", PASSWORD)
            .await;
        assert_problem(
            &reply,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-in attempts; retry later",
        );
        let retry: u64 = reply
            .headers
            .get(header::RETRY_AFTER)
            .expect("Retry-After")
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
        // The real user, elsewhere, signs in.
        ok(&server.login_from(user, "ann@example.com", PASSWORD).await);
        // The attacker's address is not blocked for other accounts (below 100 failures).
        assert_eq!(
            server
                .login_from(attacker, "other@example.com", "guess guess")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        // 100 failures from one address within a minute, over many accounts: the 101st is
        // refused.
        let spray = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        for i in 0..100 {
            let reply = server
                .login_from(spray, &format!("u{i}@example.com"), "guess guess")
                .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        }
        assert_eq!(
            server
                .login_from(spray, "ann@example.com", PASSWORD)
                .await
                .status,
            StatusCode::TOO_MANY_REQUESTS
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Extra claims
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn extra_claims_at_login_reach_handlers_and_policies() {
    on_both("extra claims", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user("ann@example.com").await;
        let id = server.id_of("ann@example.com").await;
        let mut claims = Map::new();
        claims.insert("company_id".into(), json!(42));
        server
            .store
            .set_roles_and_claims(&id, &["user".into()], &claims)
            .await
            .unwrap();
        let tokens = server.login("ann@example.com", PASSWORD).await.tokens();
        let payload = payload_of(&tokens.access);
        assert_eq!(payload["company_id"], 42);
        assert_eq!(payload["account_status"], "active");
        // The billing policy reads `account_status` from the token.
        let reply = server.get("/billing", Some(&tokens.access)).await;
        ok(&reply);
        assert_eq!(reply.json()["account"], id);
        // A handler reads them through the principal.
        let principal = server
            .manager
            .authenticate_token(&tokens.access, &["user"])
            .await
            .unwrap();
        assert_eq!(principal.claim("company_id"), Some(&json!(42)));
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Restarts, several instances, outages
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_restart_on_the_same_database_keeps_accounts_approvals_and_revocations() {
    on_both("restart", |db| async move {
        let (kept, logged_out, pending_email) = {
            let server = TestServer::start(&db).await;
            let kept = server.approved_user("ann@example.com").await;
            let logged_out = server.login("ann@example.com", PASSWORD).await.tokens();
            assert_eq!(
                server
                    .post("/auth/logout", Some(&logged_out.access))
                    .await
                    .status,
                StatusCode::NO_CONTENT
            );
            server
                .post_json(
                    "/auth/register",
                    None,
                    json!({ "email": "later@example.com", "password": PASSWORD }),
                )
                .await;
            server.store.close().await;
            (kept, logged_out, "later@example.com")
        };
        let server = TestServer::start(&db).await;
        ok(&server.get("/reports/1", Some(&kept.access)).await);
        revoked(
            &server.get("/reports/1", Some(&logged_out.access)).await,
            "user",
        );
        refused_refresh(&refresh(&server, &logged_out.refresh).await);
        ok(&refresh(&server, &kept.refresh).await);
        ok(&server.login("ann@example.com", PASSWORD).await);
        let admin = server.admin().await;
        let pending = server.get("/auth/pending", Some(&admin.access)).await;
        assert_eq!(pending.json()[0]["email"], pending_email);
        // The seeded admin was not seeded twice.
        assert_eq!(
            db.scalar("SELECT COUNT(*) FROM auth_users WHERE email = 'admin@localhost'")
                .await,
            1
        );
    })
    .await;
}

/// Waits past the staleness bound: by then every instance has read every revocation made
/// before the wait, or refreshes its list before answering.
async fn past_the_staleness_bound() {
    tokio::time::sleep(STALENESS + Duration::from_millis(100)).await;
}

#[tokio::test]
async fn two_instances_on_one_database_honour_each_others_revocations() {
    on_both("two instances", |db| async move {
        let a = TestServer::start(&db).await;
        let b = TestServer::start(&db).await;
        let one = a.approved_user("ann@example.com").await;
        let two = a.login("ann@example.com", PASSWORD).await.tokens();
        let three = b.login("ann@example.com", PASSWORD).await.tokens();
        for token in [&one, &two, &three] {
            ok(&a.get("/reports/1", Some(&token.access)).await);
            ok(&b.get("/reports/1", Some(&token.access)).await);
        }
        // Logout on A: A refuses at once, B after at most the staleness bound.
        assert_eq!(
            a.post("/auth/logout", Some(&one.access)).await.status,
            StatusCode::NO_CONTENT
        );
        revoked(&a.get("/reports/1", Some(&one.access)).await, "user");
        past_the_staleness_bound().await;
        revoked(&b.get("/reports/1", Some(&one.access)).await, "user");
        ok(&b.get("/reports/1", Some(&two.access)).await);

        // Password change on B (session three): session two dies on A too.
        let reply = b
            .post_json(
                "/auth/change-password",
                Some(&three.access),
                json!({ "current_password": PASSWORD, "new_password": "another password" }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
        past_the_staleness_bound().await;
        revoked(&a.get("/reports/1", Some(&two.access)).await, "user");
        ok(&a.get("/reports/1", Some(&three.access)).await);

        // Ban on A: B refuses the banned account's last session.
        let admin = a.admin().await;
        let id = a.id_of("ann@example.com").await;
        ok(&a
            .post(&format!("/admin/users/{id}/ban"), Some(&admin.access))
            .await);
        past_the_staleness_bound().await;
        revoked(&b.get("/reports/1", Some(&three.access)).await, "user");
        assert_eq!(
            b.login("ann@example.com", "another password").await.status,
            StatusCode::UNAUTHORIZED
        );
    })
    .await;
}

#[tokio::test]
async fn a_store_that_went_away_answers_503_never_500_and_never_an_allow() {
    on_both("outage", |db| async move {
        let server = TestServer::start(&db).await;
        let user = server.approved_user("ann@example.com").await;
        ok(&server.get("/reports/1", Some(&user.access)).await);
        // The database goes away: PostgreSQL's is dropped under the live pool; SQLite's pool
        // is closed (an open SQLite file cannot be taken away from its connections).
        match db.backend {
            common::db::Backend::Postgres => db.drop_database().await,
            common::db::Backend::Sqlite => server.store.close().await,
        }
        past_the_staleness_bound().await;
        let unavailable = |reply: &Reply| {
            assert_problem(
                reply,
                StatusCode::SERVICE_UNAVAILABLE,
                "Authentication is temporarily unavailable; try again shortly",
            );
            assert_eq!(reply.headers.get(header::RETRY_AFTER).unwrap(), "1");
        };
        unavailable(&server.get("/reports/1", Some(&user.access)).await);
        unavailable(&server.get("/auth/me", Some(&user.access)).await);
        unavailable(&server.login("ann@example.com", PASSWORD).await);
        unavailable(
            &server
                .post_json(
                    "/auth/register",
                    None,
                    json!({ "email": "new@example.com", "password": PASSWORD }),
                )
                .await,
        );
        let reply = refresh(&server, &user.refresh).await;
        assert_oauth_error(
            &reply,
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "Authentication is temporarily unavailable; try again shortly",
        );
        assert_eq!(reply.headers.get(header::RETRY_AFTER).unwrap(), "1");
        // Public routes do not need the store.
        ok(&server.get("/health", None).await);
    })
    .await;
}

#[tokio::test]
async fn served_over_tcp_the_client_address_reaches_the_app() {
    let db = TestDb::sqlite().await;
    let server = TestServer::start(&db).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = server.app.clone();
    tokio::spawn(examples::serve(listener, app));
    // Ten failed logins from this address, then the eleventh is throttled: the throttle saw
    // the peer address (a missing address would still count, so also check a policy that
    // needs it below).
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let body = login_form("ann@example.com", "guess guess");
        let request = format!(
            "POST /auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        statuses.push(raw_status(addr, &request).await);
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429);
    let reply = server
        .send(from_ip(
            request("GET", "/health", None, None),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        ))
        .await;
    ok(&reply);
    db.cleanup().await;
}

#[tokio::test]
async fn tokens_are_not_accepted_across_login_types_or_without_a_session() {
    on_both("token rules", |db| async move {
        let server = TestServer::start(&db).await;
        let user = server.approved_user("ann@example.com").await;
        // A token signed with the user secret but without a session id is refused: every
        // token of this server belongs to a session.
        let mut claims = payload_of(&user.access);
        claims.as_object_mut().unwrap().remove("sid");
        let forged = common::forge_hs256(common::server::USER_SECRET, Some("user"), &claims);
        assert_invalid_token(
            &server.get("/reports/1", Some(&forged)).await,
            "user",
            "The token has no `sid` claim",
        );
        // With a session id that was never issued it is accepted only while signed by us
        // (the signature is the proof); a revoked one is refused like any other.
        let tokens: Tokens = server.login("ann@example.com", PASSWORD).await.tokens();
        server.post("/auth/logout", Some(&tokens.access)).await;
        let mut claims = payload_of(&user.access);
        claims["sid"] = payload_of(&tokens.access)["sid"].clone();
        let forged = common::forge_hs256(common::server::USER_SECRET, Some("user"), &claims);
        revoked(&server.get("/reports/1", Some(&forged)).await, "user");
    })
    .await;
}

#[tokio::test]
async fn sessions_end_after_their_idle_timeout_and_absolute_lifetime() {
    on_both("session lifetimes", |db| async move {
        let idle = TestServer::start_with(&db, |b| {
            b.session_config(
                SessionConfig::default()
                    .staleness_bound(STALENESS)
                    .idle_timeout(Duration::from_secs(1)),
            )
        })
        .await;
        let tokens = idle.approved_user("ann@example.com").await;
        // Used within the idle timeout: fine, and the clock restarts.
        let tokens = refresh(&idle, &tokens.refresh).await.tokens();
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_oauth_error(
            &refresh(&idle, &tokens.refresh).await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The token has expired",
        );

        let absolute = TestServer::start_with(&db, |b| {
            b.session_config(
                SessionConfig::default()
                    .staleness_bound(STALENESS)
                    .absolute_lifetime(Duration::from_secs(1)),
            )
        })
        .await;
        let tokens = absolute.login("ann@example.com", PASSWORD).await.tokens();
        let tokens = refresh(&absolute, &tokens.refresh).await.tokens();
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let reply = refresh(&absolute, &tokens.refresh).await;
        assert_eq!(reply.json()["error"], "invalid_grant", "{}", reply.text());
        // The access token of the session lives its own (short) life.
        ok(&absolute.get("/reports/1", Some(&tokens.access)).await);
    })
    .await;
}

#[tokio::test]
async fn a_hash_with_older_parameters_is_replaced_at_sign_in() {
    on_both("rehash", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user("ann@example.com").await;
        let id = server.id_of("ann@example.com").await;
        let old = auth_runtime::PasswordHasher::insecure_for_tests(32, 1, 1)
            .hash(PASSWORD)
            .await
            .unwrap();
        assert!(old.starts_with("$argon2id$v=19$m=32,t=1,p=1$"));
        db.execute(&format!(
            "UPDATE auth_users SET password_hash = '{old}' WHERE public_id = '{id}'"
        ))
        .await;
        ok(&server.login("ann@example.com", PASSWORD).await);
        let stored = server.store.user_by_id(&id).await.unwrap().unwrap();
        let new = stored.password_hash.unwrap();
        assert!(new.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{new}");
        ok(&server.login("ann@example.com", PASSWORD).await);
    })
    .await;
}

#[tokio::test]
async fn the_seeded_admin_gets_a_random_password_shown_once() {
    on_both("seeded admin", |db| async move {
        let server = TestServer::start(&db).await;
        let seeded = server
            .manager
            .ensure_admin("root@example.com", None)
            .await
            .unwrap();
        let AdminSeed::Created {
            generated_password: Some(password),
        } = seeded.clone()
        else {
            panic!("expected a generated password, got {seeded:?}");
        };
        assert_eq!(password.chars().count(), 24);
        assert!(!format!("{seeded:?}").contains(&password));
        ok(&server
            .post_json(
                "/admin/login",
                None,
                json!({ "email": "root@example.com", "password": password }),
            )
            .await);
        assert_eq!(
            server
                .manager
                .ensure_admin("root@example.com", None)
                .await
                .unwrap(),
            AdminSeed::Exists
        );
        // Two starts with the same settings seed once (the test server seeds at start).
        TestServer::start(&db).await;
        assert_eq!(
            db.scalar("SELECT COUNT(*) FROM auth_users WHERE email = 'admin@localhost'")
                .await,
            1
        );
    })
    .await;
}

/// A login handler of the application's own: `create_session` with `?`, the error rendering
/// itself as a problem (503 when the store is gone).
#[tokio::test]
async fn token_errors_render_as_problems_in_handlers() {
    use auth_runtime::prelude::*;
    use axum::extract::State;

    #[public]
    #[route(POST, "/my/login")]
    async fn my_login(
        State(manager): State<AuthManager>,
    ) -> Result<axum::Json<TokenPair>, TokenError> {
        let request = TokenRequest::new("user", "svc-7").scopes([]);
        Ok(axum::Json(manager.create_session(&request).await?))
    }

    #[derive(SecureRouter)]
    #[secure_router(routes(my_login))]
    struct Mine;

    on_both("token errors", |db| async move {
        let server = TestServer::start(&db).await;
        let app = Mine::router().with_state(server.manager.clone());
        let reply = common::send(&app, request("POST", "/my/login", None, None)).await;
        let tokens = reply.tokens();
        assert_eq!(payload_of(&tokens.access)["scope"], "");
        ok(&server.get("/auth/me", Some(&tokens.access)).await);
        server.store.close().await;
        let reply = common::send(&app, request("POST", "/my/login", None, None)).await;
        assert_problem(
            &reply,
            StatusCode::SERVICE_UNAVAILABLE,
            "Authentication is temporarily unavailable; try again shortly",
        );
        // Without a session store, the same handler is a 500 that says nothing more.
        let stateless = auth_runtime::AuthManager::builder()
            .login_type(
                auth_runtime::LoginType::new("user")
                    .key(auth_runtime::SigningKey::hs256("u", &[9; 32])),
            )
            .build()
            .unwrap();
        let app = Mine::router().with_state(stateless);
        let reply = common::send(&app, request("POST", "/my/login", None, None)).await;
        assert_problem(&reply, StatusCode::INTERNAL_SERVER_ERROR, "Internal error");
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Roles per login type, caching, body size, the seeded admin's email
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_admin_signing_in_as_a_user_gets_no_admin_scopes() {
    on_both("roles per login type", |db| async move {
        let server = TestServer::start(&db).await;
        let as_user = server
            .login(common::server::ADMIN_EMAIL, common::server::ADMIN_PASSWORD)
            .await
            .tokens();
        let claims = payload_of(&as_user.access);
        assert_eq!(claims["login_type"], "user");
        assert_eq!(claims["scope"], "reports:read billing:read");
        assert_eq!(claims["roles"], json!(["user"]));
        let admin = server.admin().await;
        let claims = payload_of(&admin.access);
        assert_eq!(claims["login_type"], "admin");
        assert_eq!(claims["roles"], json!(["user", "admin"]));
        assert!(
            claims["scope"].as_str().unwrap().contains("admin:*"),
            "{claims}"
        );
    })
    .await;
}

#[tokio::test]
async fn account_data_is_never_cached() {
    on_both("no-store", |db| async move {
        let server = TestServer::start(&db).await;
        let user = server.approved_user("ann@example.com").await;
        let admin = server.admin().await;
        for reply in [
            server.get("/auth/me", Some(&user.access)).await,
            server.get("/auth/pending", Some(&admin.access)).await,
            server.login("ann@example.com", PASSWORD).await,
        ] {
            ok(&reply);
            assert_eq!(
                reply.headers.get(header::CACHE_CONTROL).unwrap(),
                "no-store"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn bodies_over_64_kib_are_413_and_change_nothing() {
    on_both("body limit", |db| async move {
        let server = TestServer::start(&db).await;
        let big = "x".repeat(3 * 1024 * 1024);
        let reply = server
            .post_json(
                "/auth/register",
                None,
                json!({ "email": "big@example.com", "password": big }),
            )
            .await;
        assert_problem(
            &reply,
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is larger than 65536 bytes",
        );
        // Just over the limit, as a form without a usable Content-Length of its own.
        let form = format!("username=a%40b.co&password={}", "y".repeat(64 * 1024));
        let reply = server.post_form("/auth/login", None, &form).await;
        assert_eq!(
            reply.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{}",
            reply.text()
        );
        assert_eq!(db.scalar("SELECT COUNT(*) FROM auth_users").await, 1);
        // Under it, the same routes work.
        let reply = server
            .post_json(
                "/auth/register",
                None,
                json!({ "email": "small@example.com", "password": PASSWORD }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    })
    .await;
}

#[tokio::test]
async fn a_seeded_admin_email_held_by_a_user_is_an_error_not_a_silent_exists() {
    on_both("seed over a user", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user("taken@example.com").await;
        assert_eq!(
            server
                .manager
                .ensure_admin("taken@example.com", None)
                .await
                .unwrap(),
            AdminSeed::NotAdmin
        );
        let mut settings = common::server::settings(&db);
        settings.admin_email = "taken@example.com".into();
        assert!(
            examples::seed_admin(&server.manager, &settings)
                .await
                .is_err()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_sign_ins_is_shed_with_503_not_queued() {
    on_both("load shedding", |db| async move {
        let hasher = auth_runtime::PasswordHasher::insecure_for_tests(16 * 1024, 2, 1)
            .with_concurrency(1)
            .unwrap()
            .with_queue_limit(2)
            .unwrap();
        let server = std::sync::Arc::new(
            TestServer::start_with(&db, move |b| b.password_hasher(hasher)).await,
        );
        server.approved_user("ann@example.com").await;
        let tasks: Vec<_> = (0..24u8)
            .map(|i| {
                let server = server.clone();
                tokio::spawn(async move {
                    let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, i));
                    server.login_from(ip, "ann@example.com", PASSWORD).await
                })
            })
            .collect();
        let (mut shed, mut served) = (0, 0);
        for task in tasks {
            let reply = task.await.unwrap();
            match reply.status {
                StatusCode::OK => served += 1,
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert!(reply.headers.contains_key(header::RETRY_AFTER));
                    shed += 1;
                }
                other => panic!("unexpected {other}: {}", reply.text()),
            }
        }
        assert!(served >= 2, "served {served}");
        assert!(shed >= 1, "nothing was shed ({served} served)");
        // Once the flood is over, sign-ins work again.
        ok(&server.login("ann@example.com", PASSWORD).await);
    })
    .await;
}

#[tokio::test]
async fn a_caller_no_rule_can_admit_is_refused_before_the_resource_is_loaded() {
    on_both("authorization before loading", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user("ann@example.com").await;
        let ann = server.id_of("ann@example.com").await;
        // An admin token without the scope the ban rule needs.
        let weak = server
            .manager
            .create_session(
                &auth_runtime::TokenRequest::new("admin", "ops").scopes(["reports:read"]),
            )
            .await
            .unwrap();
        let real = server
            .post(&format!("/admin/users/{ann}/ban"), Some(&weak.access_token))
            .await;
        let unknown = server
            .post("/admin/users/no-such-account/ban", Some(&weak.access_token))
            .await;
        // The same answer whether the account exists or not: no existence oracle.
        assert_problem(
            &real,
            StatusCode::FORBIDDEN,
            "Action `users:ban` on resource `users` is denied: no policy rule allows it",
        );
        assert_eq!(unknown.status, real.status);
        assert_eq!(unknown.body, real.body);
        let stored = server.store.user_by_id(&ann).await.unwrap().unwrap();
        assert_eq!(stored.status, AccountStatus::Active);
    })
    .await;
}

#[tokio::test]
async fn look_alike_emails_are_one_account_or_refused_and_common_passwords_are_refused() {
    on_both("look-alike emails", |db| async move {
        let server = TestServer::start(&db).await;
        let register = |email: &str, password: &str| {
            server.post_json(
                "/auth/register",
                None,
                json!({ "email": email, "password": password }),
            )
        };
        assert_eq!(
            register("zoë@exämple.de", PASSWORD).await.status,
            StatusCode::CREATED
        );
        // Other spellings of the same address: the same answer, and no second account.
        for same in [
            "ZOË@EXÄMPLE.DE",
            "zoe\u{308}@exa\u{308}mple.de",
            "ｚｏë@exämple.de",
            "zoë@xn--exmple-cua.de",
        ] {
            let reply = register(same, PASSWORD).await;
            assert_eq!(
                reply.status,
                StatusCode::CREATED,
                "{same:?}: {}",
                reply.text()
            );
        }
        assert_eq!(db.scalar("SELECT COUNT(*) FROM auth_users").await, 2);
        // Invisible and direction-changing characters are refused, not dropped.
        for bad in [
            "zo\u{200B}ë@exämple.de",
            "zoë@exä\u{00AD}mple.de",
            "zoë@ex\u{200D}ämple.de",
            "zoë@exämple.de\u{202E}",
            "\u{202E}zoë@exämple.de",
        ] {
            assert_problem(
                &register(bad, PASSWORD).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "The email address is not valid",
            );
        }
        let reply = register("new@example.com", "password123").await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.text()
        );
        assert!(!reply.text().contains("password123"));
        assert_eq!(db.scalar("SELECT COUNT(*) FROM auth_users").await, 2);
        // The account signs in under any spelling, once approved.
        let admin = server.admin().await;
        let reply = server
            .post_json(
                "/auth/approve",
                Some(&admin.access),
                json!({ "email": "ZOË@exämple.de" }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
        ok(&server.login("ｚｏë@EXÄMPLE.de", PASSWORD).await);
    })
    .await;
}

#[tokio::test]
async fn the_owner_of_an_existing_email_can_be_told_and_the_409_is_opt_in() {
    on_both("existing-account hook", |db| async move {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let hook = seen.clone();
        let server = TestServer::start_with(&db, move |b| {
            b.accounts(
                auth_runtime::accounts::AccountsConfig::default().on_existing_account(
                    move |account| hook.lock().unwrap().push(account.id.clone()),
                ),
            )
        })
        .await;
        let first = server
            .manager
            .register("ann@example.com", PASSWORD, None)
            .await;
        let Ok(auth_runtime::accounts::Registration::Created(account)) = first else {
            panic!("{first:?}");
        };
        assert!(seen.lock().unwrap().is_empty());
        let again = server
            .manager
            .register("Ann@Example.com", PASSWORD, None)
            .await;
        assert_eq!(again, Ok(auth_runtime::accounts::Registration::Existing));
        assert_eq!(*seen.lock().unwrap(), vec![account.id]);

        // An app that prefers the 409 asks for it.
        let revealing = TestServer::start_with(&db, |b| {
            b.accounts(
                auth_runtime::accounts::AccountsConfig::default().reveal_existing_accounts(true),
            )
        })
        .await;
        assert_problem(
            &revealing
                .post_json(
                    "/auth/register",
                    None,
                    json!({ "email": "ann@example.com", "password": PASSWORD }),
                )
                .await,
            StatusCode::CONFLICT,
            "An account with this email already exists",
        );
    })
    .await;
}

#[tokio::test]
async fn a_password_set_under_a_laxer_policy_is_still_rehashed() {
    on_both("rehash of a legacy password", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user("ann@example.com").await;
        let id = server.id_of("ann@example.com").await;
        // Common (refused today) and short: set before the policy said so.
        let legacy = "abc123";
        let old = auth_runtime::PasswordHasher::insecure_for_tests(32, 1, 1)
            .rehash(legacy)
            .await
            .unwrap();
        db.execute(&format!(
            "UPDATE auth_users SET password_hash = '{old}' WHERE public_id = '{id}'"
        ))
        .await;
        ok(&server.login("ann@example.com", legacy).await);
        let stored = server.store.user_by_id(&id).await.unwrap().unwrap();
        let new = stored.password_hash.unwrap();
        assert!(new.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{new}");
    })
    .await;
}
