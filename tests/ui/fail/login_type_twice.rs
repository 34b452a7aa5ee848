use auth_runtime::prelude::*;

#[login_type("user")]
#[login_type("admin")]
#[route(GET, "/auth/me")]
async fn me() {}

fn main() {}
