//! The embedded schema ([`SQLITE_MIGRATIONS`], [`POSTGRES_MIGRATIONS`]) and the runner that
//! applies it, recording versions in `auth_schema_version`.
//!
//! The schema ships in the crate (`migrations/{sqlite,postgres}/NNNN_name.sql`, embedded with
//! `include_str!`) and is applied by a small runner here rather than by `sqlx::migrate`:
//! sqlx 0.8's migrator records versions in a fixed `_sqlx_migrations` table, which the
//! application very likely uses for its own migrations on the same database; sharing it would
//! make each side see the other's versions as unknown (`VersionMissing`) or mismatched. The
//! runner records applied versions in `auth_schema_version`, all in one transaction, under
//! `BEGIN IMMEDIATE` (SQLite) or a transaction-scoped advisory lock (PostgreSQL), so several
//! instances connecting at once apply each migration exactly once. Never edit an applied
//! migration: add the next file and list it in [`SQLITE_MIGRATIONS`] / [`POSTGRES_MIGRATIONS`].

use sqlx::Executor as _;

use super::rows::{to_sql, unix_now};
use super::{Pool, SqlStore, on_pool};
use crate::store::StoreError;

/// One embedded migration.
pub(super) struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

/// The SQLite schema, in version order.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(super) const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "accounts_sessions",
        sql: include_str!("../../../migrations/sqlite/0001_accounts_sessions.sql"),
    },
    Migration {
        version: 2,
        description: "sessions_expiry_index",
        sql: include_str!("../../../migrations/sqlite/0002_sessions_expiry_index.sql"),
    },
    Migration {
        version: 3,
        description: "credential_versions",
        sql: include_str!("../../../migrations/sqlite/0003_credential_versions.sql"),
    },
    Migration {
        version: 4,
        description: "throttle",
        sql: include_str!("../../../migrations/sqlite/0004_throttle.sql"),
    },
    Migration {
        version: 5,
        description: "API keys",
        sql: include_str!("../../../migrations/sqlite/0005_api_keys.sql"),
    },
    Migration {
        version: 6,
        description: "password resets",
        sql: include_str!("../../../migrations/sqlite/0006_password_resets.sql"),
    },
];

/// The PostgreSQL schema, in version order.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(super) const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "accounts_sessions",
        sql: include_str!("../../../migrations/postgres/0001_accounts_sessions.sql"),
    },
    Migration {
        version: 2,
        description: "sessions_expiry_index",
        sql: include_str!("../../../migrations/postgres/0002_sessions_expiry_index.sql"),
    },
    Migration {
        version: 3,
        description: "credential_versions",
        sql: include_str!("../../../migrations/postgres/0003_credential_versions.sql"),
    },
    Migration {
        version: 4,
        description: "throttle",
        sql: include_str!("../../../migrations/postgres/0004_throttle.sql"),
    },
    Migration {
        version: 5,
        description: "API keys",
        sql: include_str!("../../../migrations/postgres/0005_api_keys.sql"),
    },
    Migration {
        version: 6,
        description: "password resets",
        sql: include_str!("../../../migrations/postgres/0006_password_resets.sql"),
    },
];

/// The table that records applied migrations (same text on both backends).
const CREATE_SCHEMA_VERSION: &str = "CREATE TABLE IF NOT EXISTS auth_schema_version (\
     version BIGINT NOT NULL PRIMARY KEY, \
     description TEXT NOT NULL, \
     applied_at BIGINT NOT NULL)";

impl SqlStore {
    /// Applies the embedded migrations that the database does not have yet.
    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
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
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => SQLITE_MIGRATIONS,
            #[cfg(feature = "postgres")]
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
