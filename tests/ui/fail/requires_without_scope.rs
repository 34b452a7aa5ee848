use auth_runtime::prelude::*;

#[requires]
#[route(GET, "/reports")]
async fn list_reports() {}

#[requires()]
#[route(GET, "/billing")]
async fn billing() {}

fn main() {}
