//! A `SecureRouter` lists handlers of other modules by path.

use auth_runtime::prelude::*;

mod handlers {
    use auth_runtime::prelude::*;

    #[requires("reports:read")]
    #[route(GET, "/reports/{id}")]
    pub async fn get_report() -> &'static str {
        "report"
    }

    pub mod admin {
        use auth_runtime::prelude::*;

        #[login_type("admin")]
        #[route(GET, "/admin/dashboard")]
        pub(crate) async fn dashboard() -> &'static str {
            "dashboard"
        }
    }
}

#[public]
#[route(GET, "/health")]
async fn health() -> &'static str {
    "ok"
}

#[derive(SecureRouter)]
#[secure_router(routes(handlers::get_report, handlers::admin::dashboard, health))]
struct Api;

fn main() {
    let _ = Api::router();
}
