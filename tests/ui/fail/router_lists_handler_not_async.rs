// A handler that is not `async` is reported once, not again by the router that lists it.
use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route(GET, "/reports")]
fn list_reports() {}

#[derive(SecureRouter)]
#[secure_router(routes(list_reports))]
struct Api;

fn main() {}
