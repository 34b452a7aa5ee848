use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route(GET, "/reports")]
fn list_reports() -> &'static str {
    "reports"
}

fn main() {}
