//! What each kind of credential costs: one in-process secured request
//! (`#[requires("reports:read")]`, extracting `Principal`, as in `guard.rs`) through one
//! store-backed manager (`SqlStore` on a fresh SQLite file) for the same account, with:
//!
//! - `bearer`: `Authorization: Bearer <access token>` of a password sign-in's session (signature
//!   and claims, then the session (revocation) check);
//! - `api_key`: `X-API-Key: <key>` created by that account for `reports:read` (the key record
//!   and its owner from the manager's cache, the digest compared in constant time, the key's
//!   revocation and expiry, the owner's status and credential version);
//! - `cookie`: `Cookie: __Host-user-access=<the same access token>; __Host-user-csrf=<...>`, as
//!   `AuthManager::session_cookies` sets them (a `GET`, so no CSRF token is needed; otherwise the
//!   bearer's checks).
//!
//! `scripts/bench-ratios.py credentials bearer` prints the ratios.

use std::path::PathBuf;
use std::time::Duration;

use auth_runtime::prelude::*;
use auth_runtime::store::SqlStore;
use auth_runtime::{CredentialKind, Principal, TokenLocation};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, Request, StatusCode, header};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use tower::ServiceExt;

const SECRET: &[u8] = b"bench-secret-bench-secret-bench-secret!!";
const PASSWORD: &str = "a long bench passphrase";
/// Requests sent per variant before timing (caches filled, revocation poller running).
const WARM_UP_REQUESTS: usize = 100;

#[requires("reports:read")]
#[route(GET, "/secured")]
async fn secured_handler(user: Principal) -> String {
    user.subject().to_owned()
}

#[derive(SecureRouter)]
#[secure_router(routes(secured_handler))]
struct Api;

/// One way to present a credential: a header and its value.
struct Credential {
    name: &'static str,
    header: HeaderName,
    value: String,
}

impl Credential {
    fn request(&self) -> Request<Body> {
        Request::builder()
            .uri("/secured")
            .header(&self.header, self.value.as_str())
            .body(Body::empty())
            .expect("request")
    }

    /// The same credential with one character of `part` changed.
    fn tampered(&self, part: &str) -> Credential {
        let at = self.value.find(part).expect("part of the value") + part.len() / 2;
        let mut bytes = self.value.clone().into_bytes();
        bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
        Credential {
            name: self.name,
            header: self.header.clone(),
            value: String::from_utf8(bytes).expect("ASCII"),
        }
    }
}

/// The three credentials of one account: its session's access token (as a bearer token and in
/// the session cookies) and an API key.
struct Account {
    id: String,
    bearer: Credential,
    api_key: Credential,
    cookie: Credential,
    /// The parts whose tampering must be refused: the token's signature, the key's secret.
    token_signature: String,
    key_secret: String,
}

async fn account(manager: &AuthManager, email: &str) -> Account {
    manager
        .register(email, PASSWORD, None)
        .await
        .expect("register");
    manager.approve(email).await.expect("approve");
    let pair = manager
        .sign_in(email, PASSWORD, "user", None)
        .await
        .expect("sign in");
    let principal = manager
        .authenticate_token(&pair.access_token, &["user"])
        .await
        .expect("a fresh session is valid");
    let key = manager
        .create_api_key(&principal, "bench", &["reports:read".into()], 30)
        .await
        .expect("API key")
        .key;
    // The cookies a browser sends back: the access and CSRF cookies (the refresh cookie's path
    // is the token endpoint).
    let cookies = manager.session_cookies("user", &pair).expect("cookies");
    let sent: Vec<&str> = cookies
        .values()
        .iter()
        .map(|c| {
            c.to_str()
                .expect("ASCII")
                .split(';')
                .next()
                .expect("name=value")
        })
        .filter(|pair| !pair.starts_with("__Secure-user-refresh="))
        .collect();
    assert_eq!(
        sent[0],
        format!("__Host-user-access={}", pair.access_token),
        "the cookie holds the bearer's token"
    );
    Account {
        id: principal.subject().to_owned(),
        bearer: Credential {
            name: "bearer",
            header: header::AUTHORIZATION,
            value: format!("Bearer {}", pair.access_token),
        },
        api_key: Credential {
            name: "api_key",
            header: HeaderName::from_static("x-api-key"),
            value: key.clone(),
        },
        cookie: Credential {
            name: "cookie",
            header: header::COOKIE,
            value: sent.join("; "),
        },
        token_signature: pair
            .access_token
            .rsplit('.')
            .next()
            .expect("signature")
            .to_owned(),
        key_secret: key.rsplit('_').next().expect("secret").to_owned(),
    }
}

/// The status and body of one request.
fn send(
    rt: &tokio::runtime::Runtime,
    app: &Router,
    credential: &Credential,
) -> (StatusCode, String) {
    rt.block_on(async {
        let response = app
            .clone()
            .oneshot(credential.request())
            .await
            .expect("infallible");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let dir: PathBuf = std::env::temp_dir().join(format!(
        "auth-bench-credentials-{:032x}",
        rand::random::<u128>()
    ));
    let url = format!("sqlite://{}", dir.join("auth.db").display());
    let store = rt
        .block_on(SqlStore::connect(&url))
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let manager = AuthManager::builder()
        .login_type(
            LoginType::new("user")
                .key(SigningKey::hs256("user-1", SECRET))
                .issuer("bench")
                .leeway(Duration::from_secs(30))
                .token_locations([
                    TokenLocation::Header,
                    TokenLocation::Cookie,
                    TokenLocation::ApiKey,
                ]),
        )
        .role("user", ["reports:read", "billing:read"])
        .csrf_secret(b"bench-csrf-secret-bench-csrf-secret!!")
        .store(store)
        .build()
        .expect("valid configuration");
    let app: Router = Api::router().with_state(manager.clone());

    let (alice, bob) = rt.block_on(async {
        (
            account(&manager, "alice@example.com").await,
            account(&manager, "bob@example.com").await,
        )
    });
    let variants = [&alice.bearer, &alice.api_key, &alice.cookie];

    // Every variant must succeed, as the same account, or the comparison means nothing.
    for credential in variants {
        for _ in 0..WARM_UP_REQUESTS {
            let (status, body) = send(&rt, &app, credential);
            assert_eq!(status, StatusCode::OK, "{}: {body}", credential.name);
            assert_eq!(body, alice.id, "{}", credential.name);
        }
    }
    // A bad credential of each kind is refused.
    for bad in [
        alice.bearer.tampered(&alice.token_signature),
        alice.api_key.tampered(&alice.key_secret),
        alice.cookie.tampered(&alice.token_signature),
    ] {
        let (status, body) = send(&rt, &app, &bad);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "bad {}: {body}", bad.name);
    }
    // And each really checks the account: after a ban, bob's session (by header and by cookie)
    // and his key are all refused.
    for credential in [&bob.bearer, &bob.api_key, &bob.cookie] {
        assert_eq!(send(&rt, &app, credential).0, StatusCode::OK, "bob");
    }
    rt.block_on(manager.deactivate(&bob.id)).expect("ban");
    for credential in [&bob.bearer, &bob.api_key, &bob.cookie] {
        let (status, body) = send(&rt, &app, credential);
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "banned {}: {body}",
            credential.name
        );
    }
    // The principal says which credential it came from.
    rt.block_on(async {
        for (credential, kind) in [
            (&alice.bearer, CredentialKind::Bearer),
            (&alice.api_key, CredentialKind::ApiKey),
            (&alice.cookie, CredentialKind::Cookie),
        ] {
            let (mut parts, ()) = Request::builder()
                .uri("/secured")
                .header(&credential.header, credential.value.as_str())
                .body(())
                .expect("request")
                .into_parts();
            let principal = manager
                .authenticate(&mut parts, &["user"])
                .await
                .expect("authenticated");
            assert_eq!(principal.credential(), kind, "{}", credential.name);
        }
    });

    let mut group = c.benchmark_group("credentials");
    for credential in variants {
        group.bench_function(credential.name, |b| {
            b.iter(|| rt.block_on(app.clone().oneshot(credential.request())))
        });
    }
    group.finish();

    // Still answering 200 after timing (the caches and the revocation list stayed fresh).
    for credential in variants {
        let (status, body) = send(&rt, &app, credential);
        assert_eq!(
            status,
            StatusCode::OK,
            "{} after timing: {body}",
            credential.name
        );
    }

    drop((app, manager));
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
