//! Credentials beyond the bearer token on the reference server (docs/architecture.md §5), on
//! SQLite and on PostgreSQL: API keys.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use common::db::on_both;
use common::server::{PASSWORD, STALENESS, TestServer};
use common::{Reply, assert_invalid_token, assert_oauth_error, assert_problem};

const KEY_HEADER: &str = "x-api-key";

fn status(reply: &Reply, expected: StatusCode) {
    assert_eq!(reply.status, expected, "{}", reply.text());
}

/// `method path` with `X-API-Key: key` (and an optional bearer token as well).
async fn with_key(
    server: &TestServer,
    method: &str,
    path: &str,
    key: &str,
    bearer: Option<&str>,
) -> Reply {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(KEY_HEADER, key);
    if let Some(token) = bearer {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    server
        .send(builder.body(Body::empty()).expect("request"))
        .await
}

/// `POST /auth/api-keys` as `token`.
async fn create_key(server: &TestServer, token: &str, body: Value) -> Reply {
    server.post_json("/auth/api-keys", Some(token), body).await
}

/// A key with `scopes` for 30 days: `(id, key)`.
async fn new_key(server: &TestServer, token: &str, scopes: &[&str]) -> (String, String) {
    let reply = create_key(
        server,
        token,
        json!({ "name": "ci", "scopes": scopes, "expires_in_days": 30 }),
    )
    .await;
    status(&reply, StatusCode::CREATED);
    let body = reply.json();
    (
        body["id"].as_str().expect("id").to_owned(),
        body["key"].as_str().expect("key").to_owned(),
    )
}

fn refused(reply: &Reply) {
    assert_invalid_token(reply, "user", "The API key is not valid");
}

#[tokio::test]
async fn an_api_key_is_shown_once_stored_hashed_and_acts_with_its_own_scopes() {
    on_both("api keys", |db| async move {
        let server = TestServer::start(&db).await;
        let user = server.approved_user("ann@example.com").await;
        let reply = create_key(
            &server,
            &user.access,
            json!({ "name": "ci", "scopes": ["reports:read"], "expires_in_days": 30 }),
        )
        .await;
        status(&reply, StatusCode::CREATED);
        assert_eq!(
            reply.headers.get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        let body = reply.json();
        let id = body["id"].as_str().unwrap().to_owned();
        let key = body["key"].as_str().unwrap().to_owned();
        let parts: Vec<&str> = key.split('_').collect();
        assert_eq!(parts.len(), 3, "{key}");
        assert_eq!((parts[0], parts[1]), ("ak", id.as_str()));
        assert!(parts[2].len() >= 32, "at least 128 bits of secret");

        // The store holds a digest, never the key or its secret.
        assert_eq!(
            db.scalar(&format!(
                "SELECT COUNT(*) FROM auth_api_keys WHERE id = '{id}' \
                 AND secret_hash <> '{}' AND secret_hash NOT LIKE '%{}%'",
                parts[2], parts[2]
            ))
            .await,
            1
        );

        // The key authenticates with its own scopes, as its owner.
        status(
            &with_key(&server, "GET", "/reports/1", &key, None).await,
            StatusCode::OK,
        );
        let me = with_key(&server, "GET", "/auth/me", &key, None).await;
        status(&me, StatusCode::OK);
        let me = me.json();
        assert_eq!(me["credential"], "api_key");
        assert_eq!(me["scopes"], json!(["reports:read"]));
        assert_eq!(me["login_type"], "user");
        assert_eq!(me["sub"], server.id_of("ann@example.com").await);
        assert_eq!(
            server.get("/auth/me", Some(&user.access)).await.json()["credential"],
            "bearer"
        );
        // Only its own scopes: `reports:read` is the owner's, not this key's.
        let (_, billing) = new_key(&server, &user.access, &["billing:read"]).await;
        assert_problem(
            &with_key(&server, "GET", "/reports/1", &billing, None).await,
            StatusCode::FORBIDDEN,
            "Token is missing required scope: reports:read",
        );
        // Never beyond the login types that take keys.
        let reply = with_key(&server, "GET", "/admin/dashboard", &key, None).await;
        status(&reply, StatusCode::UNAUTHORIZED);

        // The listing shows the key's use, never the key.
        let list = server.get("/auth/api-keys", Some(&user.access)).await;
        status(&list, StatusCode::OK);
        assert_eq!(list.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
        assert!(!list.text().contains(parts[2]), "{}", list.text());
        let items = list.json();
        let items = items.as_array().expect("a list");
        assert_eq!(items.len(), 2);
        let items: Vec<&Value> = items.iter().filter(|k| k["id"] == id).collect();
        assert_eq!(items[0]["name"], "ci");
        assert_eq!(items[0]["scopes"], json!(["reports:read"]));
        assert!(items[0]["last_used_at"].is_u64(), "{}", items[0]);
        assert!(
            items[0]["expires_at"].as_u64().unwrap() > items[0]["created_at"].as_u64().unwrap()
        );
        assert!(items[0].get("key").is_none());
        assert!(items[0].get("secret_hash").is_none());
    })
    .await;
}

#[tokio::test]
async fn a_key_never_reaches_beyond_its_creator() {
    on_both("api key scopes", |db| async move {
        let server = TestServer::start(&db).await;
        let user = server.approved_user("ann@example.com").await;
        // The user holds reports:read and billing:read.
        for (scopes, detail) in [
            (
                json!(["reports:write"]),
                "Scope `reports:write` is beyond the caller's own scopes",
            ),
            (
                json!(["reports:*"]),
                "Scope `reports:*` is beyond the caller's own scopes",
            ),
            (
                json!(["*:read"]),
                "Scope `*:read` is beyond the caller's own scopes",
            ),
            (
                json!(["reports:read", "admin:users"]),
                "Scope `admin:users` is beyond the caller's own scopes",
            ),
        ] {
            let body = json!({ "name": "k", "scopes": scopes, "expires_in_days": 1 });
            assert_problem(
                &create_key(&server, &user.access, body).await,
                StatusCode::FORBIDDEN,
                detail,
            );
        }
        for (body, detail) in [
            (
                json!({ "name": "k", "scopes": [], "expires_in_days": 1 }),
                "`scopes` must name at least one scope: a key with none could do nothing",
            ),
            (
                json!({ "name": "k", "scopes": ["reports:read"], "expires_in_days": 0 }),
                "`expires_in_days` must be from 1 to 365",
            ),
            (
                json!({ "name": "k", "scopes": ["reports:read"], "expires_in_days": 366 }),
                "`expires_in_days` must be from 1 to 365",
            ),
            (
                json!({ "name": " ", "scopes": ["reports:read"], "expires_in_days": 1 }),
                "`name` must be 1 to 100 characters, without control characters",
            ),
        ] {
            assert_problem(
                &create_key(&server, &user.access, body).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                detail,
            );
        }
        let reply = create_key(
            &server,
            &user.access,
            json!({ "name": "k", "scopes": ["reports"], "expires_in_days": 1 }),
        )
        .await;
        status(&reply, StatusCode::UNPROCESSABLE_ENTITY);
        let reply = create_key(
            &server,
            &user.access,
            json!({ "name": "k", "scopes": ["reports:read"], "expires_in_days": -1 }),
        )
        .await;
        status(&reply, StatusCode::UNPROCESSABLE_ENTITY);
        // Nothing was stored by a refused request.
        assert_eq!(db.scalar("SELECT COUNT(*) FROM auth_api_keys").await, 0);

        // A key never mints a key wider than itself.
        let (_, key) = new_key(&server, &user.access, &["reports:read"]).await;
        let reply = server
            .send(
                Request::post("/auth/api-keys")
                    .header(KEY_HEADER, &key)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        json!({ "name": "w", "scopes": ["billing:read"], "expires_in_days": 1 })
                            .to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_problem(
            &reply,
            StatusCode::FORBIDDEN,
            "Scope `billing:read` is beyond the caller's own scopes",
        );
        // The key's scope guards the routes: reports:write is not granted.
        let reply = with_key(&server, "POST", "/reports", &key, None).await;
        assert_problem(
            &reply,
            StatusCode::FORBIDDEN,
            "Token is missing required scope: reports:write",
        );
    })
    .await;
}

#[tokio::test]
async fn every_refused_key_gets_one_identical_answer() {
    on_both("api key refusals", |db| async move {
        let server = TestServer::start(&db).await;
        let user = server.approved_user("ann@example.com").await;
        let (id, key) = new_key(&server, &user.access, &["reports:read"]).await;
        let (expiring_id, expiring) = new_key(&server, &user.access, &["reports:read"]).await;
        let (revoked_id, revoked) = new_key(&server, &user.access, &["reports:read"]).await;
        let secret = key.rsplit('_').next().unwrap();
        let other_id = "0123456789abcdef01234567";

        let reply = server
            .send(
                Request::delete(format!("/auth/api-keys/{revoked_id}"))
                    .header(header::AUTHORIZATION, format!("Bearer {}", user.access))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        status(&reply, StatusCode::NO_CONTENT);
        db.execute(&format!(
            "UPDATE auth_api_keys SET expires_at = 1 WHERE id = '{expiring_id}'"
        ))
        .await;
        // Past the cache's bound, every instance reads the key again.
        tokio::time::sleep(STALENESS * 2).await;

        let mut flipped = key.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        let bad = [
            format!("ak_{other_id}_{secret}"),
            flipped,
            key.replacen("ak_", "sk_", 1),
            key[..key.len() - 4].to_owned(),
            format!("{key}00"),
            key.to_uppercase(),
            "ak".to_owned(),
            "not a key at all".to_owned(),
            expiring,
            revoked,
        ];
        let mut bodies = Vec::new();
        for bad in &bad {
            let reply = with_key(&server, "GET", "/reports/1", bad, None).await;
            refused(&reply);
            bodies.push(reply.body.clone());
        }
        assert!(bodies.windows(2).all(|w| w[0] == w[1]));
        // The good key still works; the refused ones were never charged to it.
        status(
            &with_key(&server, "GET", "/reports/1", &key, None).await,
            StatusCode::OK,
        );
        // A key beside a bearer token, or two keys: which one did the client mean?
        let reply = with_key(&server, "GET", "/reports/1", &key, Some(&user.access)).await;
        assert_problem(
            &reply,
            StatusCode::BAD_REQUEST,
            "The request carries more than one credential; send exactly one",
        );
        let reply = server
            .send(
                Request::get("/reports/1")
                    .header(KEY_HEADER, &key)
                    .header(KEY_HEADER, &key)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        status(&reply, StatusCode::BAD_REQUEST);
        // Revoking: an unknown id, another account's key and a revoked one are all 404.
        let bob = server.approved_user("bob@example.com").await;
        for (token, target) in [
            (&user.access, other_id),
            (&bob.access, id.as_str()),
            (&user.access, revoked_id.as_str()),
            (&user.access, "%FF"),
        ] {
            let reply = server
                .send(
                    Request::delete(format!("/auth/api-keys/{target}"))
                        .header(header::AUTHORIZATION, format!("Bearer {token}"))
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert_problem(&reply, StatusCode::NOT_FOUND, "No such API key");
        }
        status(
            &with_key(&server, "GET", "/reports/1", &key, None).await,
            StatusCode::OK,
        );
        let list = server
            .get("/auth/api-keys", Some(&user.access))
            .await
            .json();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["id"], id);
    })
    .await;
}

#[tokio::test]
async fn a_key_dies_with_its_owners_credential_change_for_good() {
    on_both("api key owner changes", |db| async move {
        let server = TestServer::start(&db).await;
        let user = server.approved_user("ann@example.com").await;
        let (_, key) = new_key(&server, &user.access, &["reports:read"]).await;
        status(
            &with_key(&server, "GET", "/reports/1", &key, None).await,
            StatusCode::OK,
        );
        // A password change.
        let reply = server
            .post_json(
                "/auth/change-password",
                Some(&user.access),
                json!({ "current_password": PASSWORD, "new_password": "another password 1" }),
            )
            .await;
        status(&reply, StatusCode::NO_CONTENT);
        tokio::time::sleep(STALENESS * 2).await;
        refused(&with_key(&server, "GET", "/reports/1", &key, None).await);

        // A ban, then the account active again: the key stays dead.
        let bob = server.approved_user("bob@example.com").await;
        let (_, bob_key) = new_key(&server, &bob.access, &["reports:read"]).await;
        status(
            &with_key(&server, "GET", "/reports/1", &bob_key, None).await,
            StatusCode::OK,
        );
        let admin = server.admin().await;
        let bob_id = server.id_of("bob@example.com").await;
        let reply = server
            .post(&format!("/admin/users/{bob_id}/ban"), Some(&admin.access))
            .await;
        status(&reply, StatusCode::OK);
        refused(&with_key(&server, "GET", "/reports/1", &bob_key, None).await);
        db.execute(&format!(
            "UPDATE auth_users SET status = 'active' WHERE public_id = '{bob_id}'"
        ))
        .await;
        tokio::time::sleep(STALENESS * 2).await;
        refused(&with_key(&server, "GET", "/reports/1", &bob_key, None).await);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Cookies and CSRF
// ---------------------------------------------------------------------------------------------

const HOST: &str = "auth.example.com";

/// The cookies a response sets: name → the whole `Set-Cookie` line.
fn set_cookies(reply: &Reply) -> Vec<(String, String)> {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| {
            let line = v.to_str().expect("ASCII cookie").to_owned();
            let name = line.split('=').next().unwrap().to_owned();
            (name, line)
        })
        .collect()
}

/// The value of cookie `name` in a `Set-Cookie` list.
fn cookie_value(cookies: &[(String, String)], name: &str) -> String {
    let line = &cookies
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no cookie {name} in {cookies:?}"))
        .1;
    line[name.len() + 1..].split(';').next().unwrap().to_owned()
}

/// A browser's session: the cookies of a cookie sign-in.
struct Browser {
    access: String,
    refresh: String,
    csrf: String,
}

impl Browser {
    fn cookie_header(&self) -> String {
        format!(
            "__Host-user-access={}; __Host-user-csrf={}",
            self.access, self.csrf
        )
    }
}

/// `POST /auth/login?cookie=true` as a same-origin browser would send it.
async fn cookie_login(server: &TestServer, email: &str) -> Reply {
    server
        .send(
            Request::post("/auth/login?cookie=true")
                .header(header::HOST, HOST)
                .header(header::ORIGIN, format!("https://{HOST}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "username={}&password={}",
                    email.replace('@', "%40"),
                    PASSWORD.replace(' ', "+")
                )))
                .unwrap(),
        )
        .await
}

async fn browser(server: &TestServer, email: &str) -> Browser {
    let reply = cookie_login(server, email).await;
    status(&reply, StatusCode::NO_CONTENT);
    let cookies = set_cookies(&reply);
    Browser {
        access: cookie_value(&cookies, "__Host-user-access"),
        refresh: cookie_value(&cookies, "__Secure-user-refresh"),
        csrf: cookie_value(&cookies, "__Host-user-csrf"),
    }
}

/// A request from `browser` with extra headers.
fn from_browser(
    method: &str,
    path: &str,
    browser: &Browser,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, HOST)
        .header(header::COOKIE, browser.cookie_header());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

fn key_request() -> Option<Value> {
    Some(json!({ "name": "k", "scopes": ["reports:read"], "expires_in_days": 1 }))
}

#[tokio::test]
async fn a_cookie_sign_in_sets_three_cookies_and_reads_them_back() {
    on_both("cookie sign-in", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user("ann@example.com").await;
        let reply = cookie_login(&server, "ann@example.com").await;
        status(&reply, StatusCode::NO_CONTENT);
        assert!(reply.body.is_empty(), "no tokens in the body");
        assert_eq!(
            reply.headers.get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        let cookies = set_cookies(&reply);
        let names: Vec<&str> = cookies.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "__Host-user-access",
                "__Secure-user-refresh",
                "__Host-user-csrf"
            ]
        );
        let line = |name: &str| cookies.iter().find(|(n, _)| n == name).unwrap().1.clone();
        let access = line("__Host-user-access");
        assert!(
            access.ends_with("; Max-Age=900; Path=/; HttpOnly; Secure; SameSite=Lax"),
            "{access}"
        );
        let refresh = line("__Secure-user-refresh");
        assert!(
            refresh.contains("; Path=/auth/token; HttpOnly; Secure; SameSite=Lax"),
            "{refresh}"
        );
        let csrf = line("__Host-user-csrf");
        assert!(csrf.ends_with("; Path=/; Secure; SameSite=Lax"), "{csrf}");
        assert!(!csrf.contains("HttpOnly"), "scripts read the CSRF token");

        let ann = browser(&server, "ann@example.com").await;
        // Safe methods need nothing more.
        let reply = server
            .send(from_browser("GET", "/auth/me", &ann, &[], None))
            .await;
        status(&reply, StatusCode::OK);
        assert_eq!(reply.json()["credential"], "cookie");
        status(
            &server
                .send(from_browser("GET", "/reports/1", &ann, &[], None))
                .await,
            StatusCode::OK,
        );
        // The admin login type does not read cookies: not even with an admin token in one.
        let admin = server.admin().await;
        let reply = server
            .send(
                Request::get("/admin/dashboard")
                    .header(
                        header::COOKIE,
                        format!("__Host-admin-access={}", admin.access),
                    )
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_problem(&reply, StatusCode::UNAUTHORIZED, "Authentication required");
        let reply = server
            .send(
                Request::post("/admin/login?cookie=true")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        json!({ "email": "admin@localhost", "password": "admin password 1" })
                            .to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_problem(
            &reply,
            StatusCode::BAD_REQUEST,
            "Login type `admin` does not read cookies",
        );
        let reply = server
            .send(
                Request::post("/auth/login?cookie=maybe")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        json!({ "email": "ann@example.com", "password": PASSWORD }).to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_problem(
            &reply,
            StatusCode::BAD_REQUEST,
            "`cookie` must be `true` or `false`",
        );
    })
    .await;
}

#[tokio::test]
async fn unsafe_cookie_requests_need_the_sessions_csrf_token_and_this_site() {
    on_both("csrf", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user("ann@example.com").await;
        let ann = browser(&server, "ann@example.com").await;
        let other = browser(&server, "ann@example.com").await;
        assert_ne!(ann.csrf, other.csrf, "bound to the session");
        let mismatch = "The X-CSRF-Token header is missing or does not match the session";
        let post = |headers: Vec<(&'static str, String)>| {
            let headers: Vec<(&str, String)> = headers;
            let server = &server;
            let ann = &ann;
            async move {
                let borrowed: Vec<(&str, &str)> =
                    headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
                server
                    .send(from_browser(
                        "POST",
                        "/auth/api-keys",
                        ann,
                        &borrowed,
                        key_request(),
                    ))
                    .await
            }
        };
        assert_problem(&post(vec![]).await, StatusCode::FORBIDDEN, mismatch);
        assert_problem(
            &post(vec![("x-csrf-token", "wrong".into())]).await,
            StatusCode::FORBIDDEN,
            mismatch,
        );
        assert_problem(
            &post(vec![("x-csrf-token", other.csrf.clone())]).await,
            StatusCode::FORBIDDEN,
            mismatch,
        );
        let own = ("x-csrf-token", ann.csrf.clone());
        for cross in [
            ("origin", "https://evil.example".to_owned()),
            ("origin", "null".to_owned()),
            ("sec-fetch-site", "cross-site".to_owned()),
        ] {
            assert_problem(
                &post(vec![own.clone(), cross]).await,
                StatusCode::FORBIDDEN,
                "Cross-site request refused",
            );
        }
        // Nothing was created by a refused request.
        assert_eq!(db.scalar("SELECT COUNT(*) FROM auth_api_keys").await, 0);
        status(&post(vec![own.clone()]).await, StatusCode::CREATED);
        status(
            &post(vec![own.clone(), ("origin", format!("https://{HOST}"))]).await,
            StatusCode::CREATED,
        );
        status(
            &post(vec![own.clone(), ("sec-fetch-site", "same-origin".into())]).await,
            StatusCode::CREATED,
        );

        // A bearer request needs no CSRF token; a header token beside a different cookie
        // token of the same login type is ambiguous.
        let bearer = server.login("ann@example.com", PASSWORD).await.tokens();
        let reply = server
            .post_json(
                "/auth/api-keys",
                Some(&bearer.access),
                key_request().unwrap(),
            )
            .await;
        status(&reply, StatusCode::CREATED);
        let reply = server
            .send(from_browser(
                "GET",
                "/reports/1",
                &ann,
                &[("authorization", &format!("Bearer {}", bearer.access))],
                None,
            ))
            .await;
        assert_problem(
            &reply,
            StatusCode::BAD_REQUEST,
            "The request carries more than one credential; send exactly one",
        );
        let same = server
            .send(from_browser(
                "GET",
                "/reports/1",
                &ann,
                &[("authorization", &format!("Bearer {}", ann.access))],
                None,
            ))
            .await;
        status(&same, StatusCode::OK);

        // Login CSRF: another site cannot sign the browser in.
        let reply = server
            .send(
                Request::post("/auth/login?cookie=true")
                    .header(header::HOST, HOST)
                    .header(header::ORIGIN, "https://evil.example")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(
                        json!({ "email": "ann@example.com", "password": PASSWORD }).to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_problem(&reply, StatusCode::FORBIDDEN, "Cross-site request refused");
    })
    .await;
}

#[tokio::test]
async fn refresh_and_logout_work_by_cookie() {
    on_both("cookie refresh", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user("ann@example.com").await;
        let ann = browser(&server, "ann@example.com").await;
        let refresh = |csrf: Option<&str>| {
            let mut builder = Request::post("/auth/token?cookie=true")
                .header(header::HOST, HOST)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(
                    header::COOKIE,
                    format!("__Secure-user-refresh={}", ann.refresh),
                );
            if let Some(csrf) = csrf {
                builder = builder.header("x-csrf-token", csrf);
            }
            builder
                .body(Body::from("grant_type=refresh_token"))
                .unwrap()
        };
        assert_oauth_error(
            &server.send(refresh(None)).await,
            StatusCode::FORBIDDEN,
            "invalid_request",
            "The X-CSRF-Token header is missing or does not match the session",
        );
        let reply = server.send(refresh(Some(&ann.csrf))).await;
        status(&reply, StatusCode::NO_CONTENT);
        let cookies = set_cookies(&reply);
        let renewed = Browser {
            access: cookie_value(&cookies, "__Host-user-access"),
            refresh: cookie_value(&cookies, "__Secure-user-refresh"),
            csrf: cookie_value(&cookies, "__Host-user-csrf"),
        };
        assert_ne!(renewed.refresh, ann.refresh);
        assert_eq!(renewed.csrf, ann.csrf, "one session, one CSRF token");
        // The old refresh cookie is spent.
        let reply = server.send(refresh(Some(&ann.csrf))).await;
        assert!(reply.status.is_client_error(), "{}", reply.text());
        // Reuse revoked the whole family.
        status(
            &server
                .send(from_browser("GET", "/reports/1", &renewed, &[], None))
                .await,
            StatusCode::UNAUTHORIZED,
        );

        // Logout by cookie expires the cookies and ends the session.
        let bob_email = "bob@example.com";
        server.approved_user(bob_email).await;
        let bob = browser(&server, bob_email).await;
        let reply = server
            .send(from_browser(
                "POST",
                "/auth/logout",
                &bob,
                &[("x-csrf-token", &bob.csrf)],
                None,
            ))
            .await;
        status(&reply, StatusCode::NO_CONTENT);
        let expired = set_cookies(&reply);
        assert_eq!(expired.len(), 3, "{expired:?}");
        assert!(
            expired
                .iter()
                .all(|(_, line)| line.contains("=; Max-Age=0;")),
            "{expired:?}"
        );
        assert_invalid_token(
            &server
                .send(from_browser("GET", "/reports/1", &bob, &[], None))
                .await,
            "user",
            "The token has been revoked",
        );
        // A bearer logout sets no cookies.
        let bearer = server.login(bob_email, PASSWORD).await.tokens();
        let reply = server.post("/auth/logout", Some(&bearer.access)).await;
        status(&reply, StatusCode::NO_CONTENT);
        assert!(set_cookies(&reply).is_empty());
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// A real OAuth2 client at the token endpoint (RFC 6749 §5.2 errors)
// ---------------------------------------------------------------------------------------------

mod oauth_client {
    use super::*;
    use oauth2::basic::{BasicClient, BasicErrorResponseType};
    use oauth2::{
        ClientId, HttpRequest, HttpResponse, RefreshToken, RequestTokenError,
        ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenResponse, TokenUrl,
    };

    /// The oauth2 crate's HTTP function, answered by the in-process server.
    async fn send(app: axum::Router, request: HttpRequest) -> Result<HttpResponse, std::io::Error> {
        let (parts, body) = request.into_parts();
        let reply = common::send(&app, Request::from_parts(parts, Body::from(body))).await;
        let mut response = HttpResponse::new(reply.body.to_vec());
        *response.status_mut() = reply.status;
        *response.headers_mut() = reply.headers;
        Ok(response)
    }

    #[tokio::test]
    async fn an_oauth2_client_signs_in_refreshes_and_reads_every_refusal() {
        on_both("oauth2 client", |db| async move {
            let server = TestServer::start(&db).await;
            server.approved_user("ann@example.com").await;
            let app = server.app.clone();
            let http = move |request: HttpRequest| send(app.clone(), request);
            let client = BasicClient::new(ClientId::new("reports-app".into()))
                .set_token_uri(TokenUrl::new("http://localhost/auth/token".into()).unwrap());
            let ann = ResourceOwnerUsername::new("ann@example.com".into());

            let first = client
                .exchange_password(&ann, &ResourceOwnerPassword::new(PASSWORD.into()))
                .add_scope(Scope::new("reports:read".into()))
                .request_async(&http)
                .await
                .expect("password grant");
            assert_eq!(
                first.scopes().map(|s| s.len()),
                None,
                "the server grants what was asked"
            );
            status(
                &server
                    .get("/reports/1", Some(first.access_token().secret()))
                    .await,
                StatusCode::OK,
            );
            let spent = first.refresh_token().expect("a refresh token").clone();
            let second = client
                .exchange_refresh_token(&spent)
                .request_async(&http)
                .await
                .expect("refresh grant");
            assert_ne!(
                second.access_token().secret(),
                first.access_token().secret()
            );

            let code = |e: RequestTokenError<_, oauth2::basic::BasicErrorResponse>| match e {
                RequestTokenError::ServerResponse(r) => r.error().clone(),
                other => panic!("not an OAuth2 error response: {other:?}"),
            };
            // A spent refresh token: the client raises `invalid_grant` (it used to store the
            // problem body as its new token).
            let e = client
                .exchange_refresh_token(&spent)
                .request_async(&http)
                .await
                .unwrap_err();
            assert_eq!(code(e), BasicErrorResponseType::InvalidGrant);
            let e = client
                .exchange_refresh_token(&RefreshToken::new("unknown".into()))
                .request_async(&http)
                .await
                .unwrap_err();
            assert_eq!(code(e), BasicErrorResponseType::InvalidGrant);
            let e = client
                .exchange_password(&ann, &ResourceOwnerPassword::new("wrong password".into()))
                .request_async(&http)
                .await
                .unwrap_err();
            assert_eq!(code(e), BasicErrorResponseType::InvalidGrant);
            let e = client
                .exchange_password(&ann, &ResourceOwnerPassword::new(PASSWORD.into()))
                .add_scope(Scope::new("admin:users".into()))
                .request_async(&http)
                .await
                .unwrap_err();
            assert_eq!(code(e), BasicErrorResponseType::InvalidScope);
            // No client secret: the client is not authenticated.
            let e = client
                .exchange_client_credentials()
                .request_async(&http)
                .await
                .unwrap_err();
            assert_eq!(code(e), BasicErrorResponseType::InvalidClient);

            // A service account with the client-credentials grant (secret by HTTP Basic).
            let admin = server.admin().await;
            let reply = server
                .post_json(
                    "/admin/service-accounts",
                    Some(&admin.access),
                    json!({ "name": "nightly", "roles": ["reporter"] }),
                )
                .await;
            status(&reply, StatusCode::CREATED);
            let created = reply.json();
            let service =
                BasicClient::new(ClientId::new(created["client_id"].as_str().unwrap().into()))
                    .set_client_secret(oauth2::ClientSecret::new(
                        created["client_secret"].as_str().unwrap().into(),
                    ))
                    .set_token_uri(TokenUrl::new("http://localhost/auth/token".into()).unwrap());
            let token = service
                .exchange_client_credentials()
                .request_async(&http)
                .await
                .expect("client credentials");
            assert!(token.refresh_token().is_none());
            status(
                &server
                    .get("/reports/1", Some(token.access_token().secret()))
                    .await,
                StatusCode::OK,
            );
            let e = service
                .exchange_client_credentials()
                .add_scope(Scope::new("reports:write".into()))
                .request_async(&http)
                .await
                .unwrap_err();
            assert_eq!(code(e), BasicErrorResponseType::InvalidScope);
            let wrong = service.set_client_secret(oauth2::ClientSecret::new("wrong".into()));
            let e = wrong
                .exchange_client_credentials()
                .request_async(&http)
                .await
                .unwrap_err();
            assert_eq!(code(e), BasicErrorResponseType::InvalidClient);
        })
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// Own sessions (ASVS 3.3.4)
// ---------------------------------------------------------------------------------------------

async fn delete(server: &TestServer, path: &str, token: &str) -> Reply {
    server
        .send(
            Request::delete(path)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
}

#[tokio::test]
async fn a_user_lists_and_ends_their_own_sessions() {
    on_both("own sessions", |db| async move {
        let server = TestServer::start(&db).await;
        let here = server.approved_user("ann@example.com").await;
        let phone = server.login("ann@example.com", PASSWORD).await.tokens();
        let bob = server.approved_user("bob@example.com").await;
        let sid = |token: &str| {
            common::payload_of(token)["sid"]
                .as_str()
                .unwrap()
                .to_owned()
        };

        let reply = server.get("/auth/sessions", Some(&here.access)).await;
        status(&reply, StatusCode::OK);
        assert_eq!(
            reply.headers.get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        let list = reply.json();
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 2, "{list:?}");
        let ids: Vec<&str> = list.iter().map(|s| s["id"].as_str().unwrap()).collect();
        assert!(ids.contains(&sid(&here.access).as_str()));
        assert!(ids.contains(&sid(&phone.access).as_str()));
        for session in list {
            assert_eq!(
                session["current"],
                session["id"] == sid(&here.access),
                "{session}"
            );
            assert_eq!(session["login_type"], "user");
            assert!(session["created_at"].is_u64() && session["last_used_at"].is_u64());
        }

        // Another account's session, an unknown id, a bad one: 404, nothing ended.
        for id in [sid(&bob.access), "unknown".into(), "%FF".into()] {
            assert_problem(
                &delete(&server, &format!("/auth/sessions/{id}"), &here.access).await,
                StatusCode::NOT_FOUND,
                "No such session",
            );
        }
        status(
            &server.get("/reports/1", Some(&bob.access)).await,
            StatusCode::OK,
        );

        // Ending the phone's session: its tokens stop at once.
        let reply = delete(
            &server,
            &format!("/auth/sessions/{}", sid(&phone.access)),
            &here.access,
        )
        .await;
        status(&reply, StatusCode::NO_CONTENT);
        assert_invalid_token(
            &server.get("/reports/1", Some(&phone.access)).await,
            "user",
            "The token has been revoked",
        );
        let list = server
            .get("/auth/sessions", Some(&here.access))
            .await
            .json();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        // Ending it again: no longer live.
        status(
            &delete(
                &server,
                &format!("/auth/sessions/{}", sid(&phone.access)),
                &here.access,
            )
            .await,
            StatusCode::NOT_FOUND,
        );
        // An API key is no session and may not end one.
        let (_, key) = new_key(&server, &here.access, &["reports:read"]).await;
        let reply = server
            .send(
                Request::delete(format!("/auth/sessions/{}", sid(&here.access)))
                    .header(KEY_HEADER, &key)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_problem(
            &reply,
            StatusCode::FORBIDDEN,
            "An API key cannot end sessions; sign in",
        );
        // Its own session too.
        let reply = delete(
            &server,
            &format!("/auth/sessions/{}", sid(&here.access)),
            &here.access,
        )
        .await;
        status(&reply, StatusCode::NO_CONTENT);
        status(
            &server.get("/reports/1", Some(&here.access)).await,
            StatusCode::UNAUTHORIZED,
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Users administration
// ---------------------------------------------------------------------------------------------

async fn put_json(server: &TestServer, path: &str, token: &str, body: Value) -> Reply {
    server
        .send(
            Request::put(path)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
}

#[tokio::test]
async fn admins_page_through_every_account() {
    on_both("users paging", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let mut emails = vec!["admin@localhost".to_owned()];
        for i in 0..5 {
            let email = format!("user{i}@example.com");
            let reply = server
                .post_json(
                    "/auth/register",
                    None,
                    json!({ "email": email, "password": PASSWORD }),
                )
                .await;
            status(&reply, StatusCode::CREATED);
            emails.push(email);
        }
        let mut seen = Vec::new();
        let mut path = "/admin/users?limit=2".to_owned();
        loop {
            let reply = server.get(&path, Some(&admin.access)).await;
            status(&reply, StatusCode::OK);
            assert_eq!(
                reply.headers.get(header::CACHE_CONTROL).unwrap(),
                "no-store"
            );
            let page = reply.json();
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 2);
            for item in items {
                let mut keys: Vec<&String> = item.as_object().unwrap().keys().collect();
                keys.sort();
                assert_eq!(keys, ["email", "id", "roles", "status"]);
                seen.push(item["email"].as_str().unwrap().to_owned());
            }
            match page["next"].as_str() {
                Some(next) => path = format!("/admin/users?limit=2&after={next}"),
                None => break,
            }
        }
        let mut sorted_seen = seen.clone();
        sorted_seen.sort();
        sorted_seen.dedup();
        assert_eq!(sorted_seen.len(), seen.len(), "no account twice: {seen:?}");
        let mut expected = emails.clone();
        expected.sort();
        assert_eq!(sorted_seen, expected);
        // The default page holds them all.
        let all = server.get("/admin/users", Some(&admin.access)).await.json();
        assert_eq!(all["items"].as_array().unwrap().len(), 6);
        assert_eq!(all["next"], Value::Null);

        let bad = "`limit` must be a whole number from 1 to 200; `after` a cursor from `next`";
        for query in ["limit=0", "limit=201", "limit=abc", "limit=-1"] {
            assert_problem(
                &server
                    .get(&format!("/admin/users?{query}"), Some(&admin.access))
                    .await,
                StatusCode::BAD_REQUEST,
                bad,
            );
        }
        assert_problem(
            &server
                .get("/admin/users?after=nobody", Some(&admin.access))
                .await,
            StatusCode::BAD_REQUEST,
            "Unknown `after` cursor",
        );
        // Admins only.
        let user = server.approved_user("ann@example.com").await;
        status(
            &server.get("/admin/users", Some(&user.access)).await,
            StatusCode::UNAUTHORIZED,
        );
    })
    .await;
}

#[tokio::test]
async fn deactivation_ends_sessions_and_keys_and_reactivation_revives_neither() {
    on_both("deactivate", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let user = server.approved_user("ann@example.com").await;
        let (_, key) = new_key(&server, &user.access, &["reports:read"]).await;
        let id = server.id_of("ann@example.com").await;

        let reply = server
            .post(
                &format!("/admin/users/{id}/deactivate"),
                Some(&admin.access),
            )
            .await;
        status(&reply, StatusCode::NO_CONTENT);
        assert_invalid_token(
            &server.get("/reports/1", Some(&user.access)).await,
            "user",
            "The token has been revoked",
        );
        refused(&with_key(&server, "GET", "/reports/1", &key, None).await);
        status(
            &server.login("ann@example.com", PASSWORD).await,
            StatusCode::UNAUTHORIZED,
        );

        let reply = server
            .post(
                &format!("/admin/users/{id}/reactivate"),
                Some(&admin.access),
            )
            .await;
        status(&reply, StatusCode::NO_CONTENT);
        // The deactivation's cutoff covers tokens issued within its second (`iat` has whole
        // seconds): a sign-in right after a reactivation gets good tokens a second later.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        status(
            &server.get("/reports/1", Some(&user.access)).await,
            StatusCode::UNAUTHORIZED,
        );
        refused(&with_key(&server, "GET", "/reports/1", &key, None).await);
        let again = server.login("ann@example.com", PASSWORD).await.tokens();
        status(
            &server.get("/reports/1", Some(&again.access)).await,
            StatusCode::OK,
        );

        // Unknown accounts, and a pending one that only approval activates.
        for path in ["deactivate", "reactivate"] {
            assert_problem(
                &server
                    .post(&format!("/admin/users/nobody/{path}"), Some(&admin.access))
                    .await,
                StatusCode::NOT_FOUND,
                "No such account",
            );
        }
        let reply = server
            .post_json(
                "/auth/register",
                None,
                json!({ "email": "pending@example.com", "password": PASSWORD }),
            )
            .await;
        status(&reply, StatusCode::CREATED);
        let pending = server.id_of("pending@example.com").await;
        assert_problem(
            &server
                .post(
                    &format!("/admin/users/{pending}/reactivate"),
                    Some(&admin.access),
                )
                .await,
            StatusCode::CONFLICT,
            "Only a deactivated account can be reactivated; approve a pending one",
        );
    })
    .await;
}

#[tokio::test]
async fn a_role_change_ends_live_sessions_and_the_next_sign_in_carries_it() {
    on_both("set roles", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let user = server.approved_user("ann@example.com").await;
        let id = server.id_of("ann@example.com").await;
        let path = format!("/admin/users/{id}/roles");

        assert_problem(
            &put_json(
                &server,
                &path,
                &admin.access,
                json!({ "roles": ["user", "wizard"] }),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unknown role `wizard`",
        );
        status(
            &server.get("/reports/1", Some(&user.access)).await,
            StatusCode::OK,
        );
        assert_problem(
            &put_json(
                &server,
                "/admin/users/nobody/roles",
                &admin.access,
                json!({ "roles": [] }),
            )
            .await,
            StatusCode::NOT_FOUND,
            "No such account",
        );
        status(
            &put_json(&server, &path, &user.access, json!({ "roles": ["admin"] })).await,
            StatusCode::UNAUTHORIZED,
        );

        let reply = put_json(
            &server,
            &path,
            &admin.access,
            json!({ "roles": ["editor"] }),
        )
        .await;
        status(&reply, StatusCode::NO_CONTENT);
        assert_invalid_token(
            &server.get("/reports/1", Some(&user.access)).await,
            "user",
            "The token has been revoked",
        );
        let next = server.login("ann@example.com", PASSWORD).await.tokens();
        assert_eq!(common::payload_of(&next.access)["scope"], "reports:*");
        status(
            &server.post("/reports", Some(&next.access)).await,
            StatusCode::CREATED,
        );
    })
    .await;
}

#[tokio::test]
async fn admins_list_and_end_an_accounts_sessions() {
    on_both("user sessions", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let one = server.approved_user("ann@example.com").await;
        let two = server.login("ann@example.com", PASSWORD).await.tokens();
        let id = server.id_of("ann@example.com").await;
        let path = format!("/admin/users/{id}/sessions");
        let list = server.get(&path, Some(&admin.access)).await;
        status(&list, StatusCode::OK);
        assert_eq!(list.json().as_array().unwrap().len(), 2);
        assert_problem(
            &server
                .get("/admin/users/nobody/sessions", Some(&admin.access))
                .await,
            StatusCode::NOT_FOUND,
            "No such account",
        );
        status(
            &delete(&server, &path, &admin.access).await,
            StatusCode::NO_CONTENT,
        );
        for tokens in [&one, &two] {
            status(
                &server.get("/reports/1", Some(&tokens.access)).await,
                StatusCode::UNAUTHORIZED,
            );
        }
        assert!(
            server
                .get(&path, Some(&admin.access))
                .await
                .json()
                .as_array()
                .unwrap()
                .is_empty()
        );
        // The account may sign in again.
        status(
            &server.login("ann@example.com", PASSWORD).await,
            StatusCode::OK,
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Service accounts and the client-credentials grant
// ---------------------------------------------------------------------------------------------

/// `POST /auth/token` with `grant_type=client_credentials`, the client authenticated by the
/// form (`basic: None`) or by HTTP Basic.
async fn client_token(server: &TestServer, form: &str, basic: Option<(&str, &str)>) -> Reply {
    use base64::Engine as _;
    let mut builder = Request::post("/auth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        builder = builder.header(header::AUTHORIZATION, format!("Basic {encoded}"));
    }
    server
        .send(builder.body(Body::from(form.to_owned())).unwrap())
        .await
}

fn invalid_client(reply: &Reply) {
    assert_oauth_error(
        reply,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "Client authentication failed",
    );
    assert_eq!(
        reply.headers.get(header::WWW_AUTHENTICATE).unwrap(),
        r#"Basic realm="token""#
    );
}

#[tokio::test]
async fn service_accounts_get_service_tokens_by_client_credentials_only() {
    on_both("service accounts", |db| async move {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let reply = server
            .post_json(
                "/admin/service-accounts",
                Some(&admin.access),
                json!({ "name": "nightly-report", "roles": ["reporter"] }),
            )
            .await;
        status(&reply, StatusCode::CREATED);
        assert_eq!(
            reply.headers.get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        let created = reply.json();
        let id = created["id"].as_str().unwrap().to_owned();
        let secret = created["client_secret"].as_str().unwrap().to_owned();
        assert_eq!(created["client_id"], id);
        assert!(secret.len() >= 32);
        // Only a digest is stored.
        assert_eq!(
            db.scalar(&format!(
                "SELECT COUNT(*) FROM auth_users WHERE public_id = '{id}' \
                 AND password_hash NOT LIKE '%{secret}%'"
            ))
            .await,
            1
        );

        for (body, status_code, detail) in [
            (
                json!({ "name": "nightly-report", "roles": [] }),
                StatusCode::CONFLICT,
                "A service account with this name exists",
            ),
            (
                json!({ "name": "Bad Name", "roles": [] }),
                StatusCode::UNPROCESSABLE_ENTITY,
                "`name` must be 1 to 64 of a-z, 0-9, `-` and `_`, starting with a letter or digit",
            ),
            (
                json!({ "name": "x", "roles": ["wizard"] }),
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unknown role `wizard`",
            ),
        ] {
            assert_problem(
                &server
                    .post_json("/admin/service-accounts", Some(&admin.access), body)
                    .await,
                status_code,
                detail,
            );
        }
        let user = server.approved_user("ann@example.com").await;
        status(
            &server
                .post_json(
                    "/admin/service-accounts",
                    Some(&user.access),
                    json!({ "name": "mine", "roles": ["admin"] }),
                )
                .await,
            StatusCode::UNAUTHORIZED,
        );

        // The grant, with the client authenticated by the form, then by HTTP Basic.
        let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
        let reply = client_token(&server, &form, None).await;
        status(&reply, StatusCode::OK);
        assert_eq!(
            reply.headers.get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        let body = reply.json();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 600);
        assert!(body.get("refresh_token").is_none(), "{body}");
        let token = body["access_token"].as_str().unwrap().to_owned();
        let claims = common::payload_of(&token);
        assert_eq!(claims["login_type"], "service");
        assert_eq!(claims["scope"], "reports:read");
        assert_eq!(claims["sub"], id);
        let header_json: Value = {
            use base64::Engine as _;
            let head = token.split('.').next().unwrap();
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(head)
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(header_json["alg"], "EdDSA");
        status(
            &server.get("/reports/1", Some(&token)).await,
            StatusCode::OK,
        );
        assert_problem(
            &server.post("/reports", Some(&token)).await,
            StatusCode::FORBIDDEN,
            "Token is missing required scope: reports:write",
        );
        let basic = client_token(
            &server,
            "grant_type=client_credentials",
            Some((&id, &secret)),
        )
        .await;
        status(&basic, StatusCode::OK);
        // Narrowed, and beyond.
        let reply = client_token(
            &server,
            "grant_type=client_credentials&scope=reports:write",
            Some((&id, &secret)),
        )
        .await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The scope `reports:write` is not granted to this account",
        );
        // Both ways at once is ambiguous.
        let reply = client_token(&server, &form, Some((&id, &secret))).await;
        assert_oauth_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Send the client credentials once: HTTP Basic or the form, not both",
        );
        // Refused clients: one answer.
        let ann = server.id_of("ann@example.com").await;
        for (client, secret) in [
            (id.as_str(), "wrong"),
            ("unknown", secret.as_str()),
            (ann.as_str(), PASSWORD),
            (id.as_str(), ""),
        ] {
            invalid_client(
                &client_token(
                    &server,
                    "grant_type=client_credentials",
                    Some((client, secret)),
                )
                .await,
            );
        }
        invalid_client(&client_token(&server, "grant_type=client_credentials", None).await);
        // Never by password.
        assert_problem(
            &server.login("service:nightly-report", &secret).await,
            StatusCode::UNAUTHORIZED,
            "Invalid username or password",
        );

        // Its own API key, within its roles.
        let path = format!("/admin/service-accounts/{id}/api-keys");
        let reply = server
            .post_json(
                &path,
                Some(&admin.access),
                json!({ "name": "ci", "scopes": ["reports:read"], "expires_in_days": 7 }),
            )
            .await;
        status(&reply, StatusCode::CREATED);
        let key = reply.json()["key"].as_str().unwrap().to_owned();
        let me = with_key(&server, "GET", "/auth/me", &key, None).await;
        status(&me, StatusCode::OK);
        assert_eq!(me.json()["login_type"], "service");
        assert_eq!(me.json()["credential"], "api_key");
        assert_problem(
            &server
                .post_json(
                    &path,
                    Some(&admin.access),
                    json!({ "name": "ci", "scopes": ["reports:write"], "expires_in_days": 7 }),
                )
                .await,
            StatusCode::FORBIDDEN,
            "Scope `reports:write` is beyond the caller's own scopes",
        );
        // Not a service account: 404.
        assert_problem(
            &server
                .post(
                    &format!("/admin/service-accounts/{ann}/deactivate"),
                    Some(&admin.access),
                )
                .await,
            StatusCode::NOT_FOUND,
            "No such account",
        );

        // Deactivation stops its tokens and keys at once, and the grant.
        let reply = server
            .post(
                &format!("/admin/service-accounts/{id}/deactivate"),
                Some(&admin.access),
            )
            .await;
        status(&reply, StatusCode::NO_CONTENT);
        assert_invalid_token(
            &server.get("/reports/1", Some(&token)).await,
            "service",
            "The token has been revoked",
        );
        assert_invalid_token(
            &with_key(&server, "GET", "/reports/1", &key, None).await,
            "user",
            "The API key is not valid",
        );
        invalid_client(&client_token(&server, &form, None).await);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Custom credential sources
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_apps_own_verifier_feeds_every_attribute() {
    use auth_runtime::TokenRequest;
    use examples::opaque::{Provider, app};

    let provider = Provider::default();
    let (router, manager) = app(provider.clone(), &[9; 32]).unwrap();
    let get = |token: String| {
        let router = router.clone();
        async move {
            common::send(
                &router,
                Request::get("/reports/1")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
        }
    };
    let reader = provider.issue("ada", &["reports:read"]);
    let reply = get(reader.clone()).await;
    status(&reply, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({ "sub": "ada", "credential": "custom", "issuer": "opaque-idp" })
    );
    // Scopes are checked as for any token.
    let nobody = provider.issue("bob", &["billing:read"]);
    assert_problem(
        &get(nobody).await,
        StatusCode::FORBIDDEN,
        "Token is missing required scope: reports:read",
    );
    let writer = provider.issue("cy", &["reports:write"]);
    let reply = common::send(
        &router,
        Request::post("/reports")
            .header(header::AUTHORIZATION, format!("Bearer {writer}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    status(&reply, StatusCode::OK);
    // Revoked at the provider, or unknown to it: refused, never passed on.
    provider.revoke(&reader);
    assert_invalid_token(&get(reader).await, "user", "The token has been revoked");
    assert_invalid_token(
        &get("op_unknown".into()).await,
        "user",
        "The token has been revoked",
    );
    // A JWT is not the verifier's: the built-in verification takes it.
    let jwt = manager
        .create_access_token(&TokenRequest::new("user", "grace").scopes(["reports:read"]))
        .unwrap()
        .access_token;
    let reply = get(jwt).await;
    status(&reply, StatusCode::OK);
    assert_eq!(reply.json()["credential"], "bearer");
}
