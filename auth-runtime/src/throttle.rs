//! Login throttling: failed-login budgets per (account, client address) pair and per address.
//!
//! The reference server's HTTP contract says: *"Login throttling may answer 429 with
//! `Retry-After`, but not before 10 failures for one account within 15 minutes or 100 failed
//! logins per client address within a minute"*, and an attacker must not be able to lock a real
//! user out for long. [`LoginThrottle`] implements that as two budgets:
//!
//! - **Per (account, address) pair.** After [`ThrottleConfig::account_failures`] (10) failures
//!   of one pair within [`ThrottleConfig::account_window`] (15 minutes), the next attempt of
//!   that pair is refused until the oldest of those failures is 15 minutes old. An attacker at
//!   another address therefore never locks the real user out: only the attacker's own address
//!   is slowed down for that account.
//! - **Per address, any account.** After [`ThrottleConfig::address_failures`] (100) failures from
//!   one address within [`ThrottleConfig::address_window`] (one minute), that address is refused
//!   (for every account) until the oldest of them is a minute old.
//!
//! A refusal is a [`Throttled`] whose [`retry_after`](Throttled::retry_after) is the time until
//! the budget frees up, rounded up to whole seconds and at least one second: the value of the
//! `Retry-After` header of the 429 answer.
//!
//! # No per-account lock
//!
//! There is deliberately **no** lock of an account across all addresses: an attacker who
//! controls many addresses could otherwise keep the real user locked out indefinitely, which
//! turns throttling into a denial of service. The price is that distributed guessing against
//! one account is not stopped outright; it is bounded by the budgets: every address gets at
//! most 10 guesses per account per 15 minutes and 100 guesses per minute overall, so the guess
//! rate grows only linearly with the number of addresses the attacker controls. Strong
//! password hashing and breached-password checks remain the defence against that.
//!
//! # Using it
//!
//! In the login handler, in this order:
//!
//! 1. [`check`](LoginThrottle::check) **before** verifying the password (and before looking the
//!    account up, so a refusal costs no hashing). On `Err(throttled)`, answer 429 with
//!    `Retry-After: throttled.retry_after.as_secs()` and do **not** record anything: a refused
//!    attempt is not a failure.
//! 2. Verify the password.
//! 3. [`record_failure`](LoginThrottle::record_failure) if it was wrong (or the account does
//!    not exist), [`record_success`](LoginThrottle::record_success) if it was right. A success
//!    clears the failures of its (account, address) pair; it does not clear the address's
//!    counter, so one valid account cannot be used to reset an address's budget.
//!
//! The account key is whatever string the caller passes: use the *normalized* email (the one
//! the account lookup uses), whether or not the account exists, so that throttling treats
//! unknown and known accounts identically and does not reveal which accounts exist. The
//! throttle keeps only a keyed hash of it (random keys per throttle), never the email itself.
//!
//! The address is an `Option<IpAddr>`: the client address as the server trusts it (the peer
//! address, or the one a trusted proxy reported). IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`)
//! are counted as their IPv4 address. `None` means "unknown": all requests with an unknown
//! address share **one** bucket for the per-address rule, and the pair rule counts the account
//! with a "no address" marker. A deployment that never knows its client addresses therefore
//! has one shared budget of 100 failures per minute for everyone; configure the client address
//! (for example behind a reverse proxy) rather than passing `None`. IPv6 addresses are counted
//! one by one, as the contract says; an attacker with a whole IPv6 prefix gets one budget per
//! address.
//!
//! # Memory
//!
//! Memory is bounded. Each tracked key holds at most `limit` timestamps (the last
//! `account_failures` failures of a pair, the last `address_failures` failures of an address),
//! and each of the two maps tracks at most [`ThrottleConfig::max_tracked`] keys, so
//! [`tracked_keys`](LoginThrottle::tracked_keys) never exceeds twice that. Entries whose
//! failures have all left their window are pruned periodically (about once per window) and
//! whenever a map is full; if a map is still full after pruning, the entries with the oldest
//! last failure are evicted (a sixteenth of the cap at once, so the cost stays amortized).
//! Only [`record_failure`](LoginThrottle::record_failure) adds entries; checks and successes
//! never do. Eviction can forget a live budget, but only once an attacker has produced more
//! recent failures for `max_tracked` other keys, which the per-address budget itself slows
//! down.
//!
//! # Per process
//!
//! Counters live in the process (one [`LoginThrottle`] per server instance; clones share
//! them). Behind a load balancer with N instances that do not share state, a client gets at
//! most N times the budgets (N × 10 failures per pair per 15 minutes, N × 100 per address per
//! minute): the contract's lower bound still holds, the protection is N times weaker. Counters
//! are lost on restart.

use std::collections::VecDeque;
use std::collections::hash_map::{HashMap, RandomState};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The budgets of a [`LoginThrottle`].
///
/// The defaults are the contract's: 10 failures per (account, address) pair within 15 minutes,
/// 100 failures per address within a minute, and at most 100 000 tracked keys per map. Change
/// a field on the default value:
///
/// ```
/// use auth_runtime::ThrottleConfig;
/// use std::time::Duration;
///
/// let mut config = ThrottleConfig::default();
/// config.account_window = Duration::from_secs(30 * 60);
/// assert_eq!(config.account_failures, 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleConfig {
    /// Failures of one (account, address) pair allowed within `account_window`; the next
    /// attempt is refused. At least 1 (a 0 is raised to 1). Default 10.
    pub account_failures: u32,
    /// The window of the pair rule. Default 15 minutes.
    pub account_window: Duration,
    /// Failures of one address (any account) allowed within `address_window`; the next attempt
    /// is refused. At least 1 (a 0 is raised to 1). Default 100.
    pub address_failures: u32,
    /// The window of the address rule. Default 60 seconds.
    pub address_window: Duration,
    /// Keys tracked per map (pairs, addresses) at most. At least 1 (a 0 is raised to 1).
    /// Default 100 000.
    pub max_tracked: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            account_failures: 10,
            account_window: Duration::from_secs(15 * 60),
            address_failures: 100,
            address_window: Duration::from_secs(60),
            max_tracked: 100_000,
        }
    }
}

impl ThrottleConfig {
    /// The configuration with every limit raised to at least 1.
    fn fixed_up(mut self) -> Self {
        self.account_failures = self.account_failures.max(1);
        self.address_failures = self.address_failures.max(1);
        self.max_tracked = self.max_tracked.max(1);
        self
    }
}

/// A refused login attempt: answer 429 with `Retry-After` set to
/// [`retry_after`](Throttled::retry_after) in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Throttled {
    /// How long until the attempt would be allowed: a whole number of seconds, at least one
    /// (rounded up, so retrying after it is never refused by the same budget).
    pub retry_after: Duration,
}

impl Throttled {
    /// Rounds `remaining` up to whole seconds, at least one.
    fn new(remaining: Duration) -> Self {
        let mut secs = remaining.as_secs();
        if remaining.subsec_nanos() > 0 {
            secs = secs.saturating_add(1);
        }
        Throttled {
            retry_after: Duration::from_secs(secs.max(1)),
        }
    }

    /// [`retry_after`](Throttled::retry_after) in seconds: the value of the `Retry-After`
    /// header.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs()
    }
}

impl fmt::Display for Throttled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "too many failed logins; retry after {} s",
            self.retry_after_secs()
        )
    }
}

impl std::error::Error for Throttled {}

/// Counts failed logins per (account, client address) pair and per client address, and
/// refuses attempts over budget (see the [module documentation](crate::throttle) for the rules).
///
/// Cheap to clone: clones share the counters (an `Arc<Mutex<…>>`; the lock is held for a few
/// map operations and never across an `.await`). Every method takes the current time, so the
/// logic is testable without sleeping; the `*_now` variants use [`Instant::now`].
///
/// ```
/// use auth_runtime::{LoginThrottle, ThrottleConfig};
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::time::{Duration, Instant};
///
/// let throttle = LoginThrottle::new(ThrottleConfig::default());
/// let attacker = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
/// let real_user = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)));
/// let account = "alice@example.com"; // the normalized email, whether or not it exists
///
/// let t0 = Instant::now();
/// for i in 0..10 {
///     let now = t0 + Duration::from_secs(i);
///     // 1. before verifying the password:
///     assert!(throttle.check(account, attacker, now).is_ok());
///     // 2. the password was wrong:
///     throttle.record_failure(account, attacker, now);
/// }
///
/// // The 11th attempt from that address is refused until the first failure is 15 minutes old:
/// let now = t0 + Duration::from_secs(10);
/// let refused = throttle.check(account, attacker, now).unwrap_err();
/// assert_eq!(refused.retry_after, Duration::from_secs(15 * 60 - 10));
/// // answer 429 with `Retry-After: {refused.retry_after_secs()}`
///
/// // The real user, at another address, still gets in:
/// assert!(throttle.check(account, real_user, now).is_ok());
/// throttle.record_success(account, real_user, now);
///
/// // And the attacker's address is allowed again once the window has passed:
/// assert!(throttle.check(account, attacker, t0 + Duration::from_secs(15 * 60)).is_ok());
/// ```
#[derive(Clone)]
pub struct LoginThrottle {
    shared: Arc<Shared>,
}

struct Shared {
    config: ThrottleConfig,
    /// Two independent keyed hashers: the account key is stored as a 128-bit keyed hash, so
    /// memory per key is fixed and no email is kept.
    hashers: [RandomState; 2],
    state: Mutex<State>,
}

struct State {
    pairs: Budget<PairKey>,
    addresses: Budget<Option<IpAddr>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct PairKey {
    account: u128,
    /// `None`: the "no address" marker.
    address: Option<IpAddr>,
}

impl LoginThrottle {
    /// A throttle with these budgets; limits below 1 are raised to 1 (see
    /// [`config`](LoginThrottle::config)).
    pub fn new(config: ThrottleConfig) -> Self {
        let config = config.fixed_up();
        let state = State {
            pairs: Budget::new(
                to_usize(config.account_failures),
                config.account_window,
                config.max_tracked,
            ),
            addresses: Budget::new(
                to_usize(config.address_failures),
                config.address_window,
                config.max_tracked,
            ),
        };
        LoginThrottle {
            shared: Arc::new(Shared {
                config,
                hashers: [RandomState::new(), RandomState::new()],
                state: Mutex::new(state),
            }),
        }
    }

    /// The configuration in effect (limits raised to at least 1).
    pub fn config(&self) -> &ThrottleConfig {
        &self.shared.config
    }

    /// Whether a login attempt for `account` from `address` may proceed; call it **before**
    /// verifying the password. `Err` when the pair's or the address's budget is spent; the
    /// `retry_after` is the longer of the two waits. Records nothing.
    pub fn check(
        &self,
        account: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Throttled> {
        let address = canonical(address);
        let pair = self.pair_key(account, address);
        let state = self.lock();
        let wait = match (
            state.pairs.refusal(&pair, now),
            state.addresses.refusal(&address, now),
        ) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        match wait {
            Some(remaining) => Err(Throttled::new(remaining)),
            None => Ok(()),
        }
    }

    /// Records a failed login (wrong password, or no such account) for `account` from
    /// `address`: it counts against the pair's and the address's budgets.
    pub fn record_failure(&self, account: &str, address: Option<IpAddr>, now: Instant) {
        let address = canonical(address);
        let pair = self.pair_key(account, address);
        let mut state = self.lock();
        state.pairs.record(pair, now);
        state.addresses.record(address, now);
    }

    /// Records a successful login: clears the failures of the (account, address) pair. The
    /// address's own counter is kept.
    pub fn record_success(&self, account: &str, address: Option<IpAddr>, now: Instant) {
        let address = canonical(address);
        let pair = self.pair_key(account, address);
        let mut state = self.lock();
        state.pairs.remove(&pair);
        state.pairs.maybe_sweep(now);
        state.addresses.maybe_sweep(now);
    }

    /// [`check`](LoginThrottle::check) at [`Instant::now`].
    pub fn check_now(&self, account: &str, address: Option<IpAddr>) -> Result<(), Throttled> {
        self.check(account, address, Instant::now())
    }

    /// [`record_failure`](LoginThrottle::record_failure) at [`Instant::now`].
    pub fn record_failure_now(&self, account: &str, address: Option<IpAddr>) {
        self.record_failure(account, address, Instant::now());
    }

    /// [`record_success`](LoginThrottle::record_success) at [`Instant::now`].
    pub fn record_success_now(&self, account: &str, address: Option<IpAddr>) {
        self.record_success(account, address, Instant::now());
    }

    /// How many keys are tracked: (account, address) pairs plus addresses. At most twice
    /// [`ThrottleConfig::max_tracked`].
    pub fn tracked_keys(&self) -> usize {
        let state = self.lock();
        state.pairs.len() + state.addresses.len()
    }

    fn pair_key(&self, account: &str, address: Option<IpAddr>) -> PairKey {
        let [a, b] = &self.shared.hashers;
        let high = u128::from(a.hash_one(account));
        let low = u128::from(b.hash_one(account));
        PairKey {
            account: (high << 64) | low,
            address,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The critical sections cannot panic half-way through an update that matters; a
        // poisoned lock still holds consistent counters.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for LoginThrottle {
    /// A throttle with the contract's budgets ([`ThrottleConfig::default`]).
    fn default() -> Self {
        LoginThrottle::new(ThrottleConfig::default())
    }
}

impl fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("config", &self.shared.config)
            .field("tracked_keys", &self.tracked_keys())
            .finish_non_exhaustive()
    }
}

/// IPv4-mapped IPv6 addresses count as their IPv4 address.
fn canonical(address: Option<IpAddr>) -> Option<IpAddr> {
    address.map(|a| a.to_canonical())
}

fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// How long ago `then` was; zero if `then` is later than `now`.
fn age(now: Instant, then: Instant) -> Duration {
    now.saturating_duration_since(then)
}

/// The last failures of one key, oldest first, at most `limit` of them.
#[derive(Default)]
struct Failures {
    times: VecDeque<Instant>,
}

impl Failures {
    fn push(&mut self, now: Instant, limit: usize) {
        // Callers take `now` before taking the lock, so a concurrent failure may arrive with a
        // slightly earlier time; keep the ring ordered by never going back in time.
        let at = match self.times.back() {
            Some(&last) if last > now => last,
            _ => now,
        };
        while self.times.len() >= limit {
            self.times.pop_front();
        }
        self.times.push_back(at);
    }

    fn last(&self) -> Option<Instant> {
        self.times.back().copied()
    }

    /// Whether every failure has left the window.
    fn is_expired(&self, now: Instant, window: Duration) -> bool {
        self.last().is_none_or(|last| age(now, last) >= window)
    }

    /// How long until an attempt is allowed, or `None` if it is allowed now: refused while
    /// `limit` failures lie within the window, until the oldest of them leaves it.
    fn refusal(&self, now: Instant, window: Duration, limit: usize) -> Option<Duration> {
        if self.times.len() < limit {
            return None;
        }
        let oldest = *self.times.front()?;
        let age = age(now, oldest);
        (age < window).then(|| window - age)
    }
}

/// One budget (pairs or addresses): failures per key within a window, at most `cap` keys.
struct Budget<K> {
    entries: HashMap<K, Failures>,
    limit: usize,
    window: Duration,
    cap: usize,
    last_sweep: Option<Instant>,
}

impl<K: Eq + Hash> Budget<K> {
    fn new(limit: usize, window: Duration, cap: usize) -> Self {
        Budget {
            entries: HashMap::new(),
            limit,
            window,
            cap,
            last_sweep: None,
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn refusal(&self, key: &K, now: Instant) -> Option<Duration> {
        self.entries.get(key)?.refusal(now, self.window, self.limit)
    }

    fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    fn record(&mut self, key: K, now: Instant) {
        self.maybe_sweep(now);
        if let Some(failures) = self.entries.get_mut(&key) {
            failures.push(now, self.limit);
            return;
        }
        if self.entries.len() >= self.cap {
            self.make_room(now);
        }
        self.entries.entry(key).or_default().push(now, self.limit);
    }

    /// Prunes expired entries about once per window (at least a second apart).
    fn maybe_sweep(&mut self, now: Instant) {
        match self.last_sweep {
            None => self.last_sweep = Some(now),
            Some(last) if age(now, last) >= self.window.max(Duration::from_secs(1)) => {
                self.sweep(now);
            }
            Some(_) => {}
        }
    }

    fn sweep(&mut self, now: Instant) {
        let window = self.window;
        self.entries.retain(|_, f| !f.is_expired(now, window));
        self.last_sweep = Some(now);
        // Give memory back after a burst.
        if self.entries.capacity() > 64 && self.entries.len() * 4 < self.entries.capacity() {
            self.entries.shrink_to(self.entries.len() * 2);
        }
    }

    /// Called when the map is full: prunes expired entries, then, if it is still fuller than
    /// `cap - cap / 16`, evicts the entries with the oldest last failure down to that size.
    fn make_room(&mut self, now: Instant) {
        self.sweep(now);
        let keep = self.cap - (self.cap / 16).max(1);
        let excess = self.entries.len().saturating_sub(keep);
        if excess == 0 {
            return;
        }
        let mut lasts: Vec<Instant> = self.entries.values().filter_map(Failures::last).collect();
        if lasts.len() < excess {
            // Cannot happen (sweeping removed every empty entry); keep the bound anyway.
            self.entries.clear();
            return;
        }
        // The `excess`-th oldest last failure: evict everything older, then ties until done.
        let (_, &mut threshold, _) = lasts.select_nth_unstable(excess - 1);
        let mut to_evict = excess;
        self.entries.retain(|_, f| match f.last() {
            Some(last) if last < threshold => {
                to_evict -= 1;
                false
            }
            _ => true,
        });
        self.entries.retain(|_, f| {
            if to_evict > 0 && f.last() == Some(threshold) {
                to_evict -= 1;
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const MIN: Duration = Duration::from_secs(60);

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)))
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn fail_n(t: &LoginThrottle, account: &str, address: Option<IpAddr>, start: Instant, n: u64) {
        for i in 0..n {
            t.record_failure(account, address, start + secs(i));
        }
    }

    #[test]
    fn throttle_pair_refuses_the_11th_attempt_until_the_window_passes() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        // Failures at t0, t0+1s, ..., t0+9s.
        fail_n(&t, "alice", ip(1), t0, 9);
        assert_eq!(t.check("alice", ip(1), t0 + secs(9)), Ok(()));
        t.record_failure("alice", ip(1), t0 + secs(9));

        let refused = t.check("alice", ip(1), t0 + secs(10)).unwrap_err();
        assert_eq!(refused.retry_after, 15 * MIN - secs(10));
        assert_eq!(refused.retry_after_secs(), 890);
        // Later in the window, the wait shrinks accordingly.
        let refused = t.check("alice", ip(1), t0 + 10 * MIN).unwrap_err();
        assert_eq!(refused.retry_after, 5 * MIN);
        // Just before the oldest failure is 15 minutes old: still refused, one second.
        let refused = t
            .check("alice", ip(1), t0 + 15 * MIN - Duration::from_millis(1))
            .unwrap_err();
        assert_eq!(refused.retry_after, secs(1));
        // When it is: allowed (one slot free), and the next failure refuses again until the
        // second oldest is 15 minutes old.
        assert_eq!(t.check("alice", ip(1), t0 + 15 * MIN), Ok(()));
        t.record_failure("alice", ip(1), t0 + 15 * MIN);
        let refused = t.check("alice", ip(1), t0 + 15 * MIN).unwrap_err();
        assert_eq!(refused.retry_after, secs(1));
        assert_eq!(t.check("alice", ip(1), t0 + 15 * MIN + secs(1)), Ok(()));
    }

    #[test]
    fn throttle_pair_nine_failures_are_allowed() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        fail_n(&t, "alice", ip(1), t0, 9);
        assert_eq!(t.check("alice", ip(1), t0 + secs(9)), Ok(()));
        // Failures outside the window do not count.
        let t = LoginThrottle::default();
        t.record_failure("alice", ip(1), t0);
        fail_n(&t, "alice", ip(1), t0 + 15 * MIN, 9);
        assert_eq!(t.check("alice", ip(1), t0 + 15 * MIN + secs(9)), Ok(()));
    }

    #[test]
    fn throttle_pair_lock_does_not_affect_other_addresses_or_accounts() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        fail_n(&t, "alice", ip(66), t0, 10);
        let now = t0 + secs(10);
        assert!(t.check("alice", ip(66), now).is_err());
        // The real user at another address gets in, and so does an unknown address.
        assert_eq!(t.check("alice", ip(1), now), Ok(()));
        assert_eq!(t.check("alice", None, now), Ok(()));
        // Another account from the attacker's address is not locked by the pair rule.
        assert_eq!(t.check("bob", ip(66), now), Ok(()));
    }

    #[test]
    fn throttle_address_refuses_after_100_failures_within_a_minute() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        let at = |i: u32| t0 + Duration::from_millis(500) * i;
        // 99 failures over 99 accounts within 49 s.
        for i in 0..99 {
            t.record_failure(&format!("user{i}@example.com"), ip(9), at(i));
        }
        assert_eq!(t.check("someone@example.com", ip(9), at(99)), Ok(()));
        t.record_failure("user99@example.com", ip(9), at(99));

        // The 100th failure was at 49.5 s: refused for every account until t0 + 60 s.
        let refused = t.check("someone@example.com", ip(9), at(100)).unwrap_err();
        assert_eq!(refused.retry_after, secs(10));
        let refused = t
            .check("user0@example.com", ip(9), t0 + secs(55))
            .unwrap_err();
        assert_eq!(refused.retry_after, secs(5));
        // Fractions round up: 0.5 s left is one second.
        let refused = t
            .check("x", ip(9), t0 + MIN - Duration::from_millis(500))
            .unwrap_err();
        assert_eq!(refused.retry_after, secs(1));
        // Other addresses are not affected.
        assert_eq!(t.check("someone@example.com", ip(10), at(100)), Ok(()));
        // After a minute, allowed again.
        assert_eq!(t.check("someone@example.com", ip(9), t0 + MIN), Ok(()));
    }

    #[test]
    fn throttle_takes_the_longer_wait_of_both_rules() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        fail_n(&t, "alice", ip(1), t0, 10);
        for i in 0..90 {
            t.record_failure(&format!("u{i}"), ip(1), t0 + secs(10));
        }
        let refused = t.check("alice", ip(1), t0 + secs(20)).unwrap_err();
        assert_eq!(refused.retry_after, 15 * MIN - secs(20));
        let refused = t.check("bob", ip(1), t0 + secs(20)).unwrap_err();
        assert_eq!(refused.retry_after, secs(40));
    }

    #[test]
    fn throttle_success_clears_the_pair_but_not_the_address() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        fail_n(&t, "alice", ip(1), t0, 9);
        t.record_success("alice", ip(1), t0 + secs(9));
        fail_n(&t, "alice", ip(1), t0 + secs(10), 9);
        assert_eq!(t.check("alice", ip(1), t0 + secs(19)), Ok(()));

        // The address counter survives a success.
        let t = LoginThrottle::default();
        for i in 0..99 {
            t.record_failure(&format!("u{i}"), ip(1), t0);
        }
        t.record_success("mallory", ip(1), t0);
        t.record_failure("mallory", ip(1), t0);
        assert!(t.check("mallory", ip(1), t0 + secs(1)).is_err());
        t.record_success("mallory", ip(1), t0 + secs(1));
        assert!(t.check("mallory", ip(1), t0 + secs(1)).is_err());
    }

    #[test]
    fn throttle_success_of_a_locked_pair_clears_it() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        fail_n(&t, "alice", ip(1), t0, 10);
        assert!(t.check("alice", ip(1), t0 + secs(10)).is_err());
        t.record_success("alice", ip(1), t0 + secs(10));
        assert_eq!(t.check("alice", ip(1), t0 + secs(10)), Ok(()));
    }

    #[test]
    fn throttle_none_address_shares_one_bucket() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        fail_n(&t, "alice", None, t0, 10);
        let refused = t.check("alice", None, t0 + secs(10)).unwrap_err();
        assert_eq!(refused.retry_after, 15 * MIN - secs(10));
        // The "no address" pair is its own pair: known addresses are not affected.
        assert_eq!(t.check("alice", ip(1), t0 + secs(10)), Ok(()));
        assert_eq!(t.check("bob", None, t0 + secs(10)), Ok(()));
        // All unknown-address failures share the address bucket.
        for i in 0..90 {
            t.record_failure(&format!("u{i}"), None, t0 + secs(10));
        }
        let refused = t.check("bob", None, t0 + secs(10)).unwrap_err();
        assert_eq!(refused.retry_after, secs(50));
        assert_eq!(t.check("bob", ip(1), t0 + secs(10)), Ok(()));
        assert_eq!(t.check("bob", None, t0 + MIN), Ok(()));
    }

    #[test]
    fn throttle_ipv4_mapped_ipv6_counts_as_ipv4() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        let mapped = Some(IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped()));
        fail_n(&t, "alice", mapped, t0, 10);
        assert!(t.check("alice", ip(1), t0 + secs(10)).is_err());
        let other_v6 = Some(IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(t.check("alice", other_v6, t0 + secs(10)), Ok(()));
    }

    #[test]
    fn throttle_retry_after_is_whole_seconds_and_at_least_one() {
        assert_eq!(Throttled::new(Duration::ZERO).retry_after, secs(1));
        assert_eq!(Throttled::new(Duration::from_nanos(1)).retry_after, secs(1));
        assert_eq!(Throttled::new(secs(1)).retry_after, secs(1));
        assert_eq!(
            Throttled::new(Duration::from_millis(1001)).retry_after,
            secs(2)
        );
        assert_eq!(Throttled::new(secs(890)).retry_after, secs(890));
        assert_eq!(Throttled::new(Duration::MAX).retry_after, secs(u64::MAX));

        let t = LoginThrottle::default();
        let t0 = Instant::now();
        fail_n(&t, "alice", ip(1), t0, 10);
        let mut now = t0 + secs(10);
        while now < t0 + 15 * MIN {
            let refused = t.check("alice", ip(1), now).unwrap_err();
            assert!(refused.retry_after >= secs(1));
            assert_eq!(refused.retry_after.subsec_nanos(), 0);
            // Retrying after exactly `retry_after` is allowed.
            assert_eq!(t.check("alice", ip(1), now + refused.retry_after), Ok(()));
            now += Duration::from_millis(7_919);
        }
        assert_eq!(
            t.check("alice", ip(1), now).map_err(|e| e.to_string()),
            Ok(())
        );
    }

    #[test]
    fn throttle_zero_limits_are_raised_to_one() {
        let config = ThrottleConfig {
            account_failures: 0,
            address_failures: 0,
            max_tracked: 0,
            ..ThrottleConfig::default()
        };
        let t = LoginThrottle::new(config);
        assert_eq!(t.config().account_failures, 1);
        assert_eq!(t.config().address_failures, 1);
        assert_eq!(t.config().max_tracked, 1);
        let t0 = Instant::now();
        assert_eq!(t.check("alice", ip(1), t0), Ok(()));
        t.record_failure("alice", ip(1), t0);
        assert!(t.check("alice", ip(1), t0).is_err());
        t.record_failure("bob", ip(2), t0);
        assert!(t.tracked_keys() <= 2);
    }

    #[test]
    fn throttle_memory_is_capped() {
        let config = ThrottleConfig {
            max_tracked: 1000,
            ..ThrottleConfig::default()
        };
        let t = LoginThrottle::new(config);
        let t0 = Instant::now();
        // 10 000 accounts from one address, all within the windows (nothing expires).
        for i in 0..10_000u32 {
            let now = t0 + Duration::from_millis(u64::from(i));
            t.record_failure(&format!("user{i}@example.com"), ip(1), now);
            assert!(t.tracked_keys() <= 1001, "{} keys", t.tracked_keys());
        }
        // The most recent pairs are kept, the oldest evicted.
        let now = t0 + secs(10);
        let state = t.lock();
        let newest = t.pair_key("user9999@example.com", canonical(ip(1)));
        let oldest = t.pair_key("user0@example.com", canonical(ip(1)));
        assert!(state.pairs.entries.contains_key(&newest));
        assert!(!state.pairs.entries.contains_key(&oldest));
        drop(state);
        // The address itself is tracked (and over budget).
        assert!(t.check("user9999@example.com", ip(1), now).is_err());

        // 10 000 accounts from 10 000 addresses: each map stays within its cap.
        let t = LoginThrottle::new(t.config().clone());
        for i in 0..10_000u32 {
            let address = Some(IpAddr::V6(Ipv6Addr::from(u128::from(i) + 1)));
            t.record_failure(&format!("user{i}"), address, t0);
            assert!(t.tracked_keys() <= 2000, "{} keys", t.tracked_keys());
        }
    }

    #[test]
    fn throttle_expired_entries_are_pruned() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        // 500 pairs over 200 addresses.
        for i in 0..500u32 {
            t.record_failure(&format!("user{i}"), ip((i % 200) as u8), t0);
        }
        assert_eq!(t.tracked_keys(), 700);
        // After the address window, the address entries go at the next call...
        t.record_failure("late", ip(250), t0 + MIN);
        assert_eq!(t.tracked_keys(), 501 + 1);
        // ...and after the pair window, the pairs.
        t.record_failure("later", ip(251), t0 + 16 * MIN);
        assert_eq!(t.tracked_keys(), 2);
        // A success of an untracked pair and checks never add entries.
        t.record_success("someone", ip(1), t0 + 16 * MIN);
        for i in 0..100u32 {
            let _ = t.check(&format!("probe{i}"), ip(3), t0 + 16 * MIN);
        }
        assert_eq!(t.tracked_keys(), 2);
    }

    #[test]
    fn throttle_full_map_prunes_expired_entries_before_evicting() {
        let config = ThrottleConfig {
            max_tracked: 100,
            account_window: 10 * MIN,
            ..ThrottleConfig::default()
        };
        let t = LoginThrottle::new(config);
        let t0 = Instant::now();
        t.record_failure("first", ip(1), t0);
        for i in 0..49u32 {
            t.record_failure(&format!("old{i}"), ip(1), t0 + MIN);
        }
        // The periodic sweep at t0 + 10 min removes "first" only; the map is then filled.
        t.record_failure("trigger", ip(1), t0 + 10 * MIN);
        for i in 0..50u32 {
            t.record_failure(&format!("live{i}"), ip(1), t0 + 10 * MIN);
        }
        assert_eq!(t.lock().pairs.len(), 100);
        // At t0 + 12 min the "old" pairs have expired but no periodic sweep is due: the full
        // map prunes them instead of evicting live entries.
        t.record_failure("new", ip(1), t0 + 12 * MIN);
        assert_eq!(t.lock().pairs.len(), 52);
        let live = t.pair_key("live0", canonical(ip(1)));
        assert!(t.lock().pairs.entries.contains_key(&live));
        // Filling it with live entries evicts the oldest last failures first.
        for i in 0..60u32 {
            t.record_failure(&format!("newer{i}"), ip(1), t0 + 13 * MIN);
        }
        // (Twice: 6 entries evicted each time the map is full, among the 51 at t0 + 10 min.)
        let mut keep = vec!["new".to_owned()];
        keep.extend((0..60).map(|i| format!("newer{i}")));
        let keys: Vec<PairKey> = keep
            .iter()
            .map(|a| t.pair_key(a, canonical(ip(1))))
            .collect();
        let state = t.lock();
        assert_eq!(state.pairs.len(), 100);
        for key in &keys {
            assert!(state.pairs.entries.contains_key(key));
        }
    }

    #[test]
    fn throttle_out_of_order_times_keep_the_ring_ordered() {
        let t = LoginThrottle::default();
        let t0 = Instant::now() + secs(5);
        for i in 0..10u64 {
            // Alternate slightly earlier and later times.
            let now = if i % 2 == 0 {
                t0 + secs(i)
            } else {
                t0 + secs(i) - secs(2)
            };
            t.record_failure("alice", ip(1), now);
        }
        let refused = t.check("alice", ip(1), t0 + secs(10)).unwrap_err();
        assert_eq!(refused.retry_after, 15 * MIN - secs(10));
        // A check with a time before the failures does not panic.
        assert!(t.check("alice", ip(1), t0 - secs(5)).is_err());
    }

    #[test]
    fn throttle_clones_share_counters_and_huge_windows_do_not_panic() {
        let config = ThrottleConfig {
            account_window: Duration::MAX,
            address_window: Duration::MAX,
            ..ThrottleConfig::default()
        };
        let t = LoginThrottle::new(config);
        let clone = t.clone();
        let t0 = Instant::now();
        fail_n(&clone, "alice", ip(1), t0, 10);
        let refused = t.check("alice", ip(1), t0 + secs(10)).unwrap_err();
        assert!(refused.retry_after >= secs(1));
        assert!(format!("{t:?}").contains("tracked_keys: 2"));
        assert!(t.check_now("bob", ip(2)).is_ok());
        t.record_failure_now("bob", ip(2));
        t.record_success_now("bob", ip(2));
    }
}
