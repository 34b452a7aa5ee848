//! A small OpenID provider on 127.0.0.1 for the federation tests: discovery, JWKS,
//! authorization (it signs in whoever the test says) and token endpoints, with keys the test
//! generates, single-use codes, PKCE S256 checks, request counters, key rotation and an
//! outage switch.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// Who the provider signs in at its authorization endpoint.
#[derive(Debug, Clone)]
pub struct ProviderUser {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
    pub groups: Vec<String>,
}

impl ProviderUser {
    pub fn new(sub: &str, email: &str, groups: &[&str]) -> Self {
        ProviderUser {
            sub: sub.into(),
            email: email.into(),
            email_verified: true,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }
}

/// A code the authorization endpoint handed out.
#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    nonce: String,
    challenge: String,
    user: ProviderUser,
}

struct SigningKeyPair {
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
}

#[derive(Default)]
struct Inner {
    keys: Vec<SigningKeyPair>,
    codes: HashMap<String, Grant>,
    requests: HashMap<String, usize>,
    user: Option<ProviderUser>,
    /// Claims to change in the next ID token (a test's forgery).
    id_token_overrides: Option<Value>,
    /// Sign the next ID token with an unpublished key under the current kid.
    forge_next_signature: bool,
}

#[derive(Clone)]
struct Shared {
    issuer: String,
    client_id: String,
    client_secret: String,
    inner: Arc<Mutex<Inner>>,
    down: Arc<AtomicBool>,
}

/// The running provider.
pub struct Provider {
    pub issuer: String,
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn new_key(n: usize) -> SigningKeyPair {
    let pem = auth_runtime::SigningKey::generate_ed25519_pem();
    let kid = format!("provider-key-{n}");
    // The public JWK, as our own JWKS publishing writes it.
    let manager = auth_runtime::AuthManager::builder()
        .login_type(auth_runtime::LoginType::new("provider").key(
            auth_runtime::SigningKey::ed25519_private_pem(&kid, pem.as_bytes()),
        ))
        .build()
        .unwrap();
    let mut jwk = manager.jwks().keys[0].clone();
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    SigningKeyPair {
        kid,
        encoding: EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
        jwk,
    }
}

impl Provider {
    /// Starts a provider for one client.
    pub async fn start(client_id: &str, client_secret: &str) -> Provider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}");
        let shared = Shared {
            issuer: issuer.clone(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            inner: Arc::new(Mutex::new(Inner {
                keys: vec![new_key(1)],
                ..Inner::default()
            })),
            down: Arc::new(AtomicBool::new(false)),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Provider {
            issuer,
            addr,
            shared,
            task,
        }
    }

    /// Who the next authorization signs in.
    pub fn sign_in_as(&self, user: ProviderUser) {
        self.shared.inner.lock().unwrap().user = Some(user);
    }

    /// Claims to change in the next ID token only (`null` removes one).
    pub fn tamper_next_id_token(&self, changes: Value) {
        self.shared.inner.lock().unwrap().id_token_overrides = Some(changes);
    }

    /// The next ID token is signed with a key the provider never published, under the current
    /// key's `kid` (a forged signature).
    pub fn forge_next_signature(&self) {
        self.shared.inner.lock().unwrap().forge_next_signature = true;
    }

    /// A new current key (the old one stays published); returns its kid.
    pub fn rotate_key(&self) -> String {
        let mut inner = self.shared.inner.lock().unwrap();
        let key = new_key(inner.keys.len() + 1);
        let kid = key.kid.clone();
        inner.keys.insert(0, key);
        kid
    }

    /// How many requests reached `path`.
    pub fn requests(&self, path: &str) -> usize {
        self.shared
            .inner
            .lock()
            .unwrap()
            .requests
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Every endpoint answers 503 while down.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// An ID token signed with the current key, for tests that call the verifier directly.
    pub fn sign(&self, claims: &Value) -> String {
        let inner = self.shared.inner.lock().unwrap();
        sign_with(&inner.keys[0], claims)
    }
}

fn sign_with(key: &SigningKeyPair, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

fn count(shared: &Shared, path: &str) -> bool {
    *shared
        .inner
        .lock()
        .unwrap()
        .requests
        .entry(path.to_owned())
        .or_default() += 1;
    !shared.down.load(Ordering::SeqCst)
}

fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "down").into_response()
}

async fn discovery(State(shared): State<Shared>) -> Response {
    if !count(&shared, "/.well-known/openid-configuration") {
        return unavailable();
    }
    let issuer = &shared.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
    }))
    .into_response()
}

async fn jwks(State(shared): State<Shared>) -> Response {
    if !count(&shared, "/jwks") {
        return unavailable();
    }
    let inner = shared.inner.lock().unwrap();
    let set = JwkSet {
        keys: inner.keys.iter().map(|k| k.jwk.clone()).collect(),
    };
    ([(header::CACHE_CONTROL, "max-age=60")], Json(set)).into_response()
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: String,
    nonce: String,
    code_challenge: String,
    code_challenge_method: String,
}

async fn authorize(State(shared): State<Shared>, uri: Uri) -> Response {
    if !count(&shared, "/authorize") {
        return unavailable();
    }
    let Ok(Query(q)) = Query::<AuthorizeQuery>::try_from_uri(&uri) else {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    };
    if q.response_type != "code"
        || q.client_id != shared.client_id
        || q.code_challenge_method != "S256"
        || !q.scope.split(' ').any(|s| s == "openid")
    {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let mut inner = shared.inner.lock().unwrap();
    let Some(user) = inner.user.clone() else {
        return (StatusCode::FORBIDDEN, "nobody to sign in").into_response();
    };
    let code = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
    inner.codes.insert(
        code.clone(),
        Grant {
            client_id: q.client_id,
            redirect_uri: q.redirect_uri.clone(),
            nonce: q.nonce,
            challenge: q.code_challenge,
            user,
        },
    );
    let state: String = q
        .state
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    Redirect::to(&format!("{}?code={code}&state={state}", q.redirect_uri)).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: String,
    code_verifier: String,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn token_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}

async fn token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    if !count(&shared, "/token") {
        return unavailable();
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok());
    let (id, secret) = match (
        basic.as_deref().and_then(|b| b.split_once(':')),
        &form.client_id,
        &form.client_secret,
    ) {
        (Some((id, secret)), _, _) => (id.to_owned(), secret.to_owned()),
        (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
        _ => {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": "invalid_client" })),
            )
                .into_response();
        }
    };
    if id != shared.client_id || secret != shared.client_secret {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_client" })),
        )
            .into_response();
    }
    if form.grant_type != "authorization_code" {
        return token_error("unsupported_grant_type");
    }
    let mut inner = shared.inner.lock().unwrap();
    // Single use: a replayed code finds nothing.
    let Some(grant) = inner.codes.remove(&form.code) else {
        return token_error("invalid_grant");
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(form.code_verifier.as_bytes()));
    if grant.client_id != id
        || grant.redirect_uri != form.redirect_uri
        || grant.challenge != challenge
    {
        return token_error("invalid_grant");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = json!({
        "iss": shared.issuer, "aud": id, "sub": grant.user.sub, "iat": now, "exp": now + 300,
        "nonce": grant.nonce, "email": grant.user.email,
        "email_verified": grant.user.email_verified, "groups": grant.user.groups,
    });
    if let Some(changes) = inner.id_token_overrides.take() {
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
    }
    let id_token = if std::mem::take(&mut inner.forge_next_signature) {
        let mut forger = new_key(0);
        forger.kid = inner.keys[0].kid.clone();
        sign_with(&forger, &claims)
    } else {
        sign_with(&inner.keys[0], &claims)
    };
    Json(json!({
        "access_token": "provider-access-token", "token_type": "Bearer", "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}
