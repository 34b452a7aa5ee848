//! One in-process request through: a `#[public]` handler, a `#[requires]` handler, and a
//! hand-written `jsonwebtoken` extractor doing the same checks (signature, `exp`, `nbf`, `iss`,
//! `typ`, `login_type`, scope). Compare the three side by side; `scripts/bench-ratios.py` prints
//! the ratios from criterion's estimates.

use std::time::Duration;

use auth_runtime::prelude::*;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Request, StatusCode, header};
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tower::ServiceExt;

const SECRET: &[u8] = b"bench-secret-bench-secret-bench-secret!!";

#[public]
#[route(GET, "/public")]
async fn public_handler() -> &'static str {
    "ok"
}

#[requires("reports:read")]
#[route(GET, "/secured")]
async fn secured_handler(user: Principal) -> String {
    user.subject().to_owned()
}

#[derive(SecureRouter)]
#[secure_router(routes(public_handler, secured_handler))]
struct Api;

/// The hand-written baseline: what an axum user would write with jsonwebtoken alone.
#[derive(Clone)]
struct HandState {
    key: DecodingKey,
    validation: Validation,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    login_type: String,
    typ: String,
    #[serde(default)]
    scope: String,
}

struct HandClaims(Claims);

impl<S> FromRequestParts<S> for HandClaims
where
    HandState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = HandState::from_ref(state);
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(StatusCode::UNAUTHORIZED)?;
        let token = value
            .strip_prefix("Bearer ")
            .ok_or(StatusCode::UNAUTHORIZED)?;
        let data = jsonwebtoken::decode::<Claims>(token, &state.key, &state.validation)
            .map_err(|_| StatusCode::UNAUTHORIZED)?;
        let claims = data.claims;
        if claims.typ != "access" || claims.login_type != "user" {
            return Err(StatusCode::UNAUTHORIZED);
        }
        if !claims
            .scope
            .split_ascii_whitespace()
            .any(|s| s == "reports:read")
        {
            return Err(StatusCode::FORBIDDEN);
        }
        Ok(HandClaims(claims))
    }
}

async fn hand_handler(HandClaims(claims): HandClaims) -> String {
    claims.sub
}

fn bench(c: &mut Criterion) {
    let manager = AuthManager::builder()
        .login_type(
            LoginType::new("user")
                .key(SigningKey::hs256("user-1", SECRET))
                .issuer("bench")
                .leeway(Duration::from_secs(30)),
        )
        .build()
        .expect("valid configuration");
    let token = manager
        .create_access_token(
            &TokenRequest::new("user", "alice").scopes(["reports:read", "billing:read"]),
        )
        .expect("token")
        .access_token;
    let bearer = format!("Bearer {token}");

    let macro_app: Router = Api::router().with_state(manager);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["bench"]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 30;
    let hand_app: Router = Router::new()
        .route("/hand", axum::routing::get(hand_handler))
        .with_state(HandState {
            key: DecodingKey::from_secret(SECRET),
            validation,
        });

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let request = |uri: &str| {
        Request::builder()
            .uri(uri)
            .header(header::AUTHORIZATION, bearer.as_str())
            .body(Body::empty())
            .expect("request")
    };
    // Every variant must succeed, or the comparison means nothing.
    for (app, uri) in [
        (&macro_app, "/public"),
        (&macro_app, "/secured"),
        (&hand_app, "/hand"),
    ] {
        let status = rt
            .block_on(app.clone().oneshot(request(uri)))
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK, "{uri}");
    }

    let mut group = c.benchmark_group("guard");
    group.bench_function("public", |b| {
        b.iter(|| rt.block_on(macro_app.clone().oneshot(request("/public"))))
    });
    group.bench_function("requires_macro", |b| {
        b.iter(|| rt.block_on(macro_app.clone().oneshot(request("/secured"))))
    });
    group.bench_function("hand_written_jsonwebtoken", |b| {
        b.iter(|| rt.block_on(hand_app.clone().oneshot(request("/hand"))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
