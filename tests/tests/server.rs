//! The reference server (DESIGN §5) as far as the core issue reaches, in-process.

use auth_runtime::AuthManager;
use auth_runtime::TokenRequest;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceExt;

const USER_SECRET: &[u8] = b"user-secret-user-secret-user-secret!";
const ADMIN_SECRET: &[u8] = b"admin-secret-admin-secret-admin-secret";

fn manager() -> AuthManager {
    examples::manager(&examples::Settings {
        addr: "127.0.0.1:0".into(),
        user_secret: USER_SECRET.to_vec(),
        admin_secret: ADMIN_SECRET.to_vec(),
    })
    .expect("valid settings")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sign(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

/// A token made the way an outside client would: HS256 with the shared secret, the claims
/// DESIGN §5 lists, no `kid`.
fn outside_token(secret: &[u8], login_type: &str, scope: &str) -> String {
    sign(
        secret,
        &json!({
            "sub": "42", "login_type": login_type, "typ": "access", "jti": "t1", "iat": now(),
            "exp": now() + 600, "jti": "j-1", "scope": scope, "iss": "auth-demo",
        }),
    )
}

async fn call(method: &str, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = examples::app(manager())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
    (status, body)
}

#[tokio::test]
async fn health_is_public() {
    assert_eq!(
        call("GET", "/health", None).await,
        (StatusCode::OK, json!("ok"))
    );
}

#[tokio::test]
async fn report_accepts_an_outside_token_signed_with_the_user_secret() {
    let token = outside_token(USER_SECRET, "user", "reports:read billing:read");
    let (status, body) = call("GET", "/reports/7", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "id": 7 }));
}

#[tokio::test]
async fn report_rejects_tokens_without_the_scope_or_from_another_issuer() {
    let token = outside_token(USER_SECRET, "user", "billing:read");
    let (status, body) = call("GET", "/reports/7", Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["detail"],
        "Token is missing required scope: reports:read"
    );

    let token = sign(
        USER_SECRET,
        &json!({ "sub": "42", "login_type": "user", "typ": "access", "jti": "t1", "iat": now(),
            "exp": now() + 600, "scope": "reports:read", "iss": "someone-else" }),
    );
    let (status, body) = call("GET", "/reports/7", Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["detail"], "The token's issuer is not accepted");
}

#[tokio::test]
async fn create_report_needs_reports_write_and_editor_wildcard_grants_it() {
    let reader = outside_token(USER_SECRET, "user", "reports:read");
    assert_eq!(
        call("POST", "/reports", Some(&reader)).await.0,
        StatusCode::FORBIDDEN
    );
    let editor = outside_token(USER_SECRET, "user", "reports:*");
    let (status, body) = call("POST", "/reports", Some(&editor)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["created_by"], "42");
}

#[tokio::test]
async fn admin_dashboard_takes_admin_tokens_only() {
    let admin = manager()
        .create_access_token(&TokenRequest::new("admin", "root").scopes(["admin:*"]))
        .unwrap();
    assert_eq!(admin.expires_in, 3600);
    let (status, body) = call("GET", "/admin/dashboard", Some(&admin.access_token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "root");

    let user = outside_token(USER_SECRET, "user", "admin:* reports:*");
    let (status, body) = call("GET", "/admin/dashboard", Some(&user)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("login type `user`"),
        "{body}"
    );

    // Signed with the admin secret but claiming `user`: verified with the user key, so invalid.
    let forged = outside_token(ADMIN_SECRET, "user", "reports:read");
    let (status, body) = call("GET", "/reports/1", Some(&forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["detail"], "The token's signature is invalid");
}

#[tokio::test]
async fn user_access_tokens_last_fifteen_minutes() {
    let token = manager()
        .create_access_token(&TokenRequest::new("user", "u").scopes(["reports:read"]))
        .unwrap();
    assert_eq!(token.expires_in, 15 * 60);
    assert_eq!(
        call("GET", "/reports/1", Some(&token.access_token)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn ban_is_allowed_for_admins_by_post_but_never_on_themselves() {
    let m = manager();
    let admin = m
        .create_access_token(&TokenRequest::new("admin", "7").scopes(["admin:*", "users:*"]))
        .unwrap()
        .access_token;
    // Allowed by `admins-ban-users`; the account is unknown until accounts exist: 404.
    let (status, body) = call("POST", "/admin/users/42/ban", Some(&admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["detail"], "No account with id `42`");

    // Denied by `no-self-ban`, whatever allows it.
    let (status, body) = call("POST", "/admin/users/7/ban", Some(&admin)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["detail"],
        "Action `users:ban` on resource `users` is denied: an admin cannot ban themselves"
    );

    // An admin token without `admin:*`: no rule allows it.
    let weak = m
        .create_access_token(&TokenRequest::new("admin", "8").scopes(["users:*"]))
        .unwrap()
        .access_token;
    let (status, body) = call("POST", "/admin/users/42/ban", Some(&weak)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["detail"],
        "Action `users:ban` on resource `users` is denied: no policy rule allows it"
    );

    // A user token, even with `admin:*`: the login type is checked first (401).
    let user = outside_token(USER_SECRET, "user", "admin:*");
    assert_eq!(
        call("POST", "/admin/users/42/ban", Some(&user)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call("POST", "/admin/users/42/ban", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn billing_needs_an_active_account_status_claim() {
    let claims = |status: Option<&str>| {
        let mut c = json!({ "sub": "42", "login_type": "user", "typ": "access", "jti": "t1", "iat": now(),
            "exp": now() + 600, "scope": "billing:read", "iss": "auth-demo" });
        if let Some(s) = status {
            c["account_status"] = json!(s);
        }
        c
    };
    let (status, body) = call(
        "GET",
        "/billing",
        Some(&sign(USER_SECRET, &claims(Some("active")))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["account"], "42");
    for denied in [Some("suspended"), None] {
        let (status, body) =
            call("GET", "/billing", Some(&sign(USER_SECRET, &claims(denied)))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body["detail"],
            "Action `billing:read` on resource `billing` is denied: no policy rule allows it"
        );
    }
    assert_eq!(
        call("GET", "/billing", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn routes_table_lists_every_route() {
    let table: Vec<(&str, &str, bool)> = examples::Api::routes()
        .iter()
        .map(|r| (r.method, r.path, r.public))
        .collect();
    assert_eq!(
        table,
        [
            ("GET", "/health", true),
            ("GET", "/reports/{id}", false),
            ("POST", "/reports", false),
            ("GET", "/admin/dashboard", false),
            ("POST", "/admin/users/{user_id}/ban", false),
            ("GET", "/billing", false),
        ]
    );
    assert_eq!(examples::Api::routes()[3].login_types, ["admin"]);
}
