use auth_runtime::prelude::*;

#[route(GET, "/admin/dashboard")]
#[login_type("admin")]
#[public]
async fn dashboard() {}

fn main() {}
