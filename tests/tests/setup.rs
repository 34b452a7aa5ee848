//! The one-call `Setup` (store from a URL, login types `user` and `admin`, the seeded admin,
//! the built-in routes under a prefix) on SQLite and PostgreSQL, and every way it refuses.

mod common;

use std::time::Duration;

use auth_runtime::CookieConfig;
use auth_runtime::accounts::AdminSeed;
use auth_runtime::prelude::*;
use auth_runtime::routes::MountError;
use auth_runtime::setup::{Setup, SetupError};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::db::{TestDb, on_both};
use common::{Reply, get, get_as, send};
use serde_json::{Value, json};

const ADMIN: &str = "root@example.com";
const ADMIN_PASSWORD: &str = "correct horse battery staple";
const PASSWORD: &str = "a long user passphrase";

#[requires("reports:read")]
#[route(GET, "/api/v1/reports/{id}")]
async fn report(user: Principal) -> String {
    format!("report for {}", user.subject())
}

#[derive(SecureRouter)]
#[secure_router(routes(report))]
struct Api;

/// An app route on a built-in path once prefixed.
#[public]
#[route(POST, "/api/v1/auth/login")]
async fn my_login() -> &'static str {
    "mine"
}

#[derive(SecureRouter)]
#[secure_router(routes(my_login))]
struct Clashing;

fn secrets() -> (String, String) {
    (SigningKey::generate_secret(), SigningKey::generate_secret())
}

async fn post_json(app: &Router, path: &str, token: Option<&str>, body: Value) -> Reply {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    send(app, request.body(Body::from(body.to_string())).unwrap()).await
}

/// Registers `email` (with [`PASSWORD`]) and has `admin` approve it, under `prefix`.
async fn register_and_approve(app: &Router, prefix: &str, admin: &str, email: &str) {
    let body = json!({ "email": email, "password": PASSWORD });
    let registered = post_json(app, &format!("{prefix}/auth/register"), None, body).await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text()
    );
    let approved = post_json(
        app,
        &format!("{prefix}/auth/approve"),
        Some(admin),
        json!({ "email": email }),
    )
    .await;
    assert_eq!(
        approved.status,
        StatusCode::NO_CONTENT,
        "{}",
        approved.text()
    );
}

fn access_token(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

/// Everything the setup makes, over HTTP: the prefixed built-in routes (and nothing at the
/// unprefixed paths), the seeded admin on login type `admin` with the users administration,
/// registration and approval, the app's own route with the `user` role the setup was given,
/// and the refresh cookie at the prefixed token path.
#[tokio::test]
async fn one_call_sets_up_store_login_types_admin_and_prefixed_routes() {
    on_both("setup", |db: TestDb| async move {
        let (user_secret, admin_secret) = secrets();
        let auth = Setup::new(&db.url)
            .secrets(&user_secret, &admin_secret)
            .admin(ADMIN, Some(ADMIN_PASSWORD))
            .prefix("/api/v1")
            .role("user", ["reports:read"])
            .cookies(CookieConfig::default().secure(false))
            .configure(|builder| builder.registration_limit(0))
            .build()
            .await
            .expect("setup");
        assert!(matches!(
            auth.admin_seed,
            Some(AdminSeed::Created {
                generated_password: None
            })
        ));
        assert_eq!(auth.prefix(), "/api/v1");
        assert!(
            auth.routes()
                .iter()
                .all(|r| r.path.starts_with("/api/v1/") || r.path == "/.well-known/jwks.json")
        );
        assert!(
            auth.routes()
                .iter()
                .any(|r| r.method == "GET" && r.path == "/api/v1/admin/users")
        );
        let app: Router = auth
            .router::<Api>()
            .expect("no collision")
            .with_state(auth.manager.clone());

        // Only the prefixed paths exist.
        let at_root = post_json(
            &app,
            "/auth/login",
            None,
            json!({ "email": ADMIN, "password": ADMIN_PASSWORD }),
        )
        .await;
        assert_eq!(at_root.status, StatusCode::NOT_FOUND);

        // The admin signs in on login type `admin` and administers users.
        let admin = access_token(
            &post_json(
                &app,
                "/api/v1/admin/login",
                None,
                json!({ "email": ADMIN, "password": ADMIN_PASSWORD }),
            )
            .await,
        );
        let me = get_as(&app, "/api/v1/auth/me", &admin).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text());
        assert_eq!(me.json()["login_type"], "admin");
        let users = get_as(&app, "/api/v1/admin/users", &admin).await;
        assert_eq!(users.status, StatusCode::OK, "{}", users.text());

        // A user registers, the admin approves, the user reads a report.
        register_and_approve(&app, "/api/v1", &admin, "ann@example.com").await;
        let user = access_token(
            &post_json(
                &app,
                "/api/v1/auth/login",
                None,
                json!({ "email": "ann@example.com", "password": PASSWORD }),
            )
            .await,
        );
        let report = get_as(&app, "/api/v1/reports/7", &user).await;
        assert_eq!(report.status, StatusCode::OK, "{}", report.text());
        // The administration takes login type `admin`.
        let refused = get_as(&app, "/api/v1/admin/users", &user).await;
        assert_eq!(
            refused.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            refused.text()
        );
        assert!(
            refused.detail().contains("expected `admin`"),
            "{}",
            refused.text()
        );
        assert_eq!(
            get(&app, "/api/v1/reports/7").await.status,
            StatusCode::UNAUTHORIZED
        );

        // The refresh cookie goes to the prefixed token endpoint.
        let cookie_login = send(
            &app,
            Request::post("/api/v1/auth/login?cookie=true")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({ "email": "ann@example.com", "password": PASSWORD }).to_string(),
                ))
                .unwrap(),
        )
        .await;
        assert_eq!(
            cookie_login.status,
            StatusCode::NO_CONTENT,
            "{}",
            cookie_login.text()
        );
        let refresh_cookie = cookie_login
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("user-refresh="))
            .expect("a refresh cookie");
        assert!(
            refresh_cookie.contains("; Path=/api/v1/auth/token"),
            "{refresh_cookie}"
        );

        // A second setup on the same database finds the admin and keeps its password.
        drop(app);
        let again = Setup::new(&db.url)
            .secrets(&user_secret, &admin_secret)
            .admin(ADMIN, None)
            .build()
            .await
            .expect("second setup");
        assert!(matches!(again.admin_seed, Some(AdminSeed::Exists)));
        let app: Router = again
            .router::<Api>()
            .unwrap()
            .with_state(again.manager.clone());
        access_token(
            &post_json(
                &app,
                "/admin/login",
                None,
                json!({ "email": ADMIN, "password": ADMIN_PASSWORD }),
            )
            .await,
        );
    })
    .await;
}

/// Without a password the admin's is generated and handed back once; without secrets each
/// run draws its own; a replaced login type keeps its name and takes the new settings.
#[tokio::test]
async fn defaults_and_replacements() {
    on_both("setup defaults", |db: TestDb| async move {
        let auth = Setup::new(&db.url)
            .admin(ADMIN, None)
            .login_type(
                LoginType::new("admin")
                    .key(SigningKey::hs256(
                        "admin-2",
                        SigningKey::generate_secret().as_bytes(),
                    ))
                    .access_ttl(Duration::from_secs(90)),
            )
            .build()
            .await
            .expect("setup");
        let Some(AdminSeed::Created {
            generated_password: Some(password),
        }) = &auth.admin_seed
        else {
            panic!("a generated password: {:?}", auth.admin_seed)
        };
        let app: Router = auth
            .router::<Api>()
            .unwrap()
            .with_state(auth.manager.clone());
        let reply = post_json(
            &app,
            "/admin/login",
            None,
            json!({ "email": ADMIN, "password": password }),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["expires_in"], 90);
        let token = reply.json()["access_token"].as_str().unwrap().to_owned();
        assert_eq!(common::payload_of(&token)["login_type"], "admin");
        let names: Vec<&str> = auth.manager.login_type_names().collect();
        assert_eq!(names.len(), 2, "{names:?}");
    })
    .await;
}

/// Each piece that cannot be made is a typed error naming it, and a clash between the app's
/// routes and the prefixed built-in ones is found before axum would panic.
#[tokio::test]
async fn every_refusal_is_a_typed_error() {
    let db = TestDb::sqlite().await;

    let err = Setup::new("mysql://localhost/app")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::Store(_)), "{err}");
    assert!(err.to_string().starts_with("the store: "), "{err}");

    let err = Setup::new(&db.url)
        .secrets("short", SigningKey::generate_secret())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::Config(_)), "{err}");
    assert!(err.to_string().contains("at least 32"), "{err}");
    assert!(std::error::Error::source(&err).is_some());

    for prefix in ["api", "/api/", "/{tenant}", "/a//b", "/a/../b"] {
        let err = Setup::new(&db.url)
            .prefix(prefix)
            .build()
            .await
            .unwrap_err();
        assert!(matches!(err, SetupError::Prefix(_)), "{prefix}: {err}");
    }

    let err = Setup::new(&db.url)
        .admin("not an email", None)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::Admin(_)), "{err}");

    // The admin's email held by an ordinary account: refused, the account untouched.
    let auth = Setup::new(&db.url).build().await.unwrap();
    auth.manager
        .register("held@example.com", PASSWORD, None)
        .await
        .unwrap();
    let err = Setup::new(&db.url)
        .admin("held@example.com", None)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::Admin(_)), "{err}");
    assert!(err.to_string().contains("not an active admin"), "{err}");

    let prefixed = Setup::new(&db.url).prefix("/api/v1").build().await.unwrap();
    match prefixed.router::<Clashing>() {
        Err(MountError::Conflict(conflict)) => {
            assert_eq!(conflict.app_handler, "my_login");
            assert_eq!(conflict.builtin_handler, "login");
        }
        other => panic!("a conflict, got {:?}", other.map(|_| ())),
    }
    // Unprefixed, the same app route does not clash.
    let plain = Setup::new(&db.url).build().await.unwrap();
    assert!(plain.router::<Clashing>().is_ok());
    db.cleanup().await;
}

/// One login type and one secret, admins told apart by role: `/admin/login` gives admins a
/// `user` token, the admin routes take `user` tokens that hold role `admin` (403 without it),
/// and a refresh keeps the role.
#[tokio::test]
async fn one_login_type_tells_admins_apart_by_role() {
    on_both("one login type", |db: TestDb| async move {
        let auth = Setup::new(&db.url)
            .one_login_type()
            .admin(ADMIN, Some(ADMIN_PASSWORD))
            .build()
            .await
            .expect("setup");
        assert_eq!(
            auth.manager.login_type_names().collect::<Vec<_>>(),
            ["user"]
        );
        let app: Router = auth
            .router::<Api>()
            .unwrap()
            .with_state(auth.manager.clone());
        let credentials = json!({ "email": ADMIN, "password": ADMIN_PASSWORD });
        let reply = post_json(&app, "/admin/login", None, credentials.clone()).await;
        let admin = access_token(&reply);
        let refresh = reply.json()["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(common::payload_of(&admin)["login_type"], "user");
        let users = get_as(&app, "/admin/users", &admin).await;
        assert_eq!(users.status, StatusCode::OK, "{}", users.text());
        // The same account's `/auth/login` token is an admin's too: one login.
        let same = access_token(&post_json(&app, "/auth/login", None, credentials).await);
        assert_eq!(
            get_as(&app, "/auth/pending", &same).await.status,
            StatusCode::OK
        );

        // An ordinary user: no admin login, and 403 on the admin routes.
        register_and_approve(&app, "", &admin, "ann@example.com").await;
        let ann = json!({ "email": "ann@example.com", "password": PASSWORD });
        let refused = post_json(&app, "/admin/login", None, ann.clone()).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
        let user = access_token(&post_json(&app, "/auth/login", None, ann).await);
        for path in ["/auth/pending", "/admin/users"] {
            let reply = get_as(&app, path, &user).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{path}: {}",
                reply.text()
            );
        }

        // A refresh keeps the admin's role.
        let reply = send(
            &app,
            Request::post("/auth/token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "grant_type=refresh_token&refresh_token={refresh}"
                )))
                .unwrap(),
        )
        .await;
        let refreshed = access_token(&reply);
        assert_eq!(
            get_as(&app, "/admin/users", &refreshed).await.status,
            StatusCode::OK
        );
    })
    .await;
}

/// An alias that cannot work is a configuration error naming it.
#[tokio::test]
async fn a_broken_login_type_alias_is_refused() {
    let user = || LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32]));
    for (builder, reason) in [
        (
            AuthManager::builder()
                .login_type(user())
                .login_type_alias("admin", "user", "admin"),
            "role `admin` is not declared",
        ),
        (
            AuthManager::builder()
                .login_type(user())
                .role("admin", ["admin:*"])
                .login_type_alias("admin", "staff", "admin"),
            "target `staff` is not a registered login type",
        ),
        (
            AuthManager::builder()
                .login_type(user())
                .role("admin", ["admin:*"])
                .accounts(
                    auth_runtime::accounts::AccountsConfig::default()
                        .role_login_types("admin", ["admin"]),
                )
                .login_type_alias("admin", "user", "admin"),
            "not granted on login type `user`",
        ),
        (
            AuthManager::builder()
                .login_type(user())
                .role("user", ["a:b"])
                .login_type_alias("user", "user", "user"),
            "is a registered login type",
        ),
    ] {
        let err = builder.build().unwrap_err().to_string();
        assert!(err.contains(reason), "{err}");
        assert!(err.contains("login type alias"), "{err}");
    }
}
