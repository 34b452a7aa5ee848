//! Handlers keep their own extractors, body-consuming ones included: the guard is inserted
//! before them.

use auth_runtime::prelude::*;
use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct NewReport {
    title: String,
}

#[derive(Deserialize)]
struct Paging {
    page: u32,
}

#[derive(Serialize)]
struct Report {
    id: u64,
    title: String,
}

#[requires("reports:write")]
#[route(POST, "/reports")]
async fn create_report(user: Principal, Json(body): Json<NewReport>) -> (StatusCode, String) {
    (
        StatusCode::CREATED,
        format!("{} by {}", body.title, user.subject()),
    )
}

#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
async fn get_report(Path(id): Path<u64>, Query(paging): Query<Paging>) -> Json<Report> {
    Json(Report {
        id,
        title: format!("page {}", paging.page),
    })
}

#[login_type("admin")]
#[policy(action = "users:ban", resource = "users")]
#[route(POST, "/admin/users/{user_id}/ban")]
async fn ban_user(Path(user_id): Path<String>, admin: Principal, body: String) -> StatusCode {
    let _ = (user_id, admin, body);
    StatusCode::NO_CONTENT
}

#[derive(SecureRouter)]
#[secure_router(routes(create_report, get_report, ban_user))]
struct Api;

fn main() {
    let _ = Api::router();
}
