//! What the per-request session (revocation) check costs: one in-process secured request
//! (`#[requires("reports:read")]`, extracting `Principal`, as in `guard.rs`) through a manager
//! without a session store (`stateless`), and through managers whose tokens belong to sessions
//! in a fresh SQLite file (`sessions_sqlite`) or a fresh PostgreSQL database
//! (`sessions_postgres`, dropped at the end). The session managers' revocation lists are not
//! empty: 1,000 other sessions and 100 other subjects are revoked first.
//!
//! PostgreSQL is required, never skipped: `AUTH_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`, any database on the server) names it.
//! `scripts/bench-ratios.py revocation stateless` prints the ratios.

use std::path::PathBuf;
use std::time::Duration;

use auth_runtime::prelude::*;
use auth_runtime::store::SqlStore;
use auth_runtime::{AuthManagerBuilder, Principal};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use criterion::{Criterion, criterion_group, criterion_main};
use sqlx::postgres::PgConnection;
use sqlx::{Connection as _, Executor as _};
use tower::ServiceExt;

const SECRET: &[u8] = b"bench-secret-bench-secret-bench-secret!!";
/// Other sessions revoked before timing (each through a real session and `logout`).
const REVOKED_SESSIONS: usize = 1_000;
/// Other subjects revoked before timing (`revoke_subject`, as a ban does).
const REVOKED_SUBJECTS: usize = 100;
/// Requests sent before timing (revocation list loaded, poller running).
const WARM_UP_REQUESTS: usize = 100;

/// The environment variable naming the PostgreSQL server (as in the tests).
const POSTGRES_URL_ENV: &str = "AUTH_TEST_POSTGRES_URL";
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[requires("reports:read")]
#[route(GET, "/secured")]
async fn secured_handler(user: Principal) -> String {
    user.subject().to_owned()
}

#[derive(SecureRouter)]
#[secure_router(routes(secured_handler))]
struct Api;

fn builder() -> AuthManagerBuilder {
    AuthManager::builder().login_type(
        LoginType::new("user")
            .key(SigningKey::hs256("user-1", SECRET))
            .issuer("bench")
            .leeway(Duration::from_secs(30)),
    )
}

fn alice() -> TokenRequest {
    TokenRequest::new("user", "alice").scopes(["reports:read"])
}

/// A fresh database for one variant.
enum Db {
    Sqlite { dir: PathBuf },
    Postgres { admin: String, name: String },
}

impl Db {
    fn sqlite() -> (Db, String) {
        let dir = std::env::temp_dir().join(format!("auth-bench-revocation-{}", unique()));
        let url = format!("sqlite://{}", dir.join("auth.db").display());
        (Db::Sqlite { dir }, url)
    }

    /// Creates `auth_bench_<random>` on the PostgreSQL server; panics if it cannot be reached.
    async fn postgres() -> (Db, String) {
        let admin =
            std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let name = format!("auth_bench_{}", unique());
        let mut conn = admin_connection(&admin).await;
        conn.execute(sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\"")))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = conn.close().await;
        let url = with_database(&admin, &name);
        (Db::Postgres { admin, name }, url)
    }

    async fn drop_database(self) {
        match self {
            Db::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Db::Postgres { admin, name } => {
                let mut conn = admin_connection(&admin).await;
                conn.execute(sqlx::raw_sql(&format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .await
                .unwrap_or_else(|e| panic!("DROP DATABASE {name}: {e}"));
                let _ = conn.close().await;
            }
        }
    }
}

fn unique() -> String {
    format!("{:032x}", rand::random::<u128>())
}

async fn admin_connection(admin: &str) -> PgConnection {
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(admin)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!(
            "PostgreSQL is required for this benchmark and cannot be reached ({e}); \
             set {POSTGRES_URL_ENV} (now {})",
            redact(admin)
        ),
        Err(_) => panic!(
            "PostgreSQL is required for this benchmark and did not answer within 10 s; \
             set {POSTGRES_URL_ENV} (now {})",
            redact(admin)
        ),
    }
}

/// `base` with its database (path) replaced by `database`, query string kept.
fn with_database(base: &str, database: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (base, None),
    };
    let authority = head.find("://").map_or(0, |i| i + 3);
    let end = head[authority..]
        .find('/')
        .map_or(head.len(), |i| authority + i);
    let mut url = format!("{}/{database}", &head[..end]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    let Some(at) = url.find('@') else {
        return url.to_owned();
    };
    let start = url.find("://").map_or(0, |i| i + 3);
    match url[start..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..start + colon], &url[at..]),
        None => url.to_owned(),
    }
}

/// A session manager on `url` with a realistic revocation list; returns it with alice's token.
async fn session_manager(url: &str, backend: &str) -> (AuthManager, String) {
    let store = SqlStore::connect(url)
        .await
        .unwrap_or_else(|e| panic!("[{backend}] connect: {e}"));
    assert_eq!(store.backend(), backend);
    let manager = builder()
        .sessions(store)
        .build()
        .expect("valid configuration");
    for i in 0..REVOKED_SESSIONS {
        let pair = manager
            .create_session(
                &TokenRequest::new("user", format!("other-{i}")).scopes(["reports:read"]),
            )
            .await
            .expect("session");
        let principal = manager
            .authenticate_token(&pair.access_token, &[])
            .await
            .expect("a fresh session is valid");
        manager.logout(&principal).await.expect("logout");
    }
    for i in 0..REVOKED_SUBJECTS {
        manager
            .revoke_subject(&format!("banned-{i}"))
            .await
            .expect("revoke subject");
    }
    let token = manager
        .create_session(&alice())
        .await
        .expect("alice's session")
        .access_token;
    (manager, token)
}

fn request(bearer: &str) -> Request<Body> {
    Request::builder()
        .uri("/secured")
        .header(header::AUTHORIZATION, bearer)
        .body(Body::empty())
        .expect("request")
}

/// Checks the variant answers 200 (and a revoked session 401), then warms it up.
fn prepare(rt: &tokio::runtime::Runtime, app: &Router, bearer: &str, name: &str) {
    for _ in 0..WARM_UP_REQUESTS {
        let status = rt
            .block_on(app.clone().oneshot(request(bearer)))
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK, "{name}");
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let stateless = builder().build().expect("valid configuration");
    let stateless_bearer = format!(
        "Bearer {}",
        stateless
            .create_access_token(&alice())
            .expect("token")
            .access_token
    );
    let stateless_app: Router = Api::router().with_state(stateless);

    let (sqlite_db, sqlite_url) = Db::sqlite();
    let (sqlite, sqlite_token) = rt.block_on(session_manager(&sqlite_url, "sqlite"));
    let sqlite_bearer = format!("Bearer {sqlite_token}");
    let sqlite_app: Router = Api::router().with_state(sqlite.clone());

    let (postgres_db, postgres_url) = rt.block_on(Db::postgres());
    let (postgres, postgres_token) = rt.block_on(session_manager(&postgres_url, "postgres"));
    let postgres_bearer = format!("Bearer {postgres_token}");
    let postgres_app: Router = Api::router().with_state(postgres.clone());

    // Every variant must succeed, or the comparison means nothing; and the session variants
    // must really check: a revoked session is refused.
    prepare(&rt, &stateless_app, &stateless_bearer, "stateless");
    prepare(&rt, &sqlite_app, &sqlite_bearer, "sessions_sqlite");
    prepare(&rt, &postgres_app, &postgres_bearer, "sessions_postgres");
    for (manager, app, name) in [
        (&sqlite, &sqlite_app, "sessions_sqlite"),
        (&postgres, &postgres_app, "sessions_postgres"),
    ] {
        let revoked = rt.block_on(async {
            let pair = manager.create_session(&alice()).await.expect("session");
            let principal = manager
                .authenticate_token(&pair.access_token, &[])
                .await
                .expect("valid");
            manager.logout(&principal).await.expect("logout");
            format!("Bearer {}", pair.access_token)
        });
        let status = rt
            .block_on(app.clone().oneshot(request(&revoked)))
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: revoked session");
    }

    let mut group = c.benchmark_group("revocation");
    group.bench_function("stateless", |b| {
        b.iter(|| rt.block_on(stateless_app.clone().oneshot(request(&stateless_bearer))))
    });
    group.bench_function("sessions_sqlite", |b| {
        b.iter(|| rt.block_on(sqlite_app.clone().oneshot(request(&sqlite_bearer))))
    });
    group.bench_function("sessions_postgres", |b| {
        b.iter(|| rt.block_on(postgres_app.clone().oneshot(request(&postgres_bearer))))
    });
    group.finish();

    // Still answering 200 after timing (the list stayed fresh, the poller kept up).
    for (app, bearer, name) in [
        (&stateless_app, &stateless_bearer, "stateless"),
        (&sqlite_app, &sqlite_bearer, "sessions_sqlite"),
        (&postgres_app, &postgres_bearer, "sessions_postgres"),
    ] {
        let status = rt
            .block_on(app.clone().oneshot(request(bearer)))
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK, "{name} after timing");
    }

    drop((sqlite_app, postgres_app, sqlite, postgres));
    rt.block_on(async {
        sqlite_db.drop_database().await;
        postgres_db.drop_database().await;
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
