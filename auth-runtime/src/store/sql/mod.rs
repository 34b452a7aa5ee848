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
//! Transactions that record revocations keep the revocation feed in commit order: see
//! [`revoke`].
//!
//! # Where things are
//! - [`pool`]: the two connection pools and connecting to them;
//! - [`dialect`]: what differs between the backends, SQL text included;
//! - [`migrations`]: the embedded schema and its runner;
//! - [`revoke`]: recording revocations; [`listener`]: hearing of them (PostgreSQL);
//! - [`rows`]: rows and values as SQL stores them; [`errors`]: driver errors as [`StoreError`]s;
//! - [`users`] and [`sessions`]: the [`UserStore`](crate::store::UserStore) and
//!   [`SessionStore`](crate::store::SessionStore) implementations.
//! - [`api_keys`] and [`resets`]: the [`ApiKeyStore`](crate::store::ApiKeyStore) and
//!   [`PasswordResetStore`](crate::store::PasswordResetStore) implementations.

mod api_keys;
mod dialect;
mod errors;
#[cfg(feature = "postgres")]
mod listener;
mod migrations;
mod pool;
mod resets;
mod revoke;
mod rows;
mod sessions;
mod users;

#[cfg(feature = "postgres")]
use std::sync::Arc;
use std::{fmt, future::Future};

use super::StoreError;
#[cfg(feature = "postgres")]
use listener::Listener;
#[cfg(feature = "postgres")]
use pool::connect_postgres;
#[cfg(feature = "sqlite")]
use pool::connect_sqlite;
use pool::scheme;

// The paths `on_pool!` expands to (a backend left out by its feature leaves its name unused).
#[allow(unused_imports)]
pub(crate) use dialect::{Dialect, POSTGRES, SQLITE};
pub(crate) use errors::db_error;
pub(crate) use pool::Pool;
#[cfg(feature = "accounts")]
pub(crate) use rows::to_sql;

/// Runs one body against whichever pool is active: `on_pool!(store, |p, d| { … })` expands
/// the block twice, with `p` the `SqlitePool` or the `PgPool` and `d` its [`Dialect`]. The
/// block is an `async` body returning `Result<T, sqlx::Error>`; the macro evaluates (awaiting)
/// to `Result<T, StoreError>`, the error mapped by [`db_error`].
/// `on_pool!(pool = &some_pool, |p, d| { … })` runs it on another [`Pool`] than the store's
/// main one.
macro_rules! on_pool {
    (pool = $pool:expr, |$p:ident, $d:ident| $body:block) => {
        match $pool {
            #[cfg(feature = "sqlite")]
            $crate::store::sql::Pool::Sqlite($p) => {
                let $d: &'static $crate::store::sql::Dialect = &$crate::store::sql::SQLITE;
                $crate::store::sql::sqlx_result(async $body)
                    .await
                    .map_err(|e| $crate::store::sql::db_error($d, e))
            }
            #[cfg(feature = "postgres")]
            $crate::store::sql::Pool::Postgres($p) => {
                let $d: &'static $crate::store::sql::Dialect = &$crate::store::sql::POSTGRES;
                $crate::store::sql::sqlx_result(async $body)
                    .await
                    .map_err(|e| $crate::store::sql::db_error($d, e))
            }
        }
    };
    ($store:expr, |$p:ident, $d:ident| $body:block) => {
        $crate::store::sql::on_pool!(pool = &$store.pool, |$p, $d| $body)
    };
}
pub(crate) use on_pool;

/// Pins an `async` block's output to `Result<T, sqlx::Error>` (so `?` inside it needs no
/// annotation).
pub(crate) fn sqlx_result<T, F: Future<Output = Result<T, sqlx::Error>>>(f: F) -> F {
    f
}

/// Accounts ([`UserStore`](crate::store::UserStore)) and sessions
/// ([`SessionStore`](crate::store::SessionStore)) on SQLite or PostgreSQL, chosen by the URL
/// given to [`SqlStore::connect`].
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
    #[cfg(feature = "postgres")]
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

/// The backends of this build, for error messages.
const BACKENDS: &str = match (cfg!(feature = "sqlite"), cfg!(feature = "postgres")) {
    (true, true) => "sqlite: and postgres:",
    (true, false) => "sqlite: only (feature `postgres` is off)",
    _ => "postgres: only (feature `sqlite` is off)",
};

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
        #[cfg(feature = "postgres")]
        #[allow(unused_assignments)] // read below unless every arm returned
        let mut listener = None;
        let (pool, revocation_reads) = match scheme(url).as_deref() {
            #[cfg(feature = "sqlite")]
            Some("sqlite") => {
                let (pool, reads) = connect_sqlite(url).await?;
                (Pool::Sqlite(pool), reads)
            }
            #[cfg(feature = "postgres")]
            Some("postgres" | "postgresql") => {
                let (pool, reads, options) = connect_postgres(url).await?;
                listener = Some(Arc::new(Listener::new(options)));
                (Pool::Postgres(pool), Some(Pool::Postgres(reads)))
            }
            Some(other) => {
                return Err(StoreError::Backend(format!(
                    "unsupported database URL scheme `{other}` (this build has {})",
                    BACKENDS
                )));
            }
            None => {
                return Err(StoreError::Backend(format!(
                    "unsupported database URL: no scheme (this build has {BACKENDS})"
                )));
            }
        };
        let store = SqlStore {
            pool,
            revocation_reads,
            #[cfg(feature = "postgres")]
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
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => SQLITE.name,
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => POSTGRES.name,
        }
    }

    /// Closes the pool (every clone's): waits for the connections in use to come back, then
    /// closes them all. Every later call fails with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        #[cfg(feature = "postgres")]
        if let Some(listener) = &self.listener {
            listener.stop();
        }
        for pool in std::iter::once(&self.pool).chain(&self.revocation_reads) {
            match pool {
                #[cfg(feature = "sqlite")]
                Pool::Sqlite(p) => p.close().await,
                #[cfg(feature = "postgres")]
                Pool::Postgres(p) => p.close().await,
            }
        }
    }
}

#[cfg(test)]
mod tests;
