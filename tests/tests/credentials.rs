//! Credentials beyond the bearer token on the reference server (docs/architecture.md §5), on
//! SQLite and on PostgreSQL: API keys.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use common::db::on_both;
use common::server::{PASSWORD, STALENESS, TestServer};
use common::{Reply, assert_invalid_token, assert_problem};

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
