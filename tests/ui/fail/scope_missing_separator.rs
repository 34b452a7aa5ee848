use auth_runtime::prelude::*;

#[requires("reports")]
#[route(GET, "/reports")]
async fn list_reports() {}

fn main() {}
