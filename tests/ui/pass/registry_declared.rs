// A registry that declares every name its router's handlers use.
use auth_runtime::prelude::*;
use auth_runtime::Registry;

auth_runtime::registry! {
    /// Everything the app may name.
    pub struct AppRegistry {
        login_types: ["user", "admin"],
        scopes: ["reports:read", "reports:write"],
        actions: ["users:ban"],
        resources: ["users"],
        roles: ["editor"],
    }
}

#[requires("reports:read", "reports:write")]
#[login_type("user", "admin")]
#[route(GET, "/reports/{id}")]
async fn get_report() {}

#[login_type("admin")]
#[policy(action = "users:ban", resource = "users")]
#[route(POST, "/admin/users/{user_id}/ban")]
async fn ban_user() {}

#[roles("editor")]
#[route(POST, "/reports")]
async fn create_report() {}

#[public]
#[route(GET, "/health")]
async fn health() {}

#[derive(SecureRouter)]
#[secure_router(registry = AppRegistry, routes(get_report, ban_user, create_report, health))]
struct Api;

fn main() {
    assert_eq!(AppRegistry::LOGIN_TYPES, ["user", "admin"]);
    let _router = Api::router();
}
