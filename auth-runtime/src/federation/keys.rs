//! An external issuer's key set: fetched from the configured URL only, cached for the
//! response's `Cache-Control: max-age` (between [`MIN_CACHE`] and [`MAX_CACHE`]), refreshed
//! when a token names a `kid` the set does not have, at most once per refresh interval however
//! many such tokens arrive (concurrent ones wait for the one fetch in flight). A failed fetch
//! keeps the last good keys; with none, the issuer's tokens are refused with 503.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, Uri, header};
use serde::Deserialize;

use super::http::{HttpClient, HttpError, HttpResponse};
use super::jwk::{RemoteKey, parse_jwks};

/// The shortest time a fetched key set is considered fresh (`max-age=0`, `no-cache`).
pub const MIN_CACHE: Duration = Duration::from_secs(60);
/// The longest time a fetched key set is considered fresh, whatever `max-age` says.
pub const MAX_CACHE: Duration = Duration::from_secs(24 * 3600);
/// How long a key set without `Cache-Control: max-age` is considered fresh.
pub const DEFAULT_CACHE: Duration = Duration::from_secs(3600);

/// Why an external issuer's keys could not be fetched. The message names the URL (never a
/// token); the last good keys stay in use.
///
/// ```
/// use auth_runtime::federation::FetchError;
///
/// let err = FetchError::Timeout { url: "https://idp.example/keys".into() };
/// assert!(err.to_string().contains("timed out"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchError {
    /// The HTTP client failed (connection, TLS, protocol, a body over the limit).
    Http {
        /// What was fetched.
        url: String,
        /// Why it failed.
        error: HttpError,
    },
    /// No answer within the [fetch timeout](super::ExternalIssuer::fetch_timeout).
    Timeout {
        /// What was fetched.
        url: String,
    },
    /// An answer other than `200 OK`.
    Status {
        /// What was fetched.
        url: String,
        /// The status received.
        status: u16,
    },
    /// A body longer than the limit.
    TooLarge {
        /// What was fetched.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// Not a usable document: not JSON, a discovery document for another issuer or without a
    /// usable `jwks_uri`, a key set without a usable key.
    Invalid {
        /// What was fetched.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Http { url, error } => write!(f, "fetching {url} failed: {error}"),
            FetchError::Timeout { url } => write!(f, "fetching {url} timed out"),
            FetchError::Status { url, status } => write!(f, "{url} answered {status}"),
            FetchError::TooLarge { url, limit } => {
                write!(f, "{url} answered more than {limit} bytes")
            }
            FetchError::Invalid { url, reason } => write!(f, "{url}: {reason}"),
        }
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FetchError::Http { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Where the keys come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// `<issuer>/.well-known/openid-configuration`, whose `jwks_uri` names the key set.
    Discovery { document: String },
    /// A key set URL.
    Jwks { url: String },
}

/// The bounds of fetching.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// At most one fetch per this interval (a forced fetch aside).
    pub(crate) refresh_interval: Duration,
    /// Each request of a fetch.
    pub(crate) timeout: Duration,
    /// Each body.
    pub(crate) max_body: usize,
    /// Whether `http` URLs of hosts other than loopback may be fetched.
    pub(crate) allow_http: bool,
}

/// The keys at one moment.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) keys: Arc<[RemoteKey]>,
    /// When the keys should be fetched again (`None`: never fetched).
    fresh_until: Option<Instant>,
    /// The last fetch failed: the keys (if any) are the last good ones.
    pub(crate) failed: bool,
    /// No fetch before this (the rate limit), unless forced.
    next_fetch: Option<Instant>,
}

impl Snapshot {
    fn empty() -> Self {
        Snapshot {
            keys: Arc::from(Vec::new()),
            fresh_until: None,
            failed: false,
            next_fetch: None,
        }
    }

    /// Whether a key with this `kid` is here (any key, for a token without one).
    fn has(&self, kid: Option<&str>) -> bool {
        match kid {
            Some(kid) => self.keys.iter().any(|k| k.kid.as_deref() == Some(kid)),
            None => !self.keys.is_empty(),
        }
    }

    /// Whether the issuer's tokens cannot be judged: no key was ever fetched, or the last
    /// fetch failed (an unknown `kid` might be a new key): 503, not 401.
    pub(crate) fn unavailable(&self) -> bool {
        self.keys.is_empty() || self.failed
    }
}

/// What only the fetching task touches.
#[derive(Debug, Default)]
struct FetchState {
    last_attempt: Option<Instant>,
    /// The `jwks_uri` of the discovery document, once read (read again after a failure).
    jwks_uri: Option<String>,
}

/// One external issuer's keys.
pub(crate) struct KeySet {
    issuer: String,
    source: Source,
    client: Arc<dyn HttpClient>,
    limits: Limits,
    current: RwLock<Arc<Snapshot>>,
    /// Held while fetching: concurrent misses wait for the fetch in flight.
    fetching: tokio::sync::Mutex<FetchState>,
    /// A background refresh of stale keys is under way.
    background: AtomicBool,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("issuer", &self.issuer)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl KeySet {
    pub(crate) fn new(
        issuer: String,
        source: Source,
        client: Arc<dyn HttpClient>,
        limits: Limits,
    ) -> Self {
        KeySet {
            issuer,
            source,
            client,
            limits,
            current: RwLock::new(Arc::new(Snapshot::empty())),
            fetching: tokio::sync::Mutex::new(FetchState::default()),
            background: AtomicBool::new(false),
        }
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn store(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        let snapshot = Arc::new(snapshot);
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = snapshot.clone();
        snapshot
    }

    /// The keys to verify a token naming `kid` with. A `kid` the keys do not have starts a
    /// fetch (unless one ran within the refresh interval: then the keys are as they are);
    /// stale keys that have it are used while a fetch runs in the background.
    pub(crate) async fn keys_for(self: &Arc<Self>, kid: Option<&str>) -> Arc<Snapshot> {
        let snapshot = self.snapshot();
        if snapshot.has(kid) {
            let now = Instant::now();
            let stale = snapshot.fresh_until.is_some_and(|t| now >= t);
            if stale && snapshot.next_fetch.is_none_or(|t| now >= t) {
                self.refresh_in_background();
            }
            return snapshot;
        }
        match self.refresh(false).await {
            Ok(snapshot) => snapshot,
            Err(_) => self.snapshot(),
        }
    }

    fn refresh_in_background(self: &Arc<Self>) {
        if self.background.swap(true, Ordering::AcqRel) {
            return;
        }
        /// Clears the flag however the task ends.
        struct Done(Arc<KeySet>);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.background.store(false, Ordering::Release);
            }
        }
        let done = Done(Arc::clone(self));
        tokio::spawn(async move {
            let _ = done.0.refresh(false).await;
            drop(done);
        });
    }

    /// Fetches the keys, unless a fetch started within the refresh interval (`force` aside):
    /// then the keys are returned as they are. One fetch at a time; a caller that waited for
    /// another's fetch gets its result.
    pub(crate) async fn refresh(&self, force: bool) -> Result<Arc<Snapshot>, FetchError> {
        let mut state = self.fetching.lock().await;
        let now = Instant::now();
        if !force
            && let Some(at) = state.last_attempt
            && now < at + self.limits.refresh_interval
        {
            return Ok(self.snapshot());
        }
        state.last_attempt = Some(now);
        let next_fetch = Some(now + self.limits.refresh_interval);
        match self.fetch(&mut state).await {
            Ok((keys, ttl)) => {
                tracing::debug!(issuer = %self.issuer, keys = keys.len(), ttl_secs = ttl.as_secs(), "fetched an external issuer's keys");
                Ok(self.store(Snapshot {
                    keys: Arc::from(keys),
                    fresh_until: Some(Instant::now() + ttl),
                    failed: false,
                    next_fetch,
                }))
            }
            Err(e) => {
                let last = self.snapshot();
                tracing::warn!(
                    issuer = %self.issuer,
                    error = %e,
                    keeping = last.keys.len(),
                    "an external issuer's keys could not be fetched; the last good keys stay in use"
                );
                self.store(Snapshot {
                    keys: last.keys.clone(),
                    fresh_until: last.fresh_until,
                    failed: true,
                    next_fetch,
                });
                Err(e)
            }
        }
    }

    async fn fetch(
        &self,
        state: &mut FetchState,
    ) -> Result<(Vec<RemoteKey>, Duration), FetchError> {
        let url = match (&self.source, &state.jwks_uri) {
            (Source::Jwks { url }, _) => url.clone(),
            (Source::Discovery { .. }, Some(uri)) => uri.clone(),
            (Source::Discovery { document }, None) => {
                let uri = self.discover(document).await?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let response = match self.get(&url).await {
            Ok(response) => response,
            Err(e) => {
                // The key set may have moved: read the discovery document again next time.
                state.jwks_uri = None;
                return Err(e);
            }
        };
        let keys = parse_jwks(&response.body).map_err(|reason| FetchError::Invalid {
            url: url.clone(),
            reason,
        })?;
        Ok((keys, cache_ttl(&response.headers)))
    }

    /// The `jwks_uri` of the issuer's discovery document (OpenID Connect Discovery 1.0 §4),
    /// whose `issuer` must be the configured one exactly.
    async fn discover(&self, document: &str) -> Result<String, FetchError> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let response = self.get(document).await?;
        let invalid = |reason: String| FetchError::Invalid {
            url: document.to_owned(),
            reason,
        };
        let doc: Discovery = serde_json::from_slice(&response.body).map_err(|_| {
            invalid("not a discovery document (`issuer` and `jwks_uri` strings)".into())
        })?;
        if doc.issuer != self.issuer {
            return Err(invalid(format!(
                "the document is for issuer `{}`, not `{}`",
                doc.issuer.escape_debug(),
                self.issuer
            )));
        }
        check_url(&doc.jwks_uri, self.limits.allow_http)
            .map_err(|reason| invalid(format!("`jwks_uri`: {reason}")))?;
        Ok(doc.jwks_uri)
    }

    /// One bounded `GET` through the client: timeout, status 200, body size.
    async fn get(&self, url: &str) -> Result<HttpResponse, FetchError> {
        let max = self.limits.max_body;
        let response = tokio::time::timeout(self.limits.timeout, self.client.get(url, max))
            .await
            .map_err(|_| FetchError::Timeout { url: url.into() })?
            .map_err(|error| FetchError::Http {
                url: url.into(),
                error,
            })?;
        if response.status != StatusCode::OK {
            return Err(FetchError::Status {
                url: url.into(),
                status: response.status.as_u16(),
            });
        }
        if response.body.len() > max {
            return Err(FetchError::TooLarge {
                url: url.into(),
                limit: max,
            });
        }
        Ok(response)
    }
}

/// How long a key set stays fresh: its `Cache-Control: max-age`, within [`MIN_CACHE`] and
/// [`MAX_CACHE`]; `no-store` and `no-cache` count as `max-age=0`; [`DEFAULT_CACHE`] without
/// either.
pub(crate) fn cache_ttl(headers: &HeaderMap) -> Duration {
    let mut ttl = None;
    for value in headers.get_all(header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let (name, arg) = directive.split_once('=').unwrap_or((directive, ""));
            let name = name.trim();
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                ttl = Some(0);
            } else if name.eq_ignore_ascii_case("max-age")
                && let Ok(secs) = arg.trim().trim_matches('"').parse::<u64>()
            {
                ttl = Some(ttl.map_or(secs, |t: u64| t.min(secs)));
            }
        }
    }
    ttl.map_or(DEFAULT_CACHE, |secs| {
        Duration::from_secs(secs).clamp(MIN_CACHE, MAX_CACHE)
    })
}

/// Whether `url` may be fetched: `https`, or `http` to a loopback host (or anywhere with
/// `allow_http`); no credentials in it.
pub(crate) fn check_url(url: &str, allow_http: bool) -> Result<(), String> {
    let uri: Uri = url
        .parse()
        .map_err(|_| format!("`{}` is not a URL", url.escape_debug()))?;
    let authority = uri
        .authority()
        .ok_or_else(|| format!("`{}` is not an absolute URL", url.escape_debug()))?;
    if authority.as_str().contains('@') {
        return Err("a URL with credentials in it is not fetched".into());
    }
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if allow_http || is_loopback(authority.host()) => Ok(()),
        Some("http") => Err(format!(
            "`{}` is plain http: use https (http is fetched from loopback hosts, or with `allow_http`)",
            url.escape_debug()
        )),
        _ => Err(format!(
            "`{}` is not an http or https URL",
            url.escape_debug()
        )),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use axum::http::HeaderValue;
    use serde_json::json;

    use super::super::http::HttpFuture;
    use super::super::jwk::b64;
    use super::*;

    fn headers(cache_control: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in cache_control {
            h.append(header::CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn max_age_is_kept_within_bounds() {
        let ttl = |v: &[&str]| cache_ttl(&headers(v)).as_secs();
        assert_eq!(ttl(&[]), DEFAULT_CACHE.as_secs());
        assert_eq!(ttl(&["public, max-age=600"]), 600);
        assert_eq!(ttl(&["Max-Age=\"900\", must-revalidate"]), 900);
        assert_eq!(ttl(&["max-age=5"]), MIN_CACHE.as_secs());
        assert_eq!(ttl(&["no-cache"]), MIN_CACHE.as_secs());
        assert_eq!(ttl(&["max-age=600", "no-store"]), MIN_CACHE.as_secs());
        assert_eq!(ttl(&["max-age=99999999"]), MAX_CACHE.as_secs());
        assert_eq!(ttl(&["max-age=lots"]), DEFAULT_CACHE.as_secs());
        assert_eq!(ttl(&["s-maxage=10"]), DEFAULT_CACHE.as_secs());
    }

    #[test]
    fn urls_must_be_https_but_for_loopback() {
        assert!(check_url("https://idp.example/keys", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/keys", false).is_ok());
        assert!(check_url("http://localhost/keys", false).is_ok());
        assert!(check_url("http://[::1]:9/keys", false).is_ok());
        assert!(check_url("http://idp.example/keys", false).is_err());
        assert!(check_url("http://idp.example/keys", true).is_ok());
        assert!(check_url("https://a:b@idp.example/keys", false).is_err());
        assert!(check_url("file:///etc/passwd", true).is_err());
        assert!(check_url("/keys", true).is_err());
    }

    /// Serves one key set; counts calls; fails while `down`.
    struct Provider {
        calls: AtomicUsize,
        down: AtomicBool,
        kid: RwLock<&'static str>,
        delay: Duration,
    }

    impl Provider {
        fn new(kid: &'static str) -> Arc<Self> {
            Arc::new(Provider {
                calls: AtomicUsize::new(0),
                down: AtomicBool::new(false),
                kid: RwLock::new(kid),
                delay: Duration::from_millis(20),
            })
        }
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl HttpClient for Provider {
        fn get<'a>(&'a self, _url: &'a str, _max: usize) -> HttpFuture<'a> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.delay).await;
                if self.down.load(Ordering::SeqCst) {
                    return Err(HttpError::new("connection refused"));
                }
                let kid = *self.kid.read().unwrap();
                let body = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(&[9; 32])}]});
                Ok(HttpResponse::new(
                    StatusCode::OK,
                    headers(&["max-age=3600"]),
                    body.to_string(),
                ))
            })
        }
    }

    fn key_set(provider: &Arc<Provider>, interval: Duration) -> Arc<KeySet> {
        Arc::new(KeySet::new(
            "https://idp.example".into(),
            Source::Jwks {
                url: "https://idp.example/keys".into(),
            },
            provider.clone(),
            Limits {
                refresh_interval: interval,
                timeout: Duration::from_secs(2),
                max_body: 64 * 1024,
                allow_http: false,
            },
        ))
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch_per_interval() {
        let provider = Provider::new("k1");
        let keys = key_set(&provider, Duration::from_millis(300));
        let misses = (0..50).map(|i| {
            let keys = keys.clone();
            tokio::spawn(async move { keys.keys_for(Some(&format!("unknown-{i}"))).await })
        });
        for miss in misses {
            let snapshot = miss.await.unwrap();
            assert!(!snapshot.unavailable());
        }
        assert_eq!(provider.calls(), 1, "one fetch for 50 concurrent misses");
        // Within the interval, misses fetch nothing; a known kid never waits.
        keys.keys_for(Some("unknown")).await;
        assert!(keys.keys_for(Some("k1")).await.has(Some("k1")));
        assert_eq!(provider.calls(), 1);
        // After it, one more.
        tokio::time::sleep(Duration::from_millis(320)).await;
        *provider.kid.write().unwrap() = "k2";
        let snapshot = keys.keys_for(Some("k2")).await;
        assert!(snapshot.has(Some("k2")) && !snapshot.has(Some("k1")));
        assert_eq!(provider.calls(), 2);
    }

    #[tokio::test]
    async fn a_failed_fetch_keeps_the_last_good_keys() {
        let provider = Provider::new("k1");
        let keys = key_set(&provider, Duration::from_millis(50));
        assert!(keys.refresh(true).await.is_ok());
        provider.down.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(60)).await;
        let snapshot = keys.keys_for(Some("k2")).await;
        assert_eq!(provider.calls(), 2);
        assert!(snapshot.has(Some("k1")), "the last good key stays");
        assert!(
            snapshot.unavailable(),
            "an unknown kid cannot be judged now"
        );
        // The known key is served without waiting for anything.
        assert!(keys.keys_for(Some("k1")).await.has(Some("k1")));
    }

    #[tokio::test]
    async fn no_key_ever_fetched_is_unavailable() {
        let provider = Provider::new("k1");
        provider.down.store(true, Ordering::SeqCst);
        let keys = key_set(&provider, Duration::from_secs(60));
        assert!(keys.keys_for(Some("k1")).await.unavailable());
        assert!(keys.keys_for(None).await.unavailable());
        assert_eq!(
            provider.calls(),
            1,
            "the second miss is within the interval"
        );
        assert!(matches!(
            keys.refresh(true).await,
            Err(FetchError::Http { .. })
        ));
    }

    #[tokio::test]
    async fn a_slow_provider_times_out() {
        let provider = Arc::new(Provider {
            calls: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            kid: RwLock::new("k1"),
            delay: Duration::from_secs(5),
        });
        let keys = Arc::new(KeySet::new(
            "https://idp.example".into(),
            Source::Jwks {
                url: "https://idp.example/keys".into(),
            },
            provider.clone(),
            Limits {
                refresh_interval: Duration::from_secs(1),
                timeout: Duration::from_millis(50),
                max_body: 1024,
                allow_http: false,
            },
        ));
        let started = Instant::now();
        assert!(matches!(
            keys.refresh(true).await,
            Err(FetchError::Timeout { .. })
        ));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    /// Serves fixed answers by URL.
    struct Fixed(Vec<(&'static str, StatusCode, String)>);

    impl HttpClient for Fixed {
        fn get<'a>(&'a self, url: &'a str, _max: usize) -> HttpFuture<'a> {
            Box::pin(async move {
                let (_, status, body) = self
                    .0
                    .iter()
                    .find(|(u, _, _)| *u == url)
                    .ok_or_else(|| HttpError::new("unknown URL"))?;
                Ok(HttpResponse::new(*status, HeaderMap::new(), body.clone()))
            })
        }
    }

    fn discovery(answers: Vec<(&'static str, StatusCode, String)>, max_body: usize) -> KeySet {
        KeySet::new(
            "https://idp.example".into(),
            Source::Discovery {
                document: "https://idp.example/.well-known/openid-configuration".into(),
            },
            Arc::new(Fixed(answers)),
            Limits {
                refresh_interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
                max_body,
                allow_http: false,
            },
        )
    }

    const DOC: &str = "https://idp.example/.well-known/openid-configuration";

    #[tokio::test]
    async fn discovery_names_the_key_set_of_its_own_issuer_only() {
        let jwks =
            json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": b64(&[9; 32])}]})
                .to_string();
        let doc = |issuer: &str, jwks_uri: &str| {
            json!({"issuer": issuer, "jwks_uri": jwks_uri}).to_string()
        };
        let ok = discovery(
            vec![
                (
                    DOC,
                    StatusCode::OK,
                    doc("https://idp.example", "https://keys.idp.example/k"),
                ),
                ("https://keys.idp.example/k", StatusCode::OK, jwks.clone()),
            ],
            64 * 1024,
        );
        assert!(ok.refresh(true).await.unwrap().has(Some("k")));

        let cases = [
            doc("https://evil.example", "https://keys.idp.example/k"),
            doc("https://idp.example/", "https://keys.idp.example/k"),
            doc("https://idp.example", "http://keys.idp.example/k"),
            json!({"issuer": "https://idp.example"}).to_string(),
            "<html>".to_owned(),
        ];
        for body in cases {
            let set = discovery(
                vec![
                    (DOC, StatusCode::OK, body.clone()),
                    ("https://keys.idp.example/k", StatusCode::OK, jwks.clone()),
                ],
                64 * 1024,
            );
            assert!(
                matches!(set.refresh(true).await, Err(FetchError::Invalid { .. })),
                "{body}"
            );
        }
        let missing = discovery(vec![(DOC, StatusCode::NOT_FOUND, String::new())], 1024);
        assert!(matches!(
            missing.refresh(true).await,
            Err(FetchError::Status { status: 404, .. })
        ));
        let large = discovery(vec![(DOC, StatusCode::OK, "x".repeat(2000))], 1024);
        assert!(matches!(
            large.refresh(true).await,
            Err(FetchError::TooLarge { limit: 1024, .. })
        ));
    }
}
