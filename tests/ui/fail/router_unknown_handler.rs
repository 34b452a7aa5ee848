use auth_runtime::prelude::*;

#[public]
#[route(GET, "/health")]
async fn health() {}

#[derive(SecureRouter)]
#[secure_router(routes(health, helth))]
struct Api;

fn main() {}
