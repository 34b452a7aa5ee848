//! Authentication: the one place that turns a request's credential into a [`Principal`].

use axum::http::request::Parts;

use super::Pipeline;
use crate::credential::{api_key, bearer_token};
use crate::error::{AuthError, InvalidToken};
use crate::keyring::ACCESS;
use crate::principal::Principal;

impl Pipeline<'_> {
    /// The core every caller shares: pure verification first (signature and claims, with the
    /// keys of the token's own login type), then the session (revocation) check. Whether the
    /// login type is accepted is the caller's next step, so that a principal cached for one
    /// extractor serves every later one.
    async fn verified(&self, token: &str, accepted: &[&str]) -> Result<Principal, AuthError> {
        let principal = self.keys.verify(token, ACCESS, accepted)?;
        if let Some(sessions) = self.sessions {
            sessions.check(&principal).await?;
        }
        Ok(principal)
    }

    /// Returns the request's principal, verifying its credential unless an earlier extractor
    /// did. `Ok(None)`: no credential. Checks nothing about login types or scopes.
    pub(crate) async fn principal_of(
        &self,
        parts: &mut Parts,
        accepted: &[&str],
    ) -> Result<Option<Principal>, AuthError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(Some(p.clone()));
        }
        let realm = || self.keys.realm(accepted);
        let principal = if let Some(key) = api_key(parts)? {
            let Some(api_keys) = self.api_keys else {
                return Err(AuthError::InvalidToken {
                    realm: realm(),
                    reason: InvalidToken::InvalidApiKey,
                });
            };
            let principal = api_keys
                .authenticate(key, self.keys, self.grants, realm)
                .await?;
            if let Some(sessions) = self.sessions {
                // One answer for every refused key, a banned owner's included.
                sessions.check_key(&principal).await.map_err(|e| match e {
                    AuthError::InvalidToken { realm, .. } => AuthError::InvalidToken {
                        realm,
                        reason: InvalidToken::InvalidApiKey,
                    },
                    other => other,
                })?;
            }
            principal
        } else {
            let Some(token) = bearer_token(parts, realm)? else {
                return Ok(None);
            };
            self.verified(token, accepted).await?
        };
        // Cached for every later extractor of this request.
        parts.extensions.insert(principal.clone());
        Ok(Some(principal))
    }

    /// Authenticates the request for one of `accepted` login types (any when empty).
    pub(crate) async fn authenticate(
        &self,
        parts: &mut Parts,
        accepted: &[&str],
    ) -> Result<Principal, AuthError> {
        let principal = self.principal_of(parts, accepted).await?.ok_or_else(|| {
            AuthError::MissingCredentials {
                realm: self.keys.realm(accepted),
            }
        })?;
        self.keys.check_login_type(&principal, accepted)?;
        Ok(principal)
    }

    /// Authenticates a bare access token (outside axum's extractors), with the same core and
    /// in the same order as a request.
    pub(crate) async fn authenticate_token(
        &self,
        token: &str,
        accepted: &[&str],
    ) -> Result<Principal, AuthError> {
        let principal = self.verified(token, accepted).await?;
        self.keys.check_login_type(&principal, accepted)?;
        Ok(principal)
    }
}
