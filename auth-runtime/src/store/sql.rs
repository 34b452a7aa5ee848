//! [`SqlStore`]: accounts, sessions and revocations on SQLite or PostgreSQL (sqlx, queries
//! checked at run time: building never needs a database).
//!
//! # One SQL text, two drivers
//! Both drivers accept `$1, $2, …` placeholders (sqlx's SQLite driver maps `$N` to the N-th
//! bound value, and a placeholder may appear twice), so most statements are written once. The
//! [`on_pool!`] macro expands one body per backend, each type-checked against its own driver;
//! what differs between the two lives in a [`Dialect`].
//!
//! # Transactions
//! On SQLite every writing transaction starts with `BEGIN IMMEDIATE`: it takes the write lock
//! up front (waiting up to the busy timeout), so a transaction that reads before it writes
//! never fails with "database is locked" when it upgrades. On PostgreSQL the default READ
//! COMMITTED isolation is enough: the refresh rotation is one conditional `UPDATE` (a
//! compare-and-swap on the row), and the row is then read `FOR UPDATE` to classify a miss.
//!
//! Revocations are a feed read by every instance (`seq > last seen`). PostgreSQL hands out
//! identity values before commit, so two transactions could commit `seq` 6 before `seq` 5 and
//! a reader that saw 6 would skip 5 forever; every transaction that inserts a revocation
//! therefore takes a transaction-scoped advisory lock just before the insert (and writes
//! nothing else after it), which makes `seq` order the commit order. SQLite serializes writers
//! anyway. On PostgreSQL the same transaction sends `NOTIFY auth_revocations` (delivered at
//! commit), which each store's listener turns into a wake-up of its instance's poller
//! ([`SessionStore::revocation_wakeups`]).
//!
//! # Migrations
//! The schema ships in the crate (`migrations/{sqlite,postgres}/NNNN_name.sql`, embedded with
//! `include_str!`) and is applied by a small runner here rather than by `sqlx::migrate`:
//! sqlx 0.8's migrator records versions in a fixed `_sqlx_migrations` table, which the
//! application very likely uses for its own migrations on the same database; sharing it would
//! make each side see the other's versions as unknown (`VersionMissing`) or mismatched. The
//! runner records applied versions in `auth_schema_version`, all in one transaction, under
//! `BEGIN IMMEDIATE` (SQLite) or a transaction-scoped advisory lock (PostgreSQL), so several
//! instances connecting at once apply each migration exactly once. Never edit an applied
//! migration: add the next file and list it in [`SQLITE_MIGRATIONS`] / [`POSTGRES_MIGRATIONS`].

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use std::{fmt, future::Future};

use serde_json::{Map, Value};
use sqlx::Executor as _;
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgListener, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::{
    Account, AccountStatus, NewAccount, NewSession, PasswordWrite, Purged, Revocation,
    RevocationKind, RevocationWaiter, RevocationWakeup, Rotation, SessionStore, StoreError,
    StoreFuture, UserStore,
};

/// How long a caller waits for a pooled connection (or a new one) before the store is
/// reported [`StoreError::Unavailable`].
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long SQLite waits for another connection's write lock before "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One embedded migration.
struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

/// The SQLite schema, in version order.
const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "accounts_sessions",
        sql: include_str!("../../migrations/sqlite/0001_accounts_sessions.sql"),
    },
    Migration {
        version: 2,
        description: "sessions_expiry_index",
        sql: include_str!("../../migrations/sqlite/0002_sessions_expiry_index.sql"),
    },
    Migration {
        version: 3,
        description: "credential_versions",
        sql: include_str!("../../migrations/sqlite/0003_credential_versions.sql"),
    },
    Migration {
        version: 4,
        description: "throttle",
        sql: include_str!("../../migrations/sqlite/0004_throttle.sql"),
    },
    Migration {
        version: 5,
        description: "API keys",
        sql: include_str!("../../migrations/sqlite/0005_api_keys.sql"),
    },
];

/// The PostgreSQL schema, in version order.
const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "accounts_sessions",
        sql: include_str!("../../migrations/postgres/0001_accounts_sessions.sql"),
    },
    Migration {
        version: 2,
        description: "sessions_expiry_index",
        sql: include_str!("../../migrations/postgres/0002_sessions_expiry_index.sql"),
    },
    Migration {
        version: 3,
        description: "credential_versions",
        sql: include_str!("../../migrations/postgres/0003_credential_versions.sql"),
    },
    Migration {
        version: 4,
        description: "throttle",
        sql: include_str!("../../migrations/postgres/0004_throttle.sql"),
    },
    Migration {
        version: 5,
        description: "API keys",
        sql: include_str!("../../migrations/postgres/0005_api_keys.sql"),
    },
];

/// The table that records applied migrations (same text on both backends).
const CREATE_SCHEMA_VERSION: &str = "CREATE TABLE IF NOT EXISTS auth_schema_version (\
     version BIGINT NOT NULL PRIMARY KEY, \
     description TEXT NOT NULL, \
     applied_at BIGINT NOT NULL)";

/// What differs between the two backends.
pub(crate) struct Dialect {
    name: &'static str,
    /// Starts a writing transaction.
    pub(crate) begin: &'static str,
    /// Serializes schema migrations between instances (inside the migration transaction).
    migration_lock: Option<&'static str>,
    /// Serializes revocation inserts so that `seq` order is commit order (see the module docs).
    revocation_lock: Option<&'static str>,
    /// Tells the other instances, at commit, that a revocation was recorded.
    revocation_notify: Option<&'static str>,
    /// Reads a session row to classify a failed rotation (locking it where that means
    /// something).
    session_for_rotation: &'static str,
    /// Records a session in one statement, only if it carries no credential version or its
    /// account is active with that version (locking the account row against a concurrent
    /// credential change where that means something).
    insert_session: &'static str,
    migrations: &'static [Migration],
}

/// Whether a session's recorded credential version is its account's current one (always true
/// for a session without one): an SQL expression over `auth_sessions`.
macro_rules! session_version_current {
    () => {
        "(auth_sessions.credential_version IS NULL OR EXISTS (SELECT 1 FROM auth_users u \
         WHERE u.public_id = auth_sessions.subject AND u.status = 'active' \
         AND u.credential_version = auth_sessions.credential_version))"
    };
}

macro_rules! session_for_rotation {
    () => {
        concat!(
            "SELECT refresh_jti, revoked_at, expires_at, last_used_at, CAST(CASE WHEN ",
            session_version_current!(),
            " THEN 1 ELSE 0 END AS BIGINT) FROM auth_sessions WHERE id = $1"
        )
    };
}
const SESSION_FOR_ROTATION: &str = session_for_rotation!();

/// `$1` id, `$2` subject, `$3` login type, `$4` refresh jti, `$5` now, `$6` end, `$7` the
/// credential version (or NULL); `$lock` locks the account row.
macro_rules! insert_session {
    ($lock:literal) => {
        concat!(
            "INSERT INTO auth_sessions (id, subject, login_type, refresh_jti, created_at, \
             last_used_at, expires_at, revoked_at, credential_version) \
             SELECT $1, $2, $3, $4, $5, $5, $6, NULL, $7 \
             WHERE $7 IS NULL OR EXISTS (SELECT 1 FROM auth_users WHERE public_id = $2 \
             AND status = 'active' AND credential_version = $7",
            $lock,
            ")"
        )
    };
}

pub(crate) const SQLITE: Dialect = Dialect {
    name: "sqlite",
    begin: "BEGIN IMMEDIATE",
    migration_lock: None,
    revocation_lock: None,
    revocation_notify: None,
    session_for_rotation: SESSION_FOR_ROTATION,
    // One statement is atomic with the read inside it (SQLite serializes writers).
    insert_session: insert_session!(""),
    migrations: SQLITE_MIGRATIONS,
};

// Advisory lock keys: "auth_sch" and "auth_rev" in ASCII.
pub(crate) const POSTGRES: Dialect = Dialect {
    name: "postgres",
    begin: "BEGIN",
    migration_lock: Some("SELECT pg_advisory_xact_lock(7022364553343296360)"),
    revocation_lock: Some("SELECT pg_advisory_xact_lock(7022364553342592374)"),
    revocation_notify: Some("SELECT pg_notify('auth_revocations', '')"),
    session_for_rotation: concat!(session_for_rotation!(), " FOR UPDATE"),
    // FOR SHARE: a credential change (an UPDATE of the row) waits for this statement, or this
    // read waits for it and sees the new version. Either way the new session is revoked by the
    // change or never recorded.
    insert_session: insert_session!(" FOR SHARE"),
    migrations: POSTGRES_MIGRATIONS,
};

const INSERT_REVOCATION: &str = "INSERT INTO auth_revocations \
     (kind, subject, cutoff, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";

macro_rules! select_user {
    ($where:literal) => {
        concat!(
            "SELECT public_id, email, password_hash, status, roles, claims, created_at, \
             credential_version FROM auth_users ",
            $where
        )
    };
}
const SELECT_USER_BY_EMAIL: &str = select_user!("WHERE email = $1");
const SELECT_USER_BY_ID: &str = select_user!("WHERE public_id = $1");
const SELECT_USERS_BY_STATUS: &str = select_user!("WHERE status = $1 ORDER BY created_at, id");

/// An `auth_users` row: public_id, email, password_hash, status, roles, claims, created_at,
/// credential_version.
type UserRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    i64,
);

/// An `auth_revocations` row: seq, kind, subject, cutoff, expires_at.
type RevocationRow = (i64, String, String, Option<i64>, i64);

/// The two pools. Both are reference-counted handles: cloning is cheap.
#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs one body against whichever pool is active: `on_pool!(store, |p, d| { … })` expands
/// the block twice, with `p` the `SqlitePool` or the `PgPool` and `d` its [`Dialect`]. The
/// block is an `async` body returning `Result<T, sqlx::Error>`; the macro evaluates (awaiting)
/// to `Result<T, StoreError>`, the error mapped by [`db_error`].
/// `on_pool!(pool = &some_pool, |p, d| { … })` runs it on another [`Pool`] than the store's
/// main one.
macro_rules! on_pool {
    (pool = $pool:expr, |$p:ident, $d:ident| $body:block) => {
        match $pool {
            Pool::Sqlite($p) => {
                let $d: &'static Dialect = &SQLITE;
                sqlx_result(async $body).await.map_err(|e| db_error($d, e))
            }
            Pool::Postgres($p) => {
                let $d: &'static Dialect = &POSTGRES;
                sqlx_result(async $body).await.map_err(|e| db_error($d, e))
            }
        }
    };
    ($store:expr, |$p:ident, $d:ident| $body:block) => {
        on_pool!(pool = &$store.pool, |$p, $d| $body)
    };
}
pub(crate) use on_pool;

/// Pins an `async` block's output to `Result<T, sqlx::Error>` (so `?` inside it needs no
/// annotation).
pub(crate) fn sqlx_result<T, F: Future<Output = Result<T, sqlx::Error>>>(f: F) -> F {
    f
}

/// Records a revocation inside the transaction `$tx` (taking the dialect's revocation lock
/// first); for use inside [`on_pool!`] bodies.
macro_rules! insert_revocation {
    ($tx:ident, $d:ident, $kind:expr, $subject:expr, $cutoff:expr, $now:expr, $expires:expr) => {
        if let Some(lock) = $d.revocation_lock {
            sqlx::query(lock).execute(&mut *$tx).await?;
        }
        sqlx::query(INSERT_REVOCATION)
            .bind($kind)
            .bind($subject)
            .bind($cutoff)
            .bind($now)
            .bind($expires)
            .execute(&mut *$tx)
            .await?;
        if let Some(notify) = $d.revocation_notify {
            sqlx::query(notify).execute(&mut *$tx).await?;
        }
    };
}

/// Accounts ([`UserStore`]) and sessions ([`SessionStore`]) on SQLite or PostgreSQL, chosen by
/// the URL given to [`SqlStore::connect`].
///
/// Cloning is cheap: clones share one connection pool. Account ids are opaque: 128 random
/// bits in UUID form for new accounts (accounts created before schema migration 3 keep their
/// decimal ids), compared exactly.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) pool: Pool,
    /// A small pool of its own for reading revocations, so that account traffic (a flood of
    /// sign-ins waiting for connections or for SQLite's write lock) can never hold up the
    /// revocation list that every secured request depends on. `None` for an in-memory SQLite
    /// database (another pool would open another, empty database).
    revocation_reads: Option<Pool>,
    /// PostgreSQL: where the revocation listener connects, and the listener once started.
    listener: Option<Arc<Listener>>,
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may carry a password.
        f.debug_struct("SqlStore")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Connects to `url` and brings the schema up to date.
    ///
    /// - `sqlite://path/to/file.db` (or `sqlite:path`, `sqlite:///abs/path`,
    ///   `sqlite::memory:`): the file and its parent directory are created if missing; WAL
    ///   journal, a 5 s busy timeout, foreign keys on.
    /// - `postgres://user@host:port/db` (or `postgresql://…`, with sqlx's query parameters
    ///   such as `sslmode`).
    ///
    /// A connection that cannot be had within about 3 s is [`StoreError::Unavailable`]; any
    /// other scheme is [`StoreError::Backend`] (the message never repeats the URL). Several
    /// instances may connect to one database at once: migrations are applied once, under a
    /// lock.
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        let mut listener = None;
        let (pool, revocation_reads) = match scheme(url).as_deref() {
            Some("sqlite") => {
                let (pool, reads) = connect_sqlite(url).await?;
                (Pool::Sqlite(pool), reads)
            }
            Some("postgres" | "postgresql") => {
                let (pool, options) = connect_postgres(url).await?;
                let reads = PgPoolOptions::new()
                    .max_connections(REVOCATION_READ_CONNECTIONS)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_lazy_with(options.clone());
                listener = Some(Arc::new(Listener {
                    options,
                    started: Mutex::new(None),
                }));
                (Pool::Postgres(pool), Some(Pool::Postgres(reads)))
            }
            Some(other) => {
                return Err(StoreError::Backend(format!(
                    "unsupported database URL scheme `{other}` (expected sqlite: or postgres:)"
                )));
            }
            None => {
                return Err(StoreError::Backend(
                    "unsupported database URL: no scheme (expected sqlite: or postgres:)".into(),
                ));
            }
        };
        let store = SqlStore {
            pool,
            revocation_reads,
            listener,
        };
        if let Err(e) = store.migrate().await {
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    /// The backend in use: `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => SQLITE.name,
            Pool::Postgres(_) => POSTGRES.name,
        }
    }

    /// Closes the pool (every clone's): waits for the connections in use to come back, then
    /// closes them all. Every later call fails with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        if let Some(listener) = &self.listener {
            listener.stop();
        }
        for pool in std::iter::once(&self.pool).chain(&self.revocation_reads) {
            match pool {
                Pool::Sqlite(p) => p.close().await,
                Pool::Postgres(p) => p.close().await,
            }
        }
    }

    /// Applies the embedded migrations that the database does not have yet.
    async fn migrate(&self) -> Result<(), StoreError> {
        let now = to_sql(unix_now());
        let result = on_pool!(self, |p, d| {
            let mut tx = p.begin_with(d.begin).await?;
            if let Some(lock) = d.migration_lock {
                (&mut *tx).execute(sqlx::raw_sql(lock)).await?;
            }
            (&mut *tx)
                .execute(sqlx::raw_sql(CREATE_SCHEMA_VERSION))
                .await?;
            let applied: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM auth_schema_version ORDER BY version")
                    .fetch_all(&mut *tx)
                    .await?;
            for m in d.migrations {
                if applied.contains(&m.version) {
                    continue;
                }
                (&mut *tx).execute(sqlx::raw_sql(m.sql)).await?;
                sqlx::query(
                    "INSERT INTO auth_schema_version (version, description, applied_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(m.version)
                .bind(m.description)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(applied)
        });
        let applied = result.map_err(|e| match e {
            StoreError::Backend(m) => StoreError::Backend(format!("migrating the schema: {m}")),
            e => e,
        })?;
        let known = match self.pool {
            Pool::Sqlite(_) => SQLITE_MIGRATIONS,
            Pool::Postgres(_) => POSTGRES_MIGRATIONS,
        };
        let newest_known = known.iter().map(|m| m.version).max().unwrap_or(0);
        if let Some(newer) = applied.iter().copied().find(|v| *v > newest_known) {
            tracing::warn!(
                version = newer,
                newest_known,
                "the auth schema is newer than this build knows; running on it anyway"
            );
        }
        Ok(())
    }
}

/// The URL's scheme, lower-cased, if it has a plausible one (never any other part of the URL,
/// which may hold a password).
fn scheme(url: &str) -> Option<String> {
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

/// A SQLite pool and its revocation-read pool (`None` for an in-memory database: another pool
/// would open another, empty database).
async fn connect_sqlite(url: &str) -> Result<(SqlitePool, Option<Pool>), StoreError> {
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

async fn connect_postgres(url: &str) -> Result<(PgPool, PgConnectOptions), StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| db_error(&POSTGRES, e))?;
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone())
        .await
        .map_err(|e| db_error(&POSTGRES, e))?;
    Ok((pool, options))
}

/// The channel of revocation notifications (PostgreSQL).
const REVOCATION_CHANNEL: &str = "auth_revocations";

/// A store's PostgreSQL revocation listener: started by the first
/// [`SessionStore::revocation_wakeups`], on its own connection (outside the pool, so that
/// closing the pool never waits for it), stopped by [`SqlStore::close`] or with the last clone.
struct Listener {
    options: PgConnectOptions,
    started: Mutex<Option<(RevocationWakeup, tokio::task::AbortHandle)>>,
}

impl Listener {
    fn subscribe(&self) -> Option<RevocationWaiter> {
        let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        if started.is_none() {
            let runtime = tokio::runtime::Handle::try_current().ok()?;
            let wakeup = RevocationWakeup::new();
            let task = runtime.spawn(listen_for_revocations(self.options.clone(), wakeup.clone()));
            *started = Some((wakeup, task.abort_handle()));
        }
        started.as_ref().map(|(wakeup, _)| wakeup.subscribe())
    }

    fn stop(&self) {
        if let Some((_, task)) = self
            .started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Wakes the pollers on every notification, and whenever the connection was (re)established:
/// what was recorded while nobody listened is read then. Failures only cost latency (the
/// pollers still poll), so they are logged at debug level and retried every second.
async fn listen_for_revocations(options: PgConnectOptions, wakeup: RevocationWakeup) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options);
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(REVOCATION_CHANNEL).await {
                Ok(()) => {
                    wakeup.wake();
                    loop {
                        match listener.try_recv().await {
                            // `None`: the connection was lost; the next call reconnects.
                            Ok(_) => wakeup.wake(),
                            Err(e) => {
                                tracing::debug!(error = %e, "revocation listener lost its connection");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "revocation listener could not listen"),
            },
            Err(e) => tracing::debug!(error = %e, "revocation listener could not connect"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Maps a driver error: unreachable → `Unavailable`, unique violation → `Conflict`, anything
/// else → `Backend`.
pub(crate) fn db_error(dialect: &Dialect, e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(d) => {
            let unreachable = if d.try_downcast_ref::<PgDatabaseError>().is_some() {
                d.code().is_some_and(|c| postgres_unreachable(&c))
            } else if dialect.name == SQLITE.name {
                d.code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .is_some_and(sqlite_unreachable)
            } else {
                false
            };
            if unreachable {
                StoreError::Unavailable(e.to_string())
            } else {
                StoreError::Backend(e.to_string())
            }
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

/// SQLSTATEs that mean "no usable connection or no writable transaction (now)": class 08
/// (connection exception), class 53 (insufficient resources: too many connections, disk
/// full, out of memory), class 58 (system or I/O error), 57P01..57P03 (admin or crash
/// shutdown, cannot connect now), 57014 (statement cancelled or timed out), 55000 (the
/// database does not accept connections now: `ALLOW_CONNECTIONS false`), 55P03 (a lock could
/// not be had), 25006 (read-only transaction: a standby, or a primary switched to read-only
/// during a failover), 3D000 (the database does not exist, e.g. dropped under a running
/// pool), and 40001 / 40P01 (serialization failure, deadlock: the same request may succeed
/// when retried). Answered 503 with `Retry-After`, never 500.
fn postgres_unreachable(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("58")
        || matches!(
            code,
            "57P01"
                | "57P02"
                | "57P03"
                | "57014"
                | "55000"
                | "55P03"
                | "25006"
                | "3D000"
                | "40001"
                | "40P01"
        )
}

/// SQLite result codes (primary code = low byte of the extended one) that mean "cannot reach
/// or write the database (now)": BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN.
fn sqlite_unreachable(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6 | 8 | 10 | 13 | 14)
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A time (or any count) for SQL's signed 64 bits, clamped.
pub(crate) fn to_sql(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// A time read from SQL, clamped at 0.
fn from_sql(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

/// A new account id: 122 random bits in the form of a UUID (version 4), so that ids reveal
/// neither the number of accounts nor the next one.
fn new_account_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Roles as stored: space-separated. A role that is empty or holds whitespace could not be
/// read back as itself ("Domain Admins" would come back as two roles), so it is refused.
fn encode_roles(roles: &[String]) -> Result<String, StoreError> {
    if let Some(bad) = roles
        .iter()
        .find(|r| r.is_empty() || r.chars().any(char::is_whitespace))
    {
        return Err(StoreError::Backend(format!(
            "role {bad:?} cannot be stored: roles must be non-empty and hold no whitespace"
        )));
    }
    Ok(roles.join(" "))
}

fn encode_claims(claims: &Map<String, Value>) -> Result<String, StoreError> {
    serde_json::to_string(claims)
        .map_err(|e| StoreError::Backend(format!("claims cannot be stored: {e}")))
}

fn account_from_row(row: UserRow) -> Result<Account, StoreError> {
    let (id, email, password_hash, status, roles, claims, created_at, version) = row;
    let status = AccountStatus::parse(&status)
        .ok_or_else(|| StoreError::Backend(format!("account {id}: unknown status {status:?}")))?;
    let claims: Map<String, Value> = serde_json::from_str(&claims).map_err(|e| {
        StoreError::Backend(format!("account {id}: claims are not a JSON object: {e}"))
    })?;
    Ok(Account {
        id: id.to_string(),
        email,
        password_hash,
        status,
        roles: roles.split_whitespace().map(str::to_owned).collect(),
        claims,
        created_at: from_sql(created_at),
        credential_version: from_sql(version),
    })
}

fn revocation_from_row(row: RevocationRow) -> Result<Revocation, StoreError> {
    let (seq, kind, subject, cutoff, expires_at) = row;
    let kind = match (kind.as_str(), cutoff) {
        ("session", _) => RevocationKind::Session(subject),
        ("subject", Some(cutoff)) => RevocationKind::Subject {
            subject,
            cutoff: from_sql(cutoff),
        },
        ("subject", None) => {
            return Err(StoreError::Backend(format!(
                "revocation {seq}: a subject revocation without a cutoff"
            )));
        }
        (other, _) => {
            return Err(StoreError::Backend(format!(
                "revocation {seq}: unknown kind {other:?}"
            )));
        }
    };
    Ok(Revocation {
        seq,
        kind,
        expires_at: from_sql(expires_at),
    })
}

impl UserStore for SqlStore {
    fn create_user(&self, account: NewAccount) -> StoreFuture<'_, Account> {
        Box::pin(async move {
            let roles = encode_roles(&account.roles)?;
            let claims = encode_claims(&account.claims)?;
            let created_at = to_sql(account.created_at);
            let id = new_account_id();
            on_pool!(self, |p, _d| {
                sqlx::query(
                    "INSERT INTO auth_users (public_id, email, password_hash, status, roles, \
                     claims, created_at, updated_at, credential_version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0)",
                )
                .bind(&id)
                .bind(&account.email)
                .bind(account.password_hash.as_deref())
                .bind(account.status.as_str())
                .bind(&roles)
                .bind(&claims)
                .bind(created_at)
                .execute(p)
                .await
                .map(|_| ())
            })?;
            Ok(Account {
                id,
                email: account.email,
                password_hash: account.password_hash,
                status: account.status,
                roles: account.roles,
                claims: account.claims,
                created_at: account.created_at,
                credential_version: 0,
            })
        })
    }

    fn user_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<Account>> {
        Box::pin(async move {
            let row: Option<UserRow> = on_pool!(self, |p, _d| {
                sqlx::query_as(SELECT_USER_BY_EMAIL)
                    .bind(email)
                    .fetch_optional(p)
                    .await
            })?;
            row.map(account_from_row).transpose()
        })
    }

    fn user_by_id<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Account>> {
        Box::pin(async move {
            let row: Option<UserRow> = on_pool!(self, |p, _d| {
                sqlx::query_as(SELECT_USER_BY_ID)
                    .bind(id)
                    .fetch_optional(p)
                    .await
            })?;
            row.map(account_from_row).transpose()
        })
    }

    fn replace_password_hash<'a>(
        &'a self,
        id: &'a str,
        current: &'a str,
        new: &'a str,
        write: PasswordWrite,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let bump: i64 = match write {
                PasswordWrite::Rehash => 0,
                PasswordWrite::Change => 1,
            };
            let now = to_sql(unix_now());
            let updated = on_pool!(self, |p, _d| {
                let r = sqlx::query(
                    "UPDATE auth_users SET password_hash = $1, updated_at = $2, \
                     credential_version = credential_version + $3 \
                     WHERE public_id = $4 AND password_hash = $5",
                )
                .bind(new)
                .bind(now)
                .bind(bump)
                .bind(id)
                .bind(current)
                .execute(p)
                .await?;
                Ok(r.rows_affected())
            })?;
            Ok(updated > 0)
        })
    }

    fn transition_status<'a>(
        &'a self,
        id: &'a str,
        from: &'a [AccountStatus],
        to: AccountStatus,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            if from.is_empty() {
                return Ok(false);
            }
            // `$4, $5, …`: one placeholder per allowed status (at most four).
            let allowed: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 4)).collect();
            let sql = format!(
                "UPDATE auth_users SET status = $1, updated_at = $2, \
                 credential_version = credential_version + 1 \
                 WHERE public_id = $3 AND status IN ({})",
                allowed.join(", ")
            );
            let now = to_sql(unix_now());
            let updated = on_pool!(self, |p, _d| {
                let mut query = sqlx::query(&sql).bind(to.as_str()).bind(now).bind(id);
                for status in from {
                    query = query.bind(status.as_str());
                }
                Ok(query.execute(p).await?.rows_affected())
            })?;
            Ok(updated > 0)
        })
    }

    fn set_roles_and_claims<'a>(
        &'a self,
        id: &'a str,
        roles: &'a [String],
        claims: &'a Map<String, Value>,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let roles = encode_roles(roles)?;
            let claims = encode_claims(claims)?;
            let now = to_sql(unix_now());
            let updated = on_pool!(self, |p, _d| {
                // A role change is a credential change; new claims alone are not.
                let r = sqlx::query(
                    "UPDATE auth_users SET claims = $2, updated_at = $3, \
                     credential_version = credential_version \
                     + CASE WHEN roles = $1 THEN 0 ELSE 1 END, roles = $1 \
                     WHERE public_id = $4",
                )
                .bind(&roles)
                .bind(&claims)
                .bind(now)
                .bind(id)
                .execute(p)
                .await?;
                Ok(r.rows_affected())
            })?;
            Ok(updated > 0)
        })
    }

    fn users_with_status(&self, status: AccountStatus) -> StoreFuture<'_, Vec<Account>> {
        Box::pin(async move {
            let rows: Vec<UserRow> = on_pool!(self, |p, _d| {
                sqlx::query_as(SELECT_USERS_BY_STATUS)
                    .bind(status.as_str())
                    .fetch_all(p)
                    .await
            })?;
            rows.into_iter().map(account_from_row).collect()
        })
    }
}

/// What a failed compare-and-swap found when it read the session: refresh_jti, revoked_at,
/// expires_at, last_used_at, and 1 if its credential version is current (else 0).
type SessionProbe = (String, Option<i64>, i64, i64, i64);

impl SessionStore for SqlStore {
    fn create_session(&self, session: NewSession) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let created_at = to_sql(session.created_at);
            let expires_at = to_sql(session.expires_at);
            let version = session.credential_version.map(to_sql);
            let recorded = on_pool!(self, |p, d| {
                sqlx::query(d.insert_session)
                    .bind(&session.id)
                    .bind(&session.subject)
                    .bind(&session.login_type)
                    .bind(&session.refresh_jti)
                    .bind(created_at)
                    .bind(expires_at)
                    .bind(version)
                    .execute(p)
                    .await
                    .map(|done| done.rows_affected())
            })?;
            Ok(recorded > 0)
        })
    }

    fn rotate_refresh<'a>(
        &'a self,
        sid: &'a str,
        presented: &'a str,
        next: &'a str,
        now: u64,
        idle_timeout: u64,
        revocation_expires_at: u64,
    ) -> StoreFuture<'a, Rotation> {
        Box::pin(async move {
            // `last_used_at + idle >= now`, written so that it cannot overflow in SQL.
            let idle_floor = to_sql(now.saturating_sub(idle_timeout));
            let now = to_sql(now);
            let revocation_expires_at = to_sql(revocation_expires_at);
            on_pool!(self, |p, d| {
                // The first statement writes: on SQLite the write lock is held from BEGIN.
                let mut tx = p.begin_with(d.begin).await?;
                let swapped = sqlx::query(concat!(
                    "UPDATE auth_sessions SET refresh_jti = $1, last_used_at = $2 \
                     WHERE id = $3 AND refresh_jti = $4 AND revoked_at IS NULL \
                     AND expires_at > $2 AND last_used_at >= $5 AND ",
                    session_version_current!()
                ))
                .bind(next)
                .bind(now)
                .bind(sid)
                .bind(presented)
                .bind(idle_floor)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if swapped > 0 {
                    tx.commit().await?;
                    return Ok(Rotation::Rotated);
                }

                let probe: Option<SessionProbe> = sqlx::query_as(d.session_for_rotation)
                    .bind(sid)
                    .fetch_optional(&mut *tx)
                    .await?;
                let outcome = match probe {
                    None => Rotation::Unknown,
                    Some((_, Some(_), _, _, _)) => Rotation::Revoked,
                    Some((_, None, expires_at, last_used_at, _))
                        if expires_at <= now || last_used_at < idle_floor =>
                    {
                        Rotation::Expired
                    }
                    Some(probe) => {
                        // A live session whose account changed since it was opened (0), or
                        // whose current jti is another: `presented` was spent. Either way the
                        // session ends here.
                        sqlx::query(
                            "UPDATE auth_sessions SET revoked_at = $1 \
                             WHERE id = $2 AND revoked_at IS NULL",
                        )
                        .bind(now)
                        .bind(sid)
                        .execute(&mut *tx)
                        .await?;
                        insert_revocation!(
                            tx,
                            d,
                            "session",
                            sid,
                            None::<i64>,
                            now,
                            revocation_expires_at
                        );
                        if probe.4 == 0 {
                            Rotation::Revoked
                        } else {
                            Rotation::Reused
                        }
                    }
                };
                tx.commit().await?;
                Ok(outcome)
            })
        })
    }

    fn revoke_session<'a>(
        &'a self,
        sid: &'a str,
        now: u64,
        revocation_expires_at: u64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let now = to_sql(now);
            let revocation_expires_at = to_sql(revocation_expires_at);
            on_pool!(self, |p, d| {
                let mut tx = p.begin_with(d.begin).await?;
                sqlx::query(
                    "UPDATE auth_sessions SET revoked_at = $1 \
                     WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(sid)
                .execute(&mut *tx)
                .await?;
                insert_revocation!(
                    tx,
                    d,
                    "session",
                    sid,
                    None::<i64>,
                    now,
                    revocation_expires_at
                );
                tx.commit().await?;
                Ok(())
            })
        })
    }

    fn revoke_other_sessions<'a>(
        &'a self,
        subject: &'a str,
        except: Option<&'a str>,
        now: u64,
        revocation_expires_at: u64,
    ) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let now = to_sql(now);
            let revocation_expires_at = to_sql(revocation_expires_at);
            on_pool!(self, |p, d| {
                let mut tx = p.begin_with(d.begin).await?;
                // The kept session (the one that changed the password) moves to the account's
                // current credential version, so that it can still be refreshed.
                if let Some(kept) = except {
                    sqlx::query(
                        "UPDATE auth_sessions SET credential_version = \
                         (SELECT u.credential_version FROM auth_users u \
                          WHERE u.public_id = auth_sessions.subject) \
                         WHERE id = $1 AND subject = $2 AND credential_version IS NOT NULL",
                    )
                    .bind(kept)
                    .bind(subject)
                    .execute(&mut *tx)
                    .await?;
                }
                // Live: not revoked and not past its absolute end (an expired session's
                // tokens have expired too).
                let mut revoked: Vec<String> = sqlx::query_scalar(
                    "UPDATE auth_sessions SET revoked_at = $1 \
                     WHERE subject = $2 AND revoked_at IS NULL AND expires_at > $1 \
                     AND ($3 IS NULL OR id <> $3) RETURNING id",
                )
                .bind(now)
                .bind(subject)
                .bind(except)
                .fetch_all(&mut *tx)
                .await?;
                revoked.sort();
                for sid in &revoked {
                    insert_revocation!(
                        tx,
                        d,
                        "session",
                        sid,
                        None::<i64>,
                        now,
                        revocation_expires_at
                    );
                }
                tx.commit().await?;
                Ok(u64::try_from(revoked.len()).unwrap_or(u64::MAX))
            })
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff: u64,
        now: u64,
        revocation_expires_at: u64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let cutoff = to_sql(cutoff);
            let now = to_sql(now);
            let revocation_expires_at = to_sql(revocation_expires_at);
            on_pool!(self, |p, d| {
                let mut tx = p.begin_with(d.begin).await?;
                sqlx::query(
                    "UPDATE auth_sessions SET revoked_at = $1 \
                     WHERE subject = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(subject)
                .execute(&mut *tx)
                .await?;
                insert_revocation!(
                    tx,
                    d,
                    "subject",
                    subject,
                    Some(cutoff),
                    now,
                    revocation_expires_at
                );
                tx.commit().await?;
                Ok(())
            })
        })
    }

    fn revocations(&self, after: i64, now: u64) -> StoreFuture<'_, Vec<Revocation>> {
        Box::pin(async move {
            let now = to_sql(now);
            let pool = self.revocation_reads.as_ref().unwrap_or(&self.pool);
            let rows: Vec<RevocationRow> = on_pool!(pool = pool, |p, _d| {
                sqlx::query_as(
                    "SELECT seq, kind, subject, cutoff, expires_at FROM auth_revocations \
                     WHERE seq > $1 AND expires_at > $2 ORDER BY seq",
                )
                .bind(after)
                .bind(now)
                .fetch_all(p)
                .await
            })?;
            rows.into_iter().map(revocation_from_row).collect()
        })
    }

    fn revocation_wakeups(&self) -> Option<RevocationWaiter> {
        match &self.pool {
            // A closed store starts no listener again (its connection would outlive it).
            Pool::Postgres(pool) if !pool.is_closed() => self.listener.as_ref()?.subscribe(),
            _ => None,
        }
    }

    fn purge_expired(&self, now: u64) -> StoreFuture<'_, Purged> {
        Box::pin(async move {
            let now = to_sql(now);
            let sessions = on_pool!(self, |p, _d| {
                sqlx::query("DELETE FROM auth_sessions WHERE expires_at <= $1")
                    .bind(now)
                    .execute(p)
                    .await
                    .map(|done| done.rows_affected())
            })?;
            let revocations = on_pool!(self, |p, _d| {
                sqlx::query("DELETE FROM auth_revocations WHERE expires_at <= $1")
                    .bind(now)
                    .execute(p)
                    .await
                    .map(|done| done.rows_affected())
            })?;
            Ok(Purged {
                sessions,
                revocations,
            })
        })
    }
}

/// API keys in `auth_api_keys` (`ApiKeyStore for SqlStore`).
mod api_keys;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_never_show_more_than_the_scheme() {
        assert_eq!(scheme("sqlite://a.db").as_deref(), Some("sqlite"));
        assert_eq!(scheme("SQLite:a.db").as_deref(), Some("sqlite"));
        assert_eq!(
            scheme("postgresql://u:p@h/d").as_deref(),
            Some("postgresql")
        );
        assert_eq!(scheme("no scheme here"), None);
        assert_eq!(scheme("u ser:secret@host"), None);
        assert_eq!(scheme(":secret"), None);
    }

    #[test]
    fn futures_are_send() {
        // `tokio::spawn` and `StoreFuture` need `Send` futures; sqlx's generic `async fn`s
        // (`RawSql::execute` with `&mut *tx`) are not "general enough" for that, so raw SQL
        // goes through `Executor::execute` instead. This fails to compile if that regresses.
        fn send<T: Send>(_: &T) {}
        send(&SqlStore::connect("sqlite::memory:"));
    }

    #[test]
    fn account_ids_are_random_uuids() {
        let a = new_account_id();
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4', "{a}");
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{a}");
        assert_eq!(a.matches('-').count(), 4);
        assert_ne!(a, new_account_id());
    }

    #[test]
    fn times_clamp_instead_of_wrapping() {
        assert_eq!(to_sql(u64::MAX), i64::MAX);
        assert_eq!(to_sql(5), 5);
        assert_eq!(from_sql(-1), 0);
        assert_eq!(from_sql(5), 5);
    }

    #[test]
    fn roles_with_whitespace_are_refused() {
        assert_eq!(
            encode_roles(&["a".into(), "b".into()]).as_deref(),
            Ok("a b")
        );
        assert!(encode_roles(&["Domain Admins".into()]).is_err());
        assert!(encode_roles(&[String::new()]).is_err());
        assert_eq!(encode_roles(&[]).as_deref(), Ok(""));
    }

    #[test]
    fn unreadable_rows_are_backend_errors() {
        let row = |status: &str, claims: &str| -> UserRow {
            (
                "1".into(),
                "a@b".into(),
                None,
                status.into(),
                String::new(),
                claims.into(),
                0,
                0,
            )
        };
        assert!(matches!(
            account_from_row(row("weird", "{}")),
            Err(StoreError::Backend(_))
        ));
        assert!(matches!(
            account_from_row(row("active", "[1]")),
            Err(StoreError::Backend(_))
        ));
        assert!(matches!(
            account_from_row(row("active", "not json")),
            Err(StoreError::Backend(_))
        ));
        let ok = account_from_row(row("active", r#"{"k":1}"#)).expect("readable");
        assert_eq!(ok.id, "1");
        assert_eq!(ok.claims.get("k"), Some(&Value::from(1)));
        assert!(matches!(
            revocation_from_row((1, "subject".into(), "s".into(), None, 0)),
            Err(StoreError::Backend(_))
        ));
        assert!(matches!(
            revocation_from_row((1, "other".into(), "s".into(), None, 0)),
            Err(StoreError::Backend(_))
        ));
    }
}
