use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route(FETCH, "/reports")]
async fn list_reports() {}

fn main() {}
