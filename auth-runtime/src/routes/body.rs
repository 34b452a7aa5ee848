//! Body extractors whose rejections are problem responses (axum's own `Json` and `Form`
//! answer plain text): 415 for another media type, 400 for a body that does not parse, 422 for
//! one that parses but lacks a field or has one of the wrong type. Unknown fields are ignored.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::accounts::AccountError;

/// A JSON body (`application/json` or `application/*+json`).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

/// A JSON body or an HTML form body (`application/x-www-form-urlencoded`), as OAuth2 token
/// requests are.
#[derive(Debug, Clone)]
pub struct JsonOrForm<T>(pub T);

enum Kind {
    Json,
    Form,
    Other,
}

fn kind(req: &Request) -> Kind {
    let Some(value) = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Kind::Other;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Kind::Json
    } else if essence == "application/x-www-form-urlencoded" {
        Kind::Form
    } else {
        Kind::Other
    }
}

/// The largest request body the account routes read: 64 KiB. A larger one is a 413, refused
/// from its `Content-Length` before anything is read, or as soon as the limit is passed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

async fn bytes(req: Request) -> Result<Bytes, AccountError> {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(AccountError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            let too_large = e
                .into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            if too_large {
                AccountError::PayloadTooLarge(MAX_BODY_BYTES)
            } else {
                AccountError::BadRequest("The request body cannot be read".into())
            }
        })
}

/// A deserialization error in words that never echo the body (which may hold a password).
fn shape_error(message: &str) -> AccountError {
    match message.split_once("missing field `") {
        Some((_, rest)) => {
            let field = rest.split('`').next().unwrap_or_default();
            AccountError::Unprocessable(format!("The field `{field}` is required"))
        }
        None => AccountError::Unprocessable(
            "A field of the request body has the wrong type or value".into(),
        ),
    }
}

fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AccountError> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => shape_error(&e.to_string()),
        _ => AccountError::BadRequest("The request body is not valid JSON".into()),
    })
}

fn parse_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, AccountError> {
    serde_urlencoded::from_bytes(body).map_err(|e| shape_error(&e.to_string()))
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AccountError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        match kind(&req) {
            Kind::Json => Ok(JsonBody(parse_json(&bytes(req).await?)?)),
            _ => Err(AccountError::UnsupportedMediaType("`application/json`")),
        }
    }
}

impl<S, T> FromRequest<S> for JsonOrForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AccountError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        match kind(&req) {
            Kind::Json => Ok(JsonOrForm(parse_json(&bytes(req).await?)?)),
            Kind::Form => Ok(JsonOrForm(parse_form(&bytes(req).await?)?)),
            Kind::Other => Err(AccountError::UnsupportedMediaType(
                "`application/json` or `application/x-www-form-urlencoded`",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        password: String,
    }

    #[test]
    fn errors_never_echo_the_body() {
        let e = parse_json::<Login>(br#"{"email":"a@b.co"}"#).unwrap_err();
        assert_eq!(
            e,
            AccountError::Unprocessable("The field `password` is required".into())
        );
        let e = parse_json::<Login>(br#"{"email":"a@b.co","password":["hunter2"]}"#).unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
        let e = parse_json::<Login>(br#"{"email":"a@b.co","password":"hunter2""#).unwrap_err();
        assert_eq!(
            e,
            AccountError::BadRequest("The request body is not valid JSON".into())
        );
        let e = parse_form::<Login>(b"email=a%40b.co").unwrap_err();
        assert_eq!(
            e,
            AccountError::Unprocessable("The field `password` is required".into())
        );
        let ok: Login = parse_form(b"email=a%40b.co&password=p%C3%A4ss+word&extra=1").unwrap();
        assert_eq!(ok.password, "päss word");
    }
}
