// Signature mistakes of handlers listed in a router: one error each, on the handler, and none
// from the router (a plain value, a body extractor not last, a generic handler, a future that
// is not `Send`, a return type that is not a response).
use std::rc::Rc;
use auth_runtime::prelude::*;
use axum::Json;
use axum::extract::Path;

async fn fetch() {}

#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
pub async fn get_report(id: u64) -> String {
    id.to_string()
}

#[requires("reports:write")]
#[route(POST, "/reports/{id}")]
async fn put_report(Json(body): Json<String>, Path(id): Path<u64>) -> String {
    format!("{id}{body}")
}

#[requires("reports:read")]
#[route(GET, "/reports")]
async fn list_reports() -> String {
    let cache = Rc::new(7);
    fetch().await;
    cache.to_string()
}

#[requires("reports:read")]
#[route(GET, "/g")]
async fn generic<T: Default>() -> String {
    let _t = T::default();
    String::new()
}

struct Report;

#[requires("reports:read")]
#[route(GET, "/latest")]
async fn latest_report() -> Report {
    Report
}

#[derive(SecureRouter)]
#[secure_router(routes(get_report, put_report, list_reports, generic, latest_report))]
struct Api;

fn main() { let _ = Api::router(); }
