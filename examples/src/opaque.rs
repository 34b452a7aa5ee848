//! Opaque tokens through the credential seam: an identity provider issues random tokens and
//! answers "who is this?" (OAuth2 token introspection, RFC 7662); the app plugs a
//! [`CredentialVerifier`] that asks it, and keeps every attribute. The provider here is an
//! in-memory table standing in for the introspection call.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use auth_runtime::prelude::*;
use auth_runtime::{ConfigError, CredentialVerifier, InvalidToken, VerifiedCaller, VerifyFuture};
use axum::Json;
use axum::http::request::Parts;
use serde_json::{Value, json};

/// What the provider knows of one token.
#[derive(Debug, Clone)]
pub struct Introspection {
    /// The token's subject.
    pub subject: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Whether it is still active (RFC 7662 `active`).
    pub active: bool,
}

/// The identity provider's token table (the stand-in for its introspection endpoint).
#[derive(Debug, Clone, Default)]
pub struct Provider(Arc<RwLock<HashMap<String, Introspection>>>);

impl Provider {
    /// Issues an opaque token `op_<random>` for `subject` with `scopes`.
    pub fn issue(&self, subject: &str, scopes: &[&str]) -> String {
        let token = format!("op_{}", examples_random());
        let entry = Introspection {
            subject: subject.to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            active: true,
        };
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.clone(), entry);
        token
    }

    /// Revokes a token at the provider.
    pub fn revoke(&self, token: &str) {
        if let Some(entry) = self
            .0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(token)
        {
            entry.active = false;
        }
    }

    fn introspect(&self, token: &str) -> Option<Introspection> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }
}

fn examples_random() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `Authorization: Bearer op_...` verified by the provider; anything else is not ours (a JWT
/// goes on to the built-in verifier).
struct OpaqueTokens(Provider);

impl CredentialVerifier for OpaqueTokens {
    fn verify<'a>(&'a self, parts: &'a Parts) -> VerifyFuture<'a> {
        Box::pin(async move {
            let token = parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .filter(|t| t.starts_with("op_"));
            let Some(token) = token else {
                return Ok(None);
            };
            match self.0.introspect(token) {
                Some(found) if found.active => Ok(Some(
                    VerifiedCaller::new(found.subject, "user")
                        .scopes(found.scopes)
                        .claim("issuer", "opaque-idp"),
                )),
                _ => Err(AuthError::InvalidToken {
                    realm: "user".into(),
                    reason: InvalidToken::Revoked,
                }),
            }
        })
    }
}

/// Needs `reports:read`, whoever verified the caller.
#[requires("reports:read")]
#[route(GET, "/reports/{id}")]
async fn report(user: Principal) -> Json<Value> {
    Json(json!({
        "sub": user.subject(),
        "credential": user.credential().as_str(),
        "issuer": user.claim("issuer"),
    }))
}

/// Needs `reports:write`.
#[requires("reports:write")]
#[route(POST, "/reports")]
async fn create_report() -> &'static str {
    "created"
}

#[derive(SecureRouter)]
#[secure_router(routes(report, create_report))]
struct Api;

/// The app: login type `user` takes JWTs (signed with `secret`) and the provider's opaque
/// tokens alike.
pub fn app(provider: Provider, secret: &[u8]) -> Result<(axum::Router, AuthManager), ConfigError> {
    let manager = AuthManager::builder()
        .login_type(LoginType::new("user").key(SigningKey::hs256("user-1", secret)))
        .credential_verifier(OpaqueTokens(provider))
        .build()?;
    Ok((Api::router().with_state(manager.clone()), manager))
}
