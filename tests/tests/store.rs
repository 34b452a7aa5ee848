//! `SqlStore` on both backends: every test body runs once on a fresh SQLite file and once on a
//! fresh PostgreSQL database (see `common/db.rs`); a failure names the backend.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_runtime::store::{
    Account, AccountStatus, ApiKeyStore, NewAccount, NewApiKey, NewSession, PasswordWrite,
    Revocation, RevocationKind, Rotation, SessionStore, SqlStore, StoreError, UserStore,
};
use auth_runtime::{AuthManager, LoginType, SessionConfig, SigningKey, TokenRequest};
use serde_json::{Map, Value, json};
use tokio::sync::Barrier;

use common::db::{Backend, TestDb, on_both, postgres_base_url, redact, with_database};

const T0: u64 = 1_700_000_000;
const DAY: u64 = 86_400;
/// The store's schema migrations (`auth-runtime/migrations/*/`: versions 1 to 6).
const MIGRATIONS: i64 = 6;

fn claims(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn new_user(email: &str, created_at: u64) -> NewAccount {
    NewAccount::new(email, AccountStatus::Pending, created_at)
}

fn session(id: &str, subject: &str, jti: &str) -> NewSession {
    NewSession::new(id, subject, "user", jti, T0, T0 + 30 * DAY)
}

/// Rotates `presented` to `next` at `now` with a one-day idle timeout.
async fn rotate(store: &SqlStore, sid: &str, presented: &str, next: &str, now: u64) -> Rotation {
    store
        .rotate_refresh(sid, presented, next, now, DAY, now + DAY)
        .await
        .expect("rotate_refresh")
}

/// An account id as `SqlStore` makes them: a random UUID (version 4).
fn assert_opaque_id(id: &str) {
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(id.as_bytes()[14], b'4', "{id}");
    assert!(
        id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
        "{id}"
    );
}

fn session_kinds(revocations: &[Revocation]) -> Vec<RevocationKind> {
    revocations.iter().map(|r| r.kind.clone()).collect()
}

fn sid(s: &str) -> RevocationKind {
    RevocationKind::Session(s.to_owned())
}

#[test]
fn test_urls_are_rewritten_per_database() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    assert_eq!(redact("postgres://u:p@h/db"), "postgres://u:***@h/db");
    assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
}

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accounts_are_created_and_read_by_email_and_by_id() {
    on_both(
        "accounts_are_created_and_read_by_email_and_by_id",
        |db| async move {
            let store = db.store().await;
            let first = store
                .create_user(
                    new_user("ada@example.com", T0)
                        .password_hash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
                        .roles(["admin", "reports:viewer"])
                        .claims(claims(json!({"company_id": 42}))),
                )
                .await
                .expect("create");
            assert_opaque_id(&first.id);
            assert_eq!(first.credential_version, 0);
            assert_eq!(first.email, "ada@example.com");
            assert_eq!(
                first.password_hash.as_deref(),
                Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
            );
            assert_eq!(first.status, AccountStatus::Pending);
            assert_eq!(first.roles, ["admin", "reports:viewer"]);
            assert_eq!(first.claims, claims(json!({"company_id": 42})));
            assert_eq!(first.created_at, T0);

            let by_email = store.user_by_email("ada@example.com").await.unwrap();
            assert_eq!(by_email.as_ref(), Some(&first));
            let by_id = store.user_by_id(&first.id).await.unwrap();
            assert_eq!(by_id.as_ref(), Some(&first));

            // Ids are opaque and unrelated to each other: nothing counts up.
            let mut ids = vec![first.id.clone()];
            for n in 2..=7 {
                let account = store
                    .create_user(new_user(&format!("user{n}@example.com"), T0 + n))
                    .await
                    .expect("create");
                assert_opaque_id(&account.id);
                assert!(!ids.contains(&account.id));
                assert_eq!(account.password_hash, None);
                assert!(account.roles.is_empty());
                assert!(account.claims.is_empty());
                ids.push(account.id);
            }
            let seventh = &ids[6];
            let account = store.user_by_id(seventh).await.unwrap().expect("found");
            assert_eq!(account.email, "user7@example.com");
            assert_eq!(account.created_at, T0 + 7);
            // Ids compare exactly: no case folding, trimming or number parsing.
            for id in [
                seventh.to_uppercase(),
                format!("{seventh} "),
                format!(" {seventh}"),
                seventh[..35].to_owned(),
                String::new(),
                "1".into(),
                "7".into(),
                "abc".into(),
            ] {
                assert_eq!(store.user_by_id(&id).await.unwrap(), None, "id {id:?}");
            }
            assert_eq!(
                store.user_by_email("nobody@example.com").await.unwrap(),
                None
            );
            // Emails compare exactly (the caller normalizes them).
            assert_eq!(store.user_by_email("ADA@example.com").await.unwrap(), None);
            store.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_taken_email_is_a_conflict() {
    on_both("a_taken_email_is_a_conflict", |db| async move {
        let store = db.store().await;
        store
            .create_user(new_user("a@example.com", T0))
            .await
            .unwrap();
        let again = store
            .create_user(new_user("a@example.com", T0 + 1).password_hash("x"))
            .await;
        assert_eq!(again.unwrap_err(), StoreError::Conflict);
        // The first account is untouched; the failed insert used no visible id.
        let account = store.user_by_email("a@example.com").await.unwrap().unwrap();
        assert_opaque_id(&account.id);
        assert_eq!(account.password_hash, None);
        assert_eq!(account.created_at, T0);
        assert_eq!(db.scalar("SELECT COUNT(*) FROM auth_users").await, 1);
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_of_one_email_create_one_account() {
    on_both(
        "concurrent_registrations_of_one_email_create_one_account",
        |db| async move {
            let store = db.store().await;
            let barrier = Arc::new(Barrier::new(16));
            let tasks: Vec<_> = (0..16u64)
                .map(|i| {
                    let store = store.clone();
                    let barrier = barrier.clone();
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store
                            .create_user(new_user("race@example.com", T0 + i))
                            .await
                    })
                })
                .collect();
            let mut created = Vec::new();
            let mut conflicts = 0;
            for task in tasks {
                match task.await.expect("task") {
                    Ok(account) => created.push(account),
                    Err(StoreError::Conflict) => conflicts += 1,
                    Err(e) => panic!("expected Ok or Conflict, got {e:?}"),
                }
            }
            assert_eq!(created.len(), 1, "exactly one registration wins");
            assert_eq!(conflicts, 15);
            assert_eq!(db.scalar("SELECT COUNT(*) FROM auth_users").await, 1);
            let stored = store.user_by_email("race@example.com").await.unwrap();
            assert_eq!(stored.as_ref(), Some(&created[0]));
            store.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accounts_are_updated_and_unknown_ids_report_false() {
    on_both(
        "accounts_are_updated_and_unknown_ids_report_false",
        |db| async move {
            let store = db.store().await;
            let a = store
                .create_user(new_user("a@example.com", T0).roles(["user"]))
                .await
                .unwrap();
            let id = a.id.as_str();
            let store = &store;
            let version = |id: &str| {
                let id = id.to_owned();
                async move {
                    store
                        .user_by_id(&id)
                        .await
                        .unwrap()
                        .unwrap()
                        .credential_version
                }
            };
            assert_eq!(version(id).await, 0);

            // Password writes are compare-and-swaps on the current hash. A new password is a
            // credential change; a rehash is not.
            db.execute(&format!(
                "UPDATE auth_users SET password_hash = 'hash-0' WHERE public_id = '{id}'"
            ))
            .await;
            let rehash = PasswordWrite::Rehash;
            let change = PasswordWrite::Change;
            assert!(
                !store
                    .replace_password_hash(id, "wrong", "hash-x", change)
                    .await
                    .unwrap()
            );
            assert!(
                store
                    .replace_password_hash(id, "hash-0", "hash-1", rehash)
                    .await
                    .unwrap()
            );
            assert_eq!(version(id).await, 0);
            assert!(
                store
                    .replace_password_hash(id, "hash-1", "hash-2", change)
                    .await
                    .unwrap()
            );
            assert_eq!(version(id).await, 1);
            // The loser of a race from "hash-1" changes nothing.
            assert!(
                !store
                    .replace_password_hash(id, "hash-1", "hash-3", rehash)
                    .await
                    .unwrap()
            );

            // Status transitions are conditional and change the version.
            let pending = [AccountStatus::Pending];
            assert!(
                store
                    .transition_status(id, &pending, AccountStatus::Active)
                    .await
                    .unwrap()
            );
            assert_eq!(version(id).await, 2);
            assert!(
                !store
                    .transition_status(id, &pending, AccountStatus::Rejected)
                    .await
                    .unwrap()
            );
            assert!(
                !store
                    .transition_status(id, &[], AccountStatus::Rejected)
                    .await
                    .unwrap()
            );
            assert_eq!(version(id).await, 2);
            let roles = vec!["admin".to_owned(), "auditor".to_owned()];
            let extra = claims(json!({"company_id": 7, "groups": ["x", "y"]}));
            assert!(
                store
                    .set_roles_and_claims(id, &roles, &extra)
                    .await
                    .unwrap()
            );
            // A role change is a credential change, new claims with the same roles are not.
            assert_eq!(version(id).await, 3);
            assert!(
                store
                    .set_roles_and_claims(id, &roles, &Map::new())
                    .await
                    .unwrap()
            );
            assert_eq!(version(id).await, 3);
            assert!(
                store
                    .set_roles_and_claims(id, &roles, &extra)
                    .await
                    .unwrap()
            );

            let stored = store.user_by_id(id).await.unwrap().unwrap();
            assert_eq!(stored.password_hash.as_deref(), Some("hash-2"));
            assert_eq!(stored.status, AccountStatus::Active);
            assert_eq!(stored.roles, roles);
            assert_eq!(stored.claims, extra);
            assert_eq!(stored.email, "a@example.com");
            assert_eq!(stored.created_at, T0);

            // No roles, no claims.
            assert!(
                store
                    .set_roles_and_claims(id, &[], &Map::new())
                    .await
                    .unwrap()
            );
            let stored = store.user_by_id(id).await.unwrap().unwrap();
            assert!(stored.roles.is_empty());
            assert!(stored.claims.is_empty());
            assert_eq!(stored.credential_version, 4);

            let other = format!("{} ", id);
            for id in ["2", "abc", other.as_str(), "", "-1"] {
                assert!(
                    !store
                        .replace_password_hash(id, "hash-2", "h", change)
                        .await
                        .unwrap(),
                    "{id:?}"
                );
                assert!(
                    !store
                        .transition_status(id, &[AccountStatus::Active], AccountStatus::Rejected)
                        .await
                        .unwrap(),
                    "{id:?}"
                );
                assert!(
                    !store
                        .set_roles_and_claims(id, &roles, &extra)
                        .await
                        .unwrap(),
                    "{id:?}"
                );
            }

            // A role that could not be read back as itself is refused, and nothing changes.
            let spaced = vec!["Domain Admins".to_owned()];
            let refused = store.set_roles_and_claims(id, &spaced, &extra).await;
            assert!(
                matches!(refused, Err(StoreError::Backend(_))),
                "{refused:?}"
            );
            let refused = store
                .create_user(new_user("b@example.com", T0).roles(["a b"]))
                .await;
            assert!(
                matches!(refused, Err(StoreError::Backend(_))),
                "{refused:?}"
            );
            let stored = store.user_by_id(id).await.unwrap().unwrap();
            assert!(stored.roles.is_empty());
            assert_eq!(store.user_by_email("b@example.com").await.unwrap(), None);
            store.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn users_with_status_lists_oldest_first() {
    on_both("users_with_status_lists_oldest_first", |db| async move {
        let store = db.store().await;
        // Created out of order; c and d tie on created_at (then the id decides).
        let mut ids = std::collections::HashMap::new();
        for (email, at, status) in [
            ("c@example.com", T0 + 300, AccountStatus::Pending),
            ("a@example.com", T0 + 100, AccountStatus::Pending),
            ("x@example.com", T0 + 50, AccountStatus::Active),
            ("d@example.com", T0 + 300, AccountStatus::Pending),
            ("b@example.com", T0 + 200, AccountStatus::Pending),
            ("y@example.com", T0 + 10, AccountStatus::Rejected),
        ] {
            let account = store
                .create_user(NewAccount::new(email, status, at))
                .await
                .unwrap();
            ids.insert(email, account.id);
        }
        let emails = |accounts: Vec<Account>| -> Vec<String> {
            accounts.into_iter().map(|a| a.email).collect()
        };
        let pending = store
            .users_with_status(AccountStatus::Pending)
            .await
            .unwrap();
        assert_eq!(
            pending.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c", "d"].map(|n| ids[format!("{n}@example.com").as_str()].as_str())
        );
        assert_eq!(
            emails(pending),
            [
                "a@example.com",
                "b@example.com",
                "c@example.com",
                "d@example.com"
            ]
        );
        assert_eq!(
            emails(
                store
                    .users_with_status(AccountStatus::Active)
                    .await
                    .unwrap()
            ),
            ["x@example.com"]
        );
        assert_eq!(
            emails(
                store
                    .users_with_status(AccountStatus::Rejected)
                    .await
                    .unwrap()
            ),
            ["y@example.com"]
        );
        assert!(
            store
                .users_with_status(AccountStatus::Deactivated)
                .await
                .unwrap()
                .is_empty()
        );
        // A status change moves the account between lists.
        assert!(
            store
                .transition_status(
                    &ids["a@example.com"],
                    &[AccountStatus::Pending],
                    AccountStatus::Active
                )
                .await
                .unwrap()
        );
        assert_eq!(
            emails(
                store
                    .users_with_status(AccountStatus::Active)
                    .await
                    .unwrap()
            ),
            ["x@example.com", "a@example.com"]
        );
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_round_trip_as_json() {
    on_both("claims_round_trip_as_json", |db| async move {
        let store = db.store().await;
        let extra = claims(json!({
            "company_id": 42,
            "big": i64::MAX,
            "unsigned": u64::MAX,
            "negative": -17,
            "ratio": 0.25,
            "name": "Zoë \"quoted\" \\ back\nslash ✓",
            "flags": [true, false, null],
            "nested": {"a": {"b": [1, {"c": "d"}]}, "empty": {}},
            "sql": "'; DROP TABLE auth_users; --"
        }));
        let created = store
            .create_user(new_user("j@example.com", T0).claims(extra.clone()))
            .await
            .unwrap();
        assert_eq!(created.claims, extra);
        let stored = store.user_by_id(&created.id).await.unwrap().unwrap();
        assert_eq!(stored.claims, extra);
        assert_eq!(stored.claims["unsigned"], json!(u64::MAX));
        assert_eq!(stored.claims["big"], json!(i64::MAX));

        let replaced = claims(json!({"only": "this"}));
        assert!(
            store
                .set_roles_and_claims(&created.id, &[], &replaced)
                .await
                .unwrap()
        );
        let stored = store.user_by_email("j@example.com").await.unwrap().unwrap();
        assert_eq!(stored.claims, replaced);
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unreadable_rows_are_backend_errors() {
    on_both("unreadable_rows_are_backend_errors", |db| async move {
        let store = db.store().await;
        db.execute(
            "INSERT INTO auth_users (public_id, email, password_hash, status, roles, claims, \
             created_at, updated_at) \
             VALUES ('w1', 'weird@example.com', NULL, 'suspended', '', '{}', 1, 1); \
             INSERT INTO auth_users (public_id, email, password_hash, status, roles, claims, \
             created_at, updated_at) \
             VALUES ('w2', 'json@example.com', NULL, 'pending', '', 'not json', 2, 2); \
             INSERT INTO auth_users (public_id, email, password_hash, status, roles, claims, \
             created_at, updated_at) \
             VALUES ('w3', 'array@example.com', NULL, 'active', '', '[1]', 3, 3);",
        )
        .await;
        for email in ["weird@example.com", "json@example.com", "array@example.com"] {
            let read = store.user_by_email(email).await;
            assert!(
                matches!(read, Err(StoreError::Backend(_))),
                "{email}: {read:?}"
            );
        }
        let read = store.user_by_id("w2").await;
        assert!(matches!(read, Err(StoreError::Backend(_))), "{read:?}");
        let read = store.users_with_status(AccountStatus::Pending).await;
        assert!(matches!(read, Err(StoreError::Backend(_))), "{read:?}");
        store.close().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_spent_refresh_token_revokes_the_session() {
    on_both(
        "a_spent_refresh_token_revokes_the_session",
        |db| async move {
            let store = db.store().await;
            store
                .create_session(session("s1", "7", "j1"))
                .await
                .unwrap();
            // One session id, one row.
            let again = store.create_session(session("s1", "8", "k1")).await;
            assert_eq!(again.unwrap_err(), StoreError::Conflict);

            assert_eq!(
                rotate(&store, "s1", "j1", "j2", T0 + 10).await,
                Rotation::Rotated
            );
            assert_eq!(
                rotate(&store, "s1", "j2", "j3", T0 + 20).await,
                Rotation::Rotated
            );
            assert!(store.revocations(0, T0).await.unwrap().is_empty());

            // j1 was spent: reuse revokes the family.
            let reused = store
                .rotate_refresh("s1", "j1", "j9", T0 + 30, DAY, T0 + 30 + 900)
                .await
                .unwrap();
            assert_eq!(reused, Rotation::Reused);
            // Even the current token no longer works.
            assert_eq!(
                rotate(&store, "s1", "j3", "j4", T0 + 40).await,
                Rotation::Revoked
            );
            assert_eq!(
                rotate(&store, "s1", "j1", "j4", T0 + 40).await,
                Rotation::Revoked
            );

            let revocations = store.revocations(0, T0 + 30).await.unwrap();
            assert_eq!(revocations.len(), 1);
            assert_eq!(revocations[0].kind, sid("s1"));
            assert_eq!(revocations[0].expires_at, T0 + 30 + 900);
            assert!(revocations[0].seq > 0);
            assert_eq!(
                db.scalar("SELECT revoked_at FROM auth_sessions WHERE id = 's1'")
                    .await,
                i64::try_from(T0 + 30).unwrap()
            );
            // The winner's jti and last use stayed as the last rotation left them.
            assert_eq!(
                db.scalar("SELECT last_used_at FROM auth_sessions WHERE id = 's1'")
                    .await,
                i64::try_from(T0 + 20).unwrap()
            );
            assert_eq!(
                rotate(&store, "nope", "j1", "j2", T0).await,
                Rotation::Unknown
            );
            store.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_of_one_token_have_one_winner() {
    on_both(
        "concurrent_rotations_of_one_token_have_one_winner",
        |db| async move {
            let store = db.store().await;
            store
                .create_session(session("s1", "7", "j1"))
                .await
                .unwrap();
            let barrier = Arc::new(Barrier::new(16));
            let tasks: Vec<_> = (0..16)
                .map(|i| {
                    let store = store.clone();
                    let barrier = barrier.clone();
                    tokio::spawn(async move {
                        barrier.wait().await;
                        let next = format!("next-{i}");
                        let outcome = store
                            .rotate_refresh("s1", "j1", &next, T0 + 10, DAY, T0 + DAY)
                            .await;
                        (next, outcome)
                    })
                })
                .collect();
            let mut rotated = Vec::new();
            let mut reused = 0;
            let mut revoked = 0;
            for task in tasks {
                let (next, outcome) = task.await.expect("task");
                match outcome {
                    Ok(Rotation::Rotated) => rotated.push(next),
                    Ok(Rotation::Reused) => reused += 1,
                    Ok(Rotation::Revoked) => revoked += 1,
                    other => panic!("unexpected outcome {other:?}"),
                }
            }
            assert_eq!(rotated.len(), 1, "exactly one rotation wins");
            // The first loser finds a spent token and revokes; the others find it revoked.
            assert_eq!(reused, 1);
            assert_eq!(revoked, 14);
            assert_eq!(
                session_kinds(&store.revocations(0, T0).await.unwrap()),
                [sid("s1")]
            );
            // The winner's token is dead with its family.
            assert_eq!(
                rotate(&store, "s1", &rotated[0], "after", T0 + 20).await,
                Rotation::Revoked
            );
            store.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_idle_and_unknown_sessions_do_not_rotate() {
    on_both(
        "expired_idle_and_unknown_sessions_do_not_rotate",
        |db| async move {
            let store = db.store().await;
            let end = T0 + 1000;
            let short = |id: &str| NewSession::new(id, "7", "user", "j1", T0, end);
            for id in ["abs", "idle", "edge", "spent", "huge"] {
                store.create_session(short(id)).await.unwrap();
            }

            // Absolute end: `now` must be before it.
            let at_end = store
                .rotate_refresh("abs", "j1", "j2", end, 10_000, end + 1)
                .await;
            assert_eq!(at_end.unwrap(), Rotation::Expired);
            let after_end = store
                .rotate_refresh("abs", "j1", "j2", end + 5, 10_000, end + 6)
                .await;
            assert_eq!(after_end.unwrap(), Rotation::Expired);

            // Idle: last use T0, idle timeout 100 s.
            let idle = store
                .rotate_refresh("idle", "j1", "j2", T0 + 101, 100, end)
                .await;
            assert_eq!(idle.unwrap(), Rotation::Expired);
            // Exactly at the idle limit still rotates, and moves the last use.
            let edge = store
                .rotate_refresh("edge", "j1", "j2", T0 + 100, 100, end)
                .await;
            assert_eq!(edge.unwrap(), Rotation::Rotated);
            let edge = store
                .rotate_refresh("edge", "j2", "j3", T0 + 200, 100, end)
                .await;
            assert_eq!(edge.unwrap(), Rotation::Rotated);
            let edge = store
                .rotate_refresh("edge", "j3", "j4", T0 + 301, 100, end)
                .await;
            assert_eq!(edge.unwrap(), Rotation::Expired);

            // A spent token on an expired session: expired, not a reuse (nothing revoked).
            let spent = store
                .rotate_refresh("spent", "j1", "j2", T0 + 10, 100, end)
                .await;
            assert_eq!(spent.unwrap(), Rotation::Rotated);
            let spent = store
                .rotate_refresh("spent", "j1", "j3", end + 1, 100, end + 2)
                .await;
            assert_eq!(spent.unwrap(), Rotation::Expired);

            // Extreme inputs neither overflow nor wrap.
            let huge = store
                .rotate_refresh("huge", "j1", "j2", T0 + 1, u64::MAX, u64::MAX)
                .await;
            assert_eq!(huge.unwrap(), Rotation::Rotated);
            let huge = store
                .rotate_refresh("huge", "j2", "j3", u64::MAX, u64::MAX, u64::MAX)
                .await;
            assert_eq!(huge.unwrap(), Rotation::Expired);

            let unknown = store
                .rotate_refresh("missing", "j1", "j2", T0 + 1, 100, end)
                .await;
            assert_eq!(unknown.unwrap(), Rotation::Unknown);

            assert!(store.revocations(0, 0).await.unwrap().is_empty());
            assert_eq!(
                db.scalar("SELECT COUNT(*) FROM auth_sessions WHERE revoked_at IS NOT NULL")
                    .await,
                0
            );
            store.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_session_is_listed_and_stops_rotation() {
    on_both(
        "revoke_session_is_listed_and_stops_rotation",
        |db| async move {
            let store = db.store().await;
            store
                .create_session(session("s1", "7", "j1"))
                .await
                .unwrap();
            store
                .create_session(session("s2", "7", "k1"))
                .await
                .unwrap();

            store.revoke_session("s1", T0 + 5, T0 + 500).await.unwrap();
            assert_eq!(
                rotate(&store, "s1", "j1", "j2", T0 + 6).await,
                Rotation::Revoked
            );
            assert_eq!(
                rotate(&store, "s2", "k1", "k2", T0 + 6).await,
                Rotation::Rotated
            );

            // Unknown and already revoked sessions: recorded anyway, not an error.
            store
                .revoke_session("ghost", T0 + 7, T0 + 700)
                .await
                .unwrap();
            store.revoke_session("s1", T0 + 8, T0 + 800).await.unwrap();
            assert_eq!(
                db.scalar("SELECT revoked_at FROM auth_sessions WHERE id = 's1'")
                    .await,
                i64::try_from(T0 + 5).unwrap(),
                "the first revocation time stays"
            );

            let all = store.revocations(0, T0).await.unwrap();
            assert_eq!(session_kinds(&all), [sid("s1"), sid("ghost"), sid("s1")]);
            assert_eq!(
                all.iter().map(|r| r.expires_at).collect::<Vec<_>>(),
                [T0 + 500, T0 + 700, T0 + 800]
            );
            assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
            store.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_other_sessions_keeps_the_excepted_one() {
    on_both(
        "revoke_other_sessions_keeps_the_excepted_one",
        |db| async move {
            let store = db.store().await;
            for (id, subject) in [
                ("c", "7"),
                ("a", "7"),
                ("keep", "7"),
                ("b", "7"),
                ("gone", "7"),
                ("other", "8"),
            ] {
                store
                    .create_session(session(id, subject, &format!("{id}-1")))
                    .await
                    .unwrap();
            }
            store
                .create_session(NewSession::new("old", "7", "user", "old-1", T0, T0 + 10))
                .await
                .unwrap();
            store
                .revoke_session("gone", T0 + 1, T0 + 100)
                .await
                .unwrap();

            let count = store
                .revoke_other_sessions("7", Some("keep"), T0 + 20, T0 + 200)
                .await
                .unwrap();
            assert_eq!(count, 3, "a, b, c: not keep, gone (revoked), old (expired)");
            for (id, expected) in [
                ("a", Rotation::Revoked),
                ("b", Rotation::Revoked),
                ("c", Rotation::Revoked),
                ("gone", Rotation::Revoked),
                ("keep", Rotation::Rotated),
                ("other", Rotation::Rotated),
            ] {
                let outcome = rotate(&store, id, &format!("{id}-1"), "n", T0 + 30).await;
                assert_eq!(outcome, expected, "session {id}");
            }
            let all = store.revocations(0, T0).await.unwrap();
            assert_eq!(
                session_kinds(&all),
                [sid("gone"), sid("a"), sid("b"), sid("c")]
            );
            assert!(all[1..].iter().all(|r| r.expires_at == T0 + 200));

            // Without an exception, the kept one goes too; nothing left after that.
            let count = store
                .revoke_other_sessions("7", None, T0 + 40, T0 + 400)
                .await
                .unwrap();
            assert_eq!(count, 1);
            assert_eq!(
                rotate(&store, "keep", "n", "m", T0 + 50).await,
                Rotation::Revoked
            );
            let count = store
                .revoke_other_sessions("7", None, T0 + 60, T0 + 600)
                .await
                .unwrap();
            assert_eq!(count, 0);
            let count = store
                .revoke_other_sessions("nobody", Some("x"), T0 + 60, T0 + 600)
                .await
                .unwrap();
            assert_eq!(count, 0);
            assert_eq!(store.revocations(0, T0).await.unwrap().len(), 5);
            store.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_subject_records_the_cutoff_and_revokes_every_session() {
    on_both(
        "revoke_subject_records_the_cutoff_and_revokes_every_session",
        |db| async move {
            let store = db.store().await;
            for (id, subject) in [("a", "7"), ("b", "7"), ("c", "8")] {
                store
                    .create_session(session(id, subject, "j1"))
                    .await
                    .unwrap();
            }
            store
                .revoke_subject("7", T0 + 150, T0 + 200, T0 + 5000)
                .await
                .unwrap();
            let all = store.revocations(0, T0 + 200).await.unwrap();
            assert_eq!(
                session_kinds(&all),
                [RevocationKind::Subject {
                    subject: "7".to_owned(),
                    cutoff: T0 + 150,
                }]
            );
            assert_eq!(all[0].expires_at, T0 + 5000);
            assert_eq!(
                rotate(&store, "a", "j1", "j2", T0 + 210).await,
                Rotation::Revoked
            );
            assert_eq!(
                rotate(&store, "b", "j1", "j2", T0 + 210).await,
                Rotation::Revoked
            );
            assert_eq!(
                rotate(&store, "c", "j1", "j2", T0 + 210).await,
                Rotation::Rotated
            );
            assert_eq!(
                db.scalar("SELECT COUNT(*) FROM auth_sessions WHERE revoked_at IS NOT NULL")
                    .await,
                2
            );
            // A subject with no session still gets its revocation.
            store
                .revoke_subject("9", T0 + 300, T0 + 300, T0 + 6000)
                .await
                .unwrap();
            assert_eq!(store.revocations(all[0].seq, T0).await.unwrap().len(), 1);
            store.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocations_filter_by_seq_and_expiry() {
    on_both("revocations_filter_by_seq_and_expiry", |db| async move {
        let store = db.store().await;
        // expires_at: 100, 300, 200, 400 (after T0).
        store.revoke_session("r1", T0, T0 + 100).await.unwrap();
        store.revoke_session("r2", T0, T0 + 300).await.unwrap();
        store.revoke_subject("u", T0, T0, T0 + 200).await.unwrap();
        store.revoke_session("r4", T0, T0 + 400).await.unwrap();

        let all = store.revocations(0, T0).await.unwrap();
        assert_eq!(all.len(), 4);
        let seqs: Vec<i64> = all.iter().map(|r| r.seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        assert_eq!(
            session_kinds(&all),
            [
                sid("r1"),
                sid("r2"),
                RevocationKind::Subject {
                    subject: "u".to_owned(),
                    cutoff: T0
                },
                sid("r4")
            ]
        );

        let names = |r: Vec<Revocation>| -> Vec<RevocationKind> { session_kinds(&r) };
        // After the first: r2, u, r4.
        assert_eq!(store.revocations(seqs[0], T0).await.unwrap().len(), 3);
        assert_eq!(
            names(store.revocations(seqs[2], T0).await.unwrap()),
            [sid("r4")]
        );
        assert!(store.revocations(seqs[3], T0).await.unwrap().is_empty());
        assert_eq!(store.revocations(-1, T0).await.unwrap().len(), 4);
        // Expiry: an entry expiring exactly at `now` is gone.
        assert_eq!(
            names(store.revocations(0, T0 + 100).await.unwrap()),
            [
                sid("r2"),
                RevocationKind::Subject {
                    subject: "u".to_owned(),
                    cutoff: T0
                },
                sid("r4")
            ]
        );
        assert_eq!(
            names(store.revocations(0, T0 + 250).await.unwrap()),
            [sid("r2"), sid("r4")]
        );
        assert_eq!(
            names(store.revocations(seqs[1], T0 + 250).await.unwrap()),
            [sid("r4")]
        );
        assert!(store.revocations(0, T0 + 400).await.unwrap().is_empty());
        assert!(store.revocations(0, u64::MAX).await.unwrap().is_empty());
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purge_deletes_only_expired_sessions_and_revocations() {
    on_both(
        "purge_deletes_only_expired_sessions_and_revocations",
        |db| async move {
            let store = db.store().await;
            let ending = |id: &str, end: u64| NewSession::new(id, "7", "user", "j1", T0, end);
            store
                .create_session(ending("ended", T0 + 100))
                .await
                .unwrap();
            store
                .create_session(ending("at-now", T0 + 200))
                .await
                .unwrap();
            store
                .create_session(ending("live", T0 + 300))
                .await
                .unwrap();
            store
                .create_session(ending("revoked-live", T0 + 300))
                .await
                .unwrap();
            // Revocations expiring at 150 and 250 (after T0); one of them is the logout of
            // "revoked-live".
            store
                .revoke_session("revoked-live", T0, T0 + 150)
                .await
                .unwrap();
            store.revoke_subject("9", T0, T0, T0 + 250).await.unwrap();

            let purged = store.purge_expired(T0 + 200).await.unwrap();
            assert_eq!(
                (purged.sessions, purged.revocations),
                (2, 1),
                "ended and at-now sessions, the revocation that expired at 150"
            );
            assert_eq!(
                db.scalar("SELECT COUNT(*) FROM auth_sessions").await,
                2,
                "live and revoked-live stay"
            );
            assert_eq!(
                session_kinds(&store.revocations(0, 0).await.unwrap()),
                [RevocationKind::Subject {
                    subject: "9".to_owned(),
                    cutoff: T0
                }]
            );
            // What stays still works: the live session rotates, the revoked one does not.
            assert_eq!(
                rotate(&store, "live", "j1", "j2", T0 + 201).await,
                Rotation::Rotated
            );
            assert_eq!(
                rotate(&store, "revoked-live", "j1", "j2", T0 + 201).await,
                Rotation::Revoked
            );
            // A deleted session is unknown, which refuses the refresh as an expired one does.
            assert_eq!(
                rotate(&store, "ended", "j1", "j2", T0 + 201).await,
                Rotation::Unknown
            );

            // Again: nothing left to delete.
            let again = store.purge_expired(T0 + 200).await.unwrap();
            assert_eq!((again.sessions, again.revocations), (0, 0));
            store.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_serving_manager_purges_expired_rows_in_the_background() {
    on_both(
        "a_serving_manager_purges_expired_rows_in_the_background",
        |db| async move {
            let store = db.store().await;
            // Ended long ago (T0 is in 2023).
            store
                .create_session(NewSession::new("old", "7", "user", "j1", T0, T0 + 100))
                .await
                .unwrap();
            store.revoke_session("old", T0, T0 + 100).await.unwrap();
            let manager = AuthManager::builder()
                .login_type(LoginType::new("user").key(SigningKey::hs256("u", &[7; 32])))
                .store(store.clone())
                .session_config(SessionConfig::default().purge_interval(Duration::from_secs(1)))
                .build()
                .unwrap();
            let pair = manager
                .create_session(&TokenRequest::new("user", "ann"))
                .await
                .unwrap();
            // The first checked request starts the instance's poller, which purges first.
            manager
                .authenticate_token(&pair.access_token, &["user"])
                .await
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            while db
                .scalar("SELECT COUNT(*) FROM auth_sessions WHERE id = 'old'")
                .await
                > 0
            {
                assert!(
                    Instant::now() < deadline,
                    "the expired session was not purged"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(db.scalar("SELECT COUNT(*) FROM auth_revocations").await, 0);
            // The live session stays, and its token still works.
            assert_eq!(db.scalar("SELECT COUNT(*) FROM auth_sessions").await, 1);
            manager
                .authenticate_token(&pair.access_token, &["user"])
                .await
                .unwrap();
            assert_eq!(
                manager.purge_expired().await.unwrap(),
                Default::default(),
                "nothing left for an explicit purge"
            );
            drop(manager);
            store.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_pushes_revocations_to_other_instances_and_sqlite_polls() {
    let sqlite = TestDb::sqlite().await;
    let store = sqlite.store().await;
    assert!(
        store.revocation_wakeups().is_none(),
        "SQLite has no channel: its instances poll"
    );
    store.close().await;
    sqlite.cleanup().await;

    let db = TestDb::postgres().await;
    let here = db.store().await;
    let there = db.store().await;
    let mut waiter = here.revocation_wakeups().expect("PostgreSQL pushes");
    // The first wake says the listener is connected (and asks for a read of what came before).
    tokio::time::timeout(Duration::from_secs(10), waiter.woken())
        .await
        .expect("the listener connects");
    for revoke in 0..3 {
        match revoke {
            0 => there.revoke_session("s1", T0, T0 + 100).await.unwrap(),
            1 => there.revoke_subject("7", T0, T0, T0 + 100).await.unwrap(),
            _ => {
                there
                    .create_session(session("s2", "7", "j1"))
                    .await
                    .unwrap();
                assert_eq!(
                    rotate(&there, "s2", "j1", "j2", T0 + 1).await,
                    Rotation::Rotated
                );
                assert_eq!(
                    rotate(&there, "s2", "j1", "j3", T0 + 2).await,
                    Rotation::Reused
                );
            }
        }
        tokio::time::timeout(Duration::from_secs(10), waiter.woken())
            .await
            .unwrap_or_else(|_| panic!("revocation {revoke} was not pushed"));
    }
    // Closing the store stops its listener (and its connection), and it starts no other.
    here.close().await;
    assert!(here.revocation_wakeups().is_none());
    there.close().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logout_reaches_another_instance_before_its_next_poll() {
    let db = TestDb::postgres().await;
    // Polls so rare that only a push can explain the revocation arriving within the test.
    let config = SessionConfig::default()
        .staleness_bound(Duration::from_secs(3600))
        .poll_interval(Duration::from_secs(1800));
    let instance = |store: SqlStore| {
        AuthManager::builder()
            .login_type(LoginType::new("user").key(SigningKey::hs256("u", &[7; 32])))
            .store(store)
            .session_config(config)
            .build()
            .unwrap()
    };
    let a = instance(db.store().await);
    let b = instance(db.store().await);
    let pair = a
        .create_session(&TokenRequest::new("user", "ann"))
        .await
        .unwrap();
    // B reads its revocation list and starts listening.
    b.authenticate_token(&pair.access_token, &["user"])
        .await
        .unwrap();
    let principal = a
        .authenticate_token(&pair.access_token, &["user"])
        .await
        .unwrap();
    a.logout(&principal).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match b.authenticate_token(&pair.access_token, &["user"]).await {
            Err(e) => {
                assert_eq!(e.status(), axum::http::StatusCode::UNAUTHORIZED, "{e}");
                break;
            }
            Ok(_) => {
                assert!(
                    Instant::now() < deadline,
                    "instance B still accepts the token of a session A ended"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    drop((a, b));
    db.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// Lifecycle: restart, concurrent start-up, outages, URLs
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_store_keeps_every_row() {
    on_both("a_restarted_store_keeps_every_row", |db| async move {
        let store = db.store().await;
        let account = store
            .create_user(
                new_user("a@example.com", T0)
                    .password_hash("h")
                    .roles(["admin"])
                    .claims(claims(json!({"k": [1, 2]}))),
            )
            .await
            .unwrap();
        store
            .create_session(session("s1", "1", "j1"))
            .await
            .unwrap();
        store
            .create_session(session("s2", "1", "k1"))
            .await
            .unwrap();
        assert_eq!(
            rotate(&store, "s1", "j1", "j2", T0 + 1).await,
            Rotation::Rotated
        );
        store.revoke_session("s2", T0 + 2, T0 + 99).await.unwrap();
        let revocations = store.revocations(0, T0).await.unwrap();
        store.close().await;

        let reopened = db.store().await;
        assert_eq!(
            reopened.user_by_id(&account.id).await.unwrap().as_ref(),
            Some(&account)
        );
        assert_eq!(reopened.revocations(0, T0).await.unwrap(), revocations);
        assert_eq!(
            rotate(&reopened, "s1", "j2", "j3", T0 + 3).await,
            Rotation::Rotated
        );
        assert_eq!(
            rotate(&reopened, "s2", "k1", "k2", T0 + 3).await,
            Rotation::Revoked
        );
        // New accounts still get fresh ids.
        let second = reopened
            .create_user(new_user("b@example.com", T0))
            .await
            .unwrap();
        assert_ne!(second.id, account.id);
        // Each migration ran once.
        assert_eq!(
            db.scalar("SELECT COUNT(*) FROM auth_schema_version").await,
            MIGRATIONS
        );
        reopened.close().await;
    })
    .await;
}

/// Instances started at once on a new SQLite file race to switch it to WAL, which SQLite refuses
/// with "database is locked" without waiting: every one must still connect (one round failed
/// about one time in twelve before the store retried).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_first_starts_on_a_new_sqlite_file_all_connect() {
    for _ in 0..20 {
        let db = TestDb::sqlite().await;
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let url = db.url.clone();
                tokio::spawn(async move { SqlStore::connect(&url).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("task"));
        }
        for store in outcomes.iter().flatten() {
            store.close().await;
        }
        db.cleanup().await;
        let errors: Vec<String> = outcomes
            .into_iter()
            .filter_map(|o| o.err().map(|e| e.to_string()))
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_start_ups_migrate_once() {
    on_both("concurrent_start_ups_migrate_once", |db| async move {
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let url = db.url.clone();
                tokio::spawn(async move { SqlStore::connect(&url).await })
            })
            .collect();
        let mut stores = Vec::new();
        for task in tasks {
            stores.push(task.await.expect("task").expect("every instance connects"));
        }
        assert_eq!(
            db.scalar("SELECT COUNT(*) FROM auth_schema_version").await,
            MIGRATIONS
        );
        stores[0]
            .create_user(new_user("a@example.com", T0))
            .await
            .unwrap();
        let seen = stores[3].user_by_email("a@example.com").await.unwrap();
        assert_eq!(seen.map(|a| a.email).as_deref(), Some("a@example.com"));
        for store in stores {
            store.close().await;
        }
    })
    .await;
}

/// Every operation of a store that cannot reach its database answers `Unavailable`, quickly.
async fn assert_unavailable(store: &SqlStore, label: &str) {
    let started = Instant::now();
    let roles = vec!["r".to_owned()];
    let extra = Map::new();
    let outcomes: Vec<(&str, Result<(), StoreError>)> = vec![
        (
            "create_user",
            store
                .create_user(new_user("z@example.com", T0))
                .await
                .map(drop),
        ),
        (
            "user_by_email",
            store.user_by_email("a@example.com").await.map(drop),
        ),
        ("user_by_id", store.user_by_id("1").await.map(drop)),
        (
            "replace_password_hash",
            store
                .replace_password_hash("1", "h", "i", PasswordWrite::Change)
                .await
                .map(drop),
        ),
        (
            "transition_status",
            store
                .transition_status("1", &[AccountStatus::Pending], AccountStatus::Active)
                .await
                .map(drop),
        ),
        (
            "set_roles_and_claims",
            store
                .set_roles_and_claims("1", &roles, &extra)
                .await
                .map(drop),
        ),
        (
            "users_with_status",
            store
                .users_with_status(AccountStatus::Active)
                .await
                .map(drop),
        ),
        (
            "create_session",
            store
                .create_session(session("sx", "1", "j"))
                .await
                .map(drop),
        ),
        (
            "rotate_refresh",
            store
                .rotate_refresh("s1", "j1", "j2", T0, DAY, T0 + DAY)
                .await
                .map(drop),
        ),
        (
            "revoke_session",
            store.revoke_session("s1", T0, T0 + 1).await,
        ),
        (
            "revoke_other_sessions",
            store
                .revoke_other_sessions("1", None, T0, T0 + 1)
                .await
                .map(drop),
        ),
        (
            "revoke_subject",
            store.revoke_subject("1", T0, T0, T0 + 1).await,
        ),
        ("revocations", store.revocations(0, T0).await.map(drop)),
    ];
    for (op, outcome) in outcomes {
        match outcome {
            Err(StoreError::Unavailable(_)) => {}
            other => panic!("{label}: {op} should be Unavailable, got {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(10),
        "{label}: 13 failing calls took {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_closed_store_is_unavailable() {
    on_both("a_closed_store_is_unavailable", |db| async move {
        let store = db.store().await;
        store
            .create_user(new_user("a@example.com", T0))
            .await
            .unwrap();
        store
            .create_session(session("s1", "1", "j1"))
            .await
            .unwrap();
        let clone = store.clone();
        store.close().await;
        assert_unavailable(&clone, "closed").await;
        // Nothing was lost: a new store sees the rows.
        let reopened = db.store().await;
        assert!(
            reopened
                .user_by_email("a@example.com")
                .await
                .unwrap()
                .is_some()
        );
        reopened.close().await;
    })
    .await;
}

/// PostgreSQL only: SQLite keeps an open file usable after it is removed, so there is no
/// equivalent of a server dropping the database under a live pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_dropped_under_a_live_pool_is_unavailable() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store().await;
    store
        .create_user(new_user("a@example.com", T0))
        .await
        .unwrap();
    db.drop_database().await;
    let started = Instant::now();
    let first = store.user_by_email("a@example.com").await;
    assert!(
        matches!(first, Err(StoreError::Unavailable(_))),
        "[postgres] {first:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "[postgres] took {:?}",
        started.elapsed()
    );
    assert_unavailable(&store, "[postgres] dropped").await;
    store.close().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_database_fails_to_connect_quickly_as_unavailable() {
    // PostgreSQL: nothing listens on port 1.
    let started = Instant::now();
    let dead = SqlStore::connect("postgres://postgres:hunter2@127.0.0.1:1/auth").await;
    let elapsed = started.elapsed();
    match dead {
        Err(StoreError::Unavailable(message)) => {
            assert!(!message.contains("hunter2"), "{message}")
        }
        other => panic!("[postgres] expected Unavailable, got {other:?}"),
    }
    assert!(
        elapsed < Duration::from_secs(6),
        "[postgres] took {elapsed:?}"
    );

    // SQLite: the parent "directory" is a regular file.
    let file = std::env::temp_dir().join(format!("auth-store-test-{}", common::db::unique_name()));
    std::fs::write(&file, b"not a directory").unwrap();
    let url = format!("sqlite://{}", file.join("sub").join("auth.db").display());
    let dead = SqlStore::connect(&url).await;
    std::fs::remove_file(&file).unwrap();
    assert!(
        matches!(dead, Err(StoreError::Unavailable(_))),
        "[sqlite] {dead:?}"
    );
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_echoing_secrets() {
    for url in [
        "mysql://root:hunter2@db/app",
        "mariadb://root:hunter2@db/app",
        "root:hunter2@db/app",
        "hunter2",
        "",
        "sqlite3://file.db",
    ] {
        match SqlStore::connect(url).await {
            Err(StoreError::Backend(message)) => {
                assert!(message.contains("unsupported database URL"), "{message}");
                assert!(!message.contains("hunter2"), "{url}: {message}");
            }
            other => panic!("{url}: expected Backend, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_sqlite_url_without_a_file_is_refused() {
    for url in ["sqlite:", "sqlite://", "sqlite://?mode=rwc"] {
        match SqlStore::connect(url).await {
            Err(StoreError::Backend(message)) => {
                assert!(message.contains("no database file"), "{url}: {message}")
            }
            other => panic!("{url}: expected Backend, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn url_forms_are_accepted() {
    // sqlite:path (no slashes), a missing parent directory, and the scheme in any case.
    let dir = std::env::temp_dir().join(format!("auth-store-test-{}", common::db::unique_name()));
    let path = dir.join("nested").join("auth.db");
    for url in [
        format!("sqlite:{}", path.display()),
        format!("SQLite://{}", path.display()),
    ] {
        let store = SqlStore::connect(&url).await.expect(&url);
        assert_eq!(store.backend(), "sqlite");
        assert!(!format!("{store:?}").contains("auth.db"));
        store.close().await;
    }
    assert!(path.exists());
    // It holds password hashes: only its owner may read it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    std::fs::remove_dir_all(&dir).unwrap();

    let memory = SqlStore::connect("sqlite::memory:").await.expect("memory");
    let m = memory
        .create_user(new_user("m@example.com", T0))
        .await
        .unwrap();
    assert!(memory.user_by_id(&m.id).await.unwrap().is_some());
    memory.close().await;

    // postgresql:// works like postgres://.
    let db = TestDb::postgres().await;
    let url = db.url.replacen("postgres://", "postgresql://", 1);
    let store = SqlStore::connect(&url).await.expect("postgresql://");
    assert_eq!(store.backend(), "postgres");
    store.close().await;
    db.cleanup().await;
    assert!(postgres_base_url().starts_with("postgres"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accounts_from_before_opaque_ids_keep_their_ids_and_sessions() {
    on_both("migration 3 on old rows", |db| async move {
        // A database as schema version 2 left it, with an account and its session.
        let (first, second) = match db.backend {
            Backend::Sqlite => (
                include_str!("../../auth-runtime/migrations/sqlite/0001_accounts_sessions.sql"),
                include_str!("../../auth-runtime/migrations/sqlite/0002_sessions_expiry_index.sql"),
            ),
            Backend::Postgres => (
                include_str!("../../auth-runtime/migrations/postgres/0001_accounts_sessions.sql"),
                include_str!(
                    "../../auth-runtime/migrations/postgres/0002_sessions_expiry_index.sql"
                ),
            ),
        };
        if db.backend == Backend::Sqlite {
            let path = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::File::create(&path).unwrap();
        }
        db.execute(first).await;
        db.execute(second).await;
        db.execute(
            "CREATE TABLE auth_schema_version (version BIGINT NOT NULL PRIMARY KEY, \
             description TEXT NOT NULL, applied_at BIGINT NOT NULL); \
             INSERT INTO auth_schema_version VALUES (1, 'accounts_sessions', 0); \
             INSERT INTO auth_schema_version VALUES (2, 'sessions_expiry_index', 0); \
             INSERT INTO auth_users (email, password_hash, status, roles, claims, created_at, \
             updated_at) VALUES ('old@example.com', NULL, 'active', 'user', '{}', 1, 1); \
             INSERT INTO auth_sessions (id, subject, login_type, refresh_jti, created_at, \
             last_used_at, expires_at, revoked_at) \
             VALUES ('s1', '1', 'user', 'j1', 1700000000, 1700000000, 9999999999, NULL);",
        )
        .await;
        let store = db.store().await;
        let old = store
            .user_by_id("1")
            .await
            .unwrap()
            .expect("the old id still finds it");
        assert_eq!(old.email, "old@example.com");
        assert_eq!(old.credential_version, 0);
        // Its session (recorded without a version) still refreshes.
        assert_eq!(
            rotate(&store, "s1", "j1", "j2", T0).await,
            Rotation::Rotated
        );
        let new = store
            .create_user(new_user("new@example.com", T0))
            .await
            .unwrap();
        assert_opaque_id(&new.id);
        store.close().await;
    })
    .await;
}

fn api_key(id: &str, owner: &str, expires_at: u64) -> NewApiKey {
    NewApiKey::new(
        id,
        owner,
        "user",
        "ci",
        vec!["reports:read".into(), "billing:read".into()],
        "0".repeat(64),
        T0,
        expires_at,
        3,
    )
}

#[tokio::test]
async fn api_keys_are_read_back_listed_revoked_and_their_use_recorded() {
    on_both("api keys", |db| async move {
        let store = db.store().await;
        store
            .create_api_key(api_key("k1", "ann", T0 + DAY))
            .await
            .unwrap();
        store
            .create_api_key(api_key("k2", "ann", T0 + 10))
            .await
            .unwrap();
        store
            .create_api_key(api_key("k3", "bob", T0 + DAY))
            .await
            .unwrap();
        // Ids are unique.
        assert_eq!(
            store.create_api_key(api_key("k1", "bob", T0 + DAY)).await,
            Err(StoreError::Conflict)
        );
        let k1 = store.api_key("k1").await.unwrap().expect("k1");
        assert_eq!(k1.key, api_key("k1", "ann", T0 + DAY));
        assert_eq!((k1.last_used_at, k1.revoked_at), (None, None));
        assert_eq!(store.api_key("nope").await.unwrap(), None);

        // Live keys only: k2 has expired at T0 + 10.
        let ids = |keys: Vec<auth_runtime::store::ApiKeyRecord>| -> Vec<String> {
            keys.into_iter().map(|k| k.key.id).collect()
        };
        assert_eq!(
            ids(store.api_keys_of("ann", T0).await.unwrap()),
            ["k1", "k2"]
        );
        assert_eq!(
            ids(store.api_keys_of("ann", T0 + 10).await.unwrap()),
            ["k1"]
        );

        // Revocation is conditional: the owner's live key only, once.
        assert!(!store.revoke_api_key("bob", "k1", T0 + 20).await.unwrap());
        assert!(!store.revoke_api_key("ann", "k2", T0 + 20).await.unwrap());
        assert!(store.revoke_api_key("ann", "k1", T0 + 20).await.unwrap());
        assert!(!store.revoke_api_key("ann", "k1", T0 + 21).await.unwrap());
        assert_eq!(
            store.api_key("k1").await.unwrap().unwrap().revoked_at,
            Some(T0 + 20)
        );
        assert!(store.api_keys_of("ann", T0 + 20).await.unwrap().is_empty());

        // Uses never move a key's last use backwards.
        store
            .record_api_key_use(&[("k3".into(), T0 + 50), ("unknown".into(), T0)])
            .await
            .unwrap();
        store
            .record_api_key_use(&[("k3".into(), T0 + 40)])
            .await
            .unwrap();
        store.record_api_key_use(&[]).await.unwrap();
        assert_eq!(
            store.api_key("k3").await.unwrap().unwrap().last_used_at,
            Some(T0 + 50)
        );
    })
    .await;
}
