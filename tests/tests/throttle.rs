//! Login and registration budgets under concurrency, across instances and behind proxies, on
//! the wire (the reference server in-process, on SQLite and PostgreSQL; budgets in memory, in
//! the SQL store and in Redis).
//!
//! Redis is required (like PostgreSQL): `AUTH_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379/`; every test uses a fresh random key prefix.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use auth_runtime::proxy::ForwardedHeader;
use auth_runtime::throttle::{MemoryThrottleStore, RedisThrottleStore, ThrottleStore};
use auth_runtime::{AuthManagerBuilder, PasswordHasher};
use axum::http::{StatusCode, header};
use serde_json::json;

use common::db::{TestDb, on_both, unique_name};
use common::server::{PASSWORD, Payload, TestServer, from_ip, login_form, raw_status, request};
use common::{Reply, assert_problem, send};

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
const REAL_USER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));
const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

/// The Redis server for tests.
fn redis_url() -> String {
    std::env::var("AUTH_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// A Redis throttle store with a key prefix of its own.
fn redis(prefix: &str) -> RedisThrottleStore {
    RedisThrottleStore::open(&redis_url())
        .expect("Redis URL")
        .prefix(prefix)
}

fn fresh_prefix() -> String {
    format!("auth-test-{}:", unique_name())
}

/// Where a test server keeps its budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budgets {
    Memory,
    Sql,
    Redis,
}

impl Budgets {
    const ALL: [Budgets; 3] = [Budgets::Memory, Budgets::Sql, Budgets::Redis];

    /// The store for a server on `db` (`prefix`: the Redis key prefix).
    async fn store(self, db: &TestDb, prefix: &str) -> Arc<dyn ThrottleStore> {
        match self {
            Budgets::Memory => Arc::new(MemoryThrottleStore::new(100_000)),
            // Its own connection pool on the database, as another instance would have.
            Budgets::Sql => Arc::new(db.store().await),
            Budgets::Redis => {
                let store = redis(prefix);
                store.ping().await.unwrap_or_else(|e| {
                    panic!("Redis is required for these tests ({e}); set AUTH_TEST_REDIS_URL")
                });
                Arc::new(store)
            }
        }
    }
}

/// A reference server on `db` with its budgets in `budgets`.
async fn server(
    db: &TestDb,
    budgets: Budgets,
    prefix: &str,
    configure: impl FnOnce(AuthManagerBuilder) -> AuthManagerBuilder,
) -> TestServer {
    let store = budgets.store(db, prefix).await;
    TestServer::start_with(db, |b| configure(b.throttle_store(store))).await
}

/// A hasher slow enough (one job at a time) that concurrent attempts are all in flight
/// before the first verdict.
fn slow_hasher() -> PasswordHasher {
    PasswordHasher::insecure_for_tests(2048, 2, 1)
        .with_concurrency(1)
        .expect("valid concurrency")
}

fn login_request(ip: IpAddr, email: &str, password: &str) -> axum::http::Request<axum::body::Body> {
    from_ip(
        request(
            "POST",
            "/auth/login",
            None,
            Some(Payload::Form(login_form(email, password))),
        ),
        ip,
    )
}

/// Fires one login per password for `email` from `ip` at once (spawned in order) and returns
/// their statuses in that order.
async fn storm(server: &TestServer, ip: IpAddr, email: &str, passwords: &[&str]) -> Vec<u16> {
    let tasks: Vec<_> = passwords
        .iter()
        .map(|password| {
            let app = server.app.clone();
            let request = login_request(ip, email, password);
            tokio::spawn(async move { send(&app, request).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let reply = task.await.expect("request task");
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            assert_retry_after(&reply, 900);
        }
        statuses.push(reply.status.as_u16());
    }
    statuses
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// A `Retry-After` of 1 to `max` seconds.
fn assert_retry_after(reply: &Reply, max: u64) -> u64 {
    let retry: u64 = reply
        .headers
        .get(header::RETRY_AFTER)
        .unwrap_or_else(|| panic!("{} without Retry-After", reply.status))
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=max).contains(&retry), "Retry-After {retry}");
    retry
}

fn status(reply: &Reply) -> u16 {
    reply.status.as_u16()
}

// ---------------------------------------------------------------------------------------------
// Atomic admission
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn concurrent_wrong_passwords_are_evaluated_at_most_budget_times() {
    on_both("concurrent wrong passwords", |db| async move {
        for budgets in Budgets::ALL {
            let server = server(&db, budgets, &fresh_prefix(), |b| {
                b.password_hasher(slow_hasher())
            })
            .await;
            server
                .approved_user(&format!("ann-{budgets:?}@example.com"))
                .await;
            let email = format!("ann-{budgets:?}@example.com");
            let statuses = storm(&server, ATTACKER, &email, &["guess guess"; 30]).await;
            assert_eq!(
                (count(&statuses, 401), count(&statuses, 429)),
                (10, 20),
                "{budgets:?}: evaluated attempts (budget 10): {statuses:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn the_right_password_among_concurrent_guesses_is_not_accepted_past_the_budget() {
    on_both("right password in a storm", |db| async move {
        for budgets in Budgets::ALL {
            let server = server(&db, budgets, &fresh_prefix(), |b| {
                b.password_hasher(slow_hasher())
            })
            .await;
            let email = format!("ann-{budgets:?}@example.com");
            server.approved_user(&email).await;
            // A first wave of wrong guesses in flight at once spends the budget (10); a second
            // wave, the right password among 140 guesses, is refused unevaluated. (Within one
            // wave the order of admission is the store's, not the order of sending: with a
            // shared store the right password could be among the 10 admitted, which the
            // budget allows.)
            let first = storm(&server, ATTACKER, &email, &["guess guess"; 10]).await;
            assert_eq!(count(&first, 401), 10, "{budgets:?}: {first:?}");
            let mut passwords = vec!["guess guess"; 139];
            passwords.push(PASSWORD);
            let statuses = storm(&server, ATTACKER, &email, &passwords).await;
            let evaluated = statuses.len() - count(&statuses, 429);
            assert_eq!(
                evaluated, 0,
                "{budgets:?}: {evaluated} evaluated past the budget: {statuses:?}"
            );
            assert_eq!(
                statuses[139], 429,
                "{budgets:?}: the right password got in: {statuses:?}"
            );
            // The real user, from another address, still gets in.
            let reply = server.login_from(REAL_USER, &email, PASSWORD).await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{budgets:?}: {}",
                reply.text()
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_success_gives_its_charge_back() {
    on_both("success gives back", |db| async move {
        for budgets in [Budgets::Sql, Budgets::Redis] {
            let server = server(&db, budgets, &fresh_prefix(), |b| b).await;
            let email = format!("ann-{budgets:?}@example.com");
            server.approved_user(&email).await;
            // Nine failures, a success (the pair is cleared), ten more failures: allowed.
            for _ in 0..9 {
                assert_eq!(
                    status(&server.login_from(ATTACKER, &email, "guess").await),
                    401
                );
            }
            assert_eq!(
                status(&server.login_from(ATTACKER, &email, PASSWORD).await),
                200
            );
            for _ in 0..10 {
                assert_eq!(
                    status(&server.login_from(ATTACKER, &email, "guess").await),
                    401
                );
            }
            let reply = server.login_from(ATTACKER, &email, PASSWORD).await;
            assert_eq!(status(&reply), 429, "{budgets:?}");
            assert_retry_after(&reply, 900);
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Addresses: IPv6 /64, IPv4-mapped, trusted proxies
// ---------------------------------------------------------------------------------------------

fn v6(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn ipv6_addresses_share_their_64s_budget() {
    on_both("ipv6 /64", |db| async move {
        let server = TestServer::start(&db).await;
        server.approved_user("ann@example.com").await;
        // Ten failures, each from another address of one /64.
        for i in 1..=10u16 {
            let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, 0, 0, i));
            let reply = server
                .login_from(ip, "ann@example.com", "guess guess")
                .await;
            assert_eq!(status(&reply), 401, "attempt {i}");
        }
        // Any other address of that /64: refused.
        let reply = server
            .login_from(
                v6("2001:db8:1:2:ffff:ffff:ffff:ffff"),
                "ann@example.com",
                PASSWORD,
            )
            .await;
        assert_eq!(status(&reply), 429);
        assert_retry_after(&reply, 900);
        // The next /64 is someone else.
        let reply = server
            .login_from(v6("2001:db8:1:3::1"), "ann@example.com", PASSWORD)
            .await;
        assert_eq!(status(&reply), 200, "{}", reply.text());

        // IPv4-mapped IPv6 counts as the IPv4 address.
        for _ in 0..10 {
            let reply = server
                .login_from(v6("::ffff:192.0.2.44"), "ann@example.com", "guess guess")
                .await;
            assert_eq!(status(&reply), 401);
        }
        let reply = server
            .login_from(v6("192.0.2.44"), "ann@example.com", PASSWORD)
            .await;
        assert_eq!(status(&reply), 429);
    })
    .await;
}

/// A login from TCP peer `peer` with a forwarding header.
fn forwarded_login(
    peer: IpAddr,
    name: &str,
    value: &[u8],
    password: &str,
) -> axum::http::Request<axum::body::Body> {
    let mut request = login_request(peer, "ann@example.com", password);
    request.headers_mut().append(
        header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
        header::HeaderValue::from_bytes(value).unwrap(),
    );
    request
}

#[tokio::test]
async fn a_trusted_proxys_header_names_the_client_and_nobody_elses_does() {
    on_both("trusted proxies", |db| async move {
        let server =
            TestServer::start_with(&db, |b| b.trusted_proxies(["10.0.0.0/8", "fd00::/8"])).await;
        server.approved_user("ann@example.com").await;
        let via_proxy = |xff: &str, password: &str| {
            forwarded_login(PROXY, "x-forwarded-for", xff.as_bytes(), password)
        };

        // Through the proxy: the attacker's own address (right-most non-proxy entry) is
        // throttled, whatever it wrote further left.
        for i in 0..10 {
            let spoof = format!("192.0.2.{i}, {ATTACKER}, 10.0.0.2");
            assert_eq!(
                status(&server.send(via_proxy(&spoof, "guess guess")).await),
                401
            );
        }
        let reply = server
            .send(via_proxy(&format!("1.2.3.4, {ATTACKER}"), PASSWORD))
            .await;
        assert_eq!(status(&reply), 429);
        // Another client through the same proxy is not (no shared proxy budget).
        let reply = server
            .send(via_proxy(&REAL_USER.to_string(), PASSWORD))
            .await;
        assert_eq!(status(&reply), 200, "{}", reply.text());

        // From an untrusted peer, the header is ignored: rotating it changes nothing.
        let direct = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 99));
        for i in 0..10 {
            let request = forwarded_login(
                direct,
                "x-forwarded-for",
                format!("192.0.2.{i}").as_bytes(),
                "guess guess",
            );
            assert_eq!(status(&server.send(request).await), 401);
        }
        let request = forwarded_login(direct, "x-forwarded-for", b"192.0.2.200", PASSWORD);
        assert_eq!(status(&server.send(request).await), 429);

        // Malformed headers from the proxy: the proxy's own address, never a 500.
        let proxy2 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
        let malformed: [&[u8]; 5] = [
            b"",
            b"not an address",
            b"203.0.113.7,",
            b"\xff\xfe",
            b"unknown",
        ];
        for (i, value) in malformed.iter().cycle().take(10).enumerate() {
            let request = forwarded_login(proxy2, "x-forwarded-for", value, "guess guess");
            let reply = server.send(request).await;
            assert_eq!(status(&reply), 401, "{i}: {value:?}: {}", reply.text());
        }
        // ... all counted against the proxy's address.
        let request = forwarded_login(proxy2, "x-forwarded-for", b"nonsense", PASSWORD);
        assert_eq!(status(&server.send(request).await), 429);
        let request = login_request(proxy2, "ann@example.com", PASSWORD);
        assert_eq!(status(&server.send(request).await), 429);
    })
    .await;
}

#[tokio::test]
async fn rfc_7239_forwarded_when_configured() {
    let db = TestDb::sqlite().await;
    let server = TestServer::start_with(&db, |b| {
        b.trusted_proxies(["10.0.0.0/8"])
            .forwarded_header(ForwardedHeader::Forwarded)
    })
    .await;
    server.approved_user("ann@example.com").await;
    for i in 0..10 {
        let value = format!("for=192.0.2.{i};proto=https, for=\"[2001:db8::7]:4711\"");
        let request = forwarded_login(PROXY, "forwarded", value.as_bytes(), "guess guess");
        assert_eq!(status(&server.send(request).await), 401);
    }
    // Same /64 as the client above: refused.
    let request = forwarded_login(PROXY, "forwarded", b"for=\"[2001:db8::8]\"", PASSWORD);
    assert_eq!(status(&server.send(request).await), 429);
    // X-Forwarded-For is not read when Forwarded is configured (it would be the client's word).
    let request = forwarded_login(PROXY, "x-forwarded-for", b"198.51.100.3", PASSWORD);
    assert_eq!(status(&server.send(request).await), 200);
    // Malformed: the proxy's address, no 500.
    for bad in [
        &b"for=unknown"[..],
        b"for=\"[2001:db8::1\"",
        b"by=10.0.0.1",
        b"for=1.2.3.4;for=5.6.7.8",
    ] {
        let request = forwarded_login(PROXY, "forwarded", bad, "guess guess");
        assert_eq!(status(&server.send(request).await), 401, "{bad:?}");
    }
    db.cleanup().await;
}

#[tokio::test]
async fn bad_trusted_proxy_networks_are_configuration_errors() {
    let db = TestDb::sqlite().await;
    let settings = common::server::settings(&db);
    let store = db.store().await;
    let err = examples::builder(&settings, store)
        .trusted_proxies(["10.0.0.0/8", "10.0.0.1/8", "nonsense"])
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("trusted proxy `10.0.0.1/8`"), "{text}");
    assert!(text.contains("trusted proxy `nonsense`"), "{text}");
    db.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// Registration budget
// ---------------------------------------------------------------------------------------------

fn register_from(ip: IpAddr, email: &str) -> axum::http::Request<axum::body::Body> {
    from_ip(
        request(
            "POST",
            "/auth/register",
            None,
            Some(Payload::Json(
                json!({ "email": email, "password": PASSWORD }),
            )),
        ),
        ip,
    )
}

#[tokio::test]
async fn registrations_per_address_are_limited() {
    on_both("registration budget", |db| async move {
        for budgets in Budgets::ALL {
            let server = server(&db, budgets, &fresh_prefix(), |b| b.registration_limit(3)).await;
            let tag = format!("{budgets:?}").to_lowercase();
            for i in 0..3 {
                let reply = server
                    .send(register_from(ATTACKER, &format!("{tag}{i}@example.com")))
                    .await;
                assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
            }
            let reply = server
                .send(register_from(ATTACKER, &format!("{tag}x@example.com")))
                .await;
            assert_problem(
                &reply,
                StatusCode::TOO_MANY_REQUESTS,
                "Too many registrations from this address; retry later",
            );
            let retry = assert_retry_after(&reply, 600);
            assert!(retry > 590, "{retry}");
            // Another address registers.
            let reply = server
                .send(register_from(REAL_USER, &format!("{tag}y@example.com")))
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        }
        // 0: no limit.
        let server = TestServer::start_with(&db, |b| b.registration_limit(0)).await;
        for i in 0..25 {
            let reply = server
                .send(register_from(ATTACKER, &format!("free{i}@example.com")))
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        }
    })
    .await;
}

#[tokio::test]
async fn the_reference_servers_default_registration_limit_is_20() {
    let db = TestDb::sqlite().await;
    let server = TestServer::start(&db).await;
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 77));
    for i in 0..20 {
        let reply = server
            .send(register_from(ip, &format!("r{i}@example.com")))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{i}: {}", reply.text());
    }
    let reply = server.send(register_from(ip, "r20@example.com")).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_retry_after(&reply, 600);
    db.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// Across instances
// ---------------------------------------------------------------------------------------------

/// Two instances (two managers, two pools or two Redis connections) charging one budget.
async fn two_instances_share_one_budget(db: &TestDb, budgets: Budgets) {
    let prefix = fresh_prefix();
    let a = server(db, budgets, &prefix, |b| b).await;
    let b = server(db, budgets, &prefix, |b| b).await;
    a.approved_user("ann@example.com").await;
    for i in 0..10 {
        let instance = if i % 2 == 0 { &a } else { &b };
        let reply = instance
            .login_from(ATTACKER, "ann@example.com", "guess guess")
            .await;
        assert_eq!(status(&reply), 401, "{budgets:?}: attempt {i}");
    }
    for instance in [&a, &b] {
        let reply = instance
            .login_from(ATTACKER, "ann@example.com", PASSWORD)
            .await;
        assert_eq!(status(&reply), 429, "{budgets:?}: {}", reply.text());
        assert_retry_after(&reply, 900);
    }
    // Concurrently on both: still one budget of 10.
    let email = "bob@example.com";
    a.approved_user(email).await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let app = if i % 2 == 0 {
            a.app.clone()
        } else {
            b.app.clone()
        };
        let request = login_request(REAL_USER, email, "guess guess");
        tasks.push(tokio::spawn(
            async move { send(&app, request).await.status },
        ));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().as_u16());
    }
    assert_eq!(
        (count(&statuses, 401), count(&statuses, 429)),
        (10, 20),
        "{budgets:?}: {statuses:?}"
    );
}

#[tokio::test]
async fn two_instances_on_one_database_share_one_budget() {
    on_both("two instances, SQL budgets", |db| async move {
        two_instances_share_one_budget(&db, Budgets::Sql).await;
    })
    .await;
}

#[tokio::test]
async fn two_instances_on_one_redis_share_one_budget() {
    on_both("two instances, Redis budgets", |db| async move {
        two_instances_share_one_budget(&db, Budgets::Redis).await;
    })
    .await;
}

#[tokio::test]
async fn the_reference_server_shares_budgets_through_postgresql() {
    // No throttle store configured: on PostgreSQL the reference server keeps its budgets in
    // the database, so two instances share them.
    let db = TestDb::postgres().await;
    let a = TestServer::start(&db).await;
    let b = TestServer::start(&db).await;
    a.approved_user("ann@example.com").await;
    for i in 0..10 {
        let instance = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            status(
                &instance
                    .login_from(ATTACKER, "ann@example.com", "guess")
                    .await
            ),
            401
        );
    }
    assert_eq!(
        status(&b.login_from(ATTACKER, "ann@example.com", PASSWORD).await),
        429
    );
    // No email in the table: keyed hashes and networks only.
    let leaked = db
        .scalar("SELECT COUNT(*) FROM auth_throttle WHERE id LIKE '%ann%' OR id LIKE '%example%'")
        .await;
    assert_eq!(leaked, 0);
    assert!(db.scalar("SELECT COUNT(*) FROM auth_throttle").await >= 2);
    db.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// Unreachable stores
// ---------------------------------------------------------------------------------------------

fn assert_unavailable(reply: &Reply) {
    assert_problem(
        reply,
        StatusCode::SERVICE_UNAVAILABLE,
        "Authentication is temporarily unavailable; try again shortly",
    );
    assert_retry_after(reply, 60);
}

#[tokio::test]
async fn an_unreachable_throttle_store_is_503_never_an_allow() {
    on_both("unreachable throttle store", |db| async move {
        // SQL budgets on a pool that is closed (the accounts' store still works).
        let throttle = db.store().await;
        let server = TestServer::start_with(&db, |b| b.throttle_store(throttle.clone())).await;
        server.approved_user("ann@example.com").await;
        throttle.close().await;
        assert_unavailable(&server.login("ann@example.com", PASSWORD).await);
        assert_unavailable(&server.login("ann@example.com", "guess guess").await);
        assert_unavailable(
            &server
                .send(register_from(ATTACKER, "new@example.com"))
                .await,
        );

        // Redis budgets on a port nobody listens on.
        let dead = RedisThrottleStore::open("redis://127.0.0.1:1/").unwrap();
        let server = TestServer::start_with(&db, |b| b.throttle_store(dead)).await;
        assert_unavailable(&server.login("ann@example.com", PASSWORD).await);
        assert_unavailable(
            &server
                .login_from(ATTACKER, "ann@example.com", "guess")
                .await,
        );
        assert_unavailable(
            &server
                .send(register_from(ATTACKER, "new2@example.com"))
                .await,
        );
        assert_unavailable(&admin_login_reply(&server).await);
    })
    .await;
}

/// `POST /admin/login` with the seeded admin's credentials.
async fn admin_login_reply(server: &TestServer) -> Reply {
    server
        .post_json(
            "/admin/login",
            None,
            json!({ "email": common::server::ADMIN_EMAIL, "password": common::server::ADMIN_PASSWORD }),
        )
        .await
}

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

fn settings_from(vars: &[(&str, &str)]) -> Result<examples::Settings, examples::SettingsError> {
    let mut vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    // The service key is generated beside the database: keep it out of the source tree.
    if !vars.iter().any(|(k, _)| k == "DATABASE_URL") {
        let dir = std::env::temp_dir().join(format!("settings-test-{}", std::process::id()));
        vars.push((
            "DATABASE_URL".to_owned(),
            format!("sqlite://{}/auth.db", dir.display()),
        ));
    }
    examples::Settings::from_vars(move |name| {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
}

#[test]
fn reference_server_settings() {
    let defaults = settings_from(&[]).unwrap();
    assert!(defaults.trusted_proxies.is_empty());
    assert_eq!(defaults.forwarded_header, ForwardedHeader::XForwardedFor);
    assert_eq!(defaults.register_limit, 20);
    assert!(defaults.redis.is_none());

    let set = settings_from(&[
        ("AUTH_TRUSTED_PROXIES", " 10.0.0.0/8, 192.168.1.7 ,fd00::/8"),
        ("AUTH_FORWARDED_HEADER", "Forwarded"),
        ("AUTH_REGISTER_LIMIT", "0"),
        ("AUTH_REDIS_URL", "redis://127.0.0.1:6379/"),
    ])
    .unwrap();
    let networks: Vec<String> = set
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(networks, ["10.0.0.0/8", "192.168.1.7/32", "fd00::/8"]);
    assert_eq!(set.forwarded_header, ForwardedHeader::Forwarded);
    assert_eq!(set.register_limit, 0);
    assert!(set.redis.is_some());

    for (variable, value, expected) in [
        (
            "AUTH_TRUSTED_PROXIES",
            "10.0.0.0/8, 10.0.0.1/8",
            "10.0.0.1/8",
        ),
        ("AUTH_TRUSTED_PROXIES", "localhost", "not an IP address"),
        ("AUTH_FORWARDED_HEADER", "x-real-ip", "x-real-ip"),
        ("AUTH_REGISTER_LIMIT", "-1", "not a whole number"),
        ("AUTH_REGISTER_LIMIT", "twenty", "not a whole number"),
        (
            "AUTH_REDIS_URL",
            "http://secret@example.com/",
            "invalid Redis URL",
        ),
    ] {
        let err = settings_from(&[(variable, value)]).unwrap_err();
        assert_eq!(err.variable, variable);
        let text = err.to_string();
        assert!(text.starts_with(variable), "{text}");
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains("secret@"), "{text}");
    }
}

#[tokio::test]
async fn served_over_tcp_behind_a_trusted_proxy() {
    // The reference server with AUTH_TRUSTED_PROXIES=127.0.0.1/32: the real TCP peer is the
    // "proxy", X-Forwarded-For names the client.
    let db = TestDb::sqlite().await;
    let server = TestServer::start_with(&db, |b| b.trusted_proxies(["127.0.0.1/32"])).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(examples::serve(listener, server.app.clone()));
    let mut statuses = Vec::new();
    for i in 0..12 {
        // Ten failures from 203.0.113.7, then it is refused; 198.51.100.2 is not.
        let client = if i < 11 {
            "203.0.113.7"
        } else {
            "198.51.100.2"
        };
        let body = login_form("ann@example.com", "guess guess");
        let request = format!(
            "POST /auth/login HTTP/1.1\r\nHost: {addr}\r\nX-Forwarded-For: {client}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        statuses.push(raw_status(addr, &request).await);
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10..], [429, 401]);
    db.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// Policies see the same client address
// ---------------------------------------------------------------------------------------------

mod policy_client_ip {
    use std::net::SocketAddr;

    use auth_runtime::policy::{Attr, PolicyRule};
    use auth_runtime::prelude::*;
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt as _;

    #[policy(action = "site:manage", resource = "site")]
    #[route(GET, "/site")]
    async fn site() -> &'static str {
        "managing"
    }

    #[derive(SecureRouter)]
    #[secure_router(routes(site))]
    struct Api;

    async fn status(m: &AuthManager, token: &str, peer: &str, xff: Option<&str>) -> StatusCode {
        let mut request = Request::builder()
            .uri("/site")
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if let Some(xff) = xff {
            request = request.header("x-forwarded-for", xff);
        }
        let mut request = request.body(Body::empty()).unwrap();
        let peer: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        Api::router()
            .with_state(m.clone())
            .oneshot(request)
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn policies_see_the_client_a_trusted_proxy_reported() {
        let m = AuthManager::builder()
            .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
            .trusted_proxies(["10.0.0.0/8"])
            .policy(
                PolicyRule::allow("office")
                    .actions(["site:manage"])
                    .resources(["site"])
                    .when(Attr::env("client_ip").eq("203.0.113.9")),
            )
            .build()
            .unwrap();
        let token = m
            .create_access_token(&TokenRequest::new("user", "olga").scopes(["x:y"]))
            .unwrap()
            .access_token;
        // Through the trusted proxy: the reported client.
        let via_proxy = status(&m, &token, "10.0.0.1:443", Some("1.1.1.1, 203.0.113.9")).await;
        assert_eq!(via_proxy, StatusCode::OK);
        // The same header from anyone else is ignored.
        let spoofed = status(&m, &token, "198.51.100.1:443", Some("203.0.113.9")).await;
        assert_eq!(spoofed, StatusCode::FORBIDDEN);
        // Directly, IPv4-mapped: the IPv4 address.
        let mapped = status(&m, &token, "[::ffff:203.0.113.9]:443", None).await;
        assert_eq!(mapped, StatusCode::OK);
        // A malformed header from the proxy: the proxy's own address.
        let malformed = status(&m, &token, "10.0.0.1:443", Some("203.0.113.9, junk")).await;
        assert_eq!(malformed, StatusCode::FORBIDDEN);
    }
}
