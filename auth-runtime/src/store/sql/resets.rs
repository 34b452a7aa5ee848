//! [`PasswordResetStore`] for [`SqlStore`]: table `auth_password_resets` (migration 6). A reset
//! is read by the digest of its token; spending it is one conditional update of a live row, so
//! that of two concurrent spends exactly one succeeds (SQLite serializes writers; PostgreSQL's
//! second `UPDATE` waits for the first and re-reads the row, finding it spent).

use super::rows::{from_sql, to_sql};
use super::{SqlStore, on_pool};
use crate::store::{
    NewPasswordReset, PasswordResetRecord, PasswordResetStore, StoreError, StoreFuture,
};

/// digest, account, credential_version, created_at, expires_at, used_at
type ResetRow = (String, String, i64, i64, i64, Option<i64>);

fn record_from_row(row: ResetRow) -> Result<PasswordResetRecord, StoreError> {
    let (digest, account, version, created, expires, used) = row;
    let version = u64::try_from(version)
        .map_err(|_| StoreError::Backend("password reset: negative credential version".into()))?;
    Ok(PasswordResetRecord::new(
        NewPasswordReset::new(
            digest,
            account,
            version,
            from_sql(created),
            from_sql(expires),
        ),
        used.map(from_sql),
    ))
}

impl PasswordResetStore for SqlStore {
    fn create_password_reset(&self, reset: NewPasswordReset) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let version = i64::try_from(reset.credential_version)
                .map_err(|_| StoreError::Backend("credential version out of range".into()))?;
            on_pool!(self, |p, _d| {
                sqlx::query(
                    "INSERT INTO auth_password_resets (digest, account, credential_version, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&reset.digest)
                .bind(&reset.account)
                .bind(version)
                .bind(to_sql(reset.created_at))
                .bind(to_sql(reset.expires_at))
                .execute(p)
                .await
                .map(|_| ())
            })
        })
    }

    fn password_reset<'a>(
        &'a self,
        digest: &'a str,
    ) -> StoreFuture<'a, Option<PasswordResetRecord>> {
        Box::pin(async move {
            let row: Option<ResetRow> = on_pool!(self, |p, _d| {
                sqlx::query_as(
                    "SELECT digest, account, credential_version, created_at, expires_at, \
                     used_at FROM auth_password_resets WHERE digest = $1",
                )
                .bind(digest)
                .fetch_optional(p)
                .await
            })?;
            row.map(record_from_row).transpose()
        })
    }

    fn consume_password_reset<'a>(&'a self, digest: &'a str, now: u64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let done = on_pool!(self, |p, _d| {
                sqlx::query(
                    "UPDATE auth_password_resets SET used_at = $2 \
                     WHERE digest = $1 AND used_at IS NULL AND expires_at > $2",
                )
                .bind(digest)
                .bind(to_sql(now))
                .execute(p)
                .await
                .map(|done| done.rows_affected())
            })?;
            Ok(done == 1)
        })
    }

    fn purge_password_resets(&self, now: u64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            on_pool!(self, |p, _d| {
                sqlx::query("DELETE FROM auth_password_resets WHERE expires_at <= $1")
                    .bind(to_sql(now))
                    .execute(p)
                    .await
                    .map(|done| done.rows_affected())
            })
        })
    }
}
