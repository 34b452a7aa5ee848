//! The reference server in-process on a [`TestDb`]: requests through
//! `tower::ServiceExt::oneshot`, a fast password hasher, a short revocation staleness bound,
//! and helpers for the account flows.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use auth_runtime::store::SqlStore;
use auth_runtime::{AuthManager, AuthManagerBuilder, PasswordHasher, SessionConfig};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use super::db::TestDb;
use super::{Reply, send};

pub const USER_SECRET: &[u8] = b"user-secret-user-secret-user-secret!";
pub const ADMIN_SECRET: &[u8] = b"admin-secret-admin-secret-admin-secret";
pub const ADMIN_EMAIL: &str = "admin@localhost";
pub const ADMIN_PASSWORD: &str = "admin password 1";
pub const PASSWORD: &str = "correct horse battery";

/// The revocation staleness bound of test servers: another instance honours a revocation at
/// the latest this long after it was made.
pub const STALENESS: Duration = Duration::from_millis(300);

/// The `service` login type's key, one per test process (a restarted server keeps it).
pub fn service_key() -> &'static str {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(auth_runtime::SigningKey::generate_ed25519_pem)
}

/// The settings of every test server (fixed secrets, so a restarted server accepts the
/// tokens of the previous one).
pub fn settings(db: &TestDb) -> examples::Settings {
    examples::Settings {
        addr: "127.0.0.1:0".into(),
        database_url: db.url.clone(),
        user_secret: USER_SECRET.to_vec(),
        admin_secret: ADMIN_SECRET.to_vec(),
        admin_email: ADMIN_EMAIL.into(),
        admin_password: Some(ADMIN_PASSWORD.into()),
        trusted_proxies: Vec::new(),
        forwarded_header: Default::default(),
        register_limit: examples::DEFAULT_REGISTER_LIMIT,
        redis: None,
        cookie_secure: true,
        service_key_pem: service_key().to_owned(),
        oidc: None,
        external_issuer: None,
    }
}

/// One instance of the reference server.
pub struct TestServer {
    pub store: SqlStore,
    pub manager: AuthManager,
    pub app: Router,
}

/// An access token and a refresh token.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl Reply {
    /// The token pair of a 200 login or refresh.
    pub fn tokens(&self) -> Tokens {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        let body = self.json();
        Tokens {
            access: body["access_token"].as_str().expect("access_token").into(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .into(),
        }
    }
}

impl TestServer {
    /// A server on `db` with the reference configuration (and the seeded admin).
    pub async fn start(db: &TestDb) -> TestServer {
        TestServer::start_with(db, |b| b).await
    }

    /// A server on `db` whose configuration `configure` may change.
    pub async fn start_with(
        db: &TestDb,
        configure: impl FnOnce(AuthManagerBuilder) -> AuthManagerBuilder,
    ) -> TestServer {
        let settings = settings(db);
        let store = db.store().await;
        let builder = examples::builder(&settings, store.clone())
            // Cheap argon2 parameters: these tests are about behaviour, not hashing cost.
            .password_hasher(PasswordHasher::insecure_for_tests(64, 1, 1))
            .session_config(SessionConfig::default().staleness_bound(STALENESS));
        let manager = configure(builder).build().expect("valid configuration");
        examples::seed_admin(&manager, &settings)
            .await
            .expect("seed admin");
        let app = examples::app(manager.clone()).expect("no route conflicts");
        TestServer {
            store,
            manager,
            app,
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        send(&self.app, request).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(request("GET", path, token, None)).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(request("POST", path, token, None)).await
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(request("POST", path, token, Some(Payload::Json(body))))
            .await
    }

    pub async fn post_form(&self, path: &str, token: Option<&str>, body: &str) -> Reply {
        self.send(request(
            "POST",
            path,
            token,
            Some(Payload::Form(body.into())),
        ))
        .await
    }

    /// `POST /auth/login` with the OAuth2 password form.
    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post_form("/auth/login", None, &login_form(email, password))
            .await
    }

    /// `POST /auth/login` from client address `ip`.
    pub async fn login_from(&self, ip: IpAddr, email: &str, password: &str) -> Reply {
        let request = request(
            "POST",
            "/auth/login",
            None,
            Some(Payload::Form(login_form(email, password))),
        );
        self.send(from_ip(request, ip)).await
    }

    /// The seeded admin's tokens.
    pub async fn admin(&self) -> Tokens {
        self.post_json(
            "/admin/login",
            None,
            json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }),
        )
        .await
        .tokens()
    }

    /// Registers `email`, approves it as the admin, and signs it in.
    pub async fn approved_user(&self, email: &str) -> Tokens {
        let reply = self
            .post_json(
                "/auth/register",
                None,
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        let admin = self.admin().await;
        let reply = self
            .post_json(
                "/auth/approve",
                Some(&admin.access),
                json!({ "email": email }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
        self.login(email, PASSWORD).await.tokens()
    }

    /// The account id (`sub`) of an email.
    pub async fn id_of(&self, email: &str) -> String {
        use auth_runtime::store::UserStore as _;
        self.store
            .user_by_email(email)
            .await
            .expect("store")
            .expect("account")
            .id
    }
}

/// A request body.
pub enum Payload {
    Json(Value),
    Form(String),
}

/// A request with an optional bearer token and body.
pub fn request(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Payload>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        None => Body::empty(),
        Some(Payload::Json(v)) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        Some(Payload::Form(f)) => {
            builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(f)
        }
    };
    builder.body(body).expect("request")
}

/// The request as if it came from `ip` (what `ConnectInfo` gives a served app).
pub fn from_ip(mut request: Request<Body>, ip: IpAddr) -> Request<Body> {
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(ip, 40_000)));
    request
}

/// `username=...&password=...`, form-encoded.
pub fn login_form(email: &str, password: &str) -> String {
    format!("username={}&password={}", encode(email), encode(password))
}

/// Percent-encodes everything but unreserved characters.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sends one raw HTTP/1.1 request over TCP to `addr` and returns the response's status code.
pub async fn raw_status(addr: std::net::SocketAddr, request: &str) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"))
}
