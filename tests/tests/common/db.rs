//! Database fixtures: a fresh SQLite file or a fresh PostgreSQL database per test, and a
//! runner that runs one async test body against both backends.
//!
//! PostgreSQL is required, never skipped: the base URL comes from `AUTH_TEST_POSTGRES_URL`
//! (default [`DEFAULT_POSTGRES_URL`]); each [`TestDb::postgres`] creates `auth_test_<random>`
//! there and [`TestDb::cleanup`] drops it. If the server cannot be reached, the test fails.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use auth_runtime::store::SqlStore;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection as _, Executor as _};

/// The environment variable naming the PostgreSQL server (any database on it) for tests.
pub const POSTGRES_URL_ENV: &str = "AUTH_TEST_POSTGRES_URL";

/// The PostgreSQL URL used when [`POSTGRES_URL_ENV`] is not set.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A store backend under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Every backend, in the order tests run them.
    pub const ALL: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

    /// `sqlite` or `postgres` (what [`SqlStore::backend`] says).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A fresh, empty database for one test: connect to [`TestDb::url`] (or call
/// [`TestDb::store`]), and [`TestDb::cleanup`] at the end.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// Which backend.
    pub backend: Backend,
    /// The URL to give [`SqlStore::connect`].
    pub url: String,
    /// SQLite: the directory holding the database file (and its `-wal`/`-shm`); created by
    /// the store on connect.
    sqlite_dir: Option<PathBuf>,
    /// PostgreSQL: the admin URL (the base database) and the test database's name.
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A fresh database on `backend`.
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::sqlite().await,
            Backend::Postgres => TestDb::postgres().await,
        }
    }

    /// A fresh SQLite database: a file in a new directory under the temp dir (neither exists
    /// yet: the store creates both).
    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("auth-store-test-{}", random_suffix()));
        let url = format!("sqlite://{}", dir.join("auth.db").display());
        TestDb {
            backend: Backend::Sqlite,
            url,
            sqlite_dir: Some(dir),
            postgres: None,
        }
    }

    /// A fresh PostgreSQL database `auth_test_<random>` on the server of
    /// [`POSTGRES_URL_ENV`]. Panics (fails the test) if the server cannot be reached.
    pub async fn postgres() -> TestDb {
        let admin = postgres_base_url();
        let name = format!("auth_test_{}", random_suffix());
        let mut conn = admin_connection(&admin).await;
        conn.execute(sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\"")))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = conn.close().await;
        TestDb {
            backend: Backend::Postgres,
            url: with_database(&admin, &name),
            sqlite_dir: None,
            postgres: Some((admin, name)),
        }
    }

    /// Connects a store to this database (panics on failure, naming the backend).
    pub async fn store(&self) -> SqlStore {
        let store = SqlStore::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("[{}] connect: {e}", self.backend.name()));
        assert_eq!(store.backend(), self.backend.name());
        store
    }

    /// Runs SQL (one or more statements) directly on the database, outside any store.
    pub async fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = SqliteConnection::connect(&self.url).await.expect("sqlite");
                conn.execute(sqlx::raw_sql(sql)).await.expect(sql);
                let _ = conn.close().await;
            }
            Backend::Postgres => {
                let mut conn = PgConnection::connect(&self.url).await.expect("postgres");
                conn.execute(sqlx::raw_sql(sql)).await.expect(sql);
                let _ = conn.close().await;
            }
        }
    }

    /// PostgreSQL only: runs SQL on the server's base database (for statements about this
    /// test's database, such as `ALTER DATABASE`); `{db}` in `sql` is replaced by this
    /// database's quoted name, `{name}` by its name as a string literal's content.
    pub async fn execute_as_admin(&self, sql: &str) {
        let (admin, name) = self.postgres.as_ref().expect("a PostgreSQL test database");
        let sql = sql
            .replace("{db}", &format!("\"{name}\""))
            .replace("{name}", name);
        let mut conn = admin_connection(admin).await;
        conn.execute(sqlx::raw_sql(&sql)).await.expect(&sql);
        let _ = conn.close().await;
    }

    /// Runs a query returning one integer (such as `SELECT COUNT(*) ...`) directly on the
    /// database.
    pub async fn scalar(&self, sql: &str) -> i64 {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = SqliteConnection::connect(&self.url).await.expect("sqlite");
                let v = sqlx::query_scalar(sql)
                    .fetch_one(&mut conn)
                    .await
                    .expect(sql);
                let _ = conn.close().await;
                v
            }
            Backend::Postgres => {
                let mut conn = PgConnection::connect(&self.url).await.expect("postgres");
                let v = sqlx::query_scalar(sql)
                    .fetch_one(&mut conn)
                    .await
                    .expect(sql);
                let _ = conn.close().await;
                v
            }
        }
    }

    /// Destroys the database now, even while stores are connected to it: PostgreSQL's
    /// `DROP DATABASE ... WITH (FORCE)` (which terminates their connections), or removing the
    /// SQLite directory. Idempotent.
    pub async fn drop_database(&self) {
        if let Some((admin, name)) = &self.postgres {
            let mut conn = admin_connection(admin).await;
            conn.execute(sqlx::raw_sql(&format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .await
            .unwrap_or_else(|e| panic!("DROP DATABASE {name}: {e}"));
            let _ = conn.close().await;
        }
        if let Some(dir) = &self.sqlite_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Removes the database (see [`TestDb::drop_database`]).
    pub async fn cleanup(self) {
        self.drop_database().await;
    }
}

/// Runs `body` once per backend, each on a fresh [`TestDb`] that is cleaned up afterwards
/// (also when the body panics). Fails naming every backend whose run failed.
pub async fn on_both<F, Fut>(test: &str, body: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut failures = Vec::new();
    for backend in Backend::ALL {
        let db = TestDb::new(backend).await;
        let outcome = tokio::spawn(body(db.clone())).await;
        db.cleanup().await;
        if let Err(e) = outcome {
            let message = if e.is_panic() {
                let panic = e.into_panic();
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "(non-string panic)".to_owned())
            } else {
                e.to_string()
            };
            failures.push(format!("[{}] {test}: {message}", backend.name()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The PostgreSQL base URL for tests.
pub fn postgres_base_url() -> String {
    std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// `base` with its database (path) replaced by `database`, query string kept.
pub fn with_database(base: &str, database: &str) -> String {
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

async fn admin_connection(admin: &str) -> PgConnection {
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(admin)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!(
            "PostgreSQL is required for these tests and cannot be reached ({e}); \
             set {POSTGRES_URL_ENV} (now {})",
            redact(admin)
        ),
        Err(_) => panic!(
            "PostgreSQL is required for these tests and did not answer within 10 s; \
             set {POSTGRES_URL_ENV} (now {})",
            redact(admin)
        ),
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    let Some(at) = url.find('@') else {
        return url.to_owned();
    };
    let start = url.find("://").map_or(0, |i| i + 3);
    match url[start..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..start + colon], &url[at..]),
        None => url.to_owned(),
    }
}

fn random_suffix() -> String {
    unique_name()
}

/// 32 random hex digits, for database and file names.
pub fn unique_name() -> String {
    format!("{:032x}", rand::random::<u128>())
}
