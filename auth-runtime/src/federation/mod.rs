//! Trusting an external issuer (feature `federation`, on by default): access tokens signed by
//! another identity provider, verified with the keys of its JWKS, for a login type of this
//! application.
//!
//! - [`ExternalIssuer`]: the issuer (by discovery or a JWKS URL), the audience, how its claims
//!   become scopes and roles; registered with
//!   [`AuthManagerBuilder::external_issuer`](crate::AuthManagerBuilder::external_issuer).
//! - [`HttpClient`]: how its keys are fetched; [`HyperClient`] by default.
//!
//! A token is the issuer's when its `iss` is the issuer; it is then verified with that
//! issuer's keys only. Keys come only from the URLs configured here (a token's `jku`, `x5u`,
//! `jwk` and `x5c` are never read), each key fixes its own algorithm (RS256, ES256 or EdDSA),
//! refreshes are bounded (one fetch per refresh interval, concurrent misses share it), and a
//! failure to fetch never lets a token through (503 without keys).
//!
//! ```
//! use auth_runtime::federation::ExternalIssuer;
//! use auth_runtime::prelude::*;
//!
//! #[login_type("partner")]
//! #[requires("reports:read")]
//! #[route(GET, "/partner/reports")]
//! async fn partner_reports(partner: Principal) -> String {
//!     format!("reports for {}", partner.subject())
//! }
//!
//! #[derive(SecureRouter)]
//! #[secure_router(routes(partner_reports))]
//! struct Api;
//!
//! let manager = AuthManager::builder()
//!     .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
//!     .role("reporter", ["reports:read"])
//!     .external_issuer(
//!         "partner",
//!         ExternalIssuer::discovery("https://login.partner.example")
//!             .audience("reports-api")
//!             .roles_claim("groups")
//!             .map_role("reporting", "reporter"),
//!     )
//!     .build()?;
//! let app: axum::Router = Api::router().with_state(manager);
//! # Ok::<(), auth_runtime::ConfigError>(())
//! ```

mod http;
mod issuer;
mod jwk;
mod keys;

pub use http::{HttpClient, HttpError, HttpFuture, HttpResponse, HyperClient};
pub(crate) use issuer::IssuerVerifier;
pub use issuer::{
    DEFAULT_FETCH_TIMEOUT, DEFAULT_REFRESH_INTERVAL, ExternalIssuer, MAX_DOCUMENT_BYTES,
};
pub use keys::{DEFAULT_CACHE, FetchError, MAX_CACHE, MIN_CACHE};
