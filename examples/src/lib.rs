//! The reference server of `DESIGN.md` §5, as a library so tests can drive it in-process.
//!
//! Run it with `cargo run -p examples --bin server`.

use std::time::Duration;

use auth_runtime::policy::{Attr, PolicyRule};
use auth_runtime::prelude::*;
use auth_runtime::{ConfigError, HierarchicalScopes, Problem};
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// The issuer of every token of the reference server.
pub const ISSUER: &str = "auth-demo";

/// Settings read from the environment (see [`Settings::from_env`]).
#[derive(Clone)]
pub struct Settings {
    /// `AUTH_ADDR`, default `127.0.0.1:3000`.
    pub addr: String,
    /// `AUTH_USER_SECRET`: HS256 secret of login type `user`.
    pub user_secret: Vec<u8>,
    /// `AUTH_ADMIN_SECRET`: HS256 secret of login type `admin`.
    pub admin_secret: Vec<u8>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Reads the settings; a missing secret is replaced by a random one, with a warning (tokens
    /// then stop working at the next restart).
    pub fn from_env() -> Self {
        let secret = |name: &str| match std::env::var(name) {
            Ok(s) if !s.is_empty() => s.into_bytes(),
            _ => {
                tracing::warn!(
                    "{name} is not set: using a random secret for this run; tokens will not survive a restart"
                );
                random_secret()
            }
        };
        Settings {
            addr: std::env::var("AUTH_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into()),
            user_secret: secret("AUTH_USER_SECRET"),
            admin_secret: secret("AUTH_ADMIN_SECRET"),
        }
    }
}

/// 32 random bytes, hex-encoded (64 ASCII bytes).
pub fn random_secret() -> Vec<u8> {
    let bytes: [u8; 32] = rand::random();
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .into_bytes()
}

/// The login types of the reference server: `user` (15 min) and `admin` (60 min), issuer
/// `auth-demo`, no audience, 30 s leeway, refresh tokens valid one day.
pub fn manager(settings: &Settings) -> Result<AuthManager, ConfigError> {
    let day = Duration::from_secs(24 * 3600);
    AuthManager::builder()
        .login_type(
            LoginType::new("user")
                .key(SigningKey::hs256("user", &settings.user_secret))
                .access_ttl(Duration::from_secs(15 * 60))
                .refresh_ttl(day)
                .issuer(ISSUER)
                .leeway(Duration::from_secs(30)),
        )
        .login_type(
            LoginType::new("admin")
                .key(SigningKey::hs256("admin", &settings.admin_secret))
                .access_ttl(Duration::from_secs(60 * 60))
                .refresh_ttl(day)
                .issuer(ISSUER)
                .leeway(Duration::from_secs(30)),
        )
        .scope_validator(HierarchicalScopes::new())
        // DESIGN §5: the scopes each role grants; `#[roles(...)]` checks them.
        .role("user", ["reports:read", "billing:read"])
        .role("editor", ["reports:*"])
        .role("admin", ["admin:*", "users:*", "reports:*"])
        .policies(policies())
        .build()
}

/// The reference server's policies (DESIGN §5).
pub fn policies() -> Vec<PolicyRule> {
    vec![
        PolicyRule::allow("admins-ban-users")
            .actions(["users:ban"])
            .resources(["users"])
            .scopes(["admin:*"])
            .when(Attr::env("method").eq("POST"))
            .reason("admins may ban users"),
        PolicyRule::deny("no-self-ban")
            .actions(["users:ban"])
            .resources(["users"])
            .when(Attr::subject("sub").eq(Attr::env("params.user_id")))
            .reason("an admin cannot ban themselves"),
        PolicyRule::allow("active-accounts-read-billing")
            .actions(["billing:read"])
            .resources(["billing"])
            .evaluator(|ctx| ctx.subject("account_status") == Some(&json!("active")))
            .reason("the account is active"),
    ]
}

/// Liveness probe.
#[public]
#[route(GET, "/health")]
pub async fn health() -> &'static str {
    "ok"
}

/// One report.
#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
pub async fn get_report(Path(id): Path<u64>) -> Json<Value> {
    Json(json!({ "id": id }))
}

/// Creates a report.
#[requires("reports:write")]
#[route(POST, "/reports")]
pub async fn create_report(user: Principal) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({ "created_by": user.subject() })),
    )
}

/// The admin dashboard: admin tokens only.
#[login_type("admin")]
#[route(GET, "/admin/dashboard")]
pub async fn admin_dashboard(admin: Principal) -> Json<Value> {
    Json(json!({ "message": "Welcome Admin", "sub": admin.subject() }))
}

/// Bans an account. Accounts arrive with the accounts issue: until then every account is
/// unknown (404) — but the policy has already refused self-bans and non-admins.
#[login_type("admin")]
#[policy(action = "users:ban", resource = "users")]
#[route(POST, "/admin/users/{user_id}/ban")]
pub async fn ban_user(Path(user_id): Path<String>) -> Problem {
    Problem {
        r#type: "about:blank",
        title: "Not Found",
        status: 404,
        detail: format!("No account with id `{user_id}`"),
    }
}

/// Billing overview: only for callers whose `account_status` claim is `active`.
#[policy(action = "billing:read", resource = "billing")]
#[route(GET, "/billing")]
pub async fn billing(user: Principal) -> Json<Value> {
    Json(json!({ "account": user.subject(), "balance": 0 }))
}

/// Every route of the reference server.
#[derive(SecureRouter)]
#[secure_router(routes(health, get_report, create_report, admin_dashboard, ban_user, billing))]
pub struct Api;

/// The whole application.
pub fn app(manager: AuthManager) -> axum::Router {
    Api::router().with_state(manager)
}
