// A `registry = ...` that is not declared with `registry!` is one error.
use auth_runtime::prelude::*;

struct Names;

#[requires("reports:read")]
#[route(GET, "/reports")]
async fn list_reports() {}

#[login_type("admin")]
#[route(GET, "/admin")]
async fn admin() {}

#[derive(SecureRouter)]
#[secure_router(registry = Names, routes(list_reports, admin))]
struct Api;

fn main() {
    let _ = Names;
}
