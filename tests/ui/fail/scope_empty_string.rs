use auth_runtime::prelude::*;

#[requires("")]
#[route(GET, "/reports")]
async fn list_reports() {}

fn main() {}
