//! Recording revocations ([`RevokingTransaction`]): the feed that every instance reads
//! (`seq > last seen`).
//!
//! PostgreSQL hands out identity values before commit, so two transactions could commit `seq`
//! 6 before `seq` 5 and a reader that saw 6 would skip 5 forever; every transaction that
//! inserts revocations therefore takes a transaction-scoped advisory lock just before the
//! inserts (and writes nothing else after them), which makes `seq` order the commit order.
//! SQLite serializes writers anyway. On PostgreSQL the same transaction sends `NOTIFY
//! auth_revocations` (delivered at commit), which each store's
//! [`Listener`](super::listener::Listener) turns into a wake-up of its instance's poller
//! ([`SessionStore::revocation_wakeups`](crate::store::SessionStore::revocation_wakeups)).
//!
//! [`RevokingTransaction::commit`] is the one place that does this: the lock, the inserts and
//! the notification come once per transaction, after the caller's own statements.

use std::ops::{Deref, DerefMut};

use sqlx::{Database, Encode, Executor, IntoArguments, Transaction, Type};

use super::dialect::Dialect;
use super::rows::to_sql;
use crate::store::RevocationKind;

const INSERT_REVOCATION: &str = "INSERT INTO auth_revocations \
     (kind, subject, cutoff, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";

/// A writing transaction that records revocations: begun with the dialect's `begin`, it runs
/// the caller's statements (it dereferences to the connection: `.execute(&mut *tx)`), collects
/// the revocations given to [`revoke`](Self::revoke), and records them all at
/// [`commit`](Self::commit). Dropped without a commit, it rolls back and records nothing.
pub(super) struct RevokingTransaction<DB: Database> {
    tx: Transaction<'static, DB>,
    dialect: &'static Dialect,
    /// When the revocations are recorded, and until when they are kept.
    created_at: i64,
    expires_at: i64,
    revoked: Vec<RevocationKind>,
}

impl<DB> RevokingTransaction<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
{
    /// Begins a writing transaction on `pool` (on SQLite, the write lock is held from here)
    /// whose revocations are created at `now` and kept until `expires_at`.
    pub(super) async fn begin(
        pool: &sqlx::Pool<DB>,
        dialect: &'static Dialect,
        now: i64,
        expires_at: i64,
    ) -> Result<Self, sqlx::Error> {
        Ok(RevokingTransaction {
            tx: pool.begin_with(dialect.begin).await?,
            dialect,
            created_at: now,
            expires_at,
            revoked: Vec::new(),
        })
    }

    /// Records `kind` at commit, in the order given.
    pub(super) fn revoke(&mut self, kind: RevocationKind) {
        self.revoked.push(kind);
    }

    /// Records the revocations, if any (else it only commits): takes the revocation lock,
    /// inserts them, notifies the other instances, and commits.
    pub(super) async fn commit(mut self) -> Result<(), sqlx::Error> {
        if !self.revoked.is_empty() {
            if let Some(lock) = self.dialect.revocation_lock {
                sqlx::query(lock).execute(&mut *self.tx).await?;
            }
            for revoked in &self.revoked {
                let (kind, subject, cutoff) = match revoked {
                    RevocationKind::Session(sid) => ("session", sid, None),
                    RevocationKind::Subject { subject, cutoff } => {
                        ("subject", subject, Some(to_sql(*cutoff)))
                    }
                };
                sqlx::query(INSERT_REVOCATION)
                    .bind(kind)
                    .bind(subject.as_str())
                    .bind(cutoff)
                    .bind(self.created_at)
                    .bind(self.expires_at)
                    .execute(&mut *self.tx)
                    .await?;
            }
            if let Some(notify) = self.dialect.revocation_notify {
                sqlx::query(notify).execute(&mut *self.tx).await?;
            }
        }
        self.tx.commit().await
    }
}

impl<DB: Database> Deref for RevokingTransaction<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        &self.tx
    }
}

impl<DB: Database> DerefMut for RevokingTransaction<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}
