//! `any(...)` accepts a caller holding at least one of the listed scopes.

use auth_runtime::prelude::*;

#[requires(any("reports:read", "reports:audit"))]
#[route(GET, "/reports")]
async fn list_reports() -> &'static str {
    "reports"
}

#[requires(any("billing:read"))]
#[route(GET, "/billing")]
async fn billing() -> &'static str {
    "billing"
}

#[derive(SecureRouter)]
#[secure_router(routes(list_reports, billing))]
struct Api;

fn main() {
    let _ = Api::router();
}
