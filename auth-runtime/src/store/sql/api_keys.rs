//! [`ApiKeyStore`] for [`SqlStore`]: table `auth_api_keys` (migration 5). Keys are read by id;
//! a revocation is a conditional update of a live key of its owner; uses are written in one
//! transaction per batch, a time never moving backwards.

use super::rows::{from_sql, to_sql};
use super::{SqlStore, on_pool};
use crate::store::{ApiKeyRecord, ApiKeyStore, NewApiKey, StoreError, StoreFuture};

/// id, owner, login_type, name, scopes, secret_hash, created_at, expires_at,
/// credential_version, last_used_at, revoked_at
type KeyRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
);

const COLUMNS: &str = "id, owner, login_type, name, scopes, secret_hash, created_at, expires_at, \
     credential_version, last_used_at, revoked_at";

fn record_from_row(row: KeyRow) -> Result<ApiKeyRecord, StoreError> {
    let (
        id,
        owner,
        login_type,
        name,
        scopes,
        secret_hash,
        created,
        expires,
        version,
        used,
        revoked,
    ) = row;
    let version = u64::try_from(version)
        .map_err(|_| StoreError::Backend(format!("API key {id}: negative credential version")))?;
    let key = NewApiKey::new(
        id,
        owner,
        login_type,
        name,
        scopes.split_whitespace().map(str::to_owned).collect(),
        secret_hash,
        from_sql(created),
        from_sql(expires),
        version,
    );
    Ok(ApiKeyRecord::new(
        key,
        used.map(from_sql),
        revoked.map(from_sql),
    ))
}

impl ApiKeyStore for SqlStore {
    fn create_api_key(&self, key: NewApiKey) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let scopes = key.scopes.join(" ");
            let version = i64::try_from(key.credential_version)
                .map_err(|_| StoreError::Backend("credential version out of range".into()))?;
            on_pool!(self, |p, _d| {
                sqlx::query(
                    "INSERT INTO auth_api_keys (id, owner, login_type, name, scopes, secret_hash, \
                     created_at, expires_at, credential_version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&key.id)
                .bind(&key.owner)
                .bind(&key.login_type)
                .bind(&key.name)
                .bind(&scopes)
                .bind(&key.secret_hash)
                .bind(to_sql(key.created_at))
                .bind(to_sql(key.expires_at))
                .bind(version)
                .execute(p)
                .await
                .map(|_| ())
            })
        })
    }

    fn api_key<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<ApiKeyRecord>> {
        Box::pin(async move {
            let sql = format!("SELECT {COLUMNS} FROM auth_api_keys WHERE id = $1");
            let row: Option<KeyRow> = on_pool!(self, |p, _d| {
                sqlx::query_as(&sql).bind(id).fetch_optional(p).await
            })?;
            row.map(record_from_row).transpose()
        })
    }

    fn api_keys_of<'a>(&'a self, owner: &'a str, now: u64) -> StoreFuture<'a, Vec<ApiKeyRecord>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {COLUMNS} FROM auth_api_keys \
                 WHERE owner = $1 AND revoked_at IS NULL AND expires_at > $2 \
                 ORDER BY created_at, id"
            );
            let rows: Vec<KeyRow> = on_pool!(self, |p, _d| {
                sqlx::query_as(&sql)
                    .bind(owner)
                    .bind(to_sql(now))
                    .fetch_all(p)
                    .await
            })?;
            rows.into_iter().map(record_from_row).collect()
        })
    }

    fn revoke_api_key<'a>(
        &'a self,
        owner: &'a str,
        id: &'a str,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let done = on_pool!(self, |p, _d| {
                sqlx::query(
                    "UPDATE auth_api_keys SET revoked_at = $3 \
                     WHERE id = $1 AND owner = $2 AND revoked_at IS NULL AND expires_at > $3",
                )
                .bind(id)
                .bind(owner)
                .bind(to_sql(now))
                .execute(p)
                .await
                .map(|done| done.rows_affected())
            })?;
            Ok(done == 1)
        })
    }

    fn record_api_key_use<'a>(&'a self, uses: &'a [(String, u64)]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if uses.is_empty() {
                return Ok(());
            }
            on_pool!(self, |p, d| {
                let mut tx = p.begin_with(d.begin).await?;
                for (id, at) in uses {
                    sqlx::query(
                        "UPDATE auth_api_keys SET last_used_at = $2 \
                         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
                    )
                    .bind(id)
                    .bind(to_sql(*at))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await
            })
        })
    }
}
