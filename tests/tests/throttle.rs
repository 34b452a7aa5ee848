//! Login and registration budgets under concurrency, across instances and behind proxies, on
//! the wire (the reference server in-process, on SQLite and PostgreSQL).

mod common;

use std::net::{IpAddr, Ipv4Addr};

use auth_runtime::PasswordHasher;
use axum::http::StatusCode;

use common::db::on_both;
use common::server::{PASSWORD, TestServer};

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));

/// A hasher slow enough (one job at a time) that concurrent attempts are all in flight
/// before the first verdict.
fn slow_hasher() -> PasswordHasher {
    PasswordHasher::insecure_for_tests(2048, 2, 1)
        .with_concurrency(1)
        .expect("valid concurrency")
}

/// Fires `passwords.len()` logins for `email` from `ip` at once (spawned in order) and returns
/// their statuses in that order.
async fn storm(server: &TestServer, ip: IpAddr, email: &str, passwords: &[&str]) -> Vec<u16> {
    let tasks: Vec<_> = passwords
        .iter()
        .map(|password| {
            let app = server.app.clone();
            let request = common::server::from_ip(
                common::server::request(
                    "POST",
                    "/auth/login",
                    None,
                    Some(common::server::Payload::Form(common::server::login_form(
                        email, password,
                    ))),
                ),
                ip,
            );
            tokio::spawn(async move { common::send(&app, request).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let reply = task.await.expect("request task");
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(
                reply.headers.contains_key("retry-after"),
                "429 without Retry-After"
            );
        }
        statuses.push(reply.status.as_u16());
    }
    statuses
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test]
async fn concurrent_wrong_passwords_are_evaluated_at_most_budget_times() {
    on_both("concurrent wrong passwords", |db| async move {
        let server = TestServer::start_with(&db, |b| b.password_hasher(slow_hasher())).await;
        server.approved_user("ann@example.com").await;
        let statuses = storm(&server, ATTACKER, "ann@example.com", &["guess guess"; 30]).await;
        assert_eq!(
            count(&statuses, 401),
            10,
            "evaluated attempts (budget 10): {statuses:?}"
        );
        assert_eq!(count(&statuses, 429), 20, "{statuses:?}");
    })
    .await;
}

#[tokio::test]
async fn the_right_password_among_concurrent_guesses_is_not_accepted_past_the_budget() {
    on_both("right password in a storm", |db| async move {
        let server = TestServer::start_with(&db, |b| b.password_hasher(slow_hasher())).await;
        server.approved_user("ann@example.com").await;
        // 149 wrong guesses, then the right password, all in flight at once: the budget (10)
        // is spent by the first ones, so the right password is refused unevaluated.
        let mut passwords = vec!["guess guess"; 149];
        passwords.push(PASSWORD);
        let statuses = storm(&server, ATTACKER, "ann@example.com", &passwords).await;
        let evaluated = statuses.len() - count(&statuses, 429);
        assert!(evaluated <= 10, "{evaluated} evaluated: {statuses:?}");
        assert_eq!(
            statuses[149], 429,
            "the right password got in: {statuses:?}"
        );
        // The real user, from another address, still gets in.
        let reply = server
            .login_from(
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
                "ann@example.com",
                PASSWORD,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    })
    .await;
}
