//! Recording revocations: the feed that every instance reads (`seq > last seen`).
//!
//! PostgreSQL hands out identity values before commit, so two transactions could commit `seq`
//! 6 before `seq` 5 and a reader that saw 6 would skip 5 forever; every transaction that
//! inserts a revocation therefore takes a transaction-scoped advisory lock just before the
//! insert (and writes nothing else after it), which makes `seq` order the commit order. SQLite
//! serializes writers anyway. On PostgreSQL the same transaction sends `NOTIFY
//! auth_revocations` (delivered at commit), which each store's [`Listener`](super::listener::Listener)
//! turns into a wake-up of its instance's poller
//! ([`SessionStore::revocation_wakeups`](crate::store::SessionStore::revocation_wakeups)).

pub(super) const INSERT_REVOCATION: &str = "INSERT INTO auth_revocations \
     (kind, subject, cutoff, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";

/// Records a revocation inside the transaction `$tx` (taking the dialect's revocation lock
/// first); for use inside [`on_pool!`](super::on_pool) bodies.
macro_rules! insert_revocation {
    ($tx:ident, $d:ident, $kind:expr, $subject:expr, $cutoff:expr, $now:expr, $expires:expr) => {
        if let Some(lock) = $d.revocation_lock {
            sqlx::query(lock).execute(&mut *$tx).await?;
        }
        sqlx::query($crate::store::sql::revoke::INSERT_REVOCATION)
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
pub(super) use insert_revocation;
