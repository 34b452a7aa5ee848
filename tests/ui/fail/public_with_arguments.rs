use auth_runtime::prelude::*;

#[public(x)]
#[route(GET, "/health")]
async fn health() {}

fn main() {}
