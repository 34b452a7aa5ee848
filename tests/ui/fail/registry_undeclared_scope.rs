// Check that a scope missing from the registry fails, with a suggestion for a near miss.
use auth_runtime::prelude::*;

auth_runtime::registry! {
    pub struct AppRegistry {
        login_types: ["user", "admin"],
        scopes: ["reports:read", "reports:write"],
    }
}

#[requires("reports:raed")]
#[route(GET, "/reports/{id}")]
async fn get_report() {}

#[derive(SecureRouter)]
#[secure_router(registry = AppRegistry, routes(get_report))]
struct Api;

fn main() {}
