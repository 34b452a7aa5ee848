// `Path` needs a capture in the route.
use auth_runtime::prelude::*;
use axum::extract::Path;

#[requires("reports:read")]
#[route(GET, "/reports")]
async fn get_report(Path(id): Path<u64>) -> String {
    id.to_string()
}

fn main() {}
