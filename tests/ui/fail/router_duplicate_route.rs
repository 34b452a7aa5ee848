use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route(GET, "/reports")]
async fn list_reports() {}

#[public]
#[route(POST, "/reports")]
async fn create_report() {}

#[requires("reports:audit")]
#[route(GET, "/reports")]
async fn audit_reports() {}

#[derive(SecureRouter)]
#[secure_router(routes(list_reports, create_report, audit_reports))]
struct Api;

fn main() {}
