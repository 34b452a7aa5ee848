use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route(GET, "reports/{id}")]
async fn get_report() {}

fn main() {}
