//! [`ThrottleStore`] for [`SqlStore`]: budget counters in `auth_throttle` (migration 4), shared
//! by every instance on the database.
//!
//! An admission is one transaction: one conditional upsert per budget, in key order (so two
//! admissions sharing keys lock them in the same order and never deadlock). The upsert starts
//! a new window when there is none or it has ended, otherwise increments the count **only if
//! it is below the limit**, and returns the new count; no row back means the budget is spent,
//! and the transaction is rolled back, so nothing is charged. PostgreSQL serializes
//! concurrent upserts of one key on its row (READ COMMITTED re-evaluates the condition on the
//! latest version); SQLite serializes writers (`BEGIN IMMEDIATE`).

use super::{Admission, Charge, ThrottleKey, ThrottleStore};
use crate::store::StoreFuture;
use crate::store::sql::{SqlStore, on_pool, to_sql};
use std::time::Duration;

/// Charges one budget if it has room: `$1` key, `$2` now, `$3` window, `$4` limit (ms).
const CHARGE: &str = "INSERT INTO auth_throttle (id, hits, window_end) VALUES ($1, 1, $2 + $3) \
     ON CONFLICT (id) DO UPDATE SET \
     hits = CASE WHEN auth_throttle.window_end <= $2 THEN 1 ELSE auth_throttle.hits + 1 END, \
     window_end = CASE WHEN auth_throttle.window_end <= $2 THEN $2 + $3 \
                       ELSE auth_throttle.window_end END \
     WHERE auth_throttle.window_end <= $2 OR auth_throttle.hits < $4 \
     RETURNING hits";

/// The end of a spent budget's window: `$1` key, `$2` now, `$3` limit.
const SPENT_UNTIL: &str = "SELECT window_end FROM auth_throttle \
     WHERE id = $1 AND window_end > $2 AND hits >= $3";

impl ThrottleStore for SqlStore {
    fn admit<'a>(&'a self, charges: &'a [Charge], now: u64) -> StoreFuture<'a, Admission> {
        Box::pin(async move {
            let mut sorted: Vec<&Charge> = charges.iter().collect();
            sorted.sort_by(|a, b| a.key.cmp(&b.key));
            let now_sql = to_sql(now);
            // `now + window` must not overflow in SQL.
            let windows: Vec<i64> = sorted
                .iter()
                .map(|c| to_sql(c.window_ms()).min(i64::MAX - now_sql))
                .collect();
            let admitted = on_pool!(self, |p, d| {
                let mut tx = p.begin_with(d.begin).await?;
                for (charge, window) in sorted.iter().zip(&windows) {
                    let hits: Option<i64> = sqlx::query_scalar(CHARGE)
                        .bind(charge.key.as_str())
                        .bind(now_sql)
                        .bind(*window)
                        .bind(i64::from(charge.limit))
                        .fetch_optional(&mut *tx)
                        .await?;
                    if hits.is_none() {
                        tx.rollback().await?;
                        return Ok(false);
                    }
                }
                tx.commit().await?;
                Ok(true)
            })?;
            if admitted {
                return Ok(Admission::Admitted);
            }
            // Refused: the longest wait among the spent budgets (at least a millisecond, in
            // case a window ended in between).
            let mut wait = 1;
            for charge in &sorted {
                let end: Option<i64> = on_pool!(self, |p, _d| {
                    sqlx::query_scalar(SPENT_UNTIL)
                        .bind(charge.key.as_str())
                        .bind(now_sql)
                        .bind(i64::from(charge.limit))
                        .fetch_optional(p)
                        .await
                })?;
                if let Some(end) = end {
                    wait = wait.max(end.saturating_sub(now_sql));
                }
            }
            Ok(Admission::Refused {
                retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(1)),
            })
        })
    }

    fn release<'a>(&'a self, key: &'a ThrottleKey, now: u64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let now = to_sql(now);
            on_pool!(self, |p, _d| {
                let done = sqlx::query(
                    "UPDATE auth_throttle SET hits = hits - 1 \
                     WHERE id = $1 AND hits > 1 AND window_end > $2",
                )
                .bind(key.as_str())
                .bind(now)
                .execute(p)
                .await?;
                if done.rows_affected() == 0 {
                    // The last charge (or an ended window): the counter goes.
                    sqlx::query("DELETE FROM auth_throttle WHERE id = $1 AND hits <= 1")
                        .bind(key.as_str())
                        .execute(p)
                        .await?;
                }
                Ok(())
            })
        })
    }

    fn reset<'a>(&'a self, key: &'a ThrottleKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            on_pool!(self, |p, _d| {
                sqlx::query("DELETE FROM auth_throttle WHERE id = $1")
                    .bind(key.as_str())
                    .execute(p)
                    .await?;
                Ok(())
            })
        })
    }

    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let now = to_sql(now);
            on_pool!(self, |p, _d| {
                sqlx::query("DELETE FROM auth_throttle WHERE window_end <= $1")
                    .bind(now)
                    .execute(p)
                    .await
                    .map(|done| done.rows_affected())
            })
        })
    }
}
