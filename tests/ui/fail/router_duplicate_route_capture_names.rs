use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
async fn get_report() {}

#[requires("reports:read")]
#[route(GET, "/reports/{name}")]
async fn get_report_by_name() {}

#[derive(SecureRouter)]
#[secure_router(routes(get_report, get_report_by_name))]
struct Api;

fn main() {}
