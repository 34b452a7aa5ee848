use auth_runtime::prelude::*;

#[public]
#[route(GET, "/health")]
async fn health() {}

#[derive(SecureRouter)]
#[secure_router(stat = AuthManager, routes(health))]
struct Api;

fn main() {}
