// `#[roles]` alone and stacked with `#[login_type]` and `#[requires]`.
use auth_runtime::prelude::*;

#[roles("editor", "admin")]
#[route(POST, "/articles")]
async fn publish() {}

#[requires("articles:delete")]
#[roles("admin")]
#[login_type("staff")]
#[route(DELETE, "/articles/{id}")]
async fn delete_article() {}

#[derive(SecureRouter)]
#[secure_router(routes(publish, delete_article))]
struct Api;

fn main() {
    assert_eq!(Api::routes()[0].roles, ["editor", "admin"]);
    let _router = Api::router();
}
