//! `GET /.well-known/jwks.json`: the public keys of the asymmetric login types.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::manager::AuthManager;
use crate::{SecureRouter, public};

/// How long a verifier may keep the key set (seconds). A rotation adds the new key before it
/// signs (or a verifier refetches on an unknown `kid`), so five minutes only delays the
/// removal of a retired key.
pub const JWKS_MAX_AGE: u64 = 300;

/// The JSON Web Key Set of [`AuthManager::jwks`], publicly cacheable for [`JWKS_MAX_AGE`]
/// seconds.
#[public]
#[route(GET, "/.well-known/jwks.json")]
async fn jwks(State(manager): State<AuthManager>) -> Response {
    let mut response = Json(manager.jwks()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE}"))
            .unwrap_or(HeaderValue::from_static("public, max-age=300")),
    );
    response
}

/// `GET /.well-known/jwks.json` (RFC 8615: always at the root, whatever prefix the other
/// built-in routes have): the public keys of every login type that signs with RS256, ES256 or
/// EdDSA, with `Cache-Control: public, max-age=300`. Needs no store.
///
/// ```
/// use auth_runtime::prelude::*;
/// use auth_runtime::routes::JwksRoutes;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pem = SigningKey::generate_ed25519_pem();
/// let manager = AuthManager::builder()
///     .login_type(LoginType::new("service").key(SigningKey::ed25519_private_pem("svc-1", pem.as_bytes())))
///     .build()?;
/// let app: axum::Router = JwksRoutes::router().with_state(manager);
/// assert_eq!(JwksRoutes::routes()[0].path, "/.well-known/jwks.json");
/// # let _ = app;
/// # Ok(()) }
/// ```
#[derive(SecureRouter)]
#[secure_router(routes(jwks))]
pub struct JwksRoutes;
