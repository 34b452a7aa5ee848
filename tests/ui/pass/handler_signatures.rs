//! What the rewrite keeps of a handler's signature: argument names and patterns (an argument
//! named like a generated one included), `mut` bindings, `_`, attributes, `impl IntoResponse`
//! and `Result` returns.

use auth_runtime::prelude::*;
use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::collections::HashMap;

/// Documented, with a lint attribute.
#[allow(clippy::needless_pass_by_value)]
#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
async fn named_like_generated(
    arg1: Query<HashMap<String, String>>,
    Path(id): Path<u64>,
) -> impl IntoResponse {
    format!("{id} {}", arg1.0.len())
}

#[requires("reports:write")]
#[route(POST, "/reports")]
async fn patterns_and_mut(_: Principal, mut body: Json<Vec<u64>>) -> Result<String, StatusCode> {
    body.0.push(1);
    if body.0.len() > 100 {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    Ok(body.0.len().to_string())
}

#[derive(SecureRouter)]
#[secure_router(routes(named_like_generated, patterns_and_mut))]
struct Api;

fn main() {
    let _router: axum::Router<AuthManager> = Api::router();
    assert_eq!(Api::routes().len(), 2);
}
