use auth_runtime::prelude::*;

#[requires("reports:read")]
#[requires("billing:read")]
#[route(GET, "/reports")]
async fn list_reports() {}

fn main() {}
