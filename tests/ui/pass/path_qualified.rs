//! The attributes work without the prelude, written with their full path.

#[auth_runtime::requires("reports:read")]
#[auth_runtime::route(GET, "/reports/{id}")]
async fn get_report() -> &'static str {
    "report"
}

#[auth_runtime::route(GET, "/health")]
#[auth_runtime::public]
async fn health() -> &'static str {
    "ok"
}

#[auth_runtime::login_type("admin")]
#[auth_runtime::policy(action = "users:ban", resource = "users")]
#[auth_runtime::route(POST, "/admin/users/{user_id}/ban")]
async fn ban_user() -> &'static str {
    "banned"
}

#[derive(auth_runtime::SecureRouter)]
#[secure_router(routes(get_report, health, ban_user))]
struct Api;

fn main() {
    let _: axum::Router<auth_runtime::AuthManager> = Api::router();
}
