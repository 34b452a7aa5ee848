//! Group protection: `#[secure_router(login_types(...), requires(...))]` applies to every
//! listed handler on the wire, combined with each handler's own attributes.

mod common;

use auth_runtime::prelude::*;
use axum::http::StatusCode;

use common::{assert_invalid_token, assert_problem, get_as};

#[authenticated]
#[route(GET, "/admin/stats")]
async fn stats() -> &'static str {
    "stats"
}

#[requires("users:write")]
#[route(GET, "/admin/users")]
async fn users() -> &'static str {
    "users"
}

#[derive(SecureRouter)]
#[secure_router(login_types("admin"), requires("admin:read"), routes(stats, users))]
struct AdminApi;

#[authenticated]
#[route(GET, "/open")]
async fn open() -> &'static str {
    "open"
}

#[derive(SecureRouter)]
#[secure_router(routes(open))]
struct UserApi;

fn setup() -> (AuthManager, axum::Router) {
    let manager = AuthManager::builder()
        .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
        .login_type(LoginType::new("admin").key(SigningKey::hs256("a1", &[2; 32])))
        .build()
        .expect("valid configuration");
    let app = AdminApi::router()
        .merge(UserApi::router())
        .with_state(manager.clone());
    (manager, app)
}

fn token(m: &AuthManager, login_type: &str, scopes: &[&str]) -> String {
    m.create_access_token(&TokenRequest::new(login_type, "ann").scopes(scopes))
        .expect("token")
        .access_token
}

#[tokio::test]
async fn the_group_requirement_applies_to_every_listed_handler() {
    let (m, app) = setup();
    // The right login type and the group's scope: the `#[authenticated]` handler answers.
    let admin = token(&m, "admin", &["admin:read"]);
    let reply = get_as(&app, "/admin/stats", &admin).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    // Another login type: 401, although the handler alone would take any.
    let user = token(&m, "user", &["admin:read", "users:write"]);
    assert_invalid_token(
        &get_as(&app, "/admin/stats", &user).await,
        "admin",
        "A token of login type `user` is not accepted here (expected `admin`)",
    );
    // The group's scope is missing: 403 naming it.
    let no_group_scope = token(&m, "admin", &["users:write"]);
    assert_problem(
        &get_as(&app, "/admin/users", &no_group_scope).await,
        StatusCode::FORBIDDEN,
        "Token is missing required scope: admin:read",
    );
    // The handler's own scope still counts.
    assert_problem(
        &get_as(&app, "/admin/users", &admin).await,
        StatusCode::FORBIDDEN,
        "Token is missing required scope: users:write",
    );
    let both = token(&m, "admin", &["admin:read", "users:write"]);
    assert_eq!(
        get_as(&app, "/admin/users", &both).await.status,
        StatusCode::OK
    );
    // A route of another router merged next to it is not affected.
    assert_eq!(get_as(&app, "/open", &user).await.status, StatusCode::OK);
}

#[test]
fn routes_report_the_effective_requirement() {
    let routes = AdminApi::routes();
    assert_eq!(routes[0].effective_login_types(), ["admin"]);
    assert_eq!(routes[1].effective_scopes(), ["admin:read", "users:write"]);
    assert!(UserApi::routes()[0].group.is_empty());
    assert_eq!(
        UserApi::routes()[0].effective_login_types(),
        Vec::<&str>::new()
    );
}
