//! The auth attributes stack in any order, with `#[route]` first, last or in between.

use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
async fn route_last() -> &'static str {
    "report"
}

#[route(POST, "/reports")]
#[requires("reports:write")]
async fn route_first() -> &'static str {
    "created"
}

#[login_type("admin")]
#[route(POST, "/admin/users/{user_id}/ban")]
#[policy(action = "users:ban", resource = "users")]
async fn route_in_between() -> &'static str {
    "banned"
}

#[route(DELETE, "/admin/users/{user_id}")]
#[policy(resource = "users", action = "users:delete")]
#[requires("users:delete", "admin:write")]
#[login_type("admin")]
async fn four_attributes() -> &'static str {
    "deleted"
}

#[route(GET, "/health")]
#[public]
async fn public_after_route() -> &'static str {
    "ok"
}

#[derive(SecureRouter)]
#[secure_router(routes(
    route_last,
    route_first,
    route_in_between,
    four_attributes,
    public_after_route,
))]
struct Api;

fn main() {
    let _ = Api::router();
    assert_eq!(Api::routes().len(), 5);
}
