//! [`SessionStore`] for [`SqlStore`]: sessions in `auth_sessions` (refresh rotation, revocation)
//! and the revocation feed in `auth_revocations`.

#[cfg(feature = "postgres")]
use super::Pool;
use super::dialect::session_version_current;
use super::revoke::RevokingTransaction;
use super::rows::{RevocationRow, SessionProbe, from_sql, revocation_from_row, to_sql};
use super::{SqlStore, on_pool};
use crate::store::{
    NewSession, Purged, Revocation, RevocationKind, RevocationWaiter, Rotation, SessionRecord,
    SessionStore, StoreFuture,
};

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
                let mut tx = RevokingTransaction::begin(p, d, now, revocation_expires_at).await?;
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
                        tx.revoke(RevocationKind::Session(sid.to_owned()));
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
                let mut tx = RevokingTransaction::begin(p, d, now, revocation_expires_at).await?;
                sqlx::query(
                    "UPDATE auth_sessions SET revoked_at = $1 \
                     WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(sid)
                .execute(&mut *tx)
                .await?;
                tx.revoke(RevocationKind::Session(sid.to_owned()));
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
                let mut tx = RevokingTransaction::begin(p, d, now, revocation_expires_at).await?;
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
                let count = u64::try_from(revoked.len()).unwrap_or(u64::MAX);
                for sid in revoked {
                    tx.revoke(RevocationKind::Session(sid));
                }
                tx.commit().await?;
                Ok(count)
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
            let now = to_sql(now);
            let revocation_expires_at = to_sql(revocation_expires_at);
            on_pool!(self, |p, d| {
                let mut tx = RevokingTransaction::begin(p, d, now, revocation_expires_at).await?;
                sqlx::query(
                    "UPDATE auth_sessions SET revoked_at = $1 \
                     WHERE subject = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(subject)
                .execute(&mut *tx)
                .await?;
                tx.revoke(RevocationKind::Subject {
                    subject: subject.to_owned(),
                    cutoff,
                });
                tx.commit().await?;
                Ok(())
            })
        })
    }

    fn sessions_of<'a>(
        &'a self,
        subject: &'a str,
        now: u64,
        idle_since: u64,
    ) -> StoreFuture<'a, Vec<SessionRecord>> {
        Box::pin(async move {
            let rows: Vec<(String, String, i64, i64, i64)> = on_pool!(self, |p, _d| {
                sqlx::query_as(
                    "SELECT id, login_type, created_at, last_used_at, expires_at \
                     FROM auth_sessions \
                     WHERE subject = $1 AND revoked_at IS NULL AND expires_at > $2 \
                     AND last_used_at >= $3 \
                     ORDER BY created_at, id",
                )
                .bind(subject)
                .bind(to_sql(now))
                .bind(to_sql(idle_since))
                .fetch_all(p)
                .await
            })?;
            Ok(rows
                .into_iter()
                .map(|(id, login_type, created, used, expires)| {
                    SessionRecord::new(
                        id,
                        login_type,
                        from_sql(created),
                        from_sql(used),
                        from_sql(expires),
                    )
                })
                .collect())
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
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) if !pool.is_closed() => self.listener.as_ref()?.subscribe(),
            #[allow(unreachable_patterns)]
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
