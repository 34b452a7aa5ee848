//! Users administration for admins: list accounts page by page, deactivate and reactivate
//! them, set their roles, stored claims and password, list and end their sessions. Every
//! route needs login type `admin` and a `users:*` scope.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::JsonBody;
use crate::accounts::{AccountError, MAX_PAGE, SERVICE_LOGIN_TYPE, is_service_account};
use crate::manager::AuthManager;
use crate::{SecureRouter, login_type};

/// The page size when `limit` is not given.
const DEFAULT_PAGE: u32 = 50;

fn no_store(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The `{user_id}` of the path; one that cannot be read is no account.
fn account_id(id: Result<Path<String>, PathRejection>) -> Result<String, AccountError> {
    id.map(|Path(id)| id).map_err(|_| AccountError::NotFound)
}

#[derive(Deserialize)]
struct Paging {
    limit: Option<u32>,
    after: Option<String>,
}

/// The accounts, oldest first: `?limit=` (default 50, at most 200) and `&after=<next>` →
/// `{items: [{id, email, status, roles}], next}`, `next` null on the last page.
#[login_type("admin")]
#[requires("users:list")]
#[route(GET, "/admin/users")]
async fn list_users(
    State(manager): State<AuthManager>,
    paging: Result<Query<Paging>, QueryRejection>,
) -> Result<Response, AccountError> {
    let Query(paging) = paging.map_err(|_| {
        AccountError::BadRequest(format!(
            "`limit` must be a whole number from 1 to {MAX_PAGE}; `after` a cursor from `next`"
        ))
    })?;
    let limit = paging.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AccountError::BadRequest(format!(
            "`limit` must be a whole number from 1 to {MAX_PAGE}; `after` a cursor from `next`"
        )));
    }
    let (accounts, next) = manager
        .accounts_page(paging.after.as_deref(), limit)
        .await?;
    let items: Vec<_> = accounts
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "email": a.email,
                "status": a.status.as_str(),
                "roles": a.roles,
            })
        })
        .collect();
    Ok(no_store(Json(json!({ "items": items, "next": next }))))
}

/// Deactivates an account: every session and API key of it ends at once.
#[login_type("admin")]
#[requires("users:deactivate")]
#[route(POST, "/admin/users/{user_id}/deactivate")]
async fn deactivate_user(
    State(manager): State<AuthManager>,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, AccountError> {
    manager.deactivate(&account_id(id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reactivates a deactivated account; what it held before stays dead.
#[login_type("admin")]
#[requires("users:deactivate")]
#[route(POST, "/admin/users/{user_id}/reactivate")]
async fn reactivate_user(
    State(manager): State<AuthManager>,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, AccountError> {
    manager.reactivate(&account_id(id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Roles {
    roles: Vec<String>,
}

/// Replaces an account's roles (`{roles}`; an unknown role 422): its live sessions end at
/// once, and its next sign-in carries the new roles.
#[login_type("admin")]
#[requires("users:modify")]
#[route(PUT, "/admin/users/{user_id}/roles")]
async fn set_user_roles(
    State(manager): State<AuthManager>,
    id: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<Roles>,
) -> Result<StatusCode, AccountError> {
    manager.set_roles(&account_id(id)?, &body.roles).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces an account's stored claims (a JSON object; a name the runtime sets 422): every
/// token of the account carries them from its next sign-in or refresh.
#[login_type("admin")]
#[requires("users:modify")]
#[route(PUT, "/admin/users/{user_id}/claims")]
async fn set_user_claims(
    State(manager): State<AuthManager>,
    id: Result<Path<String>, PathRejection>,
    JsonBody(claims): JsonBody<Value>,
) -> Result<StatusCode, AccountError> {
    let Value::Object(claims) = claims else {
        return Err(AccountError::Unprocessable(
            "The request body must be a JSON object of claims by name".into(),
        ));
    };
    manager.set_claims(&account_id(id)?, claims).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct NewPassword {
    password: String,
}

/// Sets an account's password (`{password}`; a weak one 422): every session and API key of
/// the account ends at once.
#[login_type("admin")]
#[requires("users:modify")]
#[route(PUT, "/admin/users/{user_id}/password")]
async fn set_user_password(
    State(manager): State<AuthManager>,
    id: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<NewPassword>,
) -> Result<StatusCode, AccountError> {
    manager
        .set_password(&account_id(id)?, &body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An account's live sessions.
#[login_type("admin")]
#[requires("users:list")]
#[route(GET, "/admin/users/{user_id}/sessions")]
async fn user_sessions(
    State(manager): State<AuthManager>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, AccountError> {
    let id = account_id(id)?;
    let users = manager.users().ok_or(AccountError::NoUserStore)?;
    users
        .user_by_id(&id)
        .await
        .map_err(crate::AuthError::from)?
        .ok_or(AccountError::NotFound)?;
    Ok(no_store(Json(manager.sessions_of_account(&id).await?)))
}

/// Ends every session of an account (it may sign in again).
#[login_type("admin")]
#[requires("users:deactivate")]
#[route(DELETE, "/admin/users/{user_id}/sessions")]
async fn end_user_sessions(
    State(manager): State<AuthManager>,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, AccountError> {
    let id = account_id(id)?;
    let users = manager.users().ok_or(AccountError::NoUserStore)?;
    users
        .user_by_id(&id)
        .await
        .map_err(crate::AuthError::from)?
        .ok_or(AccountError::NotFound)?;
    manager.end_sessions_of_account(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ServiceAccountCreation {
    name: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// Creates a service account: `{name, roles}` → 201 `{id, client_id, client_secret}`, the
/// secret shown only here.
#[login_type("admin")]
#[requires("users:create")]
#[route(POST, "/admin/service-accounts")]
async fn create_service_account(
    State(manager): State<AuthManager>,
    JsonBody(body): JsonBody<ServiceAccountCreation>,
) -> Result<Response, AccountError> {
    let created = manager
        .create_service_account(&body.name, &body.roles)
        .await?;
    Ok(no_store((StatusCode::CREATED, Json(created))))
}

/// The service account `{user_id}`, or 404 for any other account.
async fn service_account(manager: &AuthManager, id: &str) -> Result<(), AccountError> {
    let users = manager.users().ok_or(AccountError::NoUserStore)?;
    users
        .user_by_id(id)
        .await
        .map_err(crate::AuthError::from)?
        .filter(is_service_account)
        .map(|_| ())
        .ok_or(AccountError::NotFound)
}

/// Deactivates a service account: its tokens and keys stop working at once.
#[login_type("admin")]
#[requires("users:deactivate")]
#[route(POST, "/admin/service-accounts/{user_id}/deactivate")]
async fn deactivate_service_account(
    State(manager): State<AuthManager>,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, AccountError> {
    let id = account_id(id)?;
    service_account(&manager, &id).await?;
    manager.deactivate(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct KeyCreation {
    name: String,
    scopes: Vec<String>,
    expires_in_days: u32,
}

/// Creates an API key of login type `service` for a service account: `{name, scopes,
/// expires_in_days}` → 201 `{id, key, expires_at}`, within the scopes of its roles.
#[login_type("admin")]
#[requires("users:create")]
#[route(POST, "/admin/service-accounts/{user_id}/api-keys")]
async fn create_service_account_key(
    State(manager): State<AuthManager>,
    id: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<KeyCreation>,
) -> Result<Response, AccountError> {
    let id = account_id(id)?;
    service_account(&manager, &id).await?;
    let created = manager
        .create_api_key_for(
            &id,
            SERVICE_LOGIN_TYPE,
            &body.name,
            &body.scopes,
            body.expires_in_days,
        )
        .await?;
    Ok(no_store((StatusCode::CREATED, Json(created))))
}

/// The users administration routes, each for login type `admin` with a `users:*` scope:
///
/// | route | scope |
/// |---|---|
/// | `GET /admin/users`, `GET /admin/users/{user_id}/sessions` | `users:list` |
/// | `POST /admin/users/{user_id}/deactivate`, `.../reactivate`, `DELETE /admin/users/{user_id}/sessions` | `users:deactivate` |
/// | `PUT /admin/users/{user_id}/roles`, `.../claims`, `.../password` | `users:modify` |
/// | `POST /admin/service-accounts`, `POST /admin/service-accounts/{user_id}/api-keys` | `users:create` |
/// | `POST /admin/service-accounts/{user_id}/deactivate` | `users:deactivate` |
#[derive(SecureRouter)]
#[secure_router(routes(
    list_users,
    deactivate_user,
    reactivate_user,
    set_user_roles,
    set_user_claims,
    set_user_password,
    user_sessions,
    end_user_sessions,
    create_service_account,
    deactivate_service_account,
    create_service_account_key
))]
pub struct UserAdminRoutes;
