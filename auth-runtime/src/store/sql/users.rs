//! [`UserStore`] for [`SqlStore`]: accounts in `auth_users`.

use serde_json::{Map, Value};

use super::rows::{
    UserRow, account_from_row, encode_claims, encode_roles, new_account_id, to_sql, unix_now,
};
use super::{SqlStore, on_pool};
use crate::store::{Account, AccountStatus, NewAccount, PasswordWrite, StoreFuture, UserStore};

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
const SELECT_USERS_FIRST: &str = select_user!("ORDER BY created_at, id LIMIT $1");
/// The page after the account whose `created_at` and internal id are `$1`, `$2`.
const SELECT_USERS_AFTER: &str = select_user!(
    "WHERE created_at > $1 OR (created_at = $1 AND id > $2) ORDER BY created_at, id LIMIT $3"
);

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

    fn set_roles<'a>(&'a self, id: &'a str, roles: &'a [String]) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let roles = encode_roles(roles)?;
            let now = to_sql(unix_now());
            let updated = on_pool!(self, |p, _d| {
                // The roles column alone; a change of them is a credential change.
                let r = sqlx::query(
                    "UPDATE auth_users SET updated_at = $2, credential_version = \
                     credential_version + CASE WHEN roles = $1 THEN 0 ELSE 1 END, roles = $1 \
                     WHERE public_id = $3",
                )
                .bind(&roles)
                .bind(now)
                .bind(id)
                .execute(p)
                .await?;
                Ok(r.rows_affected())
            })?;
            Ok(updated > 0)
        })
    }

    fn set_claims<'a>(
        &'a self,
        id: &'a str,
        claims: &'a Map<String, Value>,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let claims = encode_claims(claims)?;
            let now = to_sql(unix_now());
            let updated = on_pool!(self, |p, _d| {
                // The claims column alone: roles, password and credential version stay as
                // they are, whatever changed them meanwhile.
                let r = sqlx::query(
                    "UPDATE auth_users SET claims = $1, updated_at = $2 WHERE public_id = $3",
                )
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

    fn users_page<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: u32,
    ) -> StoreFuture<'a, Option<Vec<Account>>> {
        Box::pin(async move {
            let limit = i64::from(limit);
            let rows: Option<Vec<UserRow>> = on_pool!(self, |p, _d| {
                let Some(after) = after else {
                    let rows = sqlx::query_as(SELECT_USERS_FIRST)
                        .bind(limit)
                        .fetch_all(p)
                        .await?;
                    return Ok(Some(rows));
                };
                let cursor: Option<(i64, i64)> =
                    sqlx::query_as("SELECT created_at, id FROM auth_users WHERE public_id = $1")
                        .bind(after)
                        .fetch_optional(p)
                        .await?;
                let Some((created_at, id)) = cursor else {
                    return Ok(None);
                };
                let rows = sqlx::query_as(SELECT_USERS_AFTER)
                    .bind(created_at)
                    .bind(id)
                    .bind(limit)
                    .fetch_all(p)
                    .await?;
                Ok(Some(rows))
            })?;
            rows.map(|rows| rows.into_iter().map(account_from_row).collect())
                .transpose()
        })
    }
}
