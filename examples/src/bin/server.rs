//! The reference server: `cargo run -p examples --bin server`.

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let settings = examples::Settings::from_env();
    let manager = examples::manager(&settings)?;
    let listener = tokio::net::TcpListener::bind(&settings.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "reference server listening");
    for route in examples::Api::routes() {
        tracing::info!(
            method = route.method,
            path = route.path,
            public = route.public,
            login_types = ?route.login_types,
            scopes = %route.scopes,
            "route"
        );
    }
    axum::serve(listener, examples::app(manager)).await?;
    Ok(())
}
