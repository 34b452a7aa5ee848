use auth_runtime::prelude::*;

#[public]
#[route(GET, "/health")]
async fn health() {}

#[requires("reports:read")]
#[route(GET, "/reports")]
async fn list_reports() {}

#[derive(SecureRouter)]
#[secure_router(routes(health, list_reports, health))]
struct Api;

fn main() {}
