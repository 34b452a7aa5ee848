// A public handler has no signed-in caller to give it.
use auth_runtime::prelude::*;

#[public]
#[route(GET, "/hello")]
async fn hello(user: Principal) -> String {
    user.subject().to_owned()
}

fn main() {}
