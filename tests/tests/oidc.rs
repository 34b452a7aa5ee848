//! OpenID Connect sign-in end to end, against the test provider (tests/tests/common/provider.rs)
//! on 127.0.0.1, with sessions and accounts on SQLite and PostgreSQL: the redirect, the
//! browser-bound state, the code redeemed with PKCE, the ID token's checks, the account made
//! on first sign-in, and every refusal leaving nothing behind.

mod common;

use std::sync::Arc;
use std::time::Duration;

use auth_runtime::oidc::{
    OidcClient, OidcError, OidcHttp, OidcHttpFuture, OidcHttpReply, OidcSignIn,
};
use auth_runtime::prelude::*;
use auth_runtime::routes::{OidcRoutes, OidcState};
use axum::Router;
use axum::http::{Request, StatusCode, header};
use common::db::{TestDb, on_both};
use common::provider::{Provider, ProviderUser};
use common::{Reply, get_as, payload_of, send};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const REDIRECT: &str = "http://127.0.0.1:3000/auth/oidc/callback";

/// HTTP/1.1 over plain TCP, enough for the test provider.
struct PlainHttp;

async fn exchange(
    method: &str,
    url: &str,
    authorization: Option<&str>,
    form: Option<&str>,
) -> Result<OidcHttpReply, OidcError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or(OidcError::Unavailable("not http"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|_| OidcError::Unavailable("cannot connect"))?;
    let mut request = format!("{method} /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(authorization) = authorization {
        request.push_str(&format!("Authorization: {authorization}\r\n"));
    }
    let body = form.unwrap_or("");
    if form.is_some() {
        request.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|_| OidcError::Unavailable("cannot write"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|_| OidcError::Unavailable("cannot read"))?;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(OidcError::Unavailable("no status"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.as_bytes().to_vec())
        .unwrap_or_default();
    Ok(OidcHttpReply { status, body })
}

impl OidcHttp for PlainHttp {
    fn get<'a>(&'a self, url: &'a str) -> OidcHttpFuture<'a> {
        Box::pin(exchange("GET", url, None, None))
    }
    fn post_form<'a>(
        &'a self,
        url: &'a str,
        authorization: &'a str,
        form: &'a str,
    ) -> OidcHttpFuture<'a> {
        Box::pin(exchange("POST", url, Some(authorization), Some(form)))
    }
}

#[requires("reports:read")]
#[route(GET, "/reports")]
async fn reports(user: Principal) -> String {
    user.subject().to_owned()
}

#[derive(SecureRouter)]
#[secure_router(routes(reports))]
struct Api;

struct Setup {
    provider: Provider,
    manager: AuthManager,
    app: Router,
}

async fn setup(db: &TestDb) -> Setup {
    let provider = Provider::start("app", "app-secret").await;
    let oidc = OidcSignIn::discover(
        &provider.issuer,
        OidcClient::new("app", REDIRECT),
        "app-secret",
        PlainHttp,
    )
    .await
    .expect("discovery")
    .cookie_secure(false)
    .cookie_key([9; 32])
    .key_refetch_interval(Duration::ZERO)
    .group_roles([("editors", "editor")]);
    let manager = AuthManager::builder()
        .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
        .login_type(LoginType::new("admin").key(SigningKey::hs256("a1", &[2; 32])))
        .role("user", ["reports:read"])
        .role("editor", ["reports:*"])
        .store(db.store().await)
        .build()
        .unwrap();
    let app = Api::router()
        .with_state(manager.clone())
        .merge(OidcRoutes::router().with_state(OidcState {
            manager: manager.clone(),
            oidc: Arc::new(oidc),
        }));
    Setup {
        provider,
        manager,
        app,
    }
}

/// `GET /auth/oidc/login`: the provider URL and the browser's record cookie.
async fn start(app: &Router) -> (String, String) {
    let reply = send(
        app,
        Request::get("/auth/oidc/login")
            .body(Default::default())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let location = reply.headers[header::LOCATION].to_str().unwrap().to_owned();
    let cookie = reply.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let record = cookie.split(';').next().unwrap().to_owned();
    (location, record)
}

/// The browser at the provider: the callback URL (path and query) it is sent back to.
async fn at_provider(location: &str) -> String {
    let reply = exchange("GET", location, None, None).await.unwrap();
    assert_eq!(
        reply.status,
        303,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    // The test provider's redirect: read it again for its Location header.
    let rest = location.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream
        .write_all(
            format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let back = response
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or_else(|| panic!("{response}"));
    back.strip_prefix("http://127.0.0.1:3000")
        .unwrap()
        .to_owned()
}

async fn callback(app: &Router, path: &str, record: Option<&str>) -> Reply {
    let mut request = Request::get(path);
    if let Some(record) = record {
        request = request.header(header::COOKIE, record);
    }
    send(app, request.body(Default::default()).unwrap()).await
}

async fn accounts(db: &TestDb) -> i64 {
    db.scalar("SELECT COUNT(*) FROM auth_users").await
}

#[tokio::test]
async fn a_person_signs_in_through_the_provider() {
    on_both("oidc sign-in", |db: TestDb| async move {
        let Setup {
            provider,
            manager,
            app,
        } = setup(&db).await;
        provider.sign_in_as(ProviderUser::new("p-1", "ann@example.com", &["editors"]));
        let (location, record) = start(&app).await;
        assert!(location.starts_with(&format!("{}/authorize?", provider.issuer)));
        for part in [
            "response_type=code",
            "client_id=app",
            "code_challenge_method=S256",
            "scope=openid%20email",
        ] {
            assert!(location.contains(part), "{part} in {location}");
        }
        let back = at_provider(&location).await;
        let reply = callback(&app, &back, Some(&record)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
        let expired = reply.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(expired.contains("Max-Age=0"), "{expired}");
        let pair = reply.json();
        assert_eq!(pair["token_type"], "Bearer");
        assert!(pair["refresh_token"].is_string());
        let access = pair["access_token"].as_str().unwrap();
        let claims = payload_of(access);
        assert_eq!(claims["login_type"], "user");
        assert_eq!(claims["email"], "ann@example.com");
        assert_eq!(claims["roles"], json!(["editor", "user"]));
        assert_eq!(
            get_as(&app, "/reports", access).await.status,
            StatusCode::OK
        );
        let account = manager
            .account_by_email("ann@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            account.claims["federated"],
            json!({ "iss": provider.issuer, "sub": "p-1" })
        );
        assert!(account.password_hash.is_none());

        // The same code again (its record spent too): refused, nothing new.
        let replay = callback(&app, &back, Some(&record)).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{}", replay.text());
        assert_eq!(accounts(&db).await, 1);

        // Key rotation at the provider: the next ID token's kid is new, and picked up.
        provider.rotate_key();
        provider.sign_in_as(ProviderUser::new("p-2", "bob@example.com", &[]));
        let (location, record) = start(&app).await;
        let back = at_provider(&location).await;
        let reply = callback(&app, &back, Some(&record)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(
            payload_of(reply.json()["access_token"].as_str().unwrap())["roles"],
            json!(["user"])
        );
        assert!(provider.requests("/jwks") >= 2);
    })
    .await;
}

#[tokio::test]
async fn every_refusal_creates_nothing() {
    on_both("oidc refusals", |db: TestDb| async move {
        let Setup { provider, app, .. } = setup(&db).await;
        provider.sign_in_as(ProviderUser::new("p-9", "eve@example.com", &["editors"]));

        // No record cookie, a forged one, a wrong state.
        let (location, record) = start(&app).await;
        let back = at_provider(&location).await;
        let no_cookie = callback(&app, &back, None).await;
        assert_eq!(
            no_cookie.status,
            StatusCode::BAD_REQUEST,
            "{}",
            no_cookie.text()
        );
        let forged = callback(&app, &back, Some("oidc-login=eyJ4IjoxfQ.AAAA")).await;
        assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{}", forged.text());
        let (_, other_record) = start(&app).await;
        let wrong_state = callback(&app, &back, Some(&other_record)).await;
        assert_eq!(
            wrong_state.status,
            StatusCode::BAD_REQUEST,
            "{}",
            wrong_state.text()
        );
        assert!(
            wrong_state.text().contains("state"),
            "{}",
            wrong_state.text()
        );
        let malformed = callback(&app, "/auth/oidc/callback?state=%ZZ", Some(&record)).await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);

        // ID tokens that fail a check: another audience, another nonce, no email verified.
        for tamper in [
            json!({ "aud": "someone-else" }),
            json!({ "nonce": "another-sign-in" }),
            json!({ "iss": "http://127.0.0.1:1" }),
            json!({ "exp": 1 }),
        ] {
            provider.tamper_next_id_token(tamper.clone());
            let (location, record) = start(&app).await;
            let back = at_provider(&location).await;
            let reply = callback(&app, &back, Some(&record)).await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{tamper}: {}",
                reply.text()
            );
            assert!(!reply.text().contains("eyJ"), "no token in the answer");
        }
        // A forged signature under the provider's kid (the keys are fetched again, in vain).
        provider.forge_next_signature();
        let (location, record) = start(&app).await;
        let back = at_provider(&location).await;
        let reply = callback(&app, &back, Some(&record)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
        provider.tamper_next_id_token(json!({ "email_verified": false }));
        let (location, record) = start(&app).await;
        let back = at_provider(&location).await;
        let reply = callback(&app, &back, Some(&record)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
        // The provider refusing (an `error` in the callback, with the right state).
        let (location, record) = start(&app).await;
        let state = location
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("state="))
            .unwrap();
        let denied = callback(
            &app,
            &format!("/auth/oidc/callback?error=access_denied&state={state}"),
            Some(&record),
        )
        .await;
        assert_eq!(denied.status, StatusCode::UNAUTHORIZED, "{}", denied.text());
        assert_eq!(accounts(&db).await, 0);

        // The provider down: 503, nothing made.
        let (location, record) = start(&app).await;
        let back = at_provider(&location).await;
        provider.set_down(true);
        let reply = callback(&app, &back, Some(&record)).await;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            reply.text()
        );
        assert_eq!(accounts(&db).await, 0);
    })
    .await;
}

/// The reference server with `AUTH_OIDC_*` set: `/auth/oidc/login` and `/auth/oidc/callback`
/// beside its other routes, groups mapped by `AUTH_OIDC_GROUP_ROLES`.
#[tokio::test]
async fn the_reference_server_offers_oidc_sign_in() {
    on_both("reference server oidc", |db: TestDb| async move {
        let provider = Provider::start("ref-app", "ref-secret").await;
        provider.sign_in_as(ProviderUser::new("p-5", "eda@example.com", &["editors"]));
        let mut settings = common::server::settings(&db);
        settings.cookie_secure = false;
        let oidc = examples::oidc::from_vars(|name| {
            Some(match name {
                "AUTH_OIDC_ISSUER" => provider.issuer.clone(),
                "AUTH_OIDC_CLIENT_ID" => "ref-app".into(),
                "AUTH_OIDC_CLIENT_SECRET" => "ref-secret".into(),
                "AUTH_OIDC_REDIRECT_URL" => REDIRECT.into(),
                "AUTH_OIDC_GROUP_ROLES" => "editors=editor".into(),
                _ => return None,
            })
        })
        .unwrap()
        .unwrap();
        let sign_in = examples::oidc_sign_in(&settings, &oidc, PlainHttp)
            .await
            .unwrap();
        let store = db.store().await;
        let manager = examples::manager(&settings, store).unwrap();
        let app = examples::app_with(manager, Some(sign_in)).unwrap();
        let (location, record) = start(&app).await;
        assert!(location.contains("client_id=ref-app"));
        let back = at_provider(&location).await;
        let reply = callback(&app, &back, Some(&record)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let access = reply.json()["access_token"].as_str().unwrap().to_owned();
        let me = get_as(&app, "/auth/me", &access).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text());
        assert_eq!(me.json()["email"], "eda@example.com");
        assert_eq!(me.json()["roles"], json!(["editor", "user"]));
        assert_eq!(
            get_as(&app, "/reports/1", &access).await.status,
            StatusCode::OK
        );
    })
    .await;
}
