//! One request's path through the framework: [`authenticate`] (credential → verify → session →
//! principal, one core for the guard, the [`Principal`] extractor and
//! [`AuthManager::authenticate_token`](crate::AuthManager::authenticate_token)), then
//! [`authorize`] (login types, the router's group, scopes, roles, policy) in the order a
//! handler's declaration is checked. The guard extractor that runs it sits above the manager
//! (it reaches the manager through the router state); the pipeline only borrows the
//! components it needs.

mod authenticate;
mod authorize;

use crate::access::Access;
#[cfg(feature = "accounts")]
use crate::accounts::ApiKeys;
use std::sync::Arc;

use crate::credential::cookie::Cookies;
use crate::credential::custom::CredentialVerifier;
#[cfg(feature = "federation")]
use crate::federation::IssuerVerifier;
use crate::grants::Grants;
use crate::keyring::Keyring;
use crate::proxy::TrustedProxies;
use crate::sessions::Sessions;

/// The components one request is checked against, borrowed from the manager.
pub(crate) struct Pipeline<'a> {
    pub(crate) keys: &'a Keyring,
    pub(crate) sessions: Option<&'a Sessions>,
    #[cfg(feature = "accounts")]
    pub(crate) api_keys: Option<&'a ApiKeys>,
    pub(crate) cookies: Option<&'a Cookies>,
    pub(crate) verifiers: &'a [Arc<dyn CredentialVerifier>],
    /// The external issuers (among `verifiers` too), for bare tokens.
    #[cfg(feature = "federation")]
    pub(crate) issuers: &'a [Arc<IssuerVerifier>],
    pub(crate) grants: &'a Grants,
    pub(crate) access: &'a Access,
    pub(crate) proxies: &'a TrustedProxies,
}
