// A secured handler cannot be generic: one error on its type parameters.
use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route(GET, "/reports")]
async fn list_reports<T: Default>() -> String {
    String::new()
}

fn main() {}
