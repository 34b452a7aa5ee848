use auth_runtime::prelude::*;

#[public]
#[route(GET, "/health")]
async fn health() {}

async fn list_reports() {}

#[derive(SecureRouter)]
#[secure_router(routes(health, list_reports))]
struct Api;

fn main() {}
