// An invalid `#[route]` gives its own error and nothing else: the router does not add a
// second "has no route" error, and calling `Api::router()` adds none either.
use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route(GET, "/reports/:id")]
async fn get_report() {}

#[public]
#[route(FETCH, "/health")]
async fn health() {}

#[derive(SecureRouter)]
#[secure_router(routes(get_report, health))]
struct Api;

fn main() {
    let _ = Api::router();
}
