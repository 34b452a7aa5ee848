// A plain value cannot be extracted: the error is on the argument, with the extractor to use.
use auth_runtime::prelude::*;

#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
async fn get_report(id: u64) -> String {
    id.to_string()
}

#[requires("reports:read")]
#[route(GET, "/reports")]
async fn list_reports(page: u32) -> String {
    page.to_string()
}

fn main() {}
