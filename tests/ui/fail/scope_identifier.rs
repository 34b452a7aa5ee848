use auth_runtime::prelude::*;

#[requires(reports_read)]
#[route(GET, "/reports")]
async fn list_reports() {}

fn main() {}
