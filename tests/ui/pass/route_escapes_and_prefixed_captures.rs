// Paths axum 0.8 accepts: escaped braces and a capture after literal text in its segment.
use auth_runtime::prelude::*;
use axum::extract::Path;

#[public]
#[route(GET, "/{{literal}}/{id}")]
async fn literal(Path(id): Path<u64>) -> String {
    id.to_string()
}

#[public]
#[route(GET, "/images/img-{id}")]
async fn image(Path(id): Path<String>) -> String {
    id
}

#[public]
#[route(GET, "/files/{*rest}")]
async fn files(Path(rest): Path<String>) -> String {
    rest
}

#[derive(SecureRouter)]
#[secure_router(routes(literal, image, files))]
struct Api;

fn main() {
    let _: axum::Router = Api::router().with_state(
        AuthManager::builder()
            .login_type(LoginType::new("user").key(SigningKey::hs256("u", &[1; 32])))
            .build()
            .unwrap(),
    );
}
