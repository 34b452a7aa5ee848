use auth_runtime::prelude::*;

#[route(GET, "/reports")]
async fn list_reports() {}

fn main() {}
