//! Password reset: ask for a single-use token by email, then set a new password with it.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{ClientAddr, JsonBody};
use crate::accounts::AccountError;
use crate::manager::AuthManager;
use crate::{SecureRouter, public};

#[derive(Deserialize)]
struct ResetRequest {
    email: String,
}

/// Asks for a password reset: `{email}` → 202 `{"status":"sent"}`, the same answer (status,
/// headers, body) whether or not the email has an account that gets a mail. Throttled per
/// client address (429).
#[public]
#[route(POST, "/auth/password-reset")]
async fn request_password_reset(
    State(manager): State<AuthManager>,
    ClientAddr(client): ClientAddr,
    JsonBody(body): JsonBody<ResetRequest>,
) -> Result<Response, AccountError> {
    manager.request_password_reset(&body.email, client).await?;
    let mut response = (StatusCode::ACCEPTED, Json(json!({ "status": "sent" }))).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Deserialize)]
struct ResetConfirmation {
    token: String,
    new_password: String,
}

/// Sets a new password with a reset token: `{token, new_password}` → 204, and every session
/// of the account ends. A bad, spent or expired token is one 400; a weak password 422 (the
/// token stays usable).
#[public]
#[route(POST, "/auth/password-reset/confirm")]
async fn confirm_password_reset(
    State(manager): State<AuthManager>,
    JsonBody(body): JsonBody<ResetConfirmation>,
) -> Result<StatusCode, AccountError> {
    manager
        .confirm_password_reset(&body.token, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The built-in password-reset routes (state: [`AuthManager`]), mounted with the account
/// routes ([`with_accounts`](super::with_accounts), [`mount`](super::mount)). They need a
/// user store, a reset store ([`AuthManagerBuilder::store`](crate::AuthManagerBuilder::store)
/// sets both) and a [`ResetSender`](crate::accounts::ResetSender)
/// ([`AuthManagerBuilder::password_reset_sender`](crate::AuthManagerBuilder::password_reset_sender));
/// without them they answer 500 (and log why).
///
/// | route | guard |
/// |---|---|
/// | `POST /auth/password-reset` | public |
/// | `POST /auth/password-reset/confirm` | public |
#[derive(SecureRouter)]
#[secure_router(routes(request_password_reset, confirm_password_reset))]
pub struct PasswordResetRoutes;
