use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route("GET", "/reports")]
async fn list_reports() {}

fn main() {}
