use auth_runtime::prelude::*;

#[requires(":read")]
#[route(GET, "/reports")]
async fn list_reports() {}

fn main() {}
