use auth_runtime::prelude::*;

#[login_type("")]
#[route(GET, "/admin/dashboard")]
async fn dashboard() {}

fn main() {}
