// A capture and a wildcard at the same place: axum would panic when building the router,
// whatever the methods.
use auth_runtime::prelude::*;

#[requires("files:read")]
#[route(GET, "/files/{id}")]
async fn get_file() {}

#[requires("files:write")]
#[route(PUT, "/files/{*rest}")]
async fn put_files() {}

#[derive(SecureRouter)]
#[secure_router(routes(get_file, put_files))]
struct Api;

fn main() {}
