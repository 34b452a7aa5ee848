//! Password hashing: argon2id PHC strings, a length policy, and a bounded pool of blocking jobs.
//!
//! Every argon2 computation runs on [`tokio::task::spawn_blocking`] while holding a permit of a
//! semaphore, so a burst of logins queues instead of starving the async workers or the blocking
//! pool.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock};

use argon2::password_hash::{
    self, Output, ParamsString, PasswordHash, PasswordHasher as _, PasswordVerifier as _,
    SaltString,
};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// OWASP's first recommendation: 19 MiB of memory, in KiB.
const DEFAULT_M_KIB: u32 = 19 * 1024;
/// OWASP's first recommendation: two passes.
const DEFAULT_T: u32 = 2;
/// OWASP's first recommendation: one lane.
const DEFAULT_P: u32 = 1;
/// With a single pass, OWASP asks for 46 MiB.
const MIN_M_KIB_ONE_PASS: u32 = 46 * 1024;
/// Salt length in bytes (the PHC recommendation).
const SALT_LEN: usize = 16;

/// How long a password may be, counted in Unicode scalar values (`str::chars`), and which
/// passwords are too common to accept.
///
/// Apart from the length, any character is accepted (NUL included), and passwords are neither
/// truncated nor normalized, so every byte of an accepted password is hashed. A password among
/// the 10,000 most common ones (compared case-insensitively, so `Password1` is refused like
/// `password1`) is refused with [`PasswordError::TooCommon`], whatever its length.
///
/// ```
/// use auth_runtime::{PasswordError, PasswordPolicy};
///
/// let policy = PasswordPolicy { min_chars: 12, ..PasswordPolicy::default() };
/// assert_eq!(policy.check("short"), Err(PasswordError::TooShort { min: 12 }));
/// assert!(policy.check("correct horse battery").is_ok());
/// // Eight characters, sixteen bytes: long enough for the default policy.
/// assert!(PasswordPolicy::default().check("éééééééé").is_ok());
/// // Long enough, but among the most common passwords.
/// assert_eq!(PasswordPolicy::default().check("Baseball1"), Err(PasswordError::TooCommon));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// The fewest characters accepted (default 8). Must be at least 1.
    pub min_chars: usize,
    /// The most characters accepted (default 128). Must be at least `min_chars`.
    pub max_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 8,
            max_chars: 128,
        }
    }
}

impl PasswordPolicy {
    /// Checks the password's length in characters, then that it is not a common password.
    ///
    /// Counting stops after `max_chars + 1` characters, so a huge input costs no more than a
    /// maximal one.
    pub fn check(&self, password: &str) -> Result<(), PasswordError> {
        self.check_length(password)?;
        if is_common_password(password) {
            return Err(PasswordError::TooCommon);
        }
        Ok(())
    }

    /// The length part of [`check`](Self::check).
    fn check_length(&self, password: &str) -> Result<(), PasswordError> {
        let chars = password
            .chars()
            .take(self.max_chars.saturating_add(1))
            .count();
        if chars > self.max_chars {
            Err(PasswordError::TooLong {
                max: self.max_chars,
            })
        } else if chars < self.min_chars {
            Err(PasswordError::TooShort {
                min: self.min_chars,
            })
        } else {
            Ok(())
        }
    }

    /// Whether the password has more than `max_chars` characters (bounded work).
    fn too_long(&self, password: &str) -> bool {
        password.chars().nth(self.max_chars).is_some()
    }
}

/// The 10,000 most common passwords, lower case, most common first (`#` lines are the file's
/// provenance and licence).
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// The longest entry of [`COMMON_PASSWORDS`] is 18 bytes; longer passwords are not looked up.
const LONGEST_COMMON_PASSWORD: usize = 32;

/// Whether `password`, lower-cased, is one of [`COMMON_PASSWORDS`].
fn is_common_password(password: &str) -> bool {
    static SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
        COMMON_PASSWORDS
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    });
    // Lower-casing can grow a string (`İ` is two code points in lower case): bound the input.
    password.len() <= LONGEST_COMMON_PASSWORD && SET.contains(password.to_lowercase().as_str())
}

#[cfg(test)]
mod common_password_tests {
    use super::*;

    #[test]
    fn common_passwords_are_refused_case_insensitively() {
        let policy = PasswordPolicy::default();
        for common in [
            "password",
            "PASSWORD",
            "Password1",
            "12345678",
            "qwertyuiop",
            "iloveyou",
            "TrustNo1",
            "baseball1",
        ] {
            assert_eq!(
                policy.check(common),
                Err(PasswordError::TooCommon),
                "{common}"
            );
        }
        for fine in [
            "correct horse battery staple",
            "Tr0ub4dor&3 wrong",
            "password with more words",
            "éééééééé",
        ] {
            assert_eq!(policy.check(fine), Ok(()), "{fine}");
        }
    }

    #[test]
    fn length_is_checked_first() {
        // "letmein" is common, but too short is the first thing to fix.
        assert_eq!(
            PasswordPolicy::default().check("letmein"),
            Err(PasswordError::TooShort { min: 8 })
        );
        let loose = PasswordPolicy {
            min_chars: 1,
            ..PasswordPolicy::default()
        };
        assert_eq!(loose.check("letmein"), Err(PasswordError::TooCommon));
        assert_eq!(loose.check("LetMeIn"), Err(PasswordError::TooCommon));
    }

    #[test]
    fn the_list_is_the_documented_one() {
        let entries: Vec<&str> = COMMON_PASSWORDS
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect();
        assert_eq!(entries.len(), 10_000);
        assert_eq!(entries[0], "123456");
        assert!(entries.iter().all(|e| !e.is_empty()
            && e.len() <= LONGEST_COMMON_PASSWORD
            && *e == e.to_lowercase()));
    }

    #[test]
    fn the_message_does_not_echo_the_password() {
        let e = PasswordPolicy::default().check("Sunshine1").unwrap_err();
        assert_eq!(e, PasswordError::TooCommon);
        assert!(!e.to_string().to_lowercase().contains("sunshine"));
        assert!(!format!("{e:?}").to_lowercase().contains("sunshine"));
    }
}

/// Why a password could not be hashed, or a hasher could not be configured.
///
/// Messages and `Debug` output never contain the password or a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordError {
    /// The password has fewer than `min` characters.
    TooShort {
        /// The policy's minimum, in characters.
        min: usize,
    },
    /// The password has more than `max` characters.
    TooLong {
        /// The policy's maximum, in characters.
        max: usize,
    },
    /// The password is one of the most common passwords (compared case-insensitively), the
    /// first ones an attacker tries.
    TooCommon,
    /// Rejected hasher configuration (weak argon2 parameters, zero concurrency, bad policy).
    InvalidConfig {
        /// What was wrong.
        reason: &'static str,
    },
    /// argon2 failed (or its blocking job panicked). No details: they could echo the input.
    Hashing,
    /// The job could not run: the runtime is shutting down (the blocking task was cancelled)
    /// or the semaphore was closed.
    Unavailable,
    /// The queue of argon2 jobs is full ([`PasswordHasher::with_queue_limit`]): the job was
    /// refused at once, without waiting. Answered 503 with `Retry-After`.
    Overloaded,
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::TooShort { min } => {
                write!(f, "the password is too short: at least {min} characters")
            }
            PasswordError::TooLong { max } => {
                write!(f, "the password is too long: at most {max} characters")
            }
            PasswordError::TooCommon => {
                f.write_str("the password is too common: choose one that is harder to guess")
            }
            PasswordError::InvalidConfig { reason } => {
                write!(f, "invalid password hasher configuration: {reason}")
            }
            PasswordError::Hashing => f.write_str("password hashing failed"),
            PasswordError::Unavailable => f.write_str("password hashing is unavailable"),
            PasswordError::Overloaded => f.write_str("too many password checks are waiting"),
        }
    }
}

impl std::error::Error for PasswordError {}

/// The outcome of [`PasswordHasher::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct PasswordCheck {
    /// The password matches the stored hash.
    pub matches: bool,
    /// The password matches but the stored hash was made with another algorithm, version,
    /// parameters (m, t, p) or output length than the hasher's current ones: call
    /// [`PasswordHasher::hash`] with the same password and store the new hash. Always `false`
    /// when `matches` is `false`.
    pub needs_rehash: bool,
}

impl PasswordCheck {
    const NO_MATCH: Self = Self {
        matches: false,
        needs_rehash: false,
    };
}

/// Hashes and verifies passwords with argon2id (v0x13) into PHC strings.
///
/// - Defaults follow OWASP: m = 19 MiB (19456 KiB), t = 2, p = 1; a [`PasswordPolicy`] of 8 to
///   128 characters; at most [`available_parallelism`](std::thread::available_parallelism)
///   argon2 jobs at once (each holds about `m` of memory while it runs).
/// - Every argon2 computation runs on [`tokio::task::spawn_blocking`] while holding a semaphore
///   permit, acquired *before* the job is spawned and released when it finishes (even if the
///   caller's future was dropped meanwhile), so waiting callers queue on the semaphore rather
///   than in the blocking pool. `hash` and `verify` must be awaited inside a Tokio runtime.
/// - Cheap to clone (an [`Arc`] inside); clones share the semaphore.
/// - Unknown accounts (`verify(pw, None)`) cost the same argon2 work as a wrong password, against
///   a dummy PHC string with the current parameters (a random salt and random output, made once
///   at construction without hashing anything, so construction is cheap).
///
/// ```
/// use auth_runtime::PasswordHasher;
///
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     // Cheap parameters to keep the example fast; use `PasswordHasher::new()` in production.
///     let hasher = PasswordHasher::insecure_for_tests(8, 1, 1);
///
///     let phc = hasher.hash("correct horse battery staple").await.unwrap();
///     assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
///
///     let check = hasher.verify("correct horse battery staple", Some(&phc)).await.unwrap();
///     assert!(check.matches && !check.needs_rehash);
///
///     let wrong = hasher.verify("Tr0ub4dor&3 wrong", Some(&phc)).await.unwrap();
///     assert!(!wrong.matches);
///
///     // An unknown account: same work, never a match.
///     let unknown = hasher.verify("correct horse battery staple", None).await.unwrap();
///     assert!(!unknown.matches);
/// });
/// ```
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    params: Params,
    policy: PasswordPolicy,
    /// A PHC string with the current parameters that no password matches.
    dummy: String,
    permits: Arc<Semaphore>,
    concurrency: usize,
    /// Jobs admitted (running or waiting for a permit): at most `queue_limit`.
    queue: Arc<Semaphore>,
    queue_limit: usize,
    /// Whether `queue_limit` was set by [`PasswordHasher::with_queue_limit`] (a later
    /// [`PasswordHasher::with_concurrency`] keeps it) rather than derived from the concurrency.
    queue_limit_set: bool,
}

/// How many argon2 jobs may wait per permit by default: with about 50 ms per job, a full queue
/// drains in under a second.
const QUEUED_PER_PERMIT: usize = 16;

/// The default queue limit for `concurrency` permits.
fn default_queue_limit(concurrency: usize) -> usize {
    concurrency
        .saturating_mul(QUEUED_PER_PERMIT)
        .min(Semaphore::MAX_PERMITS)
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (m_kib, t, p) = self.params();
        f.debug_struct("PasswordHasher")
            .field("m_kib", &m_kib)
            .field("t", &t)
            .field("p", &p)
            .field("policy", &self.inner.policy)
            .field("concurrency", &self.inner.concurrency)
            .field("queue_limit", &self.inner.queue_limit)
            .finish_non_exhaustive()
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    /// A hasher with the OWASP parameters (m = 19456 KiB, t = 2, p = 1), the default
    /// [`PasswordPolicy`] and one concurrent job per available CPU.
    pub fn new() -> Self {
        Self::with_params(DEFAULT_M_KIB, DEFAULT_T, DEFAULT_P)
            .expect("the OWASP parameters are valid")
    }

    /// A hasher with custom argon2id parameters: memory `m_kib` in KiB, `t` passes, `p` lanes.
    ///
    /// Rejects anything below OWASP's floor: `m_kib < 19456` (19 MiB), `t < 1`, `p < 1`, and
    /// `t == 1` with less than 47104 KiB (46 MiB), plus whatever argon2 itself refuses
    /// (`p > 2^24 - 1`). Raising the parameters later makes [`PasswordCheck::needs_rehash`]
    /// true for hashes made with the old ones.
    pub fn with_params(m_kib: u32, t: u32, p: u32) -> Result<Self, PasswordError> {
        let reason = if m_kib < DEFAULT_M_KIB {
            Some("memory cost below 19456 KiB (OWASP minimum)")
        } else if t < 1 {
            Some("time cost must be at least 1")
        } else if t == 1 && m_kib < MIN_M_KIB_ONE_PASS {
            Some("one pass needs at least 47104 KiB of memory (OWASP)")
        } else if p < 1 {
            Some("parallelism must be at least 1")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(PasswordError::InvalidConfig { reason });
        }
        let params = Params::new(m_kib, t, p, None).map_err(|_| PasswordError::InvalidConfig {
            reason: "argon2 rejects these parameters",
        })?;
        Ok(Self::from_params(params))
    }

    /// **For tests only: weak parameters.** A hasher with any parameters argon2 accepts
    /// (`m_kib >= 8 * p`, `t >= 1`, `p >= 1`), so test suites hash in microseconds, e.g.
    /// `insecure_for_tests(8, 1, 1)`. Never use it for real passwords.
    ///
    /// # Panics
    /// If argon2 rejects the parameters.
    #[doc(hidden)]
    pub fn insecure_for_tests(m_kib: u32, t: u32, p: u32) -> Self {
        let params = Params::new(m_kib, t, p, None).expect("argon2 accepts these parameters");
        Self::from_params(params)
    }

    fn from_params(params: Params) -> Self {
        let concurrency = std::thread::available_parallelism().map_or(1, |n| n.get());
        let dummy = dummy_phc(&params);
        Self {
            inner: Arc::new(Inner {
                params,
                policy: PasswordPolicy::default(),
                dummy,
                permits: Arc::new(Semaphore::new(concurrency)),
                concurrency,
                queue: Arc::new(Semaphore::new(default_queue_limit(concurrency))),
                queue_limit: default_queue_limit(concurrency),
                queue_limit_set: false,
            }),
        }
    }

    /// Allows at most `n` argon2 jobs at once (hash or verify); others wait for a permit.
    ///
    /// Returns a new hasher with its own semaphore (hashers cloned earlier keep the old one).
    /// Rejects `n == 0` (every call would wait forever) and `n > Semaphore::MAX_PERMITS`.
    ///
    /// The default (as many jobs as CPUs) gives the most logins per second; measured in a
    /// login storm, it keeps a cheap route's p99 near its idle value on a machine of its own
    /// (BENCHMARKS.md, "Login storm"). A small deployment that shares its CPUs and cares more
    /// about tail latency than about login throughput can leave one CPU to the async workers
    /// with `available_parallelism() - 1` (at least 1), at about 0.7× the logins per second.
    pub fn with_concurrency(self, n: usize) -> Result<Self, PasswordError> {
        if n == 0 || n > Semaphore::MAX_PERMITS {
            return Err(PasswordError::InvalidConfig {
                reason: "concurrency must be between 1 and Semaphore::MAX_PERMITS",
            });
        }
        let mut inner = Inner::clone(&self.inner);
        inner.permits = Arc::new(Semaphore::new(n));
        inner.concurrency = n;
        // A limit set explicitly stays (if the permits can still all be used); a derived one
        // follows the concurrency.
        let limit = if inner.queue_limit_set {
            if inner.queue_limit < n {
                return Err(PasswordError::InvalidConfig {
                    reason: "the queue limit must be at least the concurrency",
                });
            }
            inner.queue_limit
        } else {
            default_queue_limit(n)
        };
        inner.queue = Arc::new(Semaphore::new(limit));
        inner.queue_limit = limit;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Admits at most `n` argon2 jobs at once, running or waiting (default: 16 per
    /// [`concurrency`](Self::concurrency) permit, under a second of work at the OWASP
    /// parameters). A job beyond it fails at once with [`PasswordError::Overloaded`], which
    /// the account routes answer 503 with `Retry-After`: a flood of sign-ins or registrations
    /// is shed instead of queueing without end and delaying everyone. Rejects `n == 0` and
    /// `n` below the concurrency (permits could never all be used).
    ///
    /// ```
    /// use auth_runtime::PasswordHasher;
    ///
    /// let hasher = PasswordHasher::new().with_concurrency(2).unwrap().with_queue_limit(8).unwrap();
    /// assert_eq!(hasher.queue_limit(), 8);
    /// assert!(PasswordHasher::new().with_concurrency(2).unwrap().with_queue_limit(1).is_err());
    /// // In either order.
    /// let hasher = PasswordHasher::new().with_queue_limit(8).unwrap().with_concurrency(2).unwrap();
    /// assert_eq!(hasher.queue_limit(), 8);
    /// ```
    pub fn with_queue_limit(self, n: usize) -> Result<Self, PasswordError> {
        if n < self.inner.concurrency || n > Semaphore::MAX_PERMITS {
            return Err(PasswordError::InvalidConfig {
                reason: "the queue limit must be at least the concurrency",
            });
        }
        let mut inner = Inner::clone(&self.inner);
        inner.queue = Arc::new(Semaphore::new(n));
        inner.queue_limit = n;
        inner.queue_limit_set = true;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The most argon2 jobs admitted at once, running or waiting.
    pub fn queue_limit(&self) -> usize {
        self.inner.queue_limit
    }

    /// Replaces the length policy. Rejects `min_chars == 0` and `min_chars > max_chars`.
    pub fn with_policy(self, policy: PasswordPolicy) -> Result<Self, PasswordError> {
        if policy.min_chars == 0 || policy.min_chars > policy.max_chars {
            return Err(PasswordError::InvalidConfig {
                reason: "the policy needs 1 <= min_chars <= max_chars",
            });
        }
        let mut inner = Inner::clone(&self.inner);
        inner.policy = policy;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The argon2id parameters new hashes are made with: `(m_kib, t, p)`.
    pub fn params(&self) -> (u32, u32, u32) {
        let params = &self.inner.params;
        (params.m_cost(), params.t_cost(), params.p_cost())
    }

    /// The length policy [`hash`](Self::hash) enforces.
    pub fn policy(&self) -> PasswordPolicy {
        self.inner.policy
    }

    /// The most argon2 jobs that run at once.
    pub fn concurrency(&self) -> usize {
        self.inner.concurrency
    }

    /// How many of the [`concurrency`](Self::concurrency) permits are free right now (for
    /// tests and benchmarks).
    pub fn permits_available(&self) -> usize {
        self.inner.permits.available_permits()
    }

    /// Hashes a new password into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) with a
    /// fresh random 16-byte salt.
    ///
    /// The policy is checked first ([`PasswordError::TooShort`], [`PasswordError::TooLong`]),
    /// before waiting for a permit or hashing anything.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        self.inner.policy.check(password)?;
        self.hash_checked(password).await
    }

    /// Hashes a password already in use with the current parameters (what sign-in does when
    /// [`PasswordCheck::needs_rehash`]): the policy is not applied again, so a password set
    /// under an older or laxer policy (too short now, or among the common ones) still gets
    /// the current parameters; only the length bound holds. New passwords go through
    /// [`hash`](Self::hash).
    ///
    /// ```
    /// use auth_runtime::PasswordHasher;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let hasher = PasswordHasher::insecure_for_tests(8, 1, 1);
    /// assert!(hasher.hash("abc123").await.is_err());
    /// let phc = hasher.rehash("abc123").await.unwrap();
    /// assert!(hasher.verify("abc123", Some(&phc)).await.unwrap().matches);
    /// # }
    /// ```
    pub async fn rehash(&self, password: &str) -> Result<String, PasswordError> {
        if self.inner.policy.too_long(password) {
            return Err(PasswordError::TooLong {
                max: self.inner.policy.max_chars,
            });
        }
        self.hash_checked(password).await
    }

    async fn hash_checked(&self, password: &str) -> Result<String, PasswordError> {
        // Bounded by the policy: at most `max_chars` characters are copied.
        let password = password.to_owned();
        let inner = Arc::clone(&self.inner);
        self.run_blocking(move || inner.hash_now(password.as_bytes()))
            .await?
    }

    /// Checks `password` against a stored PHC string.
    ///
    /// Every outcome costs one argon2 computation on the blocking pool, so an unknown account,
    /// a wrong password and a right one take the same time (for hashes made with the current
    /// parameters):
    /// - `phc == None` (unknown account, or an account without a password): verified against
    ///   the dummy hash, never a match.
    /// - A stored string that is not a usable argon2 PHC string (garbage, another algorithm,
    ///   missing salt or output): the dummy work, no match, and a `tracing` warning that does
    ///   not include the string. Never a panic.
    /// - A password longer than the policy's `max_chars`: the dummy work on an empty input,
    ///   no match. It could not have been set through [`hash`](Self::hash), and hashing it
    ///   would let a caller make the server digest megabytes.
    ///
    /// The policy's `min_chars` is *not* enforced here, so raising it does not lock out
    /// accounts with older, shorter passwords.
    ///
    /// A stored hash is verified with its own parameters (that is how
    /// [`needs_rehash`](PasswordCheck::needs_rehash) upgrades work), so stored hashes are
    /// trusted input: a row with enormous parameters costs what it says.
    pub async fn verify(
        &self,
        password: &str,
        phc: Option<&str>,
    ) -> Result<PasswordCheck, PasswordError> {
        let (password, stored) = if self.inner.policy.too_long(password) {
            (String::new(), None)
        } else {
            (password.to_owned(), phc.map(str::to_owned))
        };
        let inner = Arc::clone(&self.inner);
        self.run_blocking(move || inner.verify_now(password.as_bytes(), stored.as_deref()))
            .await
    }

    /// **Not for request handlers: blocks the current thread for the whole argon2 run.**
    /// [`hash`](Self::hash) without the semaphore and without `spawn_blocking` (the policy is
    /// still checked), for benchmarks that compare the bounded pool with plain
    /// `spawn_blocking`.
    #[doc(hidden)]
    pub fn hash_blocking(&self, password: &str) -> Result<String, PasswordError> {
        self.inner.policy.check(password)?;
        self.inner.hash_now(password.as_bytes())
    }

    /// Runs `job` on the blocking pool while holding a permit, acquired before spawning and
    /// dropped when the job returns; refused at once when the queue is full.
    async fn run_blocking<T, F>(&self, job: F) -> Result<T, PasswordError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admitted = Arc::clone(&self.inner.queue)
            .try_acquire_owned()
            .map_err(|e| match e {
                tokio::sync::TryAcquireError::NoPermits => PasswordError::Overloaded,
                tokio::sync::TryAcquireError::Closed => PasswordError::Unavailable,
            })?;
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::Unavailable)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _admitted = admitted;
            job()
        })
        .await
        .map_err(|e| {
            if e.is_panic() {
                PasswordError::Hashing
            } else {
                PasswordError::Unavailable
            }
        })
    }
}

impl Inner {
    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    fn hash_now(&self, password: &[u8]) -> Result<String, PasswordError> {
        let salt = SaltString::encode_b64(&rand::random::<[u8; SALT_LEN]>())
            .map_err(|_| PasswordError::Hashing)?;
        self.argon2()
            .hash_password(password, &salt)
            .map(|hash| hash.to_string())
            .map_err(|_| PasswordError::Hashing)
    }

    fn verify_now(&self, password: &[u8], stored: Option<&str>) -> PasswordCheck {
        let Some(stored) = stored else {
            self.dummy_work(password);
            return PasswordCheck::NO_MATCH;
        };
        let hash = match PasswordHash::new(stored) {
            Ok(hash) if hash.salt.is_some() && hash.hash.is_some() => hash,
            _ => {
                tracing::warn!("stored password hash is not a PHC string; treated as no match");
                self.dummy_work(password);
                return PasswordCheck::NO_MATCH;
            }
        };
        match Argon2::default().verify_password(password, &hash) {
            Ok(()) => PasswordCheck {
                matches: true,
                needs_rehash: self.needs_rehash(&hash),
            },
            Err(password_hash::Error::Password) => PasswordCheck::NO_MATCH,
            Err(_) => {
                // Rejected before any hashing (algorithm, version or parameters argon2 does
                // not support): do the work anyway so the answer takes the usual time.
                tracing::warn!(
                    "stored password hash is not a usable argon2 hash; treated as no match"
                );
                self.dummy_work(password);
                PasswordCheck::NO_MATCH
            }
        }
    }

    fn dummy_work(&self, password: &[u8]) {
        if let Ok(dummy) = PasswordHash::new(&self.dummy) {
            // Never matches: the dummy's output is random.
            let _ = self.argon2().verify_password(password, &dummy);
        }
    }

    fn needs_rehash(&self, hash: &PasswordHash<'_>) -> bool {
        if hash.algorithm != ARGON2ID_IDENT || hash.version != Some(Version::V0x13.into()) {
            return true;
        }
        let Ok(stored) = Params::try_from(hash) else {
            return true;
        };
        let current = &self.params;
        let output_len = |p: &Params| p.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        stored.m_cost() != current.m_cost()
            || stored.t_cost() != current.t_cost()
            || stored.p_cost() != current.p_cost()
            || output_len(&stored) != output_len(current)
            || stored.keyid() != current.keyid()
            || stored.data() != current.data()
    }
}

/// A PHC string with `params`, a random salt and a random output: verifying any password
/// against it does the full argon2 work and (but for a 2^-256 chance) never matches.
fn dummy_phc(params: &Params) -> String {
    let salt =
        SaltString::encode_b64(&rand::random::<[u8; SALT_LEN]>()).expect("a 16-byte salt encodes");
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let random: [u8; 64] = rand::random();
    let output = Output::new(&random[..output_len.min(random.len())])
        .expect("argon2 output lengths are valid PHC output lengths");
    let hash = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).expect("argon2 parameters encode"),
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    hash.to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::insecure_for_tests(8, 1, 1)
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = cheap();
        let phc = hasher.hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        let check = hasher.verify("correct horse", Some(&phc)).await.unwrap();
        assert_eq!(
            check,
            PasswordCheck {
                matches: true,
                needs_rehash: false
            }
        );
        // A fresh salt each time.
        assert_ne!(phc, hasher.hash("correct horse").await.unwrap());
    }

    #[tokio::test]
    async fn wrong_password_does_not_match() {
        let hasher = cheap();
        let phc = hasher.hash("correct horse").await.unwrap();
        let check = hasher.verify("correct horsf", Some(&phc)).await.unwrap();
        assert_eq!(check, PasswordCheck::NO_MATCH);
    }

    #[tokio::test]
    async fn unknown_account_does_not_match() {
        let hasher = cheap();
        assert!(
            hasher
                .inner
                .dummy
                .starts_with("$argon2id$v=19$m=8,t=1,p=1$")
        );
        for password in ["correct horse", "", "anything at all"] {
            let check = hasher.verify(password, None).await.unwrap();
            assert_eq!(check, PasswordCheck::NO_MATCH);
        }
    }

    #[tokio::test]
    async fn policy_rejects_before_hashing() {
        // The only permit is taken: reaching the semaphore would hang until the timeout.
        let hasher = cheap().with_concurrency(1).unwrap();
        let _held = Arc::clone(&hasher.inner.permits)
            .acquire_owned()
            .await
            .unwrap();
        let quick = |fut| tokio::time::timeout(Duration::from_secs(5), fut);
        assert_eq!(
            quick(hasher.hash("short")).await.unwrap(),
            Err(PasswordError::TooShort { min: 8 })
        );
        let long = "a".repeat(129);
        assert_eq!(
            quick(hasher.hash(&long)).await.unwrap(),
            Err(PasswordError::TooLong { max: 128 })
        );
        assert_eq!(
            hasher.hash_blocking("short"),
            Err(PasswordError::TooShort { min: 8 })
        );
        assert!(hasher.hash_blocking(&"a".repeat(128)).is_ok());
    }

    #[tokio::test]
    async fn unicode_lengths_count_characters() {
        let hasher = cheap();
        let eight = "é日本語🦀ñüß"; // 8 characters, 19 bytes
        assert_eq!(eight.chars().count(), 8);
        let phc = hasher.hash(eight).await.unwrap();
        assert!(hasher.verify(eight, Some(&phc)).await.unwrap().matches);
        let seven: String = eight.chars().take(7).collect();
        assert!(seven.len() >= 8, "seven characters, more than eight bytes");
        assert_eq!(
            hasher.hash(&seven).await,
            Err(PasswordError::TooShort { min: 8 })
        );
        // 128 four-byte characters are fine; 129 are not.
        assert!(hasher.hash(&"🦀".repeat(128)).await.is_ok());
        assert_eq!(
            hasher.hash(&"🦀".repeat(129)).await,
            Err(PasswordError::TooLong { max: 128 })
        );
    }

    #[tokio::test]
    async fn no_truncation() {
        let hasher = cheap();
        // Equal in their first 100 bytes (bcrypt stops at 72).
        let prefix = "x".repeat(100);
        let (a, b) = (format!("{prefix}a"), format!("{prefix}b"));
        let phc = hasher.hash(&a).await.unwrap();
        assert!(hasher.verify(&a, Some(&phc)).await.unwrap().matches);
        assert!(!hasher.verify(&b, Some(&phc)).await.unwrap().matches);
        // Equal in their first 70 characters (140 bytes).
        let prefix = "é".repeat(70);
        let (a, b) = (format!("{prefix}é"), format!("{prefix}e"));
        let phc = hasher.hash(&a).await.unwrap();
        assert!(!hasher.verify(&b, Some(&phc)).await.unwrap().matches);
    }

    #[tokio::test]
    async fn too_long_never_matches_in_verify() {
        let hasher = cheap()
            .with_policy(PasswordPolicy {
                min_chars: 8,
                max_chars: 16,
            })
            .unwrap();
        let long = "a".repeat(17);
        // A hash of the long password made under a looser policy.
        let phc = cheap().hash(&long).await.unwrap();
        assert_eq!(
            hasher.verify(&long, Some(&phc)).await.unwrap(),
            PasswordCheck::NO_MATCH
        );
        let huge = "a".repeat(10 << 20);
        assert_eq!(
            hasher.verify(&huge, None).await.unwrap(),
            PasswordCheck::NO_MATCH
        );
        // Shorter than the minimum still verifies (older, looser policy).
        let short = cheap()
            .with_policy(PasswordPolicy {
                min_chars: 1,
                max_chars: 16,
            })
            .unwrap()
            .hash("abc")
            .await
            .unwrap();
        assert!(hasher.verify("abc", Some(&short)).await.unwrap().matches);
    }

    #[tokio::test]
    async fn needs_rehash_when_params_change() {
        let old = PasswordHasher::insecure_for_tests(8, 1, 1);
        let new = PasswordHasher::insecure_for_tests(16, 1, 1);
        let phc = old.hash("correct horse").await.unwrap();
        let check = new.verify("correct horse", Some(&phc)).await.unwrap();
        assert_eq!(
            check,
            PasswordCheck {
                matches: true,
                needs_rehash: true
            }
        );
        // A wrong password never asks for a rehash.
        assert_eq!(
            new.verify("wrong horse", Some(&phc)).await.unwrap(),
            PasswordCheck::NO_MATCH
        );
        for other in [(8, 2, 1), (16, 1, 2)] {
            let h = PasswordHasher::insecure_for_tests(other.0, other.1, other.2);
            let check = h.verify("correct horse", Some(&phc)).await.unwrap();
            assert!(check.matches && check.needs_rehash, "{other:?}");
        }
        let fresh = new.hash("correct horse").await.unwrap();
        assert!(
            !new.verify("correct horse", Some(&fresh))
                .await
                .unwrap()
                .needs_rehash
        );

        // argon2i, same parameters: verifies, but should be upgraded to argon2id.
        let salt = SaltString::encode_b64(&[7; 16]).unwrap();
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse", &salt)
        .unwrap()
        .to_string();
        let check = old.verify("correct horse", Some(&argon2i)).await.unwrap();
        assert!(check.matches && check.needs_rehash);
    }

    #[tokio::test]
    async fn garbage_stored_hash_does_not_match() {
        let hasher = cheap();
        let good = hasher.hash("correct horse").await.unwrap();
        let no_output = good.rsplit_once('$').unwrap().0.to_owned();
        let bcrypt = "$2b$12$GhvMmNVjRW29ulnudl.LbuAnUtN/LRfe1JsBm1Xu6LE3059z5Tr8m";
        for stored in [
            "",
            "garbage",
            "$",
            "$argon2id$",
            "$argon2id$v=19$m=8,t=1,p=1$$",
            "$argon2id$v=99$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$x=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$scrypt$ln=4,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            bcrypt,
            &no_output,
            &good[..good.len() - 3],
        ] {
            let check = hasher.verify("correct horse", Some(stored)).await.unwrap();
            assert_eq!(check, PasswordCheck::NO_MATCH, "{stored:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrency_is_bounded() {
        let hasher = cheap().with_concurrency(2).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..8)
            .map(|_| {
                let (hasher, running, peak) = (hasher.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    hasher
                        .run_blocking(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(hasher.permits_available(), 2);
    }

    #[tokio::test]
    async fn concurrent_hashes_with_one_permit_complete() {
        let hasher = cheap().with_concurrency(1).unwrap();
        assert_eq!(hasher.concurrency(), 1);
        let jobs: Vec<_> = (0..4)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(async move {
                    let password = format!("password {i}");
                    let phc = hasher.hash(&password).await.unwrap();
                    assert!(hasher.permits_available() <= 1);
                    hasher.verify(&password, Some(&phc)).await.unwrap()
                })
            })
            .collect();
        for job in jobs {
            assert!(job.await.unwrap().matches);
        }
        assert_eq!(hasher.permits_available(), 1);
    }

    #[test]
    fn configuration_is_validated() {
        let invalid = |r: Result<PasswordHasher, PasswordError>| {
            matches!(r, Err(PasswordError::InvalidConfig { .. }))
        };
        assert!(invalid(PasswordHasher::with_params(19455, 2, 1)));
        assert!(invalid(PasswordHasher::with_params(19456, 0, 1)));
        assert!(invalid(PasswordHasher::with_params(19456, 1, 1)));
        assert!(invalid(PasswordHasher::with_params(19456, 2, 0)));
        assert!(PasswordHasher::with_params(47104, 1, 1).is_ok());
        assert!(PasswordHasher::with_params(65536, 3, 4).is_ok());
        assert!(invalid(cheap().with_concurrency(0)));
        assert!(invalid(cheap().with_policy(PasswordPolicy {
            min_chars: 0,
            max_chars: 8
        })));
        assert!(invalid(cheap().with_policy(PasswordPolicy {
            min_chars: 9,
            max_chars: 8
        })));
        let hasher = PasswordHasher::new();
        assert_eq!(hasher.params(), (19456, 2, 1));
        assert_eq!(hasher.policy(), PasswordPolicy::default());
        assert!(hasher.concurrency() >= 1);
        assert_eq!(hasher.permits_available(), hasher.concurrency());
        let debug = format!("{hasher:?}");
        assert!(!debug.contains('$'), "{debug}");
    }

    #[tokio::test]
    async fn default_params_phc() {
        // The only default-parameters hash in the tests (tens of milliseconds in release).
        let hasher = PasswordHasher::new();
        let start = Instant::now();
        let phc = hasher.hash("correct horse battery staple").await.unwrap();
        eprintln!("one default-parameters hash: {:?}", start.elapsed());
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            hasher
                .inner
                .dummy
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_refuses_at_once_and_frees_up() {
        // Slow enough that both jobs are still running or waiting when the third comes.
        let hasher = PasswordHasher::insecure_for_tests(32 * 1024, 2, 1)
            .with_concurrency(1)
            .unwrap()
            .with_queue_limit(2)
            .unwrap();
        let jobs: Vec<_> = (0..2)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash("correct horse battery").await })
            })
            .collect();
        // On this runtime both spawned jobs are polled (admitted) before this one resumes.
        tokio::task::yield_now().await;
        assert_eq!(hasher.permits_available(), 0);
        assert_eq!(
            hasher
                .verify("correct horse battery", None)
                .await
                .unwrap_err(),
            PasswordError::Overloaded
        );
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        // Room again once they are done.
        assert!(
            !hasher
                .verify("correct horse battery", None)
                .await
                .unwrap()
                .matches
        );
    }
}
