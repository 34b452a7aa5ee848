//! Login, password-change, registration and password-reset budgets, admitted atomically and
//! shared between instances through a [`ThrottleStore`].
//!
//! The reference server's HTTP contract says: *"Login throttling may answer 429 with
//! `Retry-After`, but not before 10 failures for one account within 15 minutes or 100 failed
//! logins per client address within a minute"*, and an attacker must not be able to lock a real
//! user out. [`LoginThrottle`] implements that, and the registration budget, as **budgets**:
//!
//! - **Per (account, address) pair.** [`ThrottleConfig::account_failures`] (10) attempts of
//!   one pair within [`ThrottleConfig::account_window`] (15 minutes); further attempts of
//!   that pair are refused until the window ends. An attacker at another address therefore
//!   never locks the real user out: only the attacker's own address is slowed down for that
//!   account.
//! - **Per address, any account.** [`ThrottleConfig::address_failures`] (100) attempts from
//!   one address within [`ThrottleConfig::address_window`] (one minute).
//! - **Password changes, per account.** The pair budget, with the account id and no address
//!   (guessing the current password through the password-change route).
//! - **Registrations, per address.** [`ThrottleConfig::registrations`] (20) registrations from
//!   one address within [`ThrottleConfig::registration_window`] (10 minutes); `0` is no limit.
//! - **Password-reset requests, per address.** [`ThrottleConfig::password_reset_requests`] (20)
//!   requests from one address within [`ThrottleConfig::password_reset_window`] (15 minutes),
//!   whether or not the email has an account; `0` is no limit.
//! - **Password-reset mails, per account.** [`ThrottleConfig::password_reset_mails`] (3) mails
//!   to one account within the same window, whoever asks; past it a request is answered as
//!   usual and no mail goes out (an inbox cannot be flooded from many addresses, and the
//!   answer says nothing); `0` is no limit.
//!
//! A refusal is a [`Throttled`] whose [`retry_after`](Throttled::retry_after) is the time until
//! the budget frees up, rounded up to whole seconds and at least one second: the value of the
//! `Retry-After` header of the 429 answer.
//!
//! # Admitted atomically, before the password is checked
//!
//! An attempt is **admitted** ([`LoginThrottle::admit_login`]) before the account is looked up
//! and the password verified: in one atomic step of the store, every budget it belongs to is
//! checked and, if all have room, charged. A refused attempt charges nothing and costs no
//! hashing. So however many attempts arrive at once, at most the budget's worth are evaluated:
//! 30 concurrent wrong passwords for one account from one address are 10 evaluations and 20
//! refusals, and the right password sent along with 149 wrong ones is not evaluated once the
//! budget is spent.
//!
//! The verdict then settles the charge ([`LoginAttempt`]): a **success** gives it back (it
//! clears the pair's count, as a success always did, and returns its one unit of the
//! address's budget, so a valid account can never be used to reset an address's budget); a
//! **failure** keeps it. An attempt that ends without a verdict (the account store failed, the
//! client went away) keeps its charge too. Charges count attempts in flight, so the budgets
//! may refuse while some of the counted attempts are still being evaluated: the contract's
//! "not before 10 failures" then holds once those complete as failures (a success gives its
//! unit back).
//!
//! # Windows
//!
//! Each budget key counts in a **fixed window that starts at its first charge**: the count
//! and the window's end are all a key holds (a few bytes, whatever the limit: a `u32::MAX`
//! budget costs what a budget of 10 costs). When the window has ended, the next charge starts
//! a new one. A refusal therefore means that `limit` attempts were charged within less than one
//! window, as the contract requires, and its `Retry-After` is the time until the window ends.
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
//! # Addresses
//!
//! The address is an `Option<IpAddr>`: the client address as the server resolves it (the peer,
//! or what a trusted proxy reported: see [`proxy`](crate::proxy)). Budgets are kept per
//! [`address_network`]: an IPv4 address counts alone (IPv4-mapped IPv6 addresses,
//! `::ffff:a.b.c.d`, count as their IPv4 address), an **IPv6 address counts as its /64**,
//! the prefix one subscriber (one host, one home network) usually gets: an attacker with a
//! /64 gets one budget, not 2⁶⁴ of them. `None` means "unknown": all requests with an unknown
//! address share **one** bucket for the address rules, and the pair rule counts the account
//! with a "no address" marker; configure the client address rather than passing `None`.
//!
//! # Stores: one budget across instances
//!
//! The counts live in a [`ThrottleStore`]: [`MemoryThrottleStore`] (the default: per process,
//! lost on restart), [`SqlStore`](crate::store::SqlStore) (the `auth_throttle` table; one
//! upsert per budget in one transaction), or [`RedisThrottleStore`] (one Lua script). With a
//! shared store, every instance charges the same counters: N instances allow the budgets once,
//! not N times. A store that cannot be reached refuses to decide: the sign-in or registration
//! answers 503 (with `Retry-After`), never an unthrottled attempt.
//!
//! # No email in throttle state
//!
//! Stores never see an email. The account part of a key is an HMAC-SHA256 (truncated to 128
//! bits) of the normalized email under a key that is random per process
//! ([`LoginThrottle::new`]) or, for shared stores, derived from a per-deployment secret
//! ([`LoginThrottle::with_store`], [`AuthManagerBuilder::throttle_secret`]) so that every
//! instance computes the same keys. Without the secret, a key cannot be linked to an email
//! even by guessing emails. Addresses are stored as their network (`192.0.2.1/32`,
//! `2001:db8::/64`).
//!
//! # Memory
//!
//! [`MemoryThrottleStore`] is bounded: each budget (pairs, addresses, password changes,
//! registrations) tracks at most [`ThrottleConfig::max_tracked`] keys of a fixed size,
//! whatever the limits. Keys whose window has ended are pruned periodically and whenever a
//! budget is full; if it is still full, the keys whose windows end soonest are evicted (a
//! sixteenth of the cap at once, so the cost stays amortized). Only an admission adds keys.
//! The SQL store deletes ended windows about once a minute; Redis expires them itself.
//!
//! [`AuthManagerBuilder::throttle_secret`]: crate::AuthManagerBuilder::throttle_secret

mod memory;
#[cfg(feature = "redis")]
mod redis_store;
/// Throttle budgets in `auth_throttle` (`ThrottleStore for SqlStore`).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::proxy::Cidr;
use crate::store::{StoreError, StoreFuture};

pub use memory::MemoryThrottleStore;
#[cfg(feature = "redis")]
pub use redis_store::RedisThrottleStore;

/// The budgets of a [`LoginThrottle`].
///
/// The defaults are the contract's: 10 attempts per (account, address) pair within 15
/// minutes, 100 per address within a minute, 20 registrations per address within 10 minutes,
/// 20 password-reset requests per address and 3 reset mails per account within 15 minutes,
/// and at most 100 000 tracked keys per budget in memory. Change a field on the default value:
///
/// ```
/// use auth_runtime::throttle::ThrottleConfig;
/// use std::time::Duration;
///
/// let mut config = ThrottleConfig::default();
/// config.account_window = Duration::from_secs(30 * 60);
/// config.registrations = 0; // no registration limit
/// assert_eq!(config.account_failures, 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleConfig {
    /// Attempts of one (account, address) pair allowed within `account_window`; more are
    /// refused. At least 1 (a 0 is raised to 1). Default 10.
    pub account_failures: u32,
    /// The window of the pair rule. Default 15 minutes.
    pub account_window: Duration,
    /// Attempts from one address (any account) allowed within `address_window`; more are
    /// refused. At least 1 (a 0 is raised to 1). Default 100.
    pub address_failures: u32,
    /// The window of the address rule. Default 60 seconds.
    pub address_window: Duration,
    /// Registrations from one address allowed within `registration_window`. **`0` is no
    /// limit.** Default 20.
    pub registrations: u32,
    /// The window of the registration rule. Default 10 minutes.
    pub registration_window: Duration,
    /// Password-reset requests from one address allowed within `password_reset_window`, for
    /// any email. **`0` is no limit.** Default 20.
    pub password_reset_requests: u32,
    /// Password-reset mails to one account within `password_reset_window`, whoever asked;
    /// more requests are answered alike but send nothing. **`0` is no limit.** Default 3.
    pub password_reset_mails: u32,
    /// The window of both password-reset rules. Default 15 minutes.
    pub password_reset_window: Duration,
    /// Keys tracked per budget at most by a [`MemoryThrottleStore`] made from this
    /// configuration. At least 1 (a 0 is raised to 1). Default 100 000.
    pub max_tracked: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            account_failures: 10,
            account_window: Duration::from_secs(15 * 60),
            address_failures: 100,
            address_window: Duration::from_secs(60),
            registrations: 20,
            registration_window: Duration::from_secs(10 * 60),
            password_reset_requests: 20,
            password_reset_mails: 3,
            password_reset_window: Duration::from_secs(15 * 60),
            max_tracked: 100_000,
        }
    }
}

impl ThrottleConfig {
    /// The configuration with every limit (but those where `0` is no limit) raised to at least
    /// 1.
    fn fixed_up(mut self) -> Self {
        self.account_failures = self.account_failures.max(1);
        self.address_failures = self.address_failures.max(1);
        self.max_tracked = self.max_tracked.max(1);
        self
    }
}

/// A refused attempt: answer 429 with `Retry-After` set to
/// [`retry_after`](Throttled::retry_after) in seconds.
///
/// ```
/// use auth_runtime::throttle::Throttled;
/// use std::time::Duration;
///
/// let refused = Throttled::new(Duration::from_millis(1500));
/// assert_eq!(refused.retry_after_secs(), 2); // rounded up, at least one second
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Throttled {
    /// How long until the attempt would be allowed: a whole number of seconds, at least one
    /// (rounded up, so retrying after it is never refused by the same window).
    pub retry_after: Duration,
}

impl Throttled {
    /// A refusal for `remaining`, rounded up to whole seconds, at least one.
    pub fn new(remaining: Duration) -> Self {
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
            "too many attempts; retry after {} s",
            self.retry_after_secs()
        )
    }
}

impl std::error::Error for Throttled {}

/// Why an attempt was not admitted: over budget (429), or the store could not decide (503 when
/// unreachable).
///
/// ```
/// use auth_runtime::throttle::{ThrottleError, Throttled};
/// use auth_runtime::store::StoreError;
/// use std::time::Duration;
///
/// let over = ThrottleError::Throttled(Throttled::new(Duration::from_secs(3)));
/// assert!(over.to_string().contains("retry after 3 s"));
/// let down = ThrottleError::Store(StoreError::Unavailable("refused".into()));
/// assert!(down.to_string().contains("unavailable"));
/// // The typed cause is the error's `source()`.
/// let cause = std::error::Error::source(&down).and_then(|e| e.downcast_ref::<StoreError>());
/// assert!(matches!(cause, Some(StoreError::Unavailable(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThrottleError {
    /// A budget is spent.
    Throttled(Throttled),
    /// The throttle store failed; nothing was admitted.
    Store(StoreError),
}

impl fmt::Display for ThrottleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThrottleError::Throttled(t) => write!(f, "{t}"),
            ThrottleError::Store(e) => write!(f, "throttle store: {e}"),
        }
    }
}

impl std::error::Error for ThrottleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ThrottleError::Throttled(e) => Some(e),
            ThrottleError::Store(e) => Some(e),
        }
    }
}

impl From<StoreError> for ThrottleError {
    fn from(e: StoreError) -> Self {
        ThrottleError::Store(e)
    }
}

/// The key of one budget counter in a [`ThrottleStore`]: `bucket:id`, where the bucket names
/// the budget (`login-pair`, `login-addr`, `password-change`, `register-addr`, `reset-addr`,
/// `reset-account`) and the id holds
/// no email (see the [module documentation](self)). At most a few dozen ASCII bytes.
///
/// ```
/// use auth_runtime::throttle::ThrottleKey;
///
/// let key = ThrottleKey::new("login-addr", "192.0.2.1/32");
/// assert_eq!(key.as_str(), "login-addr:192.0.2.1/32");
/// assert_eq!(key.bucket(), "login-addr");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThrottleKey(String);

impl ThrottleKey {
    /// The key `bucket:id`.
    pub fn new(bucket: &str, id: &str) -> Self {
        ThrottleKey(format!("{bucket}:{id}"))
    }

    /// The whole key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The budget it belongs to (the part before the first `:`).
    pub fn bucket(&self) -> &str {
        self.0.split_once(':').map_or(&self.0, |(b, _)| b)
    }
}

impl fmt::Display for ThrottleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One budget an attempt is charged to: at most `limit` charges of `key` per window of
/// `window`.
///
/// ```
/// use auth_runtime::throttle::{Charge, ThrottleKey};
/// use std::time::Duration;
///
/// let charge = Charge::new(ThrottleKey::new("login-addr", "192.0.2.1/32"), 100, Duration::from_secs(60));
/// assert_eq!(charge.limit, 100);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Charge {
    /// The counter.
    pub key: ThrottleKey,
    /// Charges allowed per window (at least 1).
    pub limit: u32,
    /// The window, starting at the first charge.
    pub window: Duration,
}

impl Charge {
    /// A charge of `key`; a `limit` of 0 is raised to 1, a zero `window` to one millisecond.
    pub fn new(key: ThrottleKey, limit: u32, window: Duration) -> Self {
        Charge {
            key,
            limit: limit.max(1),
            window: window.max(Duration::from_millis(1)),
        }
    }

    /// The window in whole milliseconds (at least 1, at most `i64::MAX` so that SQL can hold
    /// it).
    pub fn window_ms(&self) -> u64 {
        u64::try_from(self.window.as_millis())
            .unwrap_or(u64::MAX)
            .clamp(1, i64::MAX as u64)
    }
}

/// What [`ThrottleStore::admit`] decided (see the [`ThrottleStore`] example).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Admission {
    /// Every budget had room; each was charged once.
    Admitted,
    /// At least one budget is spent; nothing was charged. `retry_after` is the longest wait
    /// among the spent budgets.
    Refused {
        /// Until the (last) spent budget's window ends.
        retry_after: Duration,
    },
}

/// Where budget counters live (see the [module documentation](self)): the in-process
/// [`MemoryThrottleStore`], [`SqlStore`](crate::store::SqlStore) or [`RedisThrottleStore`].
///
/// Times are milliseconds since the Unix epoch, from the caller's clock; a store may use its
/// own clock instead (Redis expires keys with the server's).
///
/// ```
/// use auth_runtime::throttle::{Admission, Charge, MemoryThrottleStore, ThrottleKey, ThrottleStore};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), auth_runtime::store::StoreError> {
/// let store = MemoryThrottleStore::new(1000);
/// let charge = [Charge::new(ThrottleKey::new("demo", "k"), 2, Duration::from_secs(60))];
/// let t0 = 1_000_000;
/// assert_eq!(store.admit(&charge, t0).await?, Admission::Admitted);
/// assert_eq!(store.admit(&charge, t0 + 1).await?, Admission::Admitted);
/// // Spent until the window (started at t0) ends:
/// assert_eq!(
///     store.admit(&charge, t0 + 1000).await?,
///     Admission::Refused { retry_after: Duration::from_millis(59_000) }
/// );
/// // Giving one back makes room again.
/// store.release(&charge[0].key, t0 + 1000).await?;
/// assert_eq!(store.admit(&charge, t0 + 1000).await?, Admission::Admitted);
/// # Ok(()) }
/// ```
pub trait ThrottleStore: Send + Sync + 'static {
    /// Atomically: if every charge's key has had fewer than `limit` charges in its current
    /// window, charges each once (starting a new window of `window` from `now` for a key whose
    /// window has ended or that has none) and returns [`Admission::Admitted`]; otherwise
    /// charges nothing and returns [`Admission::Refused`] with the longest wait. Concurrent
    /// calls, from any number of processes sharing the store, never admit more than `limit`
    /// charges of a key per window.
    fn admit<'a>(&'a self, charges: &'a [Charge], now: u64) -> StoreFuture<'a, Admission>;

    /// Gives back one charge of `key` in its current window (nothing if it has none).
    fn release<'a>(&'a self, key: &'a ThrottleKey, now: u64) -> StoreFuture<'a, ()>;

    /// Forgets `key`'s count.
    fn reset<'a>(&'a self, key: &'a ThrottleKey) -> StoreFuture<'a, ()>;

    /// Deletes the counters whose window ended at or before `now`; returns how many. The
    /// [`LoginThrottle`] calls it about once a minute. The default deletes nothing, for stores
    /// that expire keys by themselves.
    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64> {
        let _ = now;
        Box::pin(async { Ok(0) })
    }

    /// Whether other processes may share the counters (then every instance must derive the
    /// same keys: see [`LoginThrottle::with_store`]). Default `true`.
    fn is_shared(&self) -> bool {
        true
    }
}

impl<T: ThrottleStore + ?Sized> ThrottleStore for Arc<T> {
    fn admit<'a>(&'a self, charges: &'a [Charge], now: u64) -> StoreFuture<'a, Admission> {
        (**self).admit(charges, now)
    }
    fn release<'a>(&'a self, key: &'a ThrottleKey, now: u64) -> StoreFuture<'a, ()> {
        (**self).release(key, now)
    }
    fn reset<'a>(&'a self, key: &'a ThrottleKey) -> StoreFuture<'a, ()> {
        (**self).reset(key)
    }
    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64> {
        (**self).purge_expired(now)
    }
    fn is_shared(&self) -> bool {
        (**self).is_shared()
    }
}

/// The network an address's budgets are kept for: the address itself for IPv4 (IPv4-mapped
/// IPv6 included), its /64 for IPv6.
///
/// ```
/// use auth_runtime::throttle::address_network;
///
/// let v4 = address_network("192.0.2.1".parse()?);
/// assert_eq!(v4.to_string(), "192.0.2.1/32");
/// let v6 = address_network("2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse()?);
/// assert_eq!(v6.to_string(), "2001:db8:1:2::/64");
/// let mapped = address_network("::ffff:192.0.2.1".parse()?);
/// assert_eq!(mapped, v4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn address_network(address: IpAddr) -> Cidr {
    let network = match address.to_canonical() {
        IpAddr::V4(v4) => return Cidr::new(IpAddr::V4(v4), 32).expect("a /32 is a network"),
        IpAddr::V6(v6) => Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX)),
    };
    Cidr::new(IpAddr::V6(network), 64).expect("the host bits are cleared")
}

const LOGIN_PAIR: &str = "login-pair";
const LOGIN_ADDRESS: &str = "login-addr";
const PASSWORD_CHANGE: &str = "password-change";
const REGISTRATION: &str = "register-addr";
const RESET_ADDRESS: &str = "reset-addr";
const RESET_ACCOUNT: &str = "reset-account";

/// How often (at most) the throttle asks its store to delete ended windows.
const PURGE_INTERVAL_MS: u64 = 60_000;

/// Admits login, password-change and registration attempts against their budgets (see the
/// [module documentation](self) for the rules), in a [`ThrottleStore`].
///
/// Cheap to clone: clones share the store and the key.
///
/// ```
/// use auth_runtime::throttle::{LoginThrottle, ThrottleConfig, ThrottleError};
/// use std::net::IpAddr;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let throttle = LoginThrottle::new(ThrottleConfig::default()); // in memory
/// let attacker: Option<IpAddr> = Some("203.0.113.7".parse().unwrap());
/// let account = "alice@example.com"; // the normalized email, whether or not it exists
///
/// for _ in 0..10 {
///     // 1. before looking the account up and verifying the password:
///     let attempt = throttle.admit_login(account, attacker).await.expect("admitted");
///     // 2. the password was wrong: the charge stays.
///     attempt.failed();
/// }
/// // The 11th attempt is refused, unevaluated:
/// let Err(ThrottleError::Throttled(refused)) = throttle.admit_login(account, attacker).await else {
///     panic!("over budget");
/// };
/// assert!(refused.retry_after_secs() > 890); // the 15-minute window
///
/// // The real user, at another address, still gets in; the success gives the charge back.
/// let real_user = Some("198.51.100.2".parse().unwrap());
/// let attempt = throttle.admit_login(account, real_user).await.expect("admitted");
/// attempt.succeeded().await;
/// # }
/// ```
#[derive(Clone)]
pub struct LoginThrottle {
    shared: Arc<Shared>,
}

struct Shared {
    config: ThrottleConfig,
    store: Arc<dyn ThrottleStore>,
    /// The HMAC key of account keys.
    key: [u8; 32],
    last_purge: AtomicU64,
}

impl LoginThrottle {
    /// A throttle with these budgets in a fresh [`MemoryThrottleStore`] (per process), keyed
    /// with a random key; limits below 1 are raised to 1 (see
    /// [`config`](LoginThrottle::config)).
    pub fn new(config: ThrottleConfig) -> Self {
        let config = config.fixed_up();
        let store = MemoryThrottleStore::new(config.max_tracked);
        LoginThrottle::build(config, Arc::new(store), rand::random())
    }

    /// A throttle with these budgets in `store`. Account keys are HMAC-SHA256 under a key
    /// derived from `secret` (any length; use at least 32 random bytes, the same on every
    /// instance sharing the store, e.g. a secret the deployment already shares: the HMAC
    /// derivation keeps it separate from its other uses).
    ///
    /// ```
    /// use auth_runtime::throttle::MemoryThrottleStore;
    /// use auth_runtime::throttle::{LoginThrottle, ThrottleConfig};
    ///
    /// let store = MemoryThrottleStore::new(10_000);
    /// let throttle = LoginThrottle::with_store(ThrottleConfig::default(), store, b"a per-deployment secret of 32+ bytes");
    /// assert_eq!(throttle.config().account_failures, 10);
    /// ```
    pub fn with_store(config: ThrottleConfig, store: impl ThrottleStore, secret: &[u8]) -> Self {
        LoginThrottle::from_arc(config, Arc::new(store), secret)
    }

    pub(crate) fn from_arc(
        config: ThrottleConfig,
        store: Arc<dyn ThrottleStore>,
        secret: &[u8],
    ) -> Self {
        let mut mac = <Hmac<Sha256>>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"auth-runtime throttle keys v1");
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        LoginThrottle::build(config.fixed_up(), store, key)
    }

    fn build(config: ThrottleConfig, store: Arc<dyn ThrottleStore>, key: [u8; 32]) -> Self {
        LoginThrottle {
            shared: Arc::new(Shared {
                config,
                store,
                key,
                last_purge: AtomicU64::new(0),
            }),
        }
    }

    /// The configuration in effect (limits raised to at least 1).
    pub fn config(&self) -> &ThrottleConfig {
        &self.shared.config
    }

    /// The store holding the counters.
    pub fn store(&self) -> &dyn ThrottleStore {
        &*self.shared.store
    }

    /// Admits a sign-in attempt for `account` (the normalized email, whether or not the
    /// account exists) from `address`, charging the pair's and the address's budgets; call it
    /// **before** looking the account up. Settle the returned [`LoginAttempt`] with the
    /// verdict.
    pub async fn admit_login(
        &self,
        account: &str,
        address: Option<IpAddr>,
    ) -> Result<LoginAttempt, ThrottleError> {
        let config = self.config();
        let address_id = address_id(address);
        let pair = ThrottleKey::new(
            LOGIN_PAIR,
            &format!("{}@{address_id}", self.account_id(account)),
        );
        let address = ThrottleKey::new(LOGIN_ADDRESS, &address_id);
        let charges = [
            Charge::new(pair, config.account_failures, config.account_window),
            Charge::new(address, config.address_failures, config.address_window),
        ];
        self.admit(&charges).await?;
        let [pair, address] = charges.map(|c| c.key);
        Ok(LoginAttempt {
            throttle: self.clone(),
            pair,
            address: Some(address),
        })
    }

    /// Admits an attempt to change the password of account `account_id` (checking its current
    /// password), charging the account's budget (the pair budget, without an address: one
    /// caller's failures must not block everyone's password changes).
    ///
    /// ```
    /// use auth_runtime::throttle::LoginThrottle;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let throttle = LoginThrottle::default();
    /// for _ in 0..10 {
    ///     throttle.admit_password_change("42").await.unwrap().failed();
    /// }
    /// assert!(throttle.admit_password_change("42").await.is_err());
    /// assert!(throttle.admit_password_change("43").await.is_ok());
    /// # }
    /// ```
    pub async fn admit_password_change(
        &self,
        account_id: &str,
    ) -> Result<LoginAttempt, ThrottleError> {
        let config = self.config();
        let key = ThrottleKey::new(PASSWORD_CHANGE, &self.account_id(account_id));
        let charges = [Charge::new(
            key,
            config.account_failures,
            config.account_window,
        )];
        self.admit(&charges).await?;
        let [charge] = charges;
        Ok(LoginAttempt {
            throttle: self.clone(),
            pair: charge.key,
            address: None,
        })
    }

    /// Admits a registration from `address` against the registration budget (nothing to do
    /// when [`ThrottleConfig::registrations`] is 0). A registration keeps its charge whatever
    /// its outcome.
    ///
    /// ```
    /// use auth_runtime::throttle::{LoginThrottle, ThrottleConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut config = ThrottleConfig::default();
    /// config.registrations = 2;
    /// let throttle = LoginThrottle::new(config);
    /// let client = Some("192.0.2.1".parse().unwrap());
    /// assert!(throttle.admit_registration(client).await.is_ok());
    /// assert!(throttle.admit_registration(client).await.is_ok());
    /// assert!(throttle.admit_registration(client).await.is_err()); // 429 for 10 minutes
    /// # }
    /// ```
    pub async fn admit_registration(&self, address: Option<IpAddr>) -> Result<(), ThrottleError> {
        let config = self.config();
        if config.registrations == 0 {
            return Ok(());
        }
        let key = ThrottleKey::new(REGISTRATION, &address_id(address));
        let charges = [Charge::new(
            key,
            config.registrations,
            config.registration_window,
        )];
        self.admit(&charges).await
    }

    /// Admits a password-reset request from `address` (whatever the email, and whether or not
    /// it has an account) against the address's budget; nothing to do when
    /// [`ThrottleConfig::password_reset_requests`] is 0. A request keeps its charge.
    ///
    /// ```
    /// use auth_runtime::throttle::{LoginThrottle, ThrottleConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut config = ThrottleConfig::default();
    /// config.password_reset_requests = 1;
    /// let throttle = LoginThrottle::new(config);
    /// let client = Some("192.0.2.1".parse().unwrap());
    /// assert!(throttle.admit_password_reset(client).await.is_ok());
    /// assert!(throttle.admit_password_reset(client).await.is_err()); // 429 for 15 minutes
    /// assert!(throttle.admit_password_reset(Some("192.0.2.2".parse().unwrap())).await.is_ok());
    /// # }
    /// ```
    pub async fn admit_password_reset(&self, address: Option<IpAddr>) -> Result<(), ThrottleError> {
        let config = self.config();
        if config.password_reset_requests == 0 {
            return Ok(());
        }
        let key = ThrottleKey::new(RESET_ADDRESS, &address_id(address));
        let charges = [Charge::new(
            key,
            config.password_reset_requests,
            config.password_reset_window,
        )];
        self.admit(&charges).await
    }

    /// Admits one password-reset mail to account `account_id` against the account's budget
    /// (nothing to do when [`ThrottleConfig::password_reset_mails`] is 0). A refusal means: send
    /// nothing, and answer the request as usual.
    ///
    /// ```
    /// use auth_runtime::throttle::LoginThrottle;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let throttle = LoginThrottle::default();
    /// for _ in 0..3 {
    ///     throttle.admit_reset_mail("42").await.unwrap();
    /// }
    /// assert!(throttle.admit_reset_mail("42").await.is_err());
    /// assert!(throttle.admit_reset_mail("43").await.is_ok());
    /// # }
    /// ```
    pub async fn admit_reset_mail(&self, account_id: &str) -> Result<(), ThrottleError> {
        let config = self.config();
        if config.password_reset_mails == 0 {
            return Ok(());
        }
        let key = ThrottleKey::new(RESET_ACCOUNT, &self.account_id(account_id));
        let charges = [Charge::new(
            key,
            config.password_reset_mails,
            config.password_reset_window,
        )];
        self.admit(&charges).await
    }

    async fn admit(&self, charges: &[Charge]) -> Result<(), ThrottleError> {
        let now = unix_ms();
        self.maybe_purge(now);
        match self.shared.store.admit(charges, now).await? {
            Admission::Admitted => Ok(()),
            Admission::Refused { retry_after } => {
                // A window started by a concurrent attempt whose clock read came after this
                // one's ends more than a window from this `now`: never ask for more than one.
                let longest = charges.iter().map(|c| c.window).max().unwrap_or_default();
                Err(ThrottleError::Throttled(Throttled::new(
                    retry_after.min(longest),
                )))
            }
        }
    }

    /// Asks the store, in the background, to delete ended windows (about once a minute).
    fn maybe_purge(&self, now: u64) {
        let last = self.shared.last_purge.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PURGE_INTERVAL_MS
            || self
                .shared
                .last_purge
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.shared.store.clone();
        runtime.spawn(async move {
            if let Err(e) = store.purge_expired(now).await {
                tracing::warn!(error = %e, "purging ended throttle windows failed");
            }
        });
    }

    /// 128 bits of HMAC-SHA256 of the account, hex.
    fn account_id(&self, account: &str) -> String {
        let mut mac =
            <Hmac<Sha256>>::new_from_slice(&self.shared.key).expect("HMAC takes any key length");
        mac.update(account.as_bytes());
        let digest = mac.finalize().into_bytes();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl Default for LoginThrottle {
    /// A throttle with the contract's budgets ([`ThrottleConfig::default`]), in memory.
    fn default() -> Self {
        LoginThrottle::new(ThrottleConfig::default())
    }
}

impl fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("config", &self.shared.config)
            .field("shared_store", &self.shared.store.is_shared())
            .finish_non_exhaustive()
    }
}

/// An admitted sign-in or password-change attempt, to settle with its verdict: dropping it (or
/// [`failed`](LoginAttempt::failed)) keeps the charge; [`succeeded`](LoginAttempt::succeeded)
/// gives it back.
///
/// ```
/// use auth_runtime::throttle::{LoginThrottle, ThrottleConfig};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut config = ThrottleConfig::default();
/// config.account_failures = 1;
/// let throttle = LoginThrottle::new(config);
/// let attempt = throttle.admit_login("ann@example.com", None).await.unwrap();
/// // While it is being evaluated, the budget (1) is taken:
/// assert!(throttle.admit_login("ann@example.com", None).await.is_err());
/// attempt.succeeded().await; // the right password: the charge is given back
/// assert!(throttle.admit_login("ann@example.com", None).await.is_ok());
/// # }
/// ```
#[must_use = "settle the attempt: `succeeded().await` after a correct password, `failed()` otherwise"]
#[derive(Debug)]
pub struct LoginAttempt {
    throttle: LoginThrottle,
    pair: ThrottleKey,
    address: Option<ThrottleKey>,
}

impl LoginAttempt {
    /// The password was correct: clears the pair's (or account's) count and gives back this
    /// attempt's unit of the address budget. A store failure here is logged, not returned
    /// (the sign-in itself succeeded; the charge then simply stays).
    pub async fn succeeded(self) {
        let store = &self.throttle.shared.store;
        if let Err(e) = store.reset(&self.pair).await {
            tracing::warn!(error = %e, "clearing a throttle budget after a success failed");
        }
        if let Some(address) = &self.address
            && let Err(e) = store.release(address, unix_ms()).await
        {
            tracing::warn!(error = %e, "giving back a throttle charge after a success failed");
        }
    }

    /// The password was wrong (or the account does not exist): the charge stays.
    pub fn failed(self) {}
}

/// The address part of keys: the [`address_network`], or `unknown`.
fn address_id(address: Option<IpAddr>) -> String {
    address.map_or_else(|| "unknown".to_owned(), |a| address_network(a).to_string())
}

/// Milliseconds since the Unix epoch.
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)))
    }

    fn v6(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    async fn refused(result: Result<LoginAttempt, ThrottleError>) -> Throttled {
        match result {
            Err(ThrottleError::Throttled(t)) => t,
            Ok(_) => panic!("admitted"),
            Err(e) => panic!("{e}"),
        }
    }

    async fn fail_n(t: &LoginThrottle, account: &str, address: Option<IpAddr>, n: u32) {
        for i in 0..n {
            t.admit_login(account, address)
                .await
                .unwrap_or_else(|e| panic!("attempt {i}: {e}"))
                .failed();
        }
    }

    #[tokio::test]
    async fn throttle_pair_refuses_the_11th_attempt() {
        let t = LoginThrottle::default();
        fail_n(&t, "alice", ip(1), 10).await;
        let r = refused(t.admit_login("alice", ip(1)).await).await;
        assert!(r.retry_after > Duration::from_secs(890), "{r:?}");
        assert!(r.retry_after <= Duration::from_secs(900), "{r:?}");
        // Not the real user elsewhere, not another account, not an unknown address.
        t.admit_login("alice", ip(2)).await.unwrap().failed();
        t.admit_login("bob", ip(1)).await.unwrap().failed();
        t.admit_login("alice", None).await.unwrap().failed();
    }

    #[tokio::test]
    async fn throttle_address_refuses_after_100_attempts() {
        let t = LoginThrottle::default();
        for i in 0..100 {
            t.admit_login(&format!("user{i}"), ip(9))
                .await
                .unwrap()
                .failed();
        }
        let r = refused(t.admit_login("someone", ip(9)).await).await;
        assert!(r.retry_after <= Duration::from_secs(60), "{r:?}");
        t.admit_login("someone", ip(10)).await.unwrap().failed();
    }

    #[tokio::test]
    async fn throttle_success_gives_the_charge_back() {
        let t = LoginThrottle::default();
        fail_n(&t, "alice", ip(1), 9).await;
        t.admit_login("alice", ip(1))
            .await
            .unwrap()
            .succeeded()
            .await;
        // The pair is cleared: ten more.
        fail_n(&t, "alice", ip(1), 10).await;
        refused(t.admit_login("alice", ip(1)).await).await;

        // A success returns its own unit of the address budget, no more: 99 failures and
        // any number of successes, then one more failure spends it.
        let t = LoginThrottle::default();
        for i in 0..99 {
            t.admit_login(&format!("u{i}"), ip(1))
                .await
                .unwrap()
                .failed();
        }
        for _ in 0..5 {
            t.admit_login("mallory", ip(1))
                .await
                .unwrap()
                .succeeded()
                .await;
        }
        t.admit_login("mallory", ip(1)).await.unwrap().failed();
        refused(t.admit_login("mallory", ip(1)).await).await;
        refused(t.admit_login("other", ip(1)).await).await;
    }

    #[tokio::test]
    async fn throttle_ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let t = LoginThrottle::default();
        for i in 0..10u32 {
            let address = v6(&format!("2001:db8:1:2::{:x}", i + 1));
            t.admit_login("alice", address).await.unwrap().failed();
        }
        // Another address of the same /64: the same budget.
        refused(t.admit_login("alice", v6("2001:db8:1:2:ffff::1")).await).await;
        // The neighbouring /64 is another subscriber.
        t.admit_login("alice", v6("2001:db8:1:3::1"))
            .await
            .unwrap()
            .failed();

        let t = LoginThrottle::default();
        fail_n(&t, "alice", v6("::ffff:192.0.2.1"), 10).await;
        refused(t.admit_login("alice", ip(1)).await).await;
        t.admit_login("alice", v6("::1")).await.unwrap().failed();
    }

    #[tokio::test]
    async fn throttle_registrations() {
        let mut config = ThrottleConfig {
            registrations: 3,
            ..ThrottleConfig::default()
        };
        let t = LoginThrottle::new(config.clone());
        for _ in 0..3 {
            t.admit_registration(ip(1)).await.unwrap();
        }
        let Err(ThrottleError::Throttled(r)) = t.admit_registration(ip(1)).await else {
            panic!("the 4th registration was admitted");
        };
        assert!(r.retry_after > Duration::from_secs(590), "{r:?}");
        t.admit_registration(ip(2)).await.unwrap();
        // Logins are another budget.
        t.admit_login("a", ip(1)).await.unwrap().failed();
        // 0: no limit.
        config.registrations = 0;
        let t = LoginThrottle::new(config);
        for _ in 0..1000 {
            t.admit_registration(ip(1)).await.unwrap();
        }
    }

    #[tokio::test]
    async fn throttle_password_resets() {
        let mut config = ThrottleConfig {
            password_reset_requests: 2,
            password_reset_mails: 1,
            ..ThrottleConfig::default()
        };
        let t = LoginThrottle::new(config.clone());
        t.admit_password_reset(ip(1)).await.unwrap();
        t.admit_password_reset(ip(1)).await.unwrap();
        let Err(ThrottleError::Throttled(r)) = t.admit_password_reset(ip(1)).await else {
            panic!("the 3rd request was admitted");
        };
        assert!(r.retry_after > Duration::from_secs(890), "{r:?}");
        t.admit_password_reset(ip(2)).await.unwrap();
        // Registrations and mails are other budgets.
        t.admit_registration(ip(1)).await.unwrap();
        t.admit_reset_mail("7").await.unwrap();
        assert!(t.admit_reset_mail("7").await.is_err());
        t.admit_reset_mail("8").await.unwrap();
        // 0: no limit.
        config.password_reset_requests = 0;
        config.password_reset_mails = 0;
        let t = LoginThrottle::new(config);
        for _ in 0..100 {
            t.admit_password_reset(ip(1)).await.unwrap();
            t.admit_reset_mail("7").await.unwrap();
        }
    }

    #[tokio::test]
    async fn throttle_password_changes_are_per_account() {
        let t = LoginThrottle::default();
        for _ in 0..10 {
            t.admit_password_change("7").await.unwrap().failed();
        }
        refused(t.admit_password_change("7").await).await;
        t.admit_password_change("8").await.unwrap().failed();
        // Logins of an account with that email are not affected.
        t.admit_login("7", None).await.unwrap().failed();
    }

    #[test]
    fn throttle_keys_hold_no_email_and_agree_across_instances() {
        let a = LoginThrottle::with_store(
            ThrottleConfig::default(),
            MemoryThrottleStore::new(10),
            b"secret",
        );
        let b = LoginThrottle::with_store(
            ThrottleConfig::default(),
            MemoryThrottleStore::new(10),
            b"secret",
        );
        let c = LoginThrottle::with_store(
            ThrottleConfig::default(),
            MemoryThrottleStore::new(10),
            b"other secret",
        );
        let id = a.account_id("alice@example.com");
        assert_eq!(id.len(), 32);
        assert!(!id.contains("alice"));
        assert_eq!(id, b.account_id("alice@example.com"));
        assert_ne!(id, c.account_id("alice@example.com"));
        assert_ne!(id, a.account_id("bob@example.com"));
        // Random per process without a secret.
        assert_ne!(
            LoginThrottle::default().account_id("alice@example.com"),
            LoginThrottle::default().account_id("alice@example.com")
        );
    }

    #[test]
    fn throttle_retry_after_is_whole_seconds_and_at_least_one() {
        let secs = Duration::from_secs;
        assert_eq!(Throttled::new(Duration::ZERO).retry_after, secs(1));
        assert_eq!(Throttled::new(Duration::from_nanos(1)).retry_after, secs(1));
        assert_eq!(Throttled::new(secs(1)).retry_after, secs(1));
        assert_eq!(
            Throttled::new(Duration::from_millis(1001)).retry_after,
            secs(2)
        );
        assert_eq!(Throttled::new(Duration::MAX).retry_after, secs(u64::MAX));
    }

    #[test]
    fn throttle_zero_limits_are_raised_to_one() {
        let config = ThrottleConfig {
            account_failures: 0,
            address_failures: 0,
            max_tracked: 0,
            registrations: 0,
            ..ThrottleConfig::default()
        };
        let t = LoginThrottle::new(config);
        assert_eq!(t.config().account_failures, 1);
        assert_eq!(t.config().address_failures, 1);
        assert_eq!(t.config().max_tracked, 1);
        assert_eq!(t.config().registrations, 0);
        let c = Charge::new(ThrottleKey::new("b", "k"), 0, Duration::ZERO);
        assert_eq!((c.limit, c.window_ms()), (1, 1));
        let c = Charge::new(ThrottleKey::new("b", "k"), 1, Duration::MAX);
        assert_eq!(c.window_ms(), i64::MAX as u64);
    }

    #[test]
    fn address_networks() {
        assert_eq!(address_id(None), "unknown");
        assert_eq!(address_id(ip(1)), "192.0.2.1/32");
        assert_eq!(address_id(v6("2001:db8::1")), "2001:db8::/64");
        assert_eq!(address_id(v6("::ffff:192.0.2.1")), "192.0.2.1/32");
        assert_eq!(ThrottleKey::new("a", "b:c").bucket(), "a");
    }
}
