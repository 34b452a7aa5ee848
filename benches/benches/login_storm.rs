//! Login storm: while many password logins (argon2id with the real default parameters,
//! m = 19 MiB, t = 2, p = 1) are in flight, do cheap authenticated requests stay fast, and how
//! many logins per second does the server complete — with the framework's bounded hashing pool
//! (`PasswordHasher::new()`: one job per available CPU) versus unbounded `spawn_blocking`
//! (every login spawns its argon2 job at once)?
//!
//! The reference server (`examples::app` on a fresh SQLite file) is served over real TCP on
//! 127.0.0.1 by its own 2-worker runtime. A load generator on other threads sends the cheap
//! request (`GET /reports/1` with a bearer token) sequentially on one keep-alive connection,
//! first alone (idle), then while K clients post `/auth/login` forms back to back on their own
//! keep-alive connections (storm). Variants run alternately (A B A B ...), each on a fresh
//! server, and ratios are computed per round; the table shows their medians.
//!
//! ```sh
//! cargo bench -p benches --bench login_storm
//! LOGIN_STORM_SECS=3 LOGIN_STORM_CLIENTS=32 LOGIN_STORM_ROUNDS=5 \
//!   LOGIN_STORM_VARIANTS=bounded,unbounded,cores_minus_1,nice LOGIN_STORM_WARM=1 \
//!   cargo bench -p benches --bench login_storm
//! ```
//!
//! Variants: `bounded` (the default hasher), `unbounded`, `cores_minus_1` (concurrency =
//! available parallelism − 1, at least 1), `nice` (the default hasher with the server's
//! blocking threads at nice 19). `LOGIN_STORM_WARM=1` keeps every CPU busy with nice-19
//! spinners during both phases, so that the idle baseline does not include waking halted
//! virtual CPUs.
//!
//! `LOGIN_STORM_MIX=flood` makes the storm a flood: each client alternates a registration (a
//! new email each time, so every one is hashed) and a login, and answers that shed load (503
//! from the bounded password queue, 429 from a budget) are counted apart, as the defence
//! working, not as failures:
//!
//! ```sh
//! LOGIN_STORM_MIX=flood LOGIN_STORM_CLIENTS=128 cargo bench -p benches --bench login_storm
//! ```
//!
//! `LOGIN_STORM_BACKOFF=1` makes the storm clients honour `Retry-After` after a 503 or 429 (as
//! well-behaved clients do: a crowd signing in again after an outage), and `LOGIN_STORM_MIX=health`
//! hammers `GET /health` instead: the cost of the request rate alone, with no auth work, to
//! compare a flood that ignores `Retry-After` with.
//!
//! Under `cargo test` (no `--bench` argument) it is a smoke run of a few seconds that checks
//! behaviour only (every cheap request and every login answered 200), never timing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use auth_runtime::PasswordHasher;
use auth_runtime::store::SqlStore;
use auth_runtime::throttle::ThrottleConfig;
use axum::body::Bytes;
use axum::http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The seeded account (role `user`, which grants `reports:read`).
const EMAIL: &str = "storm@example.com";
const PASSWORD: &str = "correct horse battery staple";
/// Worker threads of the server's runtime.
const SERVER_WORKERS: usize = 2;
/// Cheap requests sent before the idle phase (connection and caches warm).
const WARM_UP_REQUESTS: usize = 200;

/// How the server hashes passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// The framework's default: `PasswordHasher::new()` (concurrency = available parallelism).
    Bounded,
    /// Plain `spawn_blocking`: a semaphore with `Semaphore::MAX_PERMITS` permits, so every
    /// login spawns its blocking job immediately.
    Unbounded,
    /// Concurrency = available parallelism − 1 (at least 1): one core left to the runtime.
    CoresMinus1,
    /// The default concurrency, with the runtime's blocking threads (where argon2 runs) at
    /// nice 19, the async workers at the normal priority.
    Nice,
}

impl Variant {
    fn parse(name: &str) -> Variant {
        match name.trim() {
            "bounded" => Variant::Bounded,
            "unbounded" => Variant::Unbounded,
            "cores_minus_1" => Variant::CoresMinus1,
            "nice" => Variant::Nice,
            other => panic!(
                "unknown variant `{other}` in LOGIN_STORM_VARIANTS \
                 (known: bounded, unbounded, cores_minus_1, nice)"
            ),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Variant::Bounded => "bounded",
            Variant::Unbounded => "unbounded",
            Variant::CoresMinus1 => "cores_minus_1",
            Variant::Nice => "nice",
        }
    }

    fn hasher(self) -> PasswordHasher {
        let hasher = PasswordHasher::new();
        assert_eq!(
            hasher.params(),
            (19456, 2, 1),
            "the real default parameters"
        );
        let concurrency = match self {
            Variant::Bounded | Variant::Nice => return hasher,
            Variant::Unbounded => tokio::sync::Semaphore::MAX_PERMITS,
            Variant::CoresMinus1 => cores().saturating_sub(1).max(1),
        };
        hasher
            .with_concurrency(concurrency)
            .expect("valid concurrency")
    }

    fn concurrency_label(self) -> String {
        match self {
            Variant::Unbounded => "unbounded".into(),
            _ => self.hasher().concurrency().to_string(),
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What the storm clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mix {
    /// `POST /auth/login`, back to back.
    Login,
    /// A registration of a new email, then a login, in turn.
    Flood,
    /// `GET /health`: the request rate without auth work.
    Health,
}

struct Config {
    /// Length of the idle phase and of the measured part of the storm.
    duration: Duration,
    /// Concurrent login clients during the storm.
    clients: usize,
    rounds: usize,
    variants: Vec<Variant>,
    /// Keep every CPU busy with nice-19 spinners during both phases (`LOGIN_STORM_WARM=1`).
    warm: bool,
    /// What the storm clients send (`LOGIN_STORM_MIX`).
    mix: Mix,
    /// Whether they wait `Retry-After` after a 503 or 429 (`LOGIN_STORM_BACKOFF=1`).
    backoff: bool,
    test_mode: bool,
}

impl Config {
    fn from_env() -> Config {
        // `cargo bench` passes `--bench`; `cargo test` runs bench targets without it.
        let test_mode = !std::env::args().any(|a| a == "--bench");
        if test_mode {
            return Config {
                duration: Duration::from_millis(300),
                clients: 2,
                rounds: 1,
                variants: vec![Variant::Bounded, Variant::Unbounded],
                warm: false,
                mix: Mix::Login,
                backoff: false,
                test_mode,
            };
        }
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let secs: f64 = var("LOGIN_STORM_SECS").map_or(3.0, |v| {
            v.trim().parse().expect("LOGIN_STORM_SECS: seconds")
        });
        let clients = var("LOGIN_STORM_CLIENTS").map_or(32, |v| {
            v.trim().parse().expect("LOGIN_STORM_CLIENTS: a count")
        });
        let rounds = var("LOGIN_STORM_ROUNDS").map_or(5, |v| {
            v.trim().parse().expect("LOGIN_STORM_ROUNDS: a count")
        });
        let variants = var("LOGIN_STORM_VARIANTS")
            .unwrap_or_else(|| "bounded,unbounded".into())
            .split(',')
            .map(Variant::parse)
            .collect::<Vec<_>>();
        let warm = var("LOGIN_STORM_WARM").is_some_and(|v| v.trim() != "0");
        let mix = match var("LOGIN_STORM_MIX").as_deref().map(str::trim) {
            None | Some("login") => Mix::Login,
            Some("flood") => Mix::Flood,
            Some("health") => Mix::Health,
            Some(other) => panic!("LOGIN_STORM_MIX: `login`, `flood` or `health`, not `{other}`"),
        };
        let backoff = var("LOGIN_STORM_BACKOFF").is_some_and(|v| v.trim() != "0");
        assert!(secs > 0.0 && clients >= 1 && rounds >= 1 && !variants.is_empty());
        Config {
            duration: Duration::from_secs_f64(secs),
            clients,
            rounds,
            variants,
            warm,
            mix,
            backoff,
            test_mode,
        }
    }

    /// Time the storm runs before its measurement starts (all K logins in flight).
    fn ramp(&self) -> Duration {
        (self.duration / 4).min(Duration::from_millis(500))
    }
}

/// The reference server on its own OS thread and 2-worker runtime.
struct Server {
    addr: SocketAddr,
    concurrency: usize,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    dir: PathBuf,
}

impl Server {
    fn start(variant: Variant) -> Server {
        let dir =
            std::env::temp_dir().join(format!("auth-login-storm-{:032x}", rand::random::<u128>()));
        let database_url = format!("sqlite://{}", dir.join("auth.db").display());
        let hasher = variant.hasher();
        let concurrency = hasher.concurrency();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("storm-server".into())
            .spawn(move || {
                let runtime = server_runtime(variant == Variant::Nice);
                runtime.block_on(async move {
                    let settings = examples::Settings {
                        addr: "127.0.0.1:0".into(),
                        database_url,
                        user_secret: examples::random_secret(),
                        admin_secret: examples::random_secret(),
                        admin_email: examples::DEFAULT_ADMIN_EMAIL.into(),
                        admin_password: None,
                        trusted_proxies: Vec::new(),
                        forwarded_header: Default::default(),
                        register_limit: 0,
                        redis: None,
                        cookie_secure: true,
                        service_key_pem: auth_runtime::SigningKey::generate_ed25519_pem(),
                        oidc: None,
                        external_issuer: None,
                    };
                    let store = SqlStore::connect(&settings.database_url)
                        .await
                        .expect("SQLite store");
                    // Successful logins never count against the throttle; make sure failures
                    // would not either.
                    let mut throttle = ThrottleConfig::default();
                    throttle.account_failures = u32::MAX;
                    throttle.address_failures = u32::MAX;
                    // A flood's registrations all come from 127.0.0.1: let every one be hashed
                    // (the worst case for the password pool), not stopped by the address budget.
                    throttle.registrations = 0;
                    let manager = examples::builder(&settings, store)
                        .password_hasher(hasher)
                        .login_throttle(throttle)
                        .build()
                        .expect("valid configuration");
                    manager
                        .register(EMAIL, PASSWORD, None)
                        .await
                        .expect("register");
                    manager.approve(EMAIL).await.expect("approve");
                    let app = examples::app(manager).expect("routes");
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind");
                    addr_tx
                        .send(listener.local_addr().expect("address"))
                        .expect("report address");
                    let serve = axum::serve(
                        listener,
                        app.into_make_service_with_connect_info::<SocketAddr>(),
                    );
                    tokio::select! {
                        result = serve => result.expect("serve"),
                        _ = shutdown_rx => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(10));
            })
            .expect("server thread");
        let addr = addr_rx.recv().expect("the server started");
        Server {
            addr,
            concurrency,
            shutdown: Some(shutdown),
            thread: Some(thread),
            dir,
        }
    }

    fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("server thread");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server's runtime: 2 workers; with `nice`, every thread started after the workers (the
/// blocking pool, where argon2 runs) lowers its own priority to nice 19.
fn server_runtime(nice: bool) -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(SERVER_WORKERS).enable_all();
    if nice {
        // The workers are started while the runtime is built, before any blocking job.
        let started = Arc::new(AtomicUsize::new(0));
        builder
            .thread_name_fn(move || {
                if started.fetch_add(1, Ordering::SeqCst) < SERVER_WORKERS {
                    "storm-worker".into()
                } else {
                    "storm-blocking".into()
                }
            })
            .on_thread_start(|| {
                if std::thread::current().name() == Some("storm-blocking") {
                    renice_current_thread(19);
                }
            });
    }
    builder.build().expect("server runtime")
}

/// Sets this thread's nice value (Linux: `setpriority` on a thread id acts on that thread
/// only), through `renice` since the workspace forbids `unsafe`.
fn renice_current_thread(nice: i32) {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self (Linux only)");
    let tid = link
        .file_name()
        .and_then(|t| t.to_str())
        .expect("thread id")
        .to_owned();
    let status = std::process::Command::new("renice")
        .args(["-n", &nice.to_string(), "-p", &tid])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run renice");
    assert!(status.success(), "renice {tid}");
}

type Sender = SendRequest<Full<Bytes>>;

/// One keep-alive HTTP/1.1 connection.
async fn connect(addr: SocketAddr) -> Sender {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender
}

async fn send(sender: &mut Sender, request: Request<Full<Bytes>>) -> (StatusCode, Bytes) {
    sender.ready().await.expect("connection ready");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    (status, body)
}

fn login_request() -> Request<Full<Bytes>> {
    let form = format!(
        "username={}&password={}",
        EMAIL.replace('@', "%40"),
        PASSWORD.replace(' ', "+")
    );
    Request::post("/auth/login")
        .header(header::HOST, "127.0.0.1")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .expect("request")
}

/// A registration of a new email (`n` makes it unique).
fn register_request(client: usize, n: u64) -> Request<Full<Bytes>> {
    let body = format!(r#"{{"email":"flood-{client}-{n}@example.com","password":"{PASSWORD}"}}"#);
    Request::post("/auth/register")
        .header(header::HOST, "127.0.0.1")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("request")
}

fn health_request() -> Request<Full<Bytes>> {
    Request::get("/health")
        .header(header::HOST, "127.0.0.1")
        .body(Full::default())
        .expect("request")
}

fn cheap_request(bearer: &str) -> Request<Full<Bytes>> {
    Request::get("/reports/1")
        .header(header::HOST, "127.0.0.1")
        .header(header::AUTHORIZATION, bearer)
        .body(Full::default())
        .expect("request")
}

/// Sends the cheap request back to back until `duration` has passed; returns every latency.
async fn cheap_loop(sender: &mut Sender, bearer: &str, duration: Duration) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(16 * 1024);
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let request = cheap_request(bearer);
        let start = Instant::now();
        let (status, body) = send(sender, request).await;
        latencies.push(start.elapsed());
        assert_eq!(status, StatusCode::OK, "GET /reports/1: {body:?}");
    }
    assert!(!latencies.is_empty());
    latencies
}

/// What the storm clients did.
#[derive(Default)]
struct LoginCounts {
    /// Logins answered 200 (and, in a flood, registrations answered 201).
    ok: AtomicU64,
    /// Answers that shed load: 503 (the password queue is full) or 429 (a budget).
    shed: AtomicU64,
    failed: AtomicU64,
}

/// K clients logging in back to back on their own connections until `stop`; runs on its own
/// OS thread and current-thread runtime.
fn start_storm(
    addr: SocketAddr,
    clients: usize,
    (mix, backoff): (Mix, bool),
    stop: Arc<AtomicBool>,
    counts: Arc<LoginCounts>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("storm-logins".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("client runtime");
            runtime.block_on(async move {
                let tasks: Vec<_> = (0..clients)
                    .map(|client| {
                        let (stop, counts) = (stop.clone(), counts.clone());
                        tokio::spawn(async move {
                            let mut sender = connect(addr).await;
                            // At least one request per client, then until told to stop.
                            for n in 0u64.. {
                                let request = match mix {
                                    Mix::Flood if n % 2 == 0 => register_request(client, n),
                                    Mix::Health => health_request(),
                                    _ => login_request(),
                                };
                                let (status, _) = send(&mut sender, request).await;
                                match status {
                                    StatusCode::OK | StatusCode::CREATED => {
                                        counts.ok.fetch_add(1, Ordering::Relaxed);
                                    }
                                    StatusCode::SERVICE_UNAVAILABLE
                                    | StatusCode::TOO_MANY_REQUESTS
                                        if mix == Mix::Flood =>
                                    {
                                        counts.shed.fetch_add(1, Ordering::Relaxed);
                                        if backoff {
                                            // Every shed answer says `Retry-After: 1`.
                                            tokio::time::sleep(Duration::from_secs(1)).await;
                                        }
                                    }
                                    _ => {
                                        eprintln!("storm request answered {status}");
                                        counts.failed.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                                if stop.load(Ordering::Relaxed) {
                                    break;
                                }
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("login client");
                }
            });
        })
        .expect("login thread")
}

/// One variant's measurement on a fresh server.
struct Sample {
    idle: Vec<Duration>,
    storm: Vec<Duration>,
    logins_per_sec: f64,
    shed_per_sec: f64,
    concurrency: usize,
}

/// One busy-looping thread per CPU at nice 19: the CPUs never go idle, so the idle phase does
/// not pay for waking halted (virtual) CPUs, while any normal-priority thread preempts them.
struct Spinners {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Spinners {
    fn start() -> Spinners {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..cores())
            .map(|_| {
                let stop = stop.clone();
                std::thread::Builder::new()
                    .name("storm-spinner".into())
                    .spawn(move || {
                        renice_current_thread(19);
                        while !stop.load(Ordering::Relaxed) {
                            std::hint::spin_loop();
                        }
                    })
                    .expect("spinner thread")
            })
            .collect();
        Spinners { stop, threads }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            thread.join().expect("spinner");
        }
    }
}

fn run_once(variant: Variant, config: &Config) -> Sample {
    let spinners = config.warm.then(Spinners::start);
    let server = Server::start(variant);
    let addr = server.addr;
    let probe = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("probe runtime");
    let sample = probe.block_on(async {
        let mut sender = connect(addr).await;
        let (status, body) = send(&mut sender, login_request()).await;
        assert_eq!(status, StatusCode::OK, "first login: {body:?}");
        let tokens: serde_json::Value = serde_json::from_slice(&body).expect("token JSON");
        let bearer = format!(
            "Bearer {}",
            tokens["access_token"].as_str().expect("access_token")
        );
        for _ in 0..WARM_UP_REQUESTS {
            let (status, _) = send(&mut sender, cheap_request(&bearer)).await;
            assert_eq!(status, StatusCode::OK);
        }

        let idle = cheap_loop(&mut sender, &bearer, config.duration).await;

        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(LoginCounts::default());
        let storm_thread = start_storm(
            addr,
            config.clients,
            (config.mix, config.backoff),
            stop.clone(),
            counts.clone(),
        );
        tokio::time::sleep(config.ramp()).await;
        let before = counts.ok.load(Ordering::Relaxed);
        let shed_before = counts.shed.load(Ordering::Relaxed);
        let started = Instant::now();
        let storm = cheap_loop(&mut sender, &bearer, config.duration).await;
        let logins = counts.ok.load(Ordering::Relaxed) - before;
        let shed = counts.shed.load(Ordering::Relaxed) - shed_before;
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        storm_thread.join().expect("login thread");
        // Behaviour, not timing: every login answered 200, and the clients got through some.
        assert_eq!(counts.failed.load(Ordering::Relaxed), 0, "failed logins");
        if config.mix == Mix::Login {
            assert!(
                counts.ok.load(Ordering::Relaxed) >= config.clients as u64,
                "every login client completed a login"
            );
        }
        Sample {
            idle,
            storm,
            logins_per_sec: logins as f64 / elapsed.as_secs_f64(),
            shed_per_sec: shed as f64 / elapsed.as_secs_f64(),
            concurrency: server.concurrency,
        }
    });
    drop(probe);
    server.stop();
    if let Some(spinners) = spinners {
        spinners.stop();
    }
    sample
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Percentiles of one sample, in microseconds.
struct Stats {
    idle_p50: f64,
    idle_p99: f64,
    storm_p50: f64,
    storm_p99: f64,
    logins_per_sec: f64,
    shed_per_sec: f64,
    requests: (usize, usize),
}

impl Stats {
    fn of(mut sample: Sample) -> Stats {
        sample.idle.sort();
        sample.storm.sort();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        Stats {
            idle_p50: us(percentile(&sample.idle, 50.0)),
            idle_p99: us(percentile(&sample.idle, 99.0)),
            storm_p50: us(percentile(&sample.storm, 50.0)),
            storm_p99: us(percentile(&sample.storm, 99.0)),
            logins_per_sec: sample.logins_per_sec,
            shed_per_sec: sample.shed_per_sec,
            requests: (sample.idle.len(), sample.storm.len()),
        }
    }

    fn p99_ratio(&self) -> f64 {
        self.storm_p99 / self.idle_p99
    }
}

fn main() {
    let config = Config::from_env();
    eprintln!(
        "login storm: {} round(s) of {:?}, {:.1} s per phase, {} storm clients ({:?}{}), \
         {} cores, server runtime {} workers{}{}",
        config.rounds,
        config.variants.iter().map(|v| v.name()).collect::<Vec<_>>(),
        config.duration.as_secs_f64(),
        config.clients,
        config.mix,
        if config.backoff {
            ", honouring Retry-After"
        } else {
            ""
        },
        cores(),
        SERVER_WORKERS,
        if config.warm {
            ", warm CPUs (nice-19 spinners)"
        } else {
            ""
        },
        if config.test_mode {
            " (test mode: behaviour only)"
        } else {
            ""
        },
    );
    // results[round][variant]
    let mut results: Vec<Vec<Stats>> = Vec::new();
    for round in 0..config.rounds {
        let mut row = Vec::new();
        for &variant in &config.variants {
            let sample = run_once(variant, &config);
            let concurrency = sample.concurrency;
            let stats = Stats::of(sample);
            eprintln!(
                "round {} {:>13} (concurrency {}): idle p50 {:.0} µs p99 {:.0} µs ({} req) | \
                 storm p50 {:.0} µs p99 {:.0} µs ({} req) | p99 ×{:.2} | {:.1} ok/s | \
                 {:.1} shed/s",
                round + 1,
                variant.name(),
                if variant == Variant::Unbounded {
                    "max".to_string()
                } else {
                    concurrency.to_string()
                },
                stats.idle_p50,
                stats.idle_p99,
                stats.requests.0,
                stats.storm_p50,
                stats.storm_p99,
                stats.requests.1,
                stats.p99_ratio(),
                stats.logins_per_sec,
                stats.shed_per_sec,
            );
            row.push(stats);
        }
        results.push(row);
    }
    if config.test_mode {
        println!("login storm smoke run: every cheap request and every login answered 200");
        return;
    }
    print_table(&config, &results);
}

fn print_table(config: &Config, results: &[Vec<Stats>]) {
    let unbounded = config
        .variants
        .iter()
        .position(|&v| v == Variant::Unbounded);
    println!(
        "\nMedians over {} round(s){}; ratios are computed per round (same server for \
         storm/idle, same round for ÷ unbounded), then their median is shown.\n",
        config.rounds,
        if config.warm {
            ", warm CPUs (nice-19 spinners)"
        } else {
            ""
        },
    );
    println!(
        "| variant | hashing concurrency | idle p50 | idle p99 | storm p50 | storm p99 | \
         **p99 storm / idle** | {} | **÷ unbounded** | shed/s |",
        if config.mix == Mix::Flood {
            "ok/s (201 + 200)"
        } else {
            "logins/s"
        }
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (i, variant) in config.variants.iter().enumerate() {
        let column = |f: &dyn Fn(&Stats) -> f64| {
            let mut values: Vec<f64> = results.iter().map(|row| f(&row[i])).collect();
            median(&mut values)
        };
        let throughput_ratio = unbounded.map(|u| {
            let mut values: Vec<f64> = results
                .iter()
                .map(|row| row[i].logins_per_sec / row[u].logins_per_sec)
                .collect();
            median(&mut values)
        });
        println!(
            "| {} | {} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | **{:.2}** | {:.1} | **{}** | {:.1} |",
            variant.name(),
            variant.concurrency_label(),
            column(&|s| s.idle_p50),
            column(&|s| s.idle_p99),
            column(&|s| s.storm_p50),
            column(&|s| s.storm_p99),
            column(&|s| s.p99_ratio()),
            column(&|s| s.logins_per_sec),
            throughput_ratio.map_or("—".into(), |r| format!("{r:.2}")),
            column(&|s| s.shed_per_sec),
        );
    }
    let per_round: Vec<String> = results
        .iter()
        .map(|row| {
            row.iter()
                .zip(&config.variants)
                .map(|(s, v)| format!("{} {:.2}", v.name(), s.p99_ratio()))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    println!("\np99 storm / idle per round: {}", per_round.join(" | "));
}
