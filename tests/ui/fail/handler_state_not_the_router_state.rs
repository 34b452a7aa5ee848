// A handler that takes `State<AppState>` in a router whose state is `AuthManager`.
use auth_runtime::prelude::*;
use axum::extract::State;

#[derive(Clone)]
struct AppState;

#[requires("reports:read")]
#[route(GET, "/reports")]
async fn list_reports(State(_state): State<AppState>) {}

#[derive(SecureRouter)]
#[secure_router(routes(list_reports))]
struct Api;

fn main() {}
