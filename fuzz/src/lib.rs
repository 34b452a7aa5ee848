//! Shared fixtures of the fuzz targets: one manager with a symmetric and an asymmetric login
//! type, a runtime, and a small secured router.

use std::sync::LazyLock;

use auth_runtime::prelude::*;
use auth_runtime::routes::{JsonBody, JsonOrForm};
use axum::extract::Path;

/// The HS256 login type.
pub const USER: &str = "user";
/// The ES256 login type.
pub const SVC: &str = "svc";
/// The HS256 secret of `user`.
pub const USER_SECRET: &[u8] = b"a fuzzing secret of at least 32 bytes!!";
/// The ES256 key pair of `svc` (the test keys of the repository).
pub const EC_PRIVATE: &[u8] = include_bytes!("../../tests/keys/ec_private.pem");
/// The public half of [`EC_PRIVATE`].
pub const EC_PUBLIC: &[u8] = include_bytes!("../../tests/keys/ec_public.pem");

/// A stateless manager: `user` (HS256, kid `user-1`) and `svc` (ES256, kid `svc-1`).
pub static MANAGER: LazyLock<AuthManager> = LazyLock::new(|| {
    AuthManager::builder()
        .login_type(LoginType::new(USER).key(SigningKey::hs256("user-1", USER_SECRET)))
        .login_type(LoginType::new(SVC).key(SigningKey::es256_pem("svc-1", EC_PRIVATE, EC_PUBLIC)))
        .build()
        .expect("valid fuzzing configuration")
});

/// A single-threaded runtime for the async targets.
pub static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
});

/// A token of `login_type` for `alice` with `reports:read`, fresh for this run.
pub fn valid_token(login_type: &str) -> String {
    MANAGER
        .create_access_token(&TokenRequest::new(login_type, "alice").scopes(["reports:read"]))
        .expect("a token")
        .access_token
}

#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
async fn get_report(Path(id): Path<u64>, user: Principal) -> String {
    format!("report {id} for {}", user.subject())
}

#[login_type("svc")]
#[route(DELETE, "/reports/{id}")]
async fn delete_report(Path(id): Path<u64>) -> String {
    format!("deleted {id}")
}

/// An OAuth2-style sign-in body.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Login {
    username: String,
    password: String,
    #[serde(default)]
    scope: Option<String>,
}

#[public]
#[route(POST, "/login")]
async fn login(JsonOrForm(body): JsonOrForm<Login>) -> String {
    body.username
}

#[public]
#[route(POST, "/json")]
async fn json(JsonBody(body): JsonBody<serde_json::Value>) -> String {
    body.to_string()
}

#[authenticated]
#[route(POST, "/me")]
async fn me(user: Principal, JsonBody(body): JsonBody<Vec<u32>>) -> String {
    format!("{} {}", user.subject(), body.len())
}

#[derive(SecureRouter)]
#[secure_router(routes(get_report, delete_report, login, json, me))]
struct Api;

/// The router of the HTTP target.
pub static ROUTER: LazyLock<axum::Router> =
    LazyLock::new(|| Api::router().with_state(MANAGER.clone()));
