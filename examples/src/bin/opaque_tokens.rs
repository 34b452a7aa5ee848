//! Opaque tokens verified by an identity provider, next to JWTs, on one app:
//! `cargo run -p examples --bin opaque_tokens` prints one token of each kind and serves on
//! 127.0.0.1:3002; both open `GET /reports/1`.

use auth_runtime::TokenRequest;
use examples::opaque::{Provider, app};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let provider = Provider::default();
    let (router, manager) = app(provider.clone(), &examples::random_secret())?;
    let opaque = provider.issue("ada", &["reports:read"]);
    let jwt = manager
        .create_access_token(&TokenRequest::new("user", "grace").scopes(["reports:read"]))?
        .access_token;
    println!("opaque token: {opaque}\nJWT:          {jwt}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3002").await?;
    axum::serve(listener, router).await?;
    Ok(())
}
