// A mistake in a handler's attributes is reported once, not again by the router that lists it.
use auth_runtime::prelude::*;

#[requires("reports")]
#[route(GET, "/reports")]
async fn list_reports() {}

#[derive(SecureRouter)]
#[secure_router(routes(list_reports))]
struct Api;

fn main() {}
