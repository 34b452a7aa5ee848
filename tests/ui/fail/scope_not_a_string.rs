use auth_runtime::prelude::*;

#[requires(42)]
#[route(GET, "/reports")]
async fn list_reports() {}

fn main() {}
