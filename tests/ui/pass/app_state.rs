//! `state = AppState` works when the `AuthManager` is reachable through `FromRef`.

use auth_runtime::prelude::*;
use axum::extract::{FromRef, State};

#[derive(Clone)]
struct AppState {
    auth: AuthManager,
    greeting: &'static str,
}

impl FromRef<AppState> for AuthManager {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
async fn get_report(State(state): State<AppState>) -> &'static str {
    state.greeting
}

#[public]
#[route(GET, "/health")]
async fn health() -> &'static str {
    "ok"
}

#[derive(SecureRouter)]
#[secure_router(state = AppState, routes(get_report, health))]
struct Api;

fn main() {
    let _: axum::Router<AppState> = Api::router();
}
