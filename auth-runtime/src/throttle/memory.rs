//! [`MemoryThrottleStore`]: budget counters in the process, bounded.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{Admission, Charge, ThrottleKey, ThrottleStore};
use crate::store::StoreFuture;

/// Budget counters in the process: the default store of a [`LoginThrottle`](super::LoginThrottle).
/// Not shared between processes (N instances allow N times the budgets) and lost on restart.
///
/// Memory is bounded: each bucket (budget) holds at most `max_tracked` counters of a fixed
/// size (a 128-bit keyed hash of the key, a count and the window's end), whatever the limits;
/// see the [module documentation](super) for pruning and eviction. Clones share the counters.
///
/// ```
/// use auth_runtime::throttle::{Charge, MemoryThrottleStore, ThrottleKey, ThrottleStore};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), auth_runtime::store::StoreError> {
/// let store = MemoryThrottleStore::new(100);
/// for i in 0..1000 {
///     let charge = [Charge::new(ThrottleKey::new("demo", &i.to_string()), u32::MAX, Duration::from_secs(60))];
///     store.admit(&charge, 1_000_000).await?;
/// }
/// assert!(store.tracked_keys() <= 100);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MemoryThrottleStore {
    shared: Arc<Shared>,
}

struct Shared {
    max_tracked: usize,
    /// Two independent keyed hashers: a key is stored as a 128-bit keyed hash.
    hashers: [RandomState; 2],
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Clone, Copy)]
struct Counter {
    hits: u32,
    /// Milliseconds since the Unix epoch.
    window_end: u64,
}

impl Counter {
    fn live(&self, now: u64) -> bool {
        now < self.window_end
    }
}

#[derive(Default)]
struct Bucket {
    entries: HashMap<u128, Counter>,
    last_sweep: u64,
}

impl MemoryThrottleStore {
    /// A store tracking at most `max_tracked` keys per bucket (at least 1).
    pub fn new(max_tracked: usize) -> Self {
        MemoryThrottleStore {
            shared: Arc::new(Shared {
                max_tracked: max_tracked.max(1),
                hashers: [RandomState::new(), RandomState::new()],
                buckets: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// How many keys are tracked, over all buckets.
    pub fn tracked_keys(&self) -> usize {
        self.lock().values().map(|b| b.entries.len()).sum()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Bucket>> {
        // The critical sections cannot panic half-way through an update that matters; a
        // poisoned lock still holds consistent counters.
        self.shared
            .buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn hash(&self, key: &ThrottleKey) -> u128 {
        let [a, b] = &self.shared.hashers;
        (u128::from(a.hash_one(key.as_str())) << 64) | u128::from(b.hash_one(key.as_str()))
    }

    /// The decision for `charges` at `now`, applied if admitted (synchronous: the lock is
    /// never held across an `.await`).
    pub(crate) fn admit_now(&self, charges: &[Charge], now: u64) -> Admission {
        let hashed: Vec<u128> = charges.iter().map(|c| self.hash(&c.key)).collect();
        let mut buckets = self.lock();
        let mut wait: Option<u64> = None;
        for (charge, hash) in charges.iter().zip(&hashed) {
            let counter = buckets
                .get(charge.key.bucket())
                .and_then(|b| b.entries.get(hash))
                .filter(|c| c.live(now));
            if let Some(c) = counter
                && c.hits >= charge.limit
            {
                let remaining = c.window_end - now;
                wait = Some(wait.map_or(remaining, |w| w.max(remaining)));
            }
        }
        if let Some(wait) = wait {
            return Admission::Refused {
                retry_after: Duration::from_millis(wait),
            };
        }
        for (charge, hash) in charges.iter().zip(hashed) {
            let bucket = match buckets.get_mut(charge.key.bucket()) {
                Some(b) => b,
                None => buckets.entry(charge.key.bucket().to_owned()).or_default(),
            };
            bucket.maybe_sweep(now, charge.window_ms());
            let fresh = Counter {
                hits: 1,
                window_end: now.saturating_add(charge.window_ms()),
            };
            match bucket.entries.get_mut(&hash) {
                Some(c) if c.live(now) => c.hits = c.hits.saturating_add(1),
                Some(c) => *c = fresh,
                None => {
                    if bucket.entries.len() >= self.shared.max_tracked {
                        bucket.make_room(now, self.shared.max_tracked);
                    }
                    bucket.entries.insert(hash, fresh);
                }
            }
        }
        Admission::Admitted
    }

    fn release_now(&self, key: &ThrottleKey, now: u64) {
        let hash = self.hash(key);
        let mut buckets = self.lock();
        let Some(bucket) = buckets.get_mut(key.bucket()) else {
            return;
        };
        match bucket.entries.get_mut(&hash) {
            Some(c) if c.live(now) && c.hits > 1 => c.hits -= 1,
            Some(_) => {
                bucket.entries.remove(&hash);
            }
            None => {}
        }
    }

    fn reset_now(&self, key: &ThrottleKey) {
        let hash = self.hash(key);
        if let Some(bucket) = self.lock().get_mut(key.bucket()) {
            bucket.entries.remove(&hash);
        }
    }

    fn purge_now(&self, now: u64) -> u64 {
        let mut purged = 0;
        for bucket in self.lock().values_mut() {
            let before = bucket.entries.len();
            bucket.sweep(now);
            purged += before - bucket.entries.len();
        }
        u64::try_from(purged).unwrap_or(u64::MAX)
    }
}

impl Bucket {
    /// Prunes ended windows about once per `window` (at least a second apart).
    fn maybe_sweep(&mut self, now: u64, window: u64) {
        if self.last_sweep == 0 {
            self.last_sweep = now;
        } else if now.saturating_sub(self.last_sweep) >= window.max(1000) {
            self.sweep(now);
        }
    }

    fn sweep(&mut self, now: u64) {
        self.entries.retain(|_, c| c.live(now));
        self.last_sweep = now;
        // Give memory back after a burst.
        if self.entries.capacity() > 64 && self.entries.len() * 4 < self.entries.capacity() {
            self.entries.shrink_to(self.entries.len() * 2);
        }
    }

    /// Called when the bucket is full: prunes ended windows, then, if it is still fuller than
    /// `cap - cap / 16`, evicts the counters whose windows end soonest down to that size.
    fn make_room(&mut self, now: u64, cap: usize) {
        self.sweep(now);
        let keep = cap - (cap / 16).max(1);
        let excess = self.entries.len().saturating_sub(keep);
        if excess == 0 {
            return;
        }
        let mut ends: Vec<u64> = self.entries.values().map(|c| c.window_end).collect();
        // The `excess`-th soonest end: evict everything sooner, then ties until done.
        let (_, &mut threshold, _) = ends.select_nth_unstable(excess - 1);
        let mut to_evict = excess;
        self.entries.retain(|_, c| {
            if c.window_end < threshold {
                to_evict -= 1;
                false
            } else {
                true
            }
        });
        self.entries.retain(|_, c| {
            if to_evict > 0 && c.window_end == threshold {
                to_evict -= 1;
                false
            } else {
                true
            }
        });
    }
}

impl ThrottleStore for MemoryThrottleStore {
    fn admit<'a>(&'a self, charges: &'a [Charge], now: u64) -> StoreFuture<'a, Admission> {
        let decision = self.admit_now(charges, now);
        Box::pin(async move { Ok(decision) })
    }

    fn release<'a>(&'a self, key: &'a ThrottleKey, now: u64) -> StoreFuture<'a, ()> {
        self.release_now(key, now);
        Box::pin(async { Ok(()) })
    }

    fn reset<'a>(&'a self, key: &'a ThrottleKey) -> StoreFuture<'a, ()> {
        self.reset_now(key);
        Box::pin(async { Ok(()) })
    }

    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64> {
        let purged = self.purge_now(now);
        Box::pin(async move { Ok(purged) })
    }

    fn is_shared(&self) -> bool {
        false
    }
}

impl fmt::Debug for MemoryThrottleStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryThrottleStore")
            .field("max_tracked", &self.shared.max_tracked)
            .field("tracked_keys", &self.tracked_keys())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;
    const T0: u64 = 1_700_000_000_000;

    fn charge(key: &str, limit: u32, window: u64) -> Charge {
        Charge::new(
            ThrottleKey::new("b", key),
            limit,
            Duration::from_millis(window),
        )
    }

    fn refused_for(admission: Admission) -> u64 {
        match admission {
            Admission::Refused { retry_after } => u64::try_from(retry_after.as_millis()).unwrap(),
            Admission::Admitted => panic!("admitted"),
        }
    }

    #[test]
    fn memory_fixed_window_from_the_first_charge() {
        let s = MemoryThrottleStore::new(100);
        let c = [charge("k", 3, 15 * MIN)];
        for i in 0..3 {
            assert_eq!(s.admit_now(&c, T0 + i * 1000), Admission::Admitted);
        }
        assert_eq!(refused_for(s.admit_now(&c, T0 + 10_000)), 15 * MIN - 10_000);
        assert_eq!(refused_for(s.admit_now(&c, T0 + 15 * MIN - 1)), 1);
        // The window ends: a new one, with the full budget.
        for i in 0..3 {
            assert_eq!(s.admit_now(&c, T0 + 15 * MIN + i), Admission::Admitted);
        }
        assert_eq!(refused_for(s.admit_now(&c, T0 + 15 * MIN)), 15 * MIN);
        // A time before the window does not panic.
        assert!(matches!(
            s.admit_now(&c, T0 - 5000),
            Admission::Refused { .. }
        ));
    }

    #[test]
    fn memory_all_or_nothing_with_the_longest_wait() {
        let s = MemoryThrottleStore::new(100);
        let pair = charge("pair", 10, 15 * MIN);
        let address = Charge::new(ThrottleKey::new("a", "addr"), 2, Duration::from_millis(MIN));
        let both = [pair.clone(), address.clone()];
        assert_eq!(s.admit_now(&both, T0), Admission::Admitted);
        assert_eq!(s.admit_now(&both, T0), Admission::Admitted);
        // The address is spent: nothing charged, not even the pair.
        assert_eq!(refused_for(s.admit_now(&both, T0 + 1000)), MIN - 1000);
        for _ in 0..8 {
            assert_eq!(
                s.admit_now(std::slice::from_ref(&pair), T0 + 1000),
                Admission::Admitted
            );
        }
        assert_eq!(
            refused_for(s.admit_now(std::slice::from_ref(&pair), T0 + 1000)),
            15 * MIN - 1000
        );
        // Both spent: the longer wait.
        assert_eq!(refused_for(s.admit_now(&both, T0 + 2000)), 15 * MIN - 2000);
    }

    #[test]
    fn memory_release_and_reset() {
        let s = MemoryThrottleStore::new(100);
        let c = [charge("k", 2, MIN)];
        s.admit_now(&c, T0);
        s.admit_now(&c, T0);
        assert!(matches!(s.admit_now(&c, T0), Admission::Refused { .. }));
        s.release_now(&c[0].key, T0);
        assert_eq!(s.admit_now(&c, T0), Admission::Admitted);
        s.reset_now(&c[0].key);
        assert_eq!(s.tracked_keys(), 0);
        // Releasing what is not there, or ended, does nothing.
        s.release_now(&c[0].key, T0);
        s.admit_now(&c, T0);
        s.release_now(&c[0].key, T0 + MIN);
        assert_eq!(s.tracked_keys(), 0);
    }

    #[test]
    fn memory_is_capped_per_bucket_whatever_the_limit() {
        let s = MemoryThrottleStore::new(1000);
        // One key charged 100 000 times under a u32::MAX budget: one counter.
        let c = [charge("one", u32::MAX, 15 * MIN)];
        for i in 0..100_000 {
            assert_eq!(s.admit_now(&c, T0 + i / 100), Admission::Admitted);
        }
        assert_eq!(s.tracked_keys(), 1);
        // 10 000 keys in one bucket, 10 000 in another: each bucket within its cap.
        for i in 0..10_000u64 {
            let now = T0 + i;
            s.admit_now(&[charge(&format!("k{i}"), u32::MAX, 15 * MIN)], now);
            let other = Charge::new(
                ThrottleKey::new("other", &i.to_string()),
                u32::MAX,
                Duration::from_millis(MIN),
            );
            s.admit_now(&[other], now);
            assert!(s.tracked_keys() <= 2000, "{} keys", s.tracked_keys());
        }
        // The newest are kept, the soonest-ending evicted.
        let hash = |k: &str| s.hash(&ThrottleKey::new("b", k));
        let buckets = s.lock();
        let b = &buckets["b"];
        assert!(b.entries.contains_key(&hash("k9999")));
        assert!(!b.entries.contains_key(&hash("k0")));
    }

    #[test]
    fn memory_ended_windows_are_pruned() {
        let s = MemoryThrottleStore::new(100_000);
        for i in 0..500u64 {
            s.admit_now(&[charge(&format!("k{i}"), 10, MIN)], T0);
        }
        assert_eq!(s.tracked_keys(), 500);
        // The periodic sweep (about once per window) removes them at the next admission.
        s.admit_now(&[charge("late", 10, MIN)], T0 + MIN);
        assert_eq!(s.tracked_keys(), 1);
        assert_eq!(s.purge_now(T0 + 2 * MIN), 1);
        assert_eq!(s.tracked_keys(), 0);
    }

    #[test]
    fn memory_full_bucket_prunes_before_evicting() {
        let s = MemoryThrottleStore::new(100);
        for i in 0..50u64 {
            s.admit_now(&[charge(&format!("old{i}"), 10, MIN)], T0);
        }
        for i in 0..50u64 {
            s.admit_now(&[charge(&format!("live{i}"), 10, 10 * MIN)], T0 + 1000);
        }
        assert_eq!(s.tracked_keys(), 100);
        // At T0 + 1.5 min the "old" windows have ended but no periodic sweep is due: the full
        // bucket prunes them instead of evicting live counters.
        s.admit_now(&[charge("new", 10, 10 * MIN)], T0 + 90_000);
        assert_eq!(s.tracked_keys(), 51);
    }
}
