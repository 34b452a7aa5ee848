//! [`RedisThrottleStore`]: budget counters in Redis, shared by every instance.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError, Script};

use super::{Admission, Charge, ThrottleKey, ThrottleStore};
use crate::store::{StoreError, StoreFuture};

/// How long one Redis call (connecting included) may take before the store is reported
/// [`StoreError::Unavailable`].
const TIMEOUT: Duration = Duration::from_secs(3);

/// The longest window Redis is asked to keep (about ten years; `PEXPIRE` refuses expiry times
/// that overflow).
const MAX_WINDOW_MS: u64 = 10 * 366 * 24 * 3600 * 1000;

/// Checks every budget, then charges all or none. `KEYS[i]`: the counters; `ARGV[2i-1]`: the
/// limit, `ARGV[2i]`: the window in ms. Returns 0 (admitted) or the longest wait in ms.
const ADMIT: &str = r"
local wait = 0
for i = 1, #KEYS do
  local hits = tonumber(redis.call('GET', KEYS[i]) or '0')
  if hits >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      ttl = tonumber(ARGV[2 * i])
      redis.call('PEXPIRE', KEYS[i], ttl)
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then
    redis.call('PEXPIRE', KEYS[i], ARGV[2 * i])
  end
end
return 0
";

/// Gives back one charge: the last one deletes the counter (and so ends its window).
const RELEASE: &str = r"
local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
if hits > 1 then
  redis.call('DECR', KEYS[1])
elseif hits == 1 then
  redis.call('DEL', KEYS[1])
end
return 0
";

/// Budget counters in Redis (or a compatible server), shared by every instance that uses the
/// same server and key prefix.
///
/// Each counter is one integer key, `{prefix}{bucket}:{id}`, that expires with its window
/// (Redis's clock decides when a window ends). An admission is one Lua script, atomic on the
/// server: it reads every counter of the attempt and increments all or none. The keys of one
/// admission must live on one server (a single node, or a cluster with a hash tag in the
/// prefix, `"{auth-throttle}:"`).
///
/// The connection is made at the first use and made again after a failure; a call that
/// cannot reach the server within 3 s is [`StoreError::Unavailable`] (a 503, never an
/// unthrottled attempt). Cloning is cheap: clones share the connection.
///
/// ```no_run
/// use auth_runtime::throttle::RedisThrottleStore;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), auth_runtime::store::StoreError> {
/// let store = RedisThrottleStore::open("redis://127.0.0.1:6379/")?.prefix("myapp:throttle:");
/// store.ping().await?; // fail at start-up rather than at the first login
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisThrottleStore {
    client: Client,
    prefix: String,
    connection: Arc<tokio::sync::Mutex<Option<MultiplexedConnection>>>,
    scripts: Arc<(Script, Script)>,
}

impl RedisThrottleStore {
    /// The prefix of every key unless [`prefix`](Self::prefix) says otherwise.
    pub const DEFAULT_PREFIX: &'static str = "auth-throttle:";

    /// A store for the server at `url` (`redis://[user:password@]host[:port][/db]`,
    /// `rediss://` for TLS where the client supports it), with the key prefix
    /// [`DEFAULT_PREFIX`](Self::DEFAULT_PREFIX). Only parses the URL: the connection is made at the first use (call
    /// [`ping`](Self::ping) to check it at start-up). A malformed URL is
    /// [`StoreError::Backend`], whose message never repeats the URL.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let client = Client::open(url)
            .map_err(|e| StoreError::Backend(format!("invalid Redis URL ({:?})", e.kind())))?;
        Ok(RedisThrottleStore {
            client,
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            connection: Arc::new(tokio::sync::Mutex::new(None)),
            scripts: Arc::new((Script::new(ADMIT), Script::new(RELEASE))),
        })
    }

    /// Puts `prefix` before every key (tests use a fresh one per run; deployments sharing a
    /// server keep theirs apart).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// Checks that the server answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|mut c| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut c)
                .await
                .map(drop)
        })
        .await
    }

    fn key(&self, key: &ThrottleKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }

    /// The shared connection, made if there is none.
    async fn connection(&self) -> Result<MultiplexedConnection, RedisError> {
        let mut slot = self.connection.lock().await;
        if let Some(c) = &*slot {
            return Ok(c.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs `op` on the connection within [`TIMEOUT`]; forgets the connection when the server
    /// could not be reached, so that the next call connects again.
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let outcome = tokio::time::timeout(TIMEOUT, async {
            let c = self.connection().await?;
            op(c).await
        })
        .await;
        let error = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) if !unreachable(&e) => {
                return Err(StoreError::Backend(format!("Redis: {e}")));
            }
            Ok(Err(e)) => StoreError::Unavailable(format!("Redis: {e}")),
            Err(_) => StoreError::Unavailable(format!(
                "Redis did not answer within {} s",
                TIMEOUT.as_secs()
            )),
        };
        *self.connection.lock().await = None;
        Err(error)
    }
}

/// Errors that mean "cannot reach the server (now)".
fn unreachable(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
}

impl ThrottleStore for RedisThrottleStore {
    fn admit<'a>(&'a self, charges: &'a [Charge], _now: u64) -> StoreFuture<'a, Admission> {
        Box::pin(async move {
            let mut invocation = self.scripts.0.prepare_invoke();
            for charge in charges {
                invocation
                    .key(self.key(&charge.key))
                    .arg(charge.limit)
                    .arg(charge.window_ms().min(MAX_WINDOW_MS));
            }
            let wait: i64 = self
                .run(|mut c| async move { invocation.invoke_async(&mut c).await })
                .await?;
            Ok(match u64::try_from(wait) {
                Ok(0) | Err(_) => Admission::Admitted,
                Ok(ms) => Admission::Refused {
                    retry_after: Duration::from_millis(ms),
                },
            })
        })
    }

    fn release<'a>(&'a self, key: &'a ThrottleKey, _now: u64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut invocation = self.scripts.1.prepare_invoke();
            invocation.key(self.key(key));
            self.run(|mut c| async move { invocation.invoke_async::<i64>(&mut c).await })
                .await
                .map(drop)
        })
    }

    fn reset<'a>(&'a self, key: &'a ThrottleKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let key = self.key(key);
            self.run(|mut c| async move {
                redis::cmd("DEL")
                    .arg(key)
                    .query_async::<i64>(&mut c)
                    .await
                    .map(drop)
            })
            .await
        })
    }
}

impl fmt::Debug for RedisThrottleStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may carry a password.
        f.debug_struct("RedisThrottleStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}
