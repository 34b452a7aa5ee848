// A public handler may read the caller when there is one.
use auth_runtime::prelude::*;

#[public]
#[route(GET, "/hello")]
async fn hello(user: Option<Principal>) -> String {
    user.map_or_else(|| "stranger".to_owned(), |u| u.subject().to_owned())
}

#[derive(SecureRouter)]
#[secure_router(routes(hello))]
struct Api;

fn main() {
    let _ = Api::router();
}
