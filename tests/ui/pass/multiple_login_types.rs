//! One `#[login_type]` lists every accepted login type, alone or with scopes.

use auth_runtime::prelude::*;

#[login_type("user", "admin")]
#[route(GET, "/auth/me")]
async fn me(user: Principal) -> String {
    user.subject().to_owned()
}

#[login_type("user", "admin", "service")]
#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
async fn report() -> &'static str {
    "report"
}

#[derive(SecureRouter)]
#[secure_router(routes(me, report))]
struct Api;

fn main() {
    let _ = Api::router();
}
