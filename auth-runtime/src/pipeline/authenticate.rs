//! Authentication: the one place that turns a request's credential into a [`Principal`].

use axum::http::request::Parts;

use super::Pipeline;
use crate::clock::now;
use crate::credential::cookie::{Cookies, Jar};
use crate::credential::custom::VerifiedCaller;
use crate::credential::{api_key, bearer_token};
use crate::error::{AuthError, InvalidToken};
use crate::keyring::ACCESS;
use crate::keyring::{RESERVED_CLAIMS, random_id};
use crate::principal::{CredentialKind, Principal};
use serde_json::Value;

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
        let mut custom = None;
        for verifier in self.verifiers {
            if let Some(caller) = verifier.verify(parts).await? {
                custom = Some(self.custom_principal(caller)?);
                break;
            }
        }
        let principal = if let Some(principal) = custom {
            principal
        } else if let Some(key) = api_key(parts)? {
            self.by_api_key(key, realm).await?
        } else if let Some(token) = bearer_token(parts, realm)? {
            let principal = self.verified(token, accepted).await?;
            // A cookie of the same login type that says something else: which one is meant?
            if let Some(cookies) = self.cookies_of(principal.login_type())
                && cookies
                    .read(&parts.headers, principal.login_type(), Jar::Access)?
                    .is_some_and(|cookie| cookie != token)
            {
                return Err(AuthError::AmbiguousCredentials);
            }
            principal
        } else if let Some(principal) = self.by_cookie(parts, accepted).await? {
            principal
        } else {
            return Ok(None);
        };
        // Cached for every later extractor of this request.
        parts.extensions.insert(principal.clone());
        Ok(Some(principal))
    }

    /// The principal of what an application's verifier verified.
    fn custom_principal(&self, caller: VerifiedCaller) -> Result<Principal, AuthError> {
        let Some((_, login_type)) = self.keys.login_type(&caller.login_type) else {
            tracing::error!(
                login_type = %caller.login_type,
                "a credential verifier named a login type the manager does not have"
            );
            return Err(AuthError::Internal);
        };
        if let Some(bad) = caller
            .scopes
            .iter()
            .find(|s| auth_grammar::validate_scope(s).is_err())
        {
            tracing::error!(scope = %bad.escape_debug(), "a credential verifier granted a malformed scope");
            return Err(AuthError::Internal);
        }
        let now = now();
        let scope = caller.scopes.join(" ");
        let expires_at = caller.expires_at.unwrap_or(u64::MAX);
        let jti = random_id();
        let mut claims = caller.claims;
        claims.retain(|k, _| !RESERVED_CLAIMS.contains(&k.as_str()));
        claims.insert("sub".into(), Value::from(caller.subject.as_str()));
        claims.insert("login_type".into(), Value::from(&*login_type.name));
        claims.insert("scope".into(), Value::from(scope.as_str()));
        claims.insert("jti".into(), Value::from(jti.as_str()));
        claims.insert("iat".into(), Value::from(now));
        if let Some(exp) = caller.expires_at {
            claims.insert("exp".into(), Value::from(exp));
        }
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        Ok(Principal::new(
            caller.subject,
            login_type.name.clone(),
            scope,
            jti,
            None,
            now,
            expires_at,
            payload,
        )
        .with_credential(CredentialKind::Custom))
    }

    async fn by_api_key(
        &self,
        key: &str,
        realm: impl Fn() -> String,
    ) -> Result<Principal, AuthError> {
        let refused = |realm| AuthError::InvalidToken {
            realm,
            reason: InvalidToken::InvalidApiKey,
        };
        #[cfg(not(feature = "accounts"))]
        let _ = key;
        #[cfg(not(feature = "accounts"))]
        return Err(refused(realm()));
        #[cfg(feature = "accounts")]
        let Some(api_keys) = self.api_keys else {
            return Err(refused(realm()));
        };
        // A key is no session: its owner's status and credential version decide, read with
        // the key (revocation cutoffs of the owner's sessions do not apply).
        #[cfg(feature = "accounts")]
        api_keys
            .authenticate(key, self.keys, self.grants, realm)
            .await
    }

    /// The cookie configuration, if `login_type` reads cookies.
    fn cookies_of(&self, login_type: &str) -> Option<&Cookies> {
        let reads = self
            .keys
            .login_type(login_type)
            .is_some_and(|(_, lt)| lt.reads_cookies());
        self.cookies.filter(|_| reads)
    }

    /// The first access cookie among the accepted login types that read cookies (every login
    /// type, in registration order, when any is accepted), verified; for an unsafe method,
    /// also the origin and the session's CSRF token.
    async fn by_cookie(
        &self,
        parts: &Parts,
        accepted: &[&str],
    ) -> Result<Option<Principal>, AuthError> {
        let Some(cookies) = self.cookies else {
            return Ok(None);
        };
        let candidates: Vec<&str> = if accepted.is_empty() {
            self.keys.names().collect()
        } else {
            accepted.to_vec()
        };
        for login_type in candidates {
            if self.cookies_of(login_type).is_none() {
                continue;
            }
            let Some(token) = cookies.read(&parts.headers, login_type, Jar::Access)? else {
                continue;
            };
            let principal = self.verified(token, &[login_type]).await?;
            self.keys.check_login_type(&principal, &[login_type])?;
            cookies.check_csrf(parts, login_type, principal.session_id())?;
            return Ok(Some(principal.with_credential(CredentialKind::Cookie)));
        }
        Ok(None)
    }

    /// Authenticates the request for one of `accepted` login types (any when empty).
    pub(crate) async fn authenticate(
        &self,
        parts: &mut Parts,
        accepted: &[&str],
    ) -> Result<Principal, AuthError> {
        let resolved = self.grants.resolve_accepted(accepted);
        let principal = self.principal_of(parts, &resolved).await?.ok_or_else(|| {
            AuthError::MissingCredentials {
                realm: self.keys.realm(accepted),
            }
        })?;
        self.check_login(&principal, accepted)?;
        Ok(principal)
    }

    /// Whether `principal` passes where `accepted` login types are required: as itself, or as
    /// the target of an alias among them while holding the alias's role (401 for another
    /// login type, 403 without the role).
    pub(crate) fn check_login(
        &self,
        principal: &Principal,
        accepted: &[&str],
    ) -> Result<(), AuthError> {
        let resolved = self.grants.resolve_accepted(accepted);
        self.keys.check_login_type(principal, &resolved)?;
        if let Some(role) = self.grants.alias_role(accepted, principal.login_type()) {
            self.access.check_roles(principal, &[role])?;
        }
        Ok(())
    }

    /// Authenticates a bare access token (outside axum's extractors), with the same core and
    /// in the same order as a request.
    pub(crate) async fn authenticate_token(
        &self,
        token: &str,
        accepted: &[&str],
    ) -> Result<Principal, AuthError> {
        let resolved = self.grants.resolve_accepted(accepted);
        #[cfg(feature = "federation")]
        for issuer in self.issuers {
            if let Some(caller) = issuer.verify_bearer(token).await? {
                let principal = self.custom_principal(caller)?;
                self.check_login(&principal, accepted)?;
                return Ok(principal);
            }
        }
        let principal = self.verified(token, &resolved).await?;
        self.check_login(&principal, accepted)?;
        Ok(principal)
    }
}
