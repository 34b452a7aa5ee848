use auth_runtime::prelude::*;

#[requires(any("reports:read", "reports:audit"), "billing:read")]
#[route(GET, "/reports")]
async fn list_reports() {}

fn main() {}
