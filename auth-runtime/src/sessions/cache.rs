//! The revocation list every instance keeps in memory, refreshed from the store.
//!
//! Revocations are rare events and requests are many, so a request never queries the store:
//! it looks the token's session and subject up in this list. A background task reads new
//! revocations every poll interval (one query per instance, whatever the traffic); a revocation
//! made by this instance is applied to its own list at once, and a store that can push (PostgreSQL
//! `LISTEN/NOTIFY`, see `SessionStore::revocation_wakeups`) wakes the task as soon as another
//! instance records one; polling remains the backstop. If the list has not been refreshed
//! successfully within the staleness bound (the store is unreachable, the task stalled), the
//! next request refreshes it inline; if that fails too, it is answered 503: a stale list never
//! allows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::store::{Purged, Revocation, RevocationKind, SessionStore, StoreError};

/// How far behind the highest sequence number seen each poll reads again: a transaction that
/// took a lower sequence number but committed later (PostgreSQL sequences are not commit-ordered)
/// is still caught. Entries are idempotent, so reading one twice is harmless.
const LOOKBACK: i64 = 100;

#[derive(Default)]
struct List {
    /// When the list last matched the store.
    refreshed_at: Option<Instant>,
    /// The highest sequence number read.
    last_seq: Option<i64>,
    /// Revoked sessions → when the entry stops mattering.
    sessions: HashMap<String, u64>,
    /// Subjects → their cutoffs (tokens with `iat < cutoff` are revoked) and expiries.
    subjects: HashMap<String, Vec<(u64, u64)>>,
}

impl List {
    fn apply(&mut self, revocation: &Revocation) {
        match &revocation.kind {
            RevocationKind::Session(sid) => {
                let expiry = self.sessions.entry(sid.clone()).or_default();
                *expiry = (*expiry).max(revocation.expires_at);
            }
            RevocationKind::Subject { subject, cutoff } => {
                let cutoffs = self.subjects.entry(subject.clone()).or_default();
                if !cutoffs.contains(&(*cutoff, revocation.expires_at)) {
                    cutoffs.push((*cutoff, revocation.expires_at));
                }
            }
        }
        self.last_seq = Some(
            self.last_seq
                .map_or(revocation.seq, |s| s.max(revocation.seq)),
        );
    }

    fn prune(&mut self, now: u64) {
        self.sessions.retain(|_, expires| *expires > now);
        self.subjects.retain(|_, cutoffs| {
            cutoffs.retain(|(_, expires)| *expires > now);
            !cutoffs.is_empty()
        });
    }

    fn is_revoked(&self, sid: &str, subject: &str, iat: u64) -> bool {
        self.sessions.contains_key(sid)
            || self
                .subjects
                .get(subject)
                .is_some_and(|cutoffs| cutoffs.iter().any(|(cutoff, _)| iat < *cutoff))
    }
}

/// The revocation list and what keeps it fresh.
pub(crate) struct RevocationCache {
    list: RwLock<List>,
    /// Serializes refreshes: one query at a time, however many requests find the list stale.
    refreshing: tokio::sync::Mutex<()>,
    /// Failed refresh attempts: a request that waited for the lock while one failed shares
    /// that failure instead of queueing another attempt.
    failures: AtomicU64,
    /// Whether a background poller is running (cleared when its runtime drops it).
    poller: Mutex<bool>,
    staleness: Duration,
    poll_interval: Duration,
    purge_interval: Duration,
}

/// Why a token could not be checked.
pub(crate) enum CheckError {
    Revoked,
    Unavailable,
}

impl RevocationCache {
    pub(crate) fn new(
        staleness: Duration,
        poll_interval: Duration,
        purge_interval: Duration,
    ) -> Self {
        RevocationCache {
            list: RwLock::new(List::default()),
            refreshing: tokio::sync::Mutex::new(()),
            failures: AtomicU64::new(0),
            poller: Mutex::new(false),
            staleness,
            poll_interval,
            purge_interval,
        }
    }

    /// Whether the token (session `sid` of `subject`, issued at `iat`) is still good. Reads
    /// the in-memory list; refreshes it first only when it is older than the staleness bound.
    pub(crate) async fn check(
        self: &Arc<Self>,
        store: &Arc<dyn SessionStore>,
        sid: &str,
        subject: &str,
        iat: u64,
    ) -> Result<(), CheckError> {
        if let Some(revoked) = self.fresh_lookup(sid, subject, iat) {
            return if revoked {
                Err(CheckError::Revoked)
            } else {
                Ok(())
            };
        }
        self.ensure_poller(store);
        match self.refresh_if_stale(store).await {
            Ok(()) => match self.fresh_lookup(sid, subject, iat) {
                Some(false) => Ok(()),
                Some(true) => Err(CheckError::Revoked),
                None => Err(CheckError::Unavailable),
            },
            Err(e) => {
                tracing::warn!(error = %e, "revocation list is stale and cannot be refreshed");
                Err(CheckError::Unavailable)
            }
        }
    }

    /// `Some(revoked)` when the list is fresh; `None` when it is stale.
    fn fresh_lookup(&self, sid: &str, subject: &str, iat: u64) -> Option<bool> {
        let list = self.list.read().unwrap_or_else(|p| p.into_inner());
        let fresh = list
            .refreshed_at
            .is_some_and(|at| at.elapsed() <= self.staleness);
        fresh.then(|| list.is_revoked(sid, subject, iat))
    }

    /// Applies a revocation made by this instance at once (other instances see it at their
    /// next poll).
    pub(crate) fn apply_local(&self, kind: RevocationKind, expires_at: u64) {
        let mut list = self.list.write().unwrap_or_else(|p| p.into_inner());
        let seq = list.last_seq.unwrap_or(i64::MIN);
        list.apply(&Revocation {
            seq,
            kind,
            expires_at,
        });
    }

    async fn refresh_if_stale(&self, store: &Arc<dyn SessionStore>) -> Result<(), StoreError> {
        let seen = self.failures.load(Ordering::Acquire);
        let _one_at_a_time = self.refreshing.lock().await;
        let fresh = {
            let list = self.list.read().unwrap_or_else(|p| p.into_inner());
            list.refreshed_at
                .is_some_and(|at| at.elapsed() <= self.staleness)
        };
        if fresh {
            // Another request refreshed it while this one waited.
            return Ok(());
        }
        if self.failures.load(Ordering::Acquire) != seen {
            // An attempt failed while this request waited. Share that answer: with a hanging
            // store, queueing one more attempt per waiter would answer the n-th waiter only
            // after n timeouts.
            return Err(StoreError::Unavailable(
                "the revocation list could not be refreshed".into(),
            ));
        }
        self.refresh(store).await
    }

    /// Refreshes the list now (after this instance recorded revocations it cannot apply
    /// itself, such as "every other session of this subject").
    pub(crate) async fn refresh_now(
        &self,
        store: &Arc<dyn SessionStore>,
    ) -> Result<(), StoreError> {
        let _one_at_a_time = self.refreshing.lock().await;
        self.refresh(store).await
    }

    /// Reads the revocations recorded since the last read (and a little before it).
    async fn refresh(&self, store: &Arc<dyn SessionStore>) -> Result<(), StoreError> {
        let started = Instant::now();
        let after = {
            let list = self.list.read().unwrap_or_else(|p| p.into_inner());
            list.last_seq
                .map_or(i64::MIN, |s| s.saturating_sub(LOOKBACK))
        };
        let now = crate::clock::now();
        // A query that hangs must not hold requests past the staleness bound.
        let read = tokio::time::timeout(self.staleness, store.revocations(after, now))
            .await
            .map_err(|_| StoreError::Unavailable("reading revocations timed out".into()))
            .and_then(|read| read)
            .inspect_err(|_| {
                self.failures.fetch_add(1, Ordering::Release);
            })?;
        let mut list = self.list.write().unwrap_or_else(|p| p.into_inner());
        for revocation in &read {
            list.apply(revocation);
        }
        list.prune(now);
        // The list matches the store as of when the query started.
        if list.refreshed_at.is_none_or(|at| at < started) {
            list.refreshed_at = Some(started);
        }
        Ok(())
    }

    /// Starts the background poller unless one is running (it stops when the manager is
    /// dropped or its runtime shuts down; the next stale check starts another).
    pub(crate) fn ensure_poller(self: &Arc<Self>, store: &Arc<dyn SessionStore>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        {
            let mut running = self.poller.lock().unwrap_or_else(|p| p.into_inner());
            if *running {
                return;
            }
            *running = true;
        }
        let cache: Weak<Self> = Arc::downgrade(self);
        // Where the store can push revocations (PostgreSQL `LISTEN/NOTIFY`), a wake-up reads
        // them at once; the poll interval stays the backstop.
        let mut wakeups = store.revocation_wakeups();
        let store = Arc::downgrade(store);
        let interval = self.poll_interval;
        let purge_interval = self.purge_interval;
        let purging = runtime.clone();
        runtime.spawn(async move {
            let _running = PollerFlag(cache.clone());
            let mut next_purge = Instant::now();
            loop {
                match &mut wakeups {
                    Some(waiter) => {
                        if tokio::time::timeout(interval, waiter.woken()).await.is_ok() {
                            // Woken: let a burst of revocations arrive, read them in one go.
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                    None => tokio::time::sleep(interval).await,
                }
                let (Some(cache), Some(store)) = (cache.upgrade(), store.upgrade()) else {
                    return;
                };
                if Instant::now() >= next_purge {
                    next_purge = Instant::now() + purge_interval;
                    // In its own task: a long delete must not hold up the revocation polls.
                    purging.spawn(purge(Arc::clone(&store)));
                }
                let result = {
                    let _one_at_a_time = cache.refreshing.lock().await;
                    cache.refresh(&store).await
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "revocation poll failed");
                }
            }
        });
    }
}

/// Deletes expired sessions and revocations (see `SessionStore::purge_expired`).
async fn purge(store: Arc<dyn SessionStore>) {
    match store.purge_expired(crate::clock::now()).await {
        Ok(purged) if purged != Purged::default() => tracing::debug!(
            sessions = purged.sessions,
            revocations = purged.revocations,
            "expired sessions and revocations deleted"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "deleting expired sessions and revocations failed"),
    }
}

/// Clears the "poller running" flag when the poller task ends or is dropped.
struct PollerFlag(Weak<RevocationCache>);

impl Drop for PollerFlag {
    fn drop(&mut self) {
        if let Some(cache) = self.0.upgrade() {
            *cache.poller.lock().unwrap_or_else(|p| p.into_inner()) = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revocation(seq: i64, kind: RevocationKind, expires_at: u64) -> Revocation {
        Revocation {
            seq,
            kind,
            expires_at,
        }
    }

    #[test]
    fn list_rules() {
        let mut list = List::default();
        list.apply(&revocation(1, RevocationKind::Session("s1".into()), 100));
        list.apply(&revocation(
            2,
            RevocationKind::Subject {
                subject: "7".into(),
                cutoff: 50,
            },
            100,
        ));
        assert!(list.is_revoked("s1", "1", 10));
        assert!(!list.is_revoked("s2", "1", 10));
        assert!(list.is_revoked("s2", "7", 49));
        assert!(!list.is_revoked("s2", "7", 50));
        assert_eq!(list.last_seq, Some(2));
        list.prune(100);
        assert!(!list.is_revoked("s1", "1", 10));
        assert!(!list.is_revoked("s2", "7", 49));
        assert!(list.sessions.is_empty() && list.subjects.is_empty());
    }
}
