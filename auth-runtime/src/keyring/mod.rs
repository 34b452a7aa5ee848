//! Login types and their keys: issuing tokens ([`TokenRequest`] → [`BearerToken`] /
//! [`TokenPair`]) and verifying them. Pure: no store is consulted here (the session check is
//! the pipeline's next step).

mod issue;
mod jwks;
mod keys;
mod login_type;
mod verify;

use std::collections::HashMap;

pub(crate) use issue::{ACCESS_TTL_CLAIM, SESSION_CLAIMS_CLAIM, Signed, bearer, random_id};
pub use issue::{
    BearerToken, IntoScopes, MAX_TOKEN_LEN, RESERVED_CLAIMS, TokenError, TokenPair, TokenRequest,
};
pub use keys::{KeyError, MIN_HMAC_SECRET_LEN, SigningKey};
pub(crate) use login_type::LoginTypeState;
pub use login_type::{LoginType, TokenLocation};

use crate::error::AuthError;
use crate::principal::Principal;

/// The token types, as written in the `typ` claim.
pub(crate) const ACCESS: &str = "access";
pub(crate) const REFRESH: &str = "refresh";

/// The built login types and the `kid` index over their keys.
pub(crate) struct Keyring {
    login_types: Vec<LoginTypeState>,
    /// kid → (login type index, key index)
    kids: HashMap<String, (usize, usize)>,
    /// Sessions are checked, so every token must carry a session id.
    require_sid: bool,
    /// The public keys, for `/.well-known/jwks.json`.
    jwks: jsonwebtoken::jwk::JwkSet,
}

impl Keyring {
    pub(crate) fn new(
        login_types: Vec<LoginTypeState>,
        kids: HashMap<String, (usize, usize)>,
        require_sid: bool,
    ) -> Self {
        let jwks = jwks::public_key_set(&login_types);
        Keyring {
            login_types,
            kids,
            require_sid,
            jwks,
        }
    }

    /// The public keys of the asymmetric login types.
    pub(crate) fn jwks(&self) -> &jsonwebtoken::jwk::JwkSet {
        &self.jwks
    }

    /// The registered login type names, in registration order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.login_types.iter().map(|l| &*l.name)
    }

    pub(crate) fn login_type(&self, name: &str) -> Option<(usize, &LoginTypeState)> {
        self.login_types
            .iter()
            .enumerate()
            .find(|(_, l)| &*l.name == name)
    }

    /// The login type at `index` (as returned by [`login_type`](Self::login_type) or
    /// [`key_by_kid`](Self::key_by_kid)).
    pub(crate) fn login_type_at(&self, index: usize) -> &LoginTypeState {
        &self.login_types[index]
    }

    /// The (login type index, key index) of the key with this `kid`.
    pub(crate) fn key_by_kid(&self, kid: &str) -> Option<(usize, usize)> {
        self.kids.get(kid).copied()
    }

    /// The realm named in challenges: the first accepted login type, or the first registered.
    pub(crate) fn realm(&self, accepted: &[&str]) -> String {
        accepted
            .first()
            .copied()
            .or_else(|| self.names().next())
            .unwrap_or("api")
            .to_owned()
    }

    /// Whether `principal`'s login type is one of `accepted` (any when empty).
    pub(crate) fn check_login_type(
        &self,
        principal: &Principal,
        accepted: &[&str],
    ) -> Result<(), AuthError> {
        if accepted.is_empty() || accepted.contains(&principal.login_type()) {
            Ok(())
        } else {
            Err(AuthError::LoginTypeMismatch {
                expected: accepted.iter().map(|s| (*s).to_owned()).collect(),
                found: principal.login_type().to_owned(),
            })
        }
    }

    /// Verifies an access token of one of `accepted` login types (signature, claims, login
    /// type): the stateless part of authentication.
    pub(crate) fn verify_access(
        &self,
        token: &str,
        accepted: &[&str],
    ) -> Result<Principal, AuthError> {
        let principal = self.verify(token, ACCESS, accepted)?;
        self.check_login_type(&principal, accepted)?;
        Ok(principal)
    }

    /// Verifies a refresh token of `login_type` (signature and claims only).
    pub(crate) fn verify_refresh(
        &self,
        token: &str,
        login_type: &str,
    ) -> Result<Principal, AuthError> {
        let principal = self.verify(token, REFRESH, &[login_type])?;
        self.check_login_type(&principal, &[login_type])?;
        Ok(principal)
    }
}
