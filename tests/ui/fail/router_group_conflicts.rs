// A router's own requirement must make sense with each handler's.
use auth_runtime::prelude::*;

#[public]
#[route(GET, "/admin/health")]
async fn health() {}

#[login_type("user")]
#[route(GET, "/admin/profile")]
async fn profile() {}

#[derive(SecureRouter)]
#[secure_router(login_types("admin"), requires("admin:read"), routes(health, profile))]
struct AdminApi;

#[authenticated]
#[route(GET, "/x")]
async fn x() {}

#[derive(SecureRouter)]
#[secure_router(login_types(), requires("admin"), routes(x))]
struct Broken;

fn main() {}
