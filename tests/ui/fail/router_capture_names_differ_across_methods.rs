// Check that one path under two methods must name its captures the same way: axum matches
// captures by position and panics when the router is built if the names differ.
use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
async fn get_report() {}

#[requires("reports:write")]
#[route(DELETE, "/reports/{report_id}")]
async fn delete_report() {}

#[derive(SecureRouter)]
#[secure_router(routes(get_report, delete_report))]
struct Api;

fn main() {}
