use auth_runtime::prelude::*;

#[requires("a b:c")]
#[route(GET, "/reports")]
async fn list_reports() {}

fn main() {}
