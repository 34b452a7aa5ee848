//! A `SecureRouter` lists handlers of other modules by path, and its route table says which
//! module each is declared in.

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
    // Each route knows the module its handler is declared in (unique operation ids).
    let modules: Vec<&str> = Api::routes().iter().map(|r| r.module_path).collect();
    assert!(modules[0].ends_with("::handlers"), "{modules:?}");
    assert!(modules[1].ends_with("::handlers::admin"), "{modules:?}");
    assert!(!modules[2].contains("::"), "{modules:?}");
}
