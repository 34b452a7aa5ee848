//! Driver errors as [`StoreError`]s ([`db_error`]): which SQLSTATEs and SQLite result codes
//! mean "unreachable (now)".

#[cfg(feature = "postgres")]
use sqlx::postgres::PgDatabaseError;

use super::dialect::{Dialect, SQLITE};
use crate::store::StoreError;

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
            #[cfg(feature = "postgres")]
            let postgres = d.try_downcast_ref::<PgDatabaseError>().is_some();
            #[cfg(not(feature = "postgres"))]
            let postgres = false;
            let unreachable = if postgres {
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
