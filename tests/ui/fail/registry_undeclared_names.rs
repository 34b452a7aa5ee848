// Check that every undeclared name is its own error, on its literal: a login type with a
// suggestion, a policy action and resource without one.
use auth_runtime::prelude::*;

auth_runtime::registry! {
    pub struct AppRegistry {
        login_types: ["user", "admin"],
        scopes: ["reports:read"],
        actions: ["users:ban"],
        resources: ["users"],
        roles: ["editor"],
    }
}

#[login_type("admni")]
#[policy(action = "users:kick", resource = "accounts")]
#[route(POST, "/admin/users/{user_id}/kick")]
async fn kick_user() {}

#[requires("reports:read")]
#[roles("editr")]
#[route(GET, "/reports/{id}")]
async fn get_report() {}

#[derive(SecureRouter)]
#[secure_router(registry = AppRegistry, routes(kick_user, get_report))]
struct Api;

fn main() {}
