//! The reference server: `cargo run -p examples --bin server`.

use auth_runtime::store::SqlStore;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let settings = examples::Settings::from_env()?;
    let store = SqlStore::connect(&settings.database_url).await?;
    tracing::info!(backend = store.backend(), "store ready");
    if let Some(redis) = &settings.redis {
        redis
            .ping()
            .await
            .map_err(|e| format!("AUTH_REDIS_URL: Redis cannot be reached: {e}"))?;
        tracing::info!("throttle budgets in Redis");
    }
    let manager = examples::manager(&settings, store)?;
    if let Some(external) = &settings.external_issuer {
        // Fetched now so that a misconfiguration shows at start; not fatal: the partner's
        // tokens get 503 until a later fetch (started by one of them) succeeds.
        match manager.fetch_issuer_keys().await {
            Ok(()) => tracing::info!(issuer = %external.issuer, "external issuer's keys fetched"),
            Err(e) => {
                tracing::warn!(issuer = %external.issuer, error = %e, "external issuer's keys could not be fetched yet")
            }
        }
    }
    if let Some(password) = examples::seed_admin(&manager, &settings).await? {
        // Shown once, on the console of the operator who started the server.
        println!(
            "seeded admin {} with the generated password: {password}\n(set AUTH_ADMIN_PASSWORD to choose it; it is not shown again)",
            settings.admin_email
        );
    }
    // OpenID Connect sign-in when AUTH_OIDC_* is set: the provider's discovery document and
    // keys are fetched now, and a provider that cannot be reached stops the start.
    let oidc = match &settings.oidc {
        None => None,
        Some(oidc) => {
            let client = auth_runtime::federation::HyperClient::new();
            let sign_in = examples::oidc_sign_in(&settings, oidc, client)
                .await
                .map_err(|e| format!("AUTH_OIDC_ISSUER: {e}"))?;
            tracing::info!(issuer = %oidc.issuer, "OpenID Connect sign-in at /auth/oidc/login");
            Some(sign_in)
        }
    };
    let app = examples::app_with(manager, oidc)?;
    // Every route the server answers: the app's and all the built-in ones, as mounted.
    for route in examples::Api::routes()
        .iter()
        .chain(&auth_runtime::routes::builtin_routes_at("")?)
        .chain(auth_runtime::routes::JwksRoutes::routes())
        .chain(if settings.oidc.is_some() {
            auth_runtime::routes::OidcRoutes::routes()
        } else {
            &[]
        })
    {
        tracing::info!(
            method = route.method,
            path = route.path,
            public = route.public,
            login_types = ?route.login_types,
            scopes = %route.scopes,
            "route"
        );
    }
    let listener = tokio::net::TcpListener::bind(&settings.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "reference server listening");
    examples::serve(listener, app).await?;
    Ok(())
}
