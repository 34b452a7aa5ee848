// The attributes are recognised however they are imported.
mod my_auth {
    pub use auth_runtime::prelude::*;
}

use auth_runtime::prelude as auth;
use auth_runtime::prelude::SecureRouter;

#[auth::requires("reports:read")]
#[auth::route(GET, "/reports")]
async fn list_reports() {}

#[my_auth::public]
#[my_auth::route(GET, "/health")]
async fn health() {}

#[auth_runtime::login_type("admin")]
#[auth_runtime::route(GET, "/admin")]
async fn admin() {}

#[derive(SecureRouter)]
#[secure_router(routes(list_reports, health, admin))]
struct Api;

fn main() {
    let _ = Api::router();
}
