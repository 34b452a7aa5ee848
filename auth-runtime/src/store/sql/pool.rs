//! The two connection pools ([`Pool`]) and connecting to them: SQLite files and their
//! permissions, PostgreSQL, and the pool sizes and timeouts.

use std::str::FromStr;
use std::time::Duration;

#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

#[cfg(feature = "postgres")]
use super::dialect::POSTGRES;
#[cfg(feature = "sqlite")]
use super::dialect::SQLITE;
use super::errors::db_error;
use crate::store::StoreError;

/// How long a caller waits for a pooled connection (or a new one) before the store is
/// reported [`StoreError::Unavailable`].
pub(super) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long SQLite waits for another connection's write lock before "database is locked".
#[cfg(feature = "sqlite")]
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The two pools. Both are reference-counted handles: cloning is cheap.
#[derive(Clone)]
pub(crate) enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

/// The URL's scheme, lower-cased, if it has a plausible one (never any other part of the URL,
/// which may hold a password).
pub(super) fn scheme(url: &str) -> Option<String> {
    let (scheme, _) = url.split_once(':')?;
    let plausible = scheme.len() <= 32
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    plausible.then(|| scheme.to_ascii_lowercase())
}

/// Connections of the revocation-read pool: the poller's query, and a request that refreshes a
/// stale list itself (one at a time per instance).
const REVOCATION_READ_CONNECTIONS: u32 = 2;

#[cfg(feature = "sqlite")]
/// A SQLite pool and its revocation-read pool (`None` for an in-memory database: another pool
/// would open another, empty database).
pub(super) async fn connect_sqlite(url: &str) -> Result<(SqlitePool, Option<Pool>), StoreError> {
    // `scheme` checked the prefix up to the first ':'; sqlx wants it lower case.
    let rest = &url["sqlite:".len()..];
    let options = SqliteConnectOptions::from_str(&format!("sqlite:{rest}"))
        .map_err(|e| db_error(&SQLITE, e))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);

    let (database, params) = rest
        .trim_start_matches("//")
        .split_once('?')
        .unwrap_or((rest.trim_start_matches("//"), ""));
    let in_memory = database == ":memory:" || params.split('&').any(|p| p == "mode=memory");
    if database.is_empty() && !in_memory {
        // SQLite would open a private temporary database per connection: nothing shared,
        // nothing kept.
        return Err(StoreError::Backend(
            "the sqlite: URL names no database file".into(),
        ));
    }
    if !in_memory
        && let Some(dir) = options.get_filename().parent()
        && !dir.as_os_str().is_empty()
    {
        // Once, at start-up: a blocking call is fine here.
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create the directory of the SQLite database: {e}"
            ))
        })?;
    }

    if !in_memory {
        create_private_file(options.get_filename())?;
    }

    // Instances starting at once on a new file race to switch it to WAL, which SQLite refuses
    // with "database is locked" without waiting for the busy timeout: retry within it.
    let started = std::time::Instant::now();
    let mut attempt: u64 = 0;
    loop {
        let result = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await;
        match result {
            Err(e) if sqlite_busy(&e) && started.elapsed() < SQLITE_BUSY_TIMEOUT => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(10 * attempt.min(10))).await;
            }
            result => {
                let pool = result.map_err(|e| db_error(&SQLITE, e))?;
                let reads = (!in_memory).then(|| {
                    Pool::Sqlite(
                        SqlitePoolOptions::new()
                            .max_connections(REVOCATION_READ_CONNECTIONS)
                            .acquire_timeout(ACQUIRE_TIMEOUT)
                            .connect_lazy_with(options),
                    )
                });
                return Ok((pool, reads));
            }
        }
    }
}

#[cfg(feature = "sqlite")]
/// Creates the database file, readable and writable by its owner only (mode 0600 on Unix: it
/// holds password hashes), unless it exists. SQLite creates its `-wal` and `-shm` files with
/// the database file's permissions.
fn create_private_file(path: &std::path::Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Unavailable(format!(
            "cannot create the SQLite database file: {e}"
        ))),
    }
}

#[cfg(feature = "sqlite")]
/// SQLite's "database is locked" (`SQLITE_BUSY`, extended codes included).
fn sqlite_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == 5),
        _ => false,
    }
}

#[cfg(feature = "postgres")]
/// A PostgreSQL pool, its revocation-read pool (connecting lazily), and the options the
/// revocation listener connects with.
pub(super) async fn connect_postgres(
    url: &str,
) -> Result<(PgPool, PgPool, PgConnectOptions), StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| db_error(&POSTGRES, e))?;
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone())
        .await
        .map_err(|e| db_error(&POSTGRES, e))?;
    let reads = PgPoolOptions::new()
        .max_connections(REVOCATION_READ_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options.clone());
    Ok((pool, reads, options))
}
