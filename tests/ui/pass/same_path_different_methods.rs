//! Routes may share a path when their methods differ.

use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
async fn get_report() -> &'static str {
    "report"
}

#[requires("reports:write")]
#[route(PUT, "/reports/{id}")]
async fn put_report() -> &'static str {
    "updated"
}

#[requires("reports:delete")]
#[route(DELETE, "/reports/{id}")]
async fn delete_report() -> &'static str {
    "deleted"
}

#[requires("reports:read")]
#[route(GET, "/reports/{id}/pages")]
async fn report_pages() -> &'static str {
    "pages"
}

#[derive(SecureRouter)]
#[secure_router(routes(get_report, put_report, delete_report, report_pages))]
struct Api;

fn main() {
    let _ = Api::router();
}
