use auth_runtime::prelude::*;

#[derive(Clone)]
struct AppState;

#[public]
#[route(GET, "/health")]
async fn health() {}

#[derive(SecureRouter)]
#[secure_router(state = AppState, routes(health))]
struct Api;

fn main() {}
