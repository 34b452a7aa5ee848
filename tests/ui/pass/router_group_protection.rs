// One place protects a group of routes: every listed handler needs an `admin` token with
// `admin:read`, on top of its own attributes.
use auth_runtime::prelude::*;

#[authenticated]
#[route(GET, "/admin/stats")]
async fn stats() {}

#[requires("users:write")]
#[route(POST, "/admin/users")]
async fn create_user() {}

#[login_type("admin", "user")]
#[route(GET, "/admin/me")]
async fn me() {}

#[derive(SecureRouter)]
#[secure_router(login_types("admin"), requires("admin:read"), routes(stats, create_user, me))]
struct AdminApi;

fn main() {
    let _ = AdminApi::router();
    let routes = AdminApi::routes();
    assert_eq!(routes[0].effective_login_types(), ["admin"]);
    assert_eq!(routes[0].effective_scopes(), ["admin:read"]);
    assert_eq!(routes[1].effective_scopes(), ["admin:read", "users:write"]);
    assert_eq!(routes[2].effective_login_types(), ["admin"]);
    assert_eq!(routes[2].group.login_types, ["admin"]);
}
