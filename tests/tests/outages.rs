//! Outages: on PostgreSQL a database that refuses connections, one that turned read-only
//! (a failover), and a table held locked. Every request that needs the database answers 503
//! with `Retry-After`, never 500 and never an allow, and the server recovers by itself.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_runtime::SessionConfig;
use axum::http::{StatusCode, header};
use serde_json::json;
use sqlx::{Connection as _, Executor as _};

use common::Reply;
use common::db::TestDb;
use common::server::{PASSWORD, STALENESS, TestServer};

/// Runs `body` on a fresh PostgreSQL database, dropped afterwards (also on a panic).
async fn on_postgres<F, Fut>(body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = TestDb::postgres().await;
    let outcome = tokio::spawn(body(db.clone())).await;
    db.cleanup().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn assert_unavailable(reply: &Reply, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        reply.text()
    );
    assert!(
        reply.headers.contains_key(header::RETRY_AFTER),
        "{what}: no Retry-After"
    );
    assert_eq!(
        reply.content_type(),
        Some("application/problem+json"),
        "{what}"
    );
}

/// The requests of an outage: registration, sign-in, both token grants, a password change,
/// and a secured route (past the revocation staleness bound).
async fn requests_during_outage(
    server: &TestServer,
    access: &str,
    refresh: &str,
) -> Vec<(&'static str, Reply)> {
    tokio::time::sleep(STALENESS * 2).await;
    vec![
        (
            "register",
            server
                .post_json(
                    "/auth/register",
                    None,
                    json!({ "email": "new@example.com", "password": PASSWORD }),
                )
                .await,
        ),
        ("login", server.login("ann@example.com", PASSWORD).await),
        (
            "password grant",
            server
                .post_form(
                    "/auth/token",
                    None,
                    &format!(
                        "grant_type=password&username=ann%40example.com&password={}",
                        common::server::encode(PASSWORD)
                    ),
                )
                .await,
        ),
        (
            "refresh grant",
            server
                .post_form(
                    "/auth/token",
                    None,
                    &format!("grant_type=refresh_token&refresh_token={refresh}"),
                )
                .await,
        ),
        (
            "change password",
            server
                .post_json(
                    "/auth/change-password",
                    Some(access),
                    json!({ "current_password": PASSWORD, "new_password": "another one 123" }),
                )
                .await,
        ),
        (
            "secured route",
            server.get("/reports/1", Some(access)).await,
        ),
    ]
}

/// Retries a sign-in until the database is back (the pool reconnects by itself).
async fn eventually_signs_in(server: &TestServer) {
    for _ in 0..50 {
        if server.login("ann@example.com", PASSWORD).await.status == StatusCode::OK {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the server did not recover");
}

const TERMINATE: &str = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = '{name}' AND pid <> pg_backend_pid()";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_refusing_connections_is_503_everywhere() {
    on_postgres(|db| async move {
        let server = TestServer::start(&db).await;
        let user = server.approved_user("ann@example.com").await;
        // SQLSTATE 55000 on every new connection; the pool's connections are cut.
        db.execute_as_admin("ALTER DATABASE {db} ALLOW_CONNECTIONS false")
            .await;
        db.execute_as_admin(TERMINATE).await;
        for (what, reply) in requests_during_outage(&server, &user.access, &user.refresh).await {
            assert_unavailable(&reply, what);
        }
        db.execute_as_admin("ALTER DATABASE {db} ALLOW_CONNECTIONS true")
            .await;
        eventually_signs_in(&server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_only_database_is_503_for_writes_and_serves_reads() {
    on_postgres(|db| async move {
        let server = TestServer::start(&db).await;
        let user = server.approved_user("ann@example.com").await;
        // As after a failover to a standby: SQLSTATE 25006 on every write.
        db.execute_as_admin("ALTER DATABASE {db} SET default_transaction_read_only = on")
            .await;
        db.execute_as_admin(TERMINATE).await;
        for (what, reply) in requests_during_outage(&server, &user.access, &user.refresh).await {
            if what == "secured route" {
                // Reading the revocation list needs no write.
                assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.text());
            } else {
                assert_unavailable(&reply, what);
            }
        }
        assert_eq!(
            db.scalar("SELECT COUNT(*) FROM auth_users WHERE email = 'new@example.com'")
                .await,
            0
        );
        db.execute_as_admin("ALTER DATABASE {db} SET default_transaction_read_only = off")
            .await;
        db.execute_as_admin(TERMINATE).await;
        eventually_signs_in(&server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_waiting_on_a_locked_revocation_table_share_one_refresh() {
    on_postgres(|db| async move {
        let staleness = Duration::from_millis(500);
        let server = Arc::new(
            TestServer::start_with(&db, |b| {
                b.session_config(SessionConfig::default().staleness_bound(staleness))
            })
            .await,
        );
        let user = server.approved_user("ann@example.com").await;
        // Another session holds the revocation table: every read of it hangs.
        let mut locker = sqlx::PgConnection::connect(&db.url).await.unwrap();
        locker
            .execute("BEGIN; LOCK TABLE auth_revocations IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        tokio::time::sleep(staleness * 2).await;

        let started = Instant::now();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let server = server.clone();
                let access = user.access.clone();
                tokio::spawn(async move {
                    let reply = server.get("/reports/1", Some(&access)).await;
                    (reply, started.elapsed())
                })
            })
            .collect();
        let mut slowest = Duration::ZERO;
        for task in tasks {
            let (reply, elapsed) = task.await.unwrap();
            assert_unavailable(&reply, "secured route");
            slowest = slowest.max(elapsed);
        }
        // One attempt (bounded by the staleness bound) answers every waiter; one attempt per
        // waiter would take 50 × 500 ms.
        assert!(
            slowest < Duration::from_secs(2),
            "slowest 503 after {slowest:?}"
        );

        locker.execute("ROLLBACK").await.unwrap();
        let _ = locker.close().await;
        let mut recovered = false;
        for _ in 0..50 {
            if server.get("/reports/1", Some(&user.access)).await.status == StatusCode::OK {
                recovered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(recovered, "the server did not recover");
    })
    .await;
}

/// Holds the write path busy: SQLite's write lock, or a lock on PostgreSQL's session table
/// that blocks new sessions (reads go on).
async fn hold_the_write_path(db: &TestDb) -> Box<dyn std::any::Any + Send> {
    match db.backend {
        common::db::Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            conn.execute("BEGIN IMMEDIATE").await.unwrap();
            Box::new(conn)
        }
        common::db::Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            conn.execute("BEGIN; LOCK TABLE auth_sessions IN EXCLUSIVE MODE")
                .await
                .unwrap();
            Box::new(conn)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_ins_stuck_on_the_database_do_not_starve_secured_routes() {
    common::db::on_both("pool starvation", |db| async move {
        let server = Arc::new(TestServer::start(&db).await);
        let user = server.approved_user("ann@example.com").await;
        let lock = hold_the_write_path(&db).await;
        // More sign-ins than the store has connections, each waiting to record its session.
        let stuck: Vec<_> = (0..16u8)
            .map(|i| {
                let server = server.clone();
                tokio::spawn(async move {
                    let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, i));
                    server
                        .login_from(ip, "ann@example.com", PASSWORD)
                        .await
                        .status
                })
            })
            .collect();
        // Past the staleness bound: the revocation list must have been read meanwhile.
        tokio::time::sleep(STALENESS * 3).await;
        let reply = server.get("/reports/1", Some(&user.access)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        drop(lock);
        for task in stuck {
            let status = task.await.unwrap();
            assert!(
                status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
                "{status}"
            );
        }
    })
    .await;
}
