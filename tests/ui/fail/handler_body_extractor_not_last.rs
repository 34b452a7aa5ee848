// An extractor that reads the body must be the last argument.
use auth_runtime::prelude::*;
use axum::Json;

#[requires("reports:write")]
#[route(POST, "/reports")]
async fn create_report(Json(body): Json<serde_json::Value>, user: Principal) -> String {
    format!("{body} {}", user.subject())
}

fn main() {}
