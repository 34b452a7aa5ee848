//! `#[authenticated]` accepts any signed-in caller, of any login type.

use auth_runtime::prelude::*;

#[authenticated]
#[route(POST, "/auth/logout")]
async fn logout() -> &'static str {
    "bye"
}

#[route(GET, "/auth/whoami")]
#[authenticated]
async fn whoami(user: Principal) -> String {
    format!("{} ({})", user.subject(), user.login_type())
}

#[derive(SecureRouter)]
#[secure_router(routes(logout, whoami))]
struct Api;

fn main() {
    let _ = Api::router();
}
