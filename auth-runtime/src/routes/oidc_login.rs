//! `GET /auth/oidc/login` and `GET /auth/oidc/callback`: OpenID Connect sign-in (authorization
//! code flow with PKCE), ending in the framework's own session and tokens.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRef, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::ClientAddr;
use crate::accounts::{AccountError, FederatedSignIn};
use crate::clock::now;
use crate::manager::AuthManager;
use crate::oidc::{AuthorizationRequest, OidcError, OidcSignIn, PENDING_LOGIN_TTL, PendingLogin};
use crate::{SecureRouter, public};

/// The state of [`OidcRoutes`]: the manager and the provider.
#[derive(Clone, Debug)]
pub struct OidcState {
    /// The manager (sessions, accounts).
    pub manager: AuthManager,
    /// The provider.
    pub oidc: Arc<OidcSignIn>,
}

impl FromRef<OidcState> for AuthManager {
    fn from_ref(state: &OidcState) -> Self {
        state.manager.clone()
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The `Set-Cookie` value of the sign-in record (or, with `value` `None`, of its expiry).
fn record_cookie(oidc: &OidcSignIn, value: Option<&str>) -> HeaderValue {
    let secure = if oidc.cookie_secure { "; Secure" } else { "" };
    let cookie = match value {
        // Lax: the provider sends the browser back with a top-level GET.
        Some(value) => format!(
            "{}={value}; Path=/; Max-Age={PENDING_LOGIN_TTL}; HttpOnly; SameSite=Lax{secure}",
            oidc.cookie_name()
        ),
        None => format!(
            "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}",
            oidc.cookie_name()
        ),
    };
    HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static("oidc-login=; Max-Age=0"))
}

/// Sends the browser to the provider (303), with a fresh `state`, `nonce` and PKCE challenge,
/// and keeps them in a sealed, `HttpOnly` cookie of this browser.
#[public]
#[route(GET, "/auth/oidc/login")]
async fn oidc_login(State(state): State<OidcState>) -> Response {
    let oidc = &state.oidc;
    let (url, pending) = AuthorizationRequest::new(&oidc.provider, &oidc.client).into_parts();
    let Ok(location) = HeaderValue::from_str(&url) else {
        tracing::error!("the provider's authorization URL is not a valid header value");
        return AccountError::Auth(crate::error::AuthError::Internal).into_response();
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(
        header::SET_COOKIE,
        record_cookie(oidc, Some(&pending.seal(&oidc.cookie_key))),
    );
    no_store(response)
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The provider's answer: checks the state against this browser's record, redeems the code
/// (with the PKCE verifier), validates the ID token, signs the account in (created on first
/// sign-in) and answers like `/auth/login`. The record is spent whatever the outcome.
#[public]
#[route(GET, "/auth/oidc/callback")]
async fn oidc_callback(
    State(state): State<OidcState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    query: Result<Query<Callback>, QueryRejection>,
) -> Response {
    let oidc = &state.oidc;
    let outcome = callback(&state, client, &headers, query).await;
    let mut response = match outcome {
        Ok(pair) => {
            let mut response = Json(pair).into_response();
            response
                .headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => e.into_response(),
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, record_cookie(oidc, None));
    no_store(response)
}

async fn callback(
    state: &OidcState,
    client: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    query: Result<Query<Callback>, QueryRejection>,
) -> Result<crate::keyring::TokenPair, AccountError> {
    let oidc = &state.oidc;
    let now = now();
    let refused = |why| AccountError::Federation(OidcError::State(why));
    let record = cookie_value(headers, oidc.cookie_name()).ok_or(refused(
        "this browser did not start a sign-in, or it expired",
    ))?;
    let pending =
        PendingLogin::open(record, &oidc.cookie_key, now).map_err(AccountError::Federation)?;
    let Ok(Query(callback)) = query else {
        return Err(refused("the callback's parameters are malformed"));
    };
    if !callback
        .state
        .as_deref()
        .is_some_and(|s| pending.state_matches(s))
    {
        return Err(refused("the state does not match this browser's sign-in"));
    }
    if callback.error.is_some() {
        return Err(AccountError::Federation(OidcError::TokenEndpoint(
            "the provider did not sign the user in",
        )));
    }
    let code = callback
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or(refused("the callback has no code"))?;
    let claims = oidc
        .redeem(&code, &pending, now)
        .await
        .map_err(AccountError::Federation)?;
    let email = claims
        .email
        .clone()
        .ok_or(AccountError::Federation(OidcError::IdToken(
            "it has no email",
        )))?;
    let (roles, managed) = oidc.roles_of(&claims);
    let person = FederatedSignIn::new(
        oidc.provider.issuer.clone(),
        claims.subject.clone(),
        email,
        claims.email_verified,
    )
    .roles(roles)
    .managed_roles(managed);
    state
        .manager
        .sign_in_federated(&person, &oidc.login_type, client)
        .await
}

/// The value of cookie `name` in the request's `Cookie` headers (the first one).
fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// OpenID Connect sign-in, mounted with its [`OidcState`]:
///
/// - `GET /auth/oidc/login`: 303 to the provider's authorization endpoint (`response_type=code`,
///   `scope=openid email`, a fresh `state` and `nonce`, PKCE S256); the state is bound to this
///   browser by a sealed `HttpOnly` cookie.
/// - `GET /auth/oidc/callback`: the state must match the cookie (else 400); the code is
///   redeemed with the verifier and the client secret (HTTP Basic); the ID token is checked
///   (signature by the provider's keys, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`; else 401);
///   the account is created on first sign-in or brought in step
///   ([`AuthManager::sign_in_federated`]); the answer is `/auth/login`'s token pair. The
///   provider unreachable: 503.
///
/// ```
/// use auth_runtime::routes::{OidcRoutes, OidcState};
/// use auth_runtime::SecureRouter as _;
///
/// let paths: Vec<&str> = OidcRoutes::routes().iter().map(|r| r.path).collect();
/// assert_eq!(paths, ["/auth/oidc/login", "/auth/oidc/callback"]);
/// # fn mount(state: OidcState) -> axum::Router { OidcRoutes::router().with_state(state) }
/// ```
#[derive(SecureRouter)]
#[secure_router(state = OidcState, routes(oidc_login, oidc_callback))]
pub struct OidcRoutes;
