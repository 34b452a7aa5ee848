//! Several isolated login types on one app (the authx `AuthManager` idea):
//! `cargo run -p examples --bin multi_login` prints a token of each type and serves on
//! 127.0.0.1:3001. A `service` token cannot open `/admin/dashboard`, an `admin` token cannot
//! call `/service/jobs`, and `/me` accepts all three.

use std::time::Duration;

use auth_runtime::prelude::*;
use axum::Json;
use serde_json::{Value, json};

#[login_type("admin")]
#[route(GET, "/admin/dashboard")]
async fn dashboard(admin: Principal) -> Json<Value> {
    Json(json!({ "admin": admin.subject() }))
}

#[login_type("service")]
#[requires("jobs:run")]
#[route(POST, "/service/jobs")]
async fn run_job(service: Principal) -> Json<Value> {
    Json(json!({ "started_by": service.subject() }))
}

#[authenticated]
#[route(GET, "/me")]
async fn me(who: Principal) -> Json<Value> {
    Json(json!({ "sub": who.subject(), "login_type": who.login_type() }))
}

#[derive(SecureRouter)]
#[secure_router(routes(dashboard, run_job, me))]
struct Api;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = examples::random_secret;
    let manager = AuthManager::builder()
        .login_type(LoginType::new("user").key(SigningKey::hs256("user-1", &secret())))
        .login_type(
            LoginType::new("admin")
                .key(SigningKey::hs256("admin-1", &secret()))
                .access_ttl(Duration::from_secs(3600)),
        )
        .login_type(
            LoginType::new("service")
                .key(SigningKey::hs256("service-1", &secret()))
                .access_ttl(Duration::from_secs(300))
                .audience("jobs-api"),
        )
        .build()?;
    for (login_type, scopes) in [
        ("user", vec![]),
        ("admin", vec![]),
        ("service", vec!["jobs:run"]),
    ] {
        let token =
            manager.create_access_token(&TokenRequest::new(login_type, "demo").scopes(scopes))?;
        println!("{login_type}: {}", token.access_token);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, Api::router().with_state(manager)).await?;
    Ok(())
}
