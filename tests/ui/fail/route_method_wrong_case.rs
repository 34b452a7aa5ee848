use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route(Get, "/reports")]
async fn list_reports() {}

fn main() {}
