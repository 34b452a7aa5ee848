use auth_runtime::prelude::*;

#[requires("files:read")]
#[route(GET, "/files/{*rest}/meta")]
async fn file_meta() {}

fn main() {}
