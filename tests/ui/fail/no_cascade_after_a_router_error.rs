// A mistake in `#[secure_router]` gives one error; the type still has `router()` and
// `routes()`, so the code calling them adds no errors.
use auth_runtime::prelude::*;

#[public]
#[route(GET, "/health")]
async fn health() {}

#[derive(SecureRouter)]
#[secure_router(stat = AuthManager, routes(health))]
struct Api;

fn main() {
    let _ = Api::router();
    let _ = Api::routes().len();
}
