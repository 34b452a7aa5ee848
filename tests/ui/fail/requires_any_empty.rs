use auth_runtime::prelude::*;

#[requires(any())]
#[route(GET, "/reports")]
async fn list_reports() {}

fn main() {}
