//! The account routes: registration, sign-in, the token endpoint, logout, `me`, password change
//! and the admin's approval queue.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ClientAddr, JsonBody, JsonOrForm, OAuthError};
use crate::accounts::{ADMIN_LOGIN_TYPE, AccountError, SignIn, USER_LOGIN_TYPE};
use crate::credential::cookie::SessionCookies;
use crate::keyring::TokenPair;
use crate::manager::AuthManager;
use crate::principal::{CredentialKind, Principal};
use crate::{SecureRouter, authenticated, login_type, public};

/// Responses that carry tokens must not be stored by any cache (RFC 6749 §5.1).
fn tokens(pair: TokenPair) -> Response {
    let mut response = no_store(Json(pair));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[derive(Deserialize)]
struct Registration {
    email: String,
    password: String,
}

/// Registers an account; it awaits an admin's approval. Unknown fields (roles, is_admin, ...)
/// are ignored.
#[public]
#[route(POST, "/auth/register")]
async fn register(
    State(manager): State<AuthManager>,
    ClientAddr(client): ClientAddr,
    JsonBody(body): JsonBody<Registration>,
) -> Result<(StatusCode, Json<Value>), AccountError> {
    // A new account and an email that already had one get the same answer (no oracle of
    // which emails have accounts), unless the app chose to reveal existing accounts.
    manager
        .register(&body.email, &body.password, client)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "status": "pending" }))))
}

/// An OAuth2 password form (`username`, `password`) or JSON `{email, password}`.
#[derive(Deserialize)]
struct SignInBody {
    #[serde(alias = "username")]
    email: String,
    password: String,
}

/// Signs in as login type `user`.
#[public]
#[route(POST, "/auth/login")]
async fn login(
    State(manager): State<AuthManager>,
    ClientAddr(client): ClientAddr,
    flag: Result<Query<CookieFlag>, QueryRejection>,
    headers: HeaderMap,
    JsonOrForm(body): JsonOrForm<SignInBody>,
) -> Result<Response, AccountError> {
    sign_in(&manager, USER_LOGIN_TYPE, client, flag, &headers, body).await
}

/// `?cookie=true`: tokens in session cookies rather than in the body.
#[derive(Deserialize)]
struct CookieFlag {
    #[serde(default)]
    cookie: bool,
}

fn wants_cookies(flag: Result<Query<CookieFlag>, QueryRejection>) -> Result<bool, AccountError> {
    flag.map(|Query(f)| f.cookie)
        .map_err(|_| AccountError::BadRequest("`cookie` must be `true` or `false`".into()))
}

/// A password sign-in for `login_type`: a token pair in the body, or (`?cookie=true`, for a
/// login type that reads cookies, from this site only) a 204 that sets the session cookies.
async fn sign_in(
    manager: &AuthManager,
    login_type: &str,
    client: Option<std::net::IpAddr>,
    flag: Result<Query<CookieFlag>, QueryRejection>,
    headers: &HeaderMap,
    body: SignInBody,
) -> Result<Response, AccountError> {
    let cookie = wants_cookies(flag)?;
    if cookie {
        if !manager.reads_cookies(login_type) {
            return Err(AccountError::BadRequest(format!(
                "Login type `{login_type}` does not read cookies"
            )));
        }
        // Login CSRF: another site must not sign the browser in to an account of its choice.
        manager.check_origin(headers)?;
    }
    let pair = manager
        .sign_in_request(
            SignIn::new(&body.email, &body.password, login_type)
                .client(client)
                .headers(headers),
        )
        .await?;
    if cookie {
        let cookies = manager.session_cookies(login_type, &pair)?;
        return Ok(no_store((StatusCode::NO_CONTENT, cookies, ())));
    }
    Ok(tokens(pair))
}

/// Signs in as login type `admin` (accounts with the admin role only).
#[public]
#[route(POST, "/admin/login")]
async fn admin_login(
    State(manager): State<AuthManager>,
    ClientAddr(client): ClientAddr,
    flag: Result<Query<CookieFlag>, QueryRejection>,
    headers: HeaderMap,
    JsonOrForm(body): JsonOrForm<SignInBody>,
) -> Result<Response, AccountError> {
    sign_in(&manager, ADMIN_LOGIN_TYPE, client, flag, &headers, body).await
}

/// An OAuth2 token request (RFC 6749 §4.3 and §6).
#[derive(Deserialize)]
struct Grant {
    grant_type: Option<String>,
    refresh_token: Option<String>,
    username: Option<String>,
    password: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The scopes of an OAuth2 `scope` parameter (space-delimited; empty means none asked for).
fn scope_list(scope: Option<&str>) -> Vec<String> {
    scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The client's credentials (RFC 6749 §2.3.1): HTTP Basic (form-urlencoded id and secret) or
/// the `client_id` and `client_secret` fields, not both.
fn client_credentials(headers: &HeaderMap, grant: &Grant) -> Result<(String, String), OAuthError> {
    let mut basic = None;
    for value in headers.get_all(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| OAuthError::invalid_client())?;
        let Some((scheme, encoded)) = value.split_once(' ') else {
            return Err(OAuthError::invalid_client());
        };
        if !scheme.eq_ignore_ascii_case("basic") || basic.is_some() {
            return Err(OAuthError::invalid_client());
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(OAuthError::invalid_client)?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(OAuthError::invalid_client)?;
        let decode = |s: &str| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
                .ok()
                .and_then(|mut v| v.pop())
                .map(|(_, v)| v)
                .ok_or_else(OAuthError::invalid_client)
        };
        basic = Some((decode(id)?, decode(secret)?));
    }
    match (basic, &grant.client_id, &grant.client_secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
            "Send the client credentials once: HTTP Basic or the form, not both",
        )),
        (Some(pair), None, None) => Ok(pair),
        (None, Some(id), Some(secret)) => Ok((id.clone(), secret.clone())),
        _ => Err(OAuthError::invalid_client()),
    }
}

/// The token endpoint: `grant_type=refresh_token` spends a refresh token for a new pair;
/// `grant_type=password` signs in as login type `user` (with an optional `scope` to narrow
/// the tokens); `grant_type=client_credentials` gives a service account an access token of
/// login type `service` (client id and secret by HTTP Basic or form). Refusals are RFC 6749
/// §5.2 errors ([`OAuthError`]).
#[public]
#[route(POST, "/auth/token")]
async fn token(
    State(manager): State<AuthManager>,
    ClientAddr(client): ClientAddr,
    flag: Result<Query<CookieFlag>, QueryRejection>,
    headers: HeaderMap,
    grant: Result<JsonOrForm<Grant>, AccountError>,
) -> Result<Response, OAuthError> {
    let JsonOrForm(grant) = grant?;
    let missing = |field: &str| OAuthError::invalid_request(format!("`{field}` is required"));
    let cookie = wants_cookies(flag)?;
    if cookie
        && grant.grant_type.as_deref() == Some("refresh_token")
        && grant.refresh_token.is_none()
    {
        // The refresh token in its cookie, the CSRF token in the header.
        let (login_type, pair) = manager
            .refresh_from_cookies(&headers)
            .await?
            .ok_or_else(|| missing("refresh_token"))?;
        let cookies = manager.session_cookies(&login_type, &pair)?;
        return Ok(no_store((StatusCode::NO_CONTENT, cookies, ())));
    }
    if cookie {
        if !manager.reads_cookies(USER_LOGIN_TYPE) {
            return Err(OAuthError::invalid_request(format!(
                "Login type `{USER_LOGIN_TYPE}` does not read cookies"
            )));
        }
        // Login CSRF, as for `/auth/login?cookie=true`.
        manager.check_origin(&headers)?;
    }
    let pair = match grant.grant_type.as_deref() {
        Some("refresh_token") => {
            let token = grant
                .refresh_token
                .ok_or_else(|| missing("refresh_token"))?;
            if grant.scope.is_some_and(|s| !s.trim().is_empty()) {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "A refresh keeps the session's scopes; `scope` is not taken here",
                ));
            }
            manager.refresh(&token).await?
        }
        Some("client_credentials") if !cookie => {
            let (id, secret) = client_credentials(&headers, &grant)?;
            let scopes = scope_list(grant.scope.as_deref());
            let token = manager
                .client_credentials(&id, &secret, (!scopes.is_empty()).then_some(&scopes[..]))
                .await?;
            let mut response = no_store(Json(token));
            response
                .headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            return Ok(response);
        }
        Some("password") => {
            let email = grant.username.ok_or_else(|| missing("username"))?;
            let password = grant.password.ok_or_else(|| missing("password"))?;
            let scopes = scope_list(grant.scope.as_deref());
            let mut request = SignIn::new(&email, &password, USER_LOGIN_TYPE)
                .client(client)
                .headers(&headers);
            if !scopes.is_empty() {
                request = request.scopes(&scopes);
            }
            manager.sign_in_request(request).await?
        }
        Some(_) => {
            return Err(OAuthError::unsupported_grant_type(
                "Unsupported `grant_type`: use `password`, `refresh_token` or `client_credentials`",
            ));
        }
        None => return Err(missing("grant_type")),
    };
    if cookie {
        let cookies = manager.session_cookies(USER_LOGIN_TYPE, &pair)?;
        return Ok(no_store((StatusCode::NO_CONTENT, cookies, ())));
    }
    Ok(tokens(pair))
}

/// Ends the caller's session: its access and refresh tokens stop working.
#[authenticated]
#[route(POST, "/auth/logout")]
async fn logout(
    State(manager): State<AuthManager>,
    principal: Principal,
) -> Result<Response, AccountError> {
    manager.logout(&principal).await?;
    // Signed in by cookie: the browser forgets the cookies too.
    let cookies = if principal.credential() == CredentialKind::Cookie {
        manager.expired_session_cookies(principal.login_type())
    } else {
        SessionCookies::default()
    };
    Ok((StatusCode::NO_CONTENT, cookies, ()).into_response())
}

/// Account data must not be kept by any cache either.
fn no_store(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The caller: account id, email, login type, scopes, roles, and the kind of credential it
/// presented (`bearer` or `api_key`).
#[authenticated]
#[route(GET, "/auth/me")]
async fn me(principal: Principal) -> Response {
    no_store(Json(json!({
        "sub": principal.subject(),
        "email": principal.claim("email"),
        "login_type": principal.login_type(),
        "scopes": principal.scopes().iter().collect::<Vec<_>>(),
        "roles": principal.claim("roles").cloned().unwrap_or_else(|| json!([])),
        "credential": principal.credential().as_str(),
    })))
}

/// The caller's live sessions: `[{id, login_type, created_at, last_used_at, expires_at,
/// current}]`.
#[authenticated]
#[route(GET, "/auth/sessions")]
async fn list_sessions(
    State(manager): State<AuthManager>,
    principal: Principal,
) -> Result<Response, AccountError> {
    Ok(no_store(Json(manager.sessions_of(&principal).await?)))
}

/// Ends one of the caller's sessions, its own included (an unknown id or another account's:
/// 404). An API key cannot: it is no session, and it may be weaker than one.
#[authenticated]
#[route(DELETE, "/auth/sessions/{id}")]
async fn end_session(
    State(manager): State<AuthManager>,
    principal: Principal,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, AccountError> {
    if principal.credential() == CredentialKind::ApiKey {
        return Err(AccountError::Forbidden(
            "An API key cannot end sessions; sign in".into(),
        ));
    }
    let Path(id) = id.map_err(|_| AccountError::UnknownSession)?;
    manager.end_session(&principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct KeyCreation {
    name: String,
    scopes: Vec<String>,
    expires_in_days: u32,
}

/// Creates an API key for the caller, shown once: `{name, scopes, expires_in_days}` → 201
/// `{id, key, expires_at}`. Scopes beyond the caller's own are refused (403).
#[authenticated]
#[route(POST, "/auth/api-keys")]
async fn create_api_key(
    State(manager): State<AuthManager>,
    principal: Principal,
    JsonBody(body): JsonBody<KeyCreation>,
) -> Result<Response, AccountError> {
    let created = manager
        .create_api_key(&principal, &body.name, &body.scopes, body.expires_in_days)
        .await?;
    Ok(no_store((StatusCode::CREATED, Json(created))))
}

/// The caller's live API keys: `[{id, name, scopes, created_at, expires_at, last_used_at}]`,
/// never the keys.
#[authenticated]
#[route(GET, "/auth/api-keys")]
async fn list_api_keys(
    State(manager): State<AuthManager>,
    principal: Principal,
) -> Result<Response, AccountError> {
    Ok(no_store(Json(manager.api_keys(&principal).await?)))
}

/// Revokes one of the caller's API keys (another account's or an unknown id: 404).
#[authenticated]
#[route(DELETE, "/auth/api-keys/{id}")]
async fn revoke_api_key(
    State(manager): State<AuthManager>,
    principal: Principal,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, AccountError> {
    let Path(id) = id.map_err(|_| AccountError::UnknownApiKey)?;
    manager.revoke_api_key(&principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the caller's password and ends every other session of the account.
#[authenticated]
#[route(POST, "/auth/change-password")]
async fn change_password(
    State(manager): State<AuthManager>,
    principal: Principal,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<StatusCode, AccountError> {
    manager
        .change_password(&principal, &body.current_password, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The accounts awaiting approval.
#[login_type("admin")]
#[route(GET, "/auth/pending")]
async fn pending(State(manager): State<AuthManager>) -> Result<Response, AccountError> {
    let accounts = manager.pending_accounts().await?;
    Ok(no_store(Json(Value::Array(
        accounts
            .iter()
            .map(|a| json!({ "id": a.id, "email": a.email, "created_at": a.created_at }))
            .collect(),
    ))))
}

#[derive(Deserialize)]
struct EmailBody {
    email: String,
}

/// Approves a pending account.
#[login_type("admin")]
#[route(POST, "/auth/approve")]
async fn approve(
    State(manager): State<AuthManager>,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<StatusCode, AccountError> {
    manager.approve(&body.email).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rejects a pending account.
#[login_type("admin")]
#[route(POST, "/auth/reject")]
async fn reject(
    State(manager): State<AuthManager>,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<StatusCode, AccountError> {
    manager.reject(&body.email).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The built-in account routes (state: [`AuthManager`]).
///
/// | route | guard |
/// |---|---|
/// | `POST /auth/register` | public |
/// | `POST /auth/login`, `POST /admin/login`, `POST /auth/token` | public |
/// | `POST /auth/logout`, `GET /auth/me`, `POST /auth/change-password` | any signed-in caller |
/// | `GET /auth/sessions`, `DELETE /auth/sessions/{id}` | any signed-in caller |
/// | `POST /auth/api-keys`, `GET /auth/api-keys`, `DELETE /auth/api-keys/{id}` | any signed-in caller |
/// | `GET /auth/pending`, `POST /auth/approve`, `POST /auth/reject` | login type `admin` |
#[derive(SecureRouter)]
#[secure_router(routes(
    register,
    login,
    admin_login,
    token,
    logout,
    me,
    change_password,
    list_sessions,
    end_session,
    create_api_key,
    list_api_keys,
    revoke_api_key,
    pending,
    approve,
    reject
))]
pub struct AccountRoutes;
