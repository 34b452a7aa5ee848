use auth_runtime::prelude::*;

#[public]
#[requires("reports:read")]
#[route(GET, "/reports")]
async fn list_reports() {}

fn main() {}
