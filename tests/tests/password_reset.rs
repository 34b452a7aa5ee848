//! Password reset on the reference server (docs/architecture.md §5): `POST
//! /auth/password-reset` and `POST /auth/password-reset/confirm`, on SQLite and on PostgreSQL.
//! Tokens are caught by a test sender ([`Outbox`]) in place of the reference server's, which
//! logs the link ([`the_reference_server_logs_the_link_and_nothing_else_holds_the_token`]).

mod common;

use std::net::IpAddr;
use std::time::Duration;

use auth_runtime::accounts::{ResetMail, ResetSendFuture, ResetSender};
use auth_runtime::routes::PasswordResetRoutes;
use auth_runtime::store::{NewPasswordReset, PasswordResetStore as _, StoreError};
use auth_runtime::throttle::ThrottleConfig;
use auth_runtime::{AuthManager, LoginType, PasswordHasher, SigningKey};
use axum::http::{StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use common::db::{TestDb, on_both};
use common::server::{PASSWORD, Payload, TestServer, from_ip, request};
use common::{LogBuffer, Reply, assert_problem};

const ANN: &str = "ann@example.com";
const NEW_PASSWORD: &str = "a brand new secret 42";
const BAD_TOKEN: &str = "The password reset token is invalid or has expired; ask for a new one";
/// How long a test waits for a mail that should come.
const MAIL_WAIT: Duration = Duration::from_secs(10);
/// How long a test waits to be sure that a mail does not come.
const NO_MAIL_WAIT: Duration = Duration::from_millis(400);

/// A [`ResetSender`] that hands every mail to the test.
struct Outbox(mpsc::UnboundedSender<ResetMail>);

impl ResetSender for Outbox {
    fn send<'a>(&'a self, mail: &'a ResetMail) -> ResetSendFuture<'a> {
        let _ = self.0.send(mail.clone());
        Box::pin(async { Ok(()) })
    }
}

/// The mails an [`Outbox`] caught.
struct Inbox(mpsc::UnboundedReceiver<ResetMail>);

impl Inbox {
    /// The next mail (they are sent in the background, after the answer).
    async fn next(&mut self) -> ResetMail {
        tokio::time::timeout(MAIL_WAIT, self.0.recv())
            .await
            .expect("a reset mail within 10 s")
            .expect("the outbox is open")
    }

    /// Asserts that no (further) mail comes.
    async fn nothing_more(&mut self) {
        tokio::time::sleep(NO_MAIL_WAIT).await;
        if let Ok(mail) = self.0.try_recv() {
            panic!("an unexpected mail to {}", mail.email);
        }
    }
}

/// The reference server with its reset mails caught.
async fn start(db: &TestDb) -> (TestServer, Inbox) {
    start_with(db, |b| b).await
}

async fn start_with(
    db: &TestDb,
    configure: impl FnOnce(auth_runtime::AuthManagerBuilder) -> auth_runtime::AuthManagerBuilder,
) -> (TestServer, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server =
        TestServer::start_with(db, |b| configure(b.password_reset_sender(Outbox(tx)))).await;
    (server, Inbox(rx))
}

fn status(reply: &Reply, expected: StatusCode) {
    assert_eq!(reply.status, expected, "{}", reply.text());
}

/// `POST /auth/password-reset {email}`.
async fn ask(server: &TestServer, email: &str) -> Reply {
    server
        .post_json("/auth/password-reset", None, json!({ "email": email }))
        .await
}

/// `POST /auth/password-reset {email}` from client address `ip`.
async fn ask_from(server: &TestServer, ip: IpAddr, email: &str) -> Reply {
    let body = Payload::Json(json!({ "email": email }));
    server
        .send(from_ip(
            request("POST", "/auth/password-reset", None, Some(body)),
            ip,
        ))
        .await
}

/// `POST /auth/password-reset/confirm {token, new_password}`.
async fn confirm(server: &TestServer, token: &str, new_password: &str) -> Reply {
    server
        .post_json(
            "/auth/password-reset/confirm",
            None,
            json!({ "token": token, "new_password": new_password }),
        )
        .await
}

/// Asks for a reset of `email` (an account that gets one) and returns the mail.
async fn token_for(server: &TestServer, inbox: &mut Inbox, email: &str) -> ResetMail {
    status(&ask(server, email).await, StatusCode::ACCEPTED);
    let mail = inbox.next().await;
    assert_eq!(mail.email, email);
    mail
}

/// The refusal of every bad token: one answer.
fn assert_bad_token(reply: &Reply) {
    assert_problem(reply, StatusCode::BAD_REQUEST, BAD_TOKEN);
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Registers `email` and leaves it pending.
async fn pending_account(server: &TestServer, email: &str) {
    let reply = server
        .post_json(
            "/auth/register",
            None,
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    status(&reply, StatusCode::CREATED);
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_email_gets_the_same_answer_and_only_an_active_account_a_mail() {
    on_both("same answer", |db| async move {
        let (server, mut inbox) = start(&db).await;
        server.approved_user(ANN).await;
        pending_account(&server, "pat@example.com").await;
        server.approved_user("dan@example.com").await;
        let dan = server.id_of("dan@example.com").await;
        server.manager.deactivate(&dan).await.expect("deactivated");

        let reference = ask(&server, ANN).await;
        status(&reference, StatusCode::ACCEPTED);
        assert_eq!(reference.json(), json!({ "status": "sent" }));
        assert_eq!(
            reference.headers.get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        for email in [
            "nobody@example.com",
            "pat@example.com",
            "dan@example.com",
            // Another spelling of an account's email is that account.
            " Ann@EXAMPLE.com ",
        ] {
            let reply = ask(&server, email).await;
            assert_eq!(reply.status, reference.status, "{email}");
            assert_eq!(reply.headers, reference.headers, "{email}");
            assert_eq!(reply.body, reference.body, "{email}");
        }
        // Ann asked twice (two spellings): two mails; nobody else got one.
        let first = inbox.next().await;
        let second = inbox.next().await;
        inbox.nothing_more().await;
        assert_eq!((first.email.as_str(), second.email.as_str()), (ANN, ANN));
        assert_ne!(first.token, second.token);
        let ann = server.id_of(ANN).await;
        assert_eq!(first.account, ann);
        assert_eq!(
            db.scalar("SELECT COUNT(*) FROM auth_password_resets").await,
            2
        );
        assert_eq!(
            db.scalar(&format!(
                "SELECT COUNT(*) FROM auth_password_resets WHERE account = '{ann}'"
            ))
            .await,
            2
        );
    })
    .await;
}

#[tokio::test]
async fn the_store_holds_the_digest_never_the_token() {
    on_both("digest only", |db| async move {
        let (server, mut inbox) = start(&db).await;
        server.approved_user(ANN).await;
        let mail = token_for(&server, &mut inbox, ANN).await;
        // 256 random bits, URL-safe.
        assert_eq!(mail.token.len(), 43, "{}", mail.token);
        assert!(
            mail.token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let token = &mail.token;
        let digest = sha256_hex(token);
        assert_eq!(
            db.scalar(&format!(
                "SELECT COUNT(*) FROM auth_password_resets WHERE digest = '{digest}' \
                 AND used_at IS NULL AND expires_at - created_at = 1800"
            ))
            .await,
            1
        );
        assert_eq!(
            db.scalar(&format!(
                "SELECT COUNT(*) FROM auth_password_resets WHERE digest LIKE '%{token}%' \
                 OR account LIKE '%{token}%'"
            ))
            .await,
            0
        );
        assert!(mail.expires_at > common::now() as u64 + 1700);
        // The account's credential version at issue.
        let version = db
            .scalar(&format!(
                "SELECT credential_version FROM auth_users WHERE email = '{ANN}'"
            ))
            .await;
        assert_eq!(
            db.scalar(&format!(
                "SELECT credential_version FROM auth_password_resets WHERE digest = '{digest}'"
            ))
            .await,
            version
        );
        // Neither the token nor its digest is in any answer.
        let used = confirm(&server, token, NEW_PASSWORD).await;
        status(&used, StatusCode::NO_CONTENT);
        let refused = confirm(&server, token, NEW_PASSWORD).await;
        assert!(!refused.text().contains(token.as_str()));
        assert!(!refused.text().contains(&digest));
    })
    .await;
}

/// The store's side, on its own: a reset is spent once, however many spend it at once, and
/// never after it expired; expired resets are purged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_spends_a_reset_once() {
    on_both("store", |db| async move {
        let store = db.store().await;
        let now = common::now() as u64;
        for (digest, expires_at) in [("live", now + 60), ("old", now - 1), ("other", now + 60)] {
            store
                .create_password_reset(NewPasswordReset::new(
                    digest,
                    "acc",
                    4,
                    now - 10,
                    expires_at,
                ))
                .await
                .expect("recorded");
        }
        // A digest is a key.
        let again = store
            .create_password_reset(NewPasswordReset::new("live", "acc", 4, now, now + 60))
            .await;
        assert_eq!(again, Err(StoreError::Conflict));
        let record = store.password_reset("live").await.unwrap().expect("found");
        assert_eq!(
            (
                record.reset.account.as_str(),
                record.reset.credential_version,
                record.used_at
            ),
            ("acc", 4, None)
        );
        let spends: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.consume_password_reset("live", now).await })
            })
            .collect();
        let mut won = 0;
        for spend in spends {
            won += usize::from(spend.await.expect("task").expect("store"));
        }
        assert_eq!(won, 1);
        let record = store.password_reset("live").await.unwrap().expect("found");
        assert_eq!(record.used_at, Some(now));
        assert!(!store.consume_password_reset("old", now).await.unwrap());
        assert!(!store.consume_password_reset("unknown", now).await.unwrap());
        assert!(store.password_reset("unknown").await.unwrap().is_none());
        // Expired at `now`: gone; the others stay.
        assert_eq!(store.purge_password_resets(now).await.unwrap(), 1);
        assert!(store.password_reset("old").await.unwrap().is_none());
        assert!(store.consume_password_reset("other", now).await.unwrap());
        assert_eq!(store.purge_password_resets(now + 60).await.unwrap(), 2);
        store.close().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The flow
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_reset_sets_the_password_and_ends_every_session_and_key() {
    on_both("full flow", |db| async move {
        let (server, mut inbox) = start(&db).await;
        let first = server.approved_user(ANN).await;
        let second = server.login(ANN, PASSWORD).await.tokens();
        let created = server
            .post_json(
                "/auth/api-keys",
                Some(&first.access),
                json!({ "name": "ci", "scopes": ["reports:read"], "expires_in_days": 30 }),
            )
            .await;
        status(&created, StatusCode::CREATED);
        let key = created.json()["key"].as_str().expect("key").to_owned();
        let with_key = || {
            let mut request = request("GET", "/reports/1", None, None);
            request
                .headers_mut()
                .insert("x-api-key", key.parse().expect("header value"));
            server.send(request)
        };
        status(&with_key().await, StatusCode::OK);

        let mail = token_for(&server, &mut inbox, ANN).await;
        // Asking changes nothing yet.
        status(
            &server.get("/auth/me", Some(&first.access)).await,
            StatusCode::OK,
        );
        status(&server.login(ANN, PASSWORD).await, StatusCode::OK);

        let reply = confirm(&server, &mail.token, NEW_PASSWORD).await;
        status(&reply, StatusCode::NO_CONTENT);
        assert!(reply.body.is_empty());

        // The old password is refused, the new one works at once.
        status(&server.login(ANN, PASSWORD).await, StatusCode::UNAUTHORIZED);
        let fresh = server.login(ANN, NEW_PASSWORD).await.tokens();
        status(
            &server.get("/auth/me", Some(&fresh.access)).await,
            StatusCode::OK,
        );
        // Every earlier session ended, its access and refresh tokens alike, and the key.
        for tokens in [&first, &second] {
            status(
                &server.get("/auth/me", Some(&tokens.access)).await,
                StatusCode::UNAUTHORIZED,
            );
            let refresh = server
                .post_form(
                    "/auth/token",
                    None,
                    &format!("grant_type=refresh_token&refresh_token={}", tokens.refresh),
                )
                .await;
            assert_eq!(
                refresh.status,
                StatusCode::BAD_REQUEST,
                "{}",
                refresh.text()
            );
            assert_eq!(refresh.json()["error"], "invalid_grant");
        }
        status(&with_key().await, StatusCode::UNAUTHORIZED);
        // The new session refreshes.
        let refreshed = server
            .post_form(
                "/auth/token",
                None,
                &format!("grant_type=refresh_token&refresh_token={}", fresh.refresh),
            )
            .await;
        status(&refreshed, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn a_token_is_good_once() {
    on_both("single use", |db| async move {
        let (server, mut inbox) = start(&db).await;
        server.approved_user(ANN).await;
        let mail = token_for(&server, &mut inbox, ANN).await;
        status(
            &confirm(&server, &mail.token, NEW_PASSWORD).await,
            StatusCode::NO_CONTENT,
        );
        assert_bad_token(&confirm(&server, &mail.token, "yet another secret 43").await);
        assert_bad_token(&confirm(&server, &mail.token, NEW_PASSWORD).await);
        // The second attempt changed nothing.
        status(&server.login(ANN, NEW_PASSWORD).await, StatusCode::OK);
        status(
            &server.login(ANN, "yet another secret 43").await,
            StatusCode::UNAUTHORIZED,
        );
        assert_eq!(
            db.scalar("SELECT COUNT(*) FROM auth_password_resets WHERE used_at IS NOT NULL")
                .await,
            1
        );
    })
    .await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    on_both("expired", |db| async move {
        let (server, mut inbox) = start(&db).await;
        server.approved_user(ANN).await;
        let mail = token_for(&server, &mut inbox, ANN).await;
        let digest = sha256_hex(&mail.token);
        db.execute(&format!(
            "UPDATE auth_password_resets SET expires_at = {} WHERE digest = '{digest}'",
            common::now()
        ))
        .await;
        assert_bad_token(&confirm(&server, &mail.token, NEW_PASSWORD).await);
        status(&server.login(ANN, PASSWORD).await, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn the_lifetime_is_configurable() {
    on_both("lifetime", |db| async move {
        let (server, mut inbox) =
            start_with(&db, |b| b.password_reset_lifetime(Duration::from_secs(1))).await;
        server.approved_user(ANN).await;
        let mail = token_for(&server, &mut inbox, ANN).await;
        assert!(mail.expires_at <= common::now() as u64 + 1);
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_bad_token(&confirm(&server, &mail.token, NEW_PASSWORD).await);
    })
    .await;
}

#[tokio::test]
async fn a_credential_change_kills_the_token() {
    on_both("credential change", |db| async move {
        let (server, mut inbox) = start(&db).await;

        // A password change after the token was issued.
        let ann = server.approved_user(ANN).await;
        let mail = token_for(&server, &mut inbox, ANN).await;
        let changed = server
            .post_json(
                "/auth/change-password",
                Some(&ann.access),
                json!({ "current_password": PASSWORD, "new_password": "changed it myself 1" }),
            )
            .await;
        status(&changed, StatusCode::NO_CONTENT);
        assert_bad_token(&confirm(&server, &mail.token, NEW_PASSWORD).await);
        status(
            &server.login(ANN, "changed it myself 1").await,
            StatusCode::OK,
        );

        // A deactivation (and a reactivation does not revive the token).
        server.approved_user("bob@example.com").await;
        let bob = server.id_of("bob@example.com").await;
        let mail = token_for(&server, &mut inbox, "bob@example.com").await;
        server.manager.deactivate(&bob).await.expect("deactivated");
        assert_bad_token(&confirm(&server, &mail.token, NEW_PASSWORD).await);
        server.manager.reactivate(&bob).await.expect("reactivated");
        assert_bad_token(&confirm(&server, &mail.token, NEW_PASSWORD).await);
        status(
            &server.login("bob@example.com", PASSWORD).await,
            StatusCode::OK,
        );

        // A role change.
        server.approved_user("cat@example.com").await;
        let cat = server.id_of("cat@example.com").await;
        let mail = token_for(&server, &mut inbox, "cat@example.com").await;
        server
            .manager
            .set_roles(&cat, &["user".into(), "editor".into()])
            .await
            .expect("roles set");
        assert_bad_token(&confirm(&server, &mail.token, NEW_PASSWORD).await);
        // A token asked for now is good.
        let mail = token_for(&server, &mut inbox, "cat@example.com").await;
        status(
            &confirm(&server, &mail.token, NEW_PASSWORD).await,
            StatusCode::NO_CONTENT,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_confirms_exactly_one_wins() {
    on_both("concurrent confirms", |db| async move {
        let (server, mut inbox) = start(&db).await;
        server.approved_user(ANN).await;
        for round in 0..3 {
            let mail = token_for(&server, &mut inbox, ANN).await;
            let (a, b) = (
                format!("first password {round}!"),
                format!("second password {round}!"),
            );
            let (ra, rb) = tokio::join!(
                confirm(&server, &mail.token, &a),
                confirm(&server, &mail.token, &b)
            );
            let won: Vec<&str> = [(&ra, &a), (&rb, &b)]
                .iter()
                .filter(|(r, _)| r.status == StatusCode::NO_CONTENT)
                .map(|(_, p)| p.as_str())
                .collect();
            assert_eq!(won.len(), 1, "{} / {}", ra.text(), rb.text());
            let lost = if ra.status == StatusCode::NO_CONTENT {
                &rb
            } else {
                &ra
            };
            assert_bad_token(lost);
            let loser = if won[0] == a { &b } else { &a };
            status(&server.login(ANN, won[0]).await, StatusCode::OK);
            status(&server.login(ANN, loser).await, StatusCode::UNAUTHORIZED);
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn bad_input() {
    on_both("bad input", |db| async move {
        let (server, mut inbox) = start(&db).await;
        server.approved_user(ANN).await;
        let post = |path: &'static str, body: Value| server.post_json(path, None, body);

        // Missing fields: 422, naming the field.
        assert_problem(
            &post("/auth/password-reset", json!({})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The field `email` is required",
        );
        assert_problem(
            &post(
                "/auth/password-reset/confirm",
                json!({ "new_password": NEW_PASSWORD }),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The field `token` is required",
        );
        assert_problem(
            &post("/auth/password-reset/confirm", json!({ "token": "x" })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The field `new_password` is required",
        );
        // Not an email at all: 422 (whether it has an account cannot matter).
        assert_problem(
            &ask(&server, "not an email").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The email address is not valid",
        );
        // A form is not JSON.
        let form = server
            .post_form("/auth/password-reset", None, "email=ann%40example.com")
            .await;
        status(&form, StatusCode::UNSUPPORTED_MEDIA_TYPE);

        // Unknown and malformed tokens: the one answer of every bad token.
        let unknown = "A".repeat(43);
        assert_bad_token(&confirm(&server, &unknown, NEW_PASSWORD).await);
        for malformed in [
            "",
            "short",
            &"A".repeat(44),
            &format!("{}+", "A".repeat(42)),
        ] {
            assert_bad_token(&confirm(&server, malformed, NEW_PASSWORD).await);
        }

        // A weak password: 422, and the token is still good.
        let mail = token_for(&server, &mut inbox, ANN).await;
        for weak in ["short", "password"] {
            let reply = confirm(&server, &mail.token, weak).await;
            assert_eq!(
                reply.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{weak}: {}",
                reply.text()
            );
            assert_eq!(reply.content_type(), Some("application/problem+json"));
        }
        status(&server.login(ANN, PASSWORD).await, StatusCode::OK);
        status(
            &confirm(&server, &mail.token, NEW_PASSWORD).await,
            StatusCode::NO_CONTENT,
        );
        status(&server.login(ANN, NEW_PASSWORD).await, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn without_a_sender_the_routes_answer_500() {
    on_both("no sender", |db| async move {
        let manager = AuthManager::builder()
            .login_type(LoginType::new("user").key(SigningKey::hs256("u", &[1; 32])))
            .password_hasher(PasswordHasher::insecure_for_tests(64, 1, 1))
            .store(db.store().await)
            .build()
            .expect("valid configuration");
        manager
            .register(ANN, PASSWORD, None)
            .await
            .expect("registered");
        manager.approve(ANN).await.expect("approved");
        let app = PasswordResetRoutes::router().with_state(manager);
        let send = |path: &str, body: Value| {
            common::send(&app, request("POST", path, None, Some(Payload::Json(body))))
        };
        for (path, body) in [
            ("/auth/password-reset", json!({ "email": ANN })),
            (
                "/auth/password-reset/confirm",
                json!({ "token": "A".repeat(43), "new_password": NEW_PASSWORD }),
            ),
        ] {
            assert_problem(
                &send(path, body).await,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
            );
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Throttling
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn requests_are_bounded_per_address_and_mails_per_account() {
    on_both("throttle", |db| async move {
        let mut config = ThrottleConfig::default();
        config.password_reset_requests = 3;
        let (server, mut inbox) = start_with(&db, |b| b.login_throttle(config)).await;
        server.approved_user(ANN).await;
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        // Known or not, each request counts.
        for email in [ANN, "nobody@example.com", "nobody@example.com"] {
            status(&ask_from(&server, a, email).await, StatusCode::ACCEPTED);
        }
        for email in [ANN, "nobody@example.com"] {
            let refused = ask_from(&server, a, email).await;
            assert_problem(
                &refused,
                StatusCode::TOO_MANY_REQUESTS,
                "Too many password reset requests from this address; retry later",
            );
            let retry: u64 = refused.headers[header::RETRY_AFTER]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=900).contains(&retry), "{retry}");
        }
        // Another address has its own budget.
        status(&ask_from(&server, b, ANN).await, StatusCode::ACCEPTED);
        // Three mails per account per window, whoever asks; the answer does not change.
        let c: IpAddr = "192.0.2.3".parse().unwrap();
        status(&ask_from(&server, c, ANN).await, StatusCode::ACCEPTED);
        status(&ask_from(&server, c, ANN).await, StatusCode::ACCEPTED);
        for _ in 0..3 {
            assert_eq!(inbox.next().await.email, ANN);
        }
        inbox.nothing_more().await;
        assert_eq!(
            db.scalar("SELECT COUNT(*) FROM auth_password_resets").await,
            3
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The reference server's sender and the log
// ---------------------------------------------------------------------------------------------

/// The reference server logs the link (its stand-in for a mail); the token appears nowhere
/// else in the log, nor does the email or either password. The only test of this file that
/// installs a global log subscriber (so it also sees what the other tests log meanwhile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_logs_the_link_and_nothing_else_holds_the_token() {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .init();
    let log = buffer.clone();
    on_both("reference sender", move |db| {
        let log = log.clone();
        async move {
            let server = TestServer::start(&db).await;
            server.approved_user("eve@example.com").await;
            let prefix = "http://127.0.0.1:0/reset?token=";
            // The links logged so far (by the run on the other backend).
            let before = log.text().matches(prefix).count();
            status(&ask(&server, "eve@example.com").await, StatusCode::ACCEPTED);
            let mut token = None;
            for _ in 0..500 {
                let text = log.text();
                let found = text
                    .split(prefix)
                    .nth(before + 1)
                    .map(|rest| rest.chars().take(43).collect::<String>());
                if let Some(found) = found.filter(|t| t.len() == 43) {
                    token = Some(found);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let token = token.expect("the reset link in the log");
            status(
                &confirm(&server, &token, NEW_PASSWORD).await,
                StatusCode::NO_CONTENT,
            );
            assert_bad_token(&confirm(&server, &token, NEW_PASSWORD).await);
            status(
                &server.login("eve@example.com", NEW_PASSWORD).await,
                StatusCode::OK,
            );
            let text = log.text();
            assert_eq!(text.matches(token.as_str()).count(), 1, "{text}");
            assert!(!text.contains(&sha256_hex(&token)), "{text}");
        }
    })
    .await;
    let text = buffer.text();
    assert!(text.contains("password reset link"), "{text}");
    for secret in ["eve@example.com", PASSWORD, NEW_PASSWORD, "$argon2"] {
        assert!(!text.contains(secret), "{secret} was logged:\n{text}");
    }
    // Security events name the reset, by account id.
    for event in [
        "password_reset_requested",
        "password_reset_sent",
        "password_reset",
    ] {
        assert!(
            text.contains(&format!("event=\"{event}\"")),
            "{event}:\n{text}"
        );
    }
}
