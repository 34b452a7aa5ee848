// Handlers are free functions: one error for an associated function.
use auth_runtime::prelude::*;

struct Reports;

impl Reports {
    #[requires("reports:read")]
    #[route(GET, "/reports")]
    async fn list() {}
}

fn main() {}
