//! What happens *between* requests: a sign-in, a rehash or an approval that read an account
//! just before it changed. Each test holds one operation right after it read the account (a
//! store wrapper pauses that read), completes the competing change, then lets the first one
//! finish: deterministic, no timing luck. Every body runs on SQLite and PostgreSQL.
//!
//! Each of these failed before its fix (credential versions, conditional updates): the
//! resumed sign-in opened a session that outlived the password change or the ban, the resumed
//! rehash restored the old password, the resumed approval reactivated a banned account.

mod common;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_runtime::accounts::AccountError;
use auth_runtime::store::{
    Account, AccountStatus, ApiKeyRecord, ApiKeyStore, NewAccount, NewApiKey, NewPasswordReset,
    NewSession, PasswordResetRecord, PasswordResetStore, PasswordWrite, Purged, Revocation,
    RevocationWaiter, Rotation, SessionRecord, SessionStore, SqlStore, StoreFuture, UserStore,
};
use auth_runtime::{AuthError, AuthManager, LoginType, PasswordHasher, SessionConfig, SigningKey};
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use common::db::{TestDb, on_both};

const OLD: &str = "old password 123";
const NEW: &str = "new password 456";
const EMAIL: &str = "ann@example.com";

/// A held read: `read` fires once the account was read, `resume` lets the reader go on.
struct Hold {
    read: oneshot::Sender<()>,
    resume: oneshot::Receiver<()>,
}

/// [`SqlStore`] whose next `user_by_email` can be held after it has read the account.
#[derive(Clone)]
struct PausingStore {
    inner: SqlStore,
    hold: Arc<Mutex<Option<Hold>>>,
}

impl PausingStore {
    /// Holds the next `user_by_email`: returns (a receiver that fires when it has read, a
    /// sender that resumes it).
    fn hold_next_read(&self) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (read_tx, read_rx) = oneshot::channel();
        let (resume_tx, resume_rx) = oneshot::channel();
        *self.hold.lock().unwrap() = Some(Hold {
            read: read_tx,
            resume: resume_rx,
        });
        (read_rx, resume_tx)
    }

    /// Runs `first` until it has read the account (its next `user_by_email`), then `change`
    /// to the end, then lets `first` go on; returns what `first` returned.
    async fn read_then_change<T: Send + 'static>(
        &self,
        first: impl Future<Output = T> + Send + 'static,
        change: impl Future<Output = ()>,
    ) -> T {
        let (read, resume) = self.hold_next_read();
        let first = tokio::spawn(first);
        read.await.expect("the first operation read the account");
        change.await;
        resume.send(()).expect("the first operation waits");
        first.await.expect("the first operation")
    }
}

/// Sessions neither revoked nor ended.
async fn live_sessions(db: &TestDb) -> i64 {
    db.scalar("SELECT COUNT(*) FROM auth_sessions WHERE revoked_at IS NULL")
        .await
}

impl UserStore for PausingStore {
    fn users_page<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: u32,
    ) -> StoreFuture<'a, Option<Vec<Account>>> {
        self.inner.users_page(after, limit)
    }
    fn create_user(&self, account: NewAccount) -> StoreFuture<'_, Account> {
        self.inner.create_user(account)
    }
    fn user_by_email<'a>(&'a self, email: &'a str) -> StoreFuture<'a, Option<Account>> {
        Box::pin(async move {
            let account = self.inner.user_by_email(email).await?;
            let hold = self.hold.lock().unwrap().take();
            if let Some(hold) = hold {
                let _ = hold.read.send(());
                let _ = hold.resume.await;
            }
            Ok(account)
        })
    }
    fn user_by_id<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Account>> {
        self.inner.user_by_id(id)
    }
    fn replace_password_hash<'a>(
        &'a self,
        id: &'a str,
        current: &'a str,
        new: &'a str,
        write: PasswordWrite,
    ) -> StoreFuture<'a, bool> {
        self.inner.replace_password_hash(id, current, new, write)
    }
    fn transition_status<'a>(
        &'a self,
        id: &'a str,
        from: &'a [AccountStatus],
        to: AccountStatus,
    ) -> StoreFuture<'a, bool> {
        self.inner.transition_status(id, from, to)
    }
    fn set_roles_and_claims<'a>(
        &'a self,
        id: &'a str,
        roles: &'a [String],
        claims: &'a Map<String, Value>,
    ) -> StoreFuture<'a, bool> {
        self.inner.set_roles_and_claims(id, roles, claims)
    }
    fn set_roles<'a>(&'a self, id: &'a str, roles: &'a [String]) -> StoreFuture<'a, bool> {
        self.inner.set_roles(id, roles)
    }
    fn set_claims<'a>(
        &'a self,
        id: &'a str,
        claims: &'a Map<String, Value>,
    ) -> StoreFuture<'a, bool> {
        self.inner.set_claims(id, claims)
    }
    fn users_with_status(&self, status: AccountStatus) -> StoreFuture<'_, Vec<Account>> {
        self.inner.users_with_status(status)
    }
}

/// API keys are not what these tests pause.
impl ApiKeyStore for PausingStore {
    fn create_api_key(&self, key: NewApiKey) -> StoreFuture<'_, ()> {
        self.inner.create_api_key(key)
    }
    fn api_key<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<ApiKeyRecord>> {
        self.inner.api_key(id)
    }
    fn api_keys_of<'a>(&'a self, owner: &'a str, now: u64) -> StoreFuture<'a, Vec<ApiKeyRecord>> {
        self.inner.api_keys_of(owner, now)
    }
    fn revoke_api_key<'a>(
        &'a self,
        owner: &'a str,
        id: &'a str,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        self.inner.revoke_api_key(owner, id, now)
    }
    fn record_api_key_use<'a>(&'a self, uses: &'a [(String, u64)]) -> StoreFuture<'a, ()> {
        self.inner.record_api_key_use(uses)
    }
}

/// Nor are password resets.
impl PasswordResetStore for PausingStore {
    fn create_password_reset(&self, reset: NewPasswordReset) -> StoreFuture<'_, ()> {
        self.inner.create_password_reset(reset)
    }
    fn password_reset<'a>(
        &'a self,
        digest: &'a str,
    ) -> StoreFuture<'a, Option<PasswordResetRecord>> {
        self.inner.password_reset(digest)
    }
    fn consume_password_reset<'a>(&'a self, digest: &'a str, now: u64) -> StoreFuture<'a, bool> {
        self.inner.consume_password_reset(digest, now)
    }
    fn purge_password_resets(&self, now: u64) -> StoreFuture<'_, u64> {
        self.inner.purge_password_resets(now)
    }
}

impl SessionStore for PausingStore {
    fn sessions_of<'a>(
        &'a self,
        subject: &'a str,
        now: u64,
        idle_since: u64,
    ) -> StoreFuture<'a, Vec<SessionRecord>> {
        self.inner.sessions_of(subject, now, idle_since)
    }
    fn create_session(&self, session: NewSession) -> StoreFuture<'_, bool> {
        self.inner.create_session(session)
    }
    fn rotate_refresh<'a>(
        &'a self,
        sid: &'a str,
        presented: &'a str,
        next: &'a str,
        now: u64,
        idle_timeout: u64,
        revocation_expires_at: u64,
    ) -> StoreFuture<'a, Rotation> {
        self.inner.rotate_refresh(
            sid,
            presented,
            next,
            now,
            idle_timeout,
            revocation_expires_at,
        )
    }
    fn revoke_session<'a>(&'a self, sid: &'a str, now: u64, until: u64) -> StoreFuture<'a, ()> {
        self.inner.revoke_session(sid, now, until)
    }
    fn revoke_other_sessions<'a>(
        &'a self,
        subject: &'a str,
        except: Option<&'a str>,
        now: u64,
        until: u64,
    ) -> StoreFuture<'a, u64> {
        self.inner
            .revoke_other_sessions(subject, except, now, until)
    }
    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff: u64,
        now: u64,
        until: u64,
    ) -> StoreFuture<'a, ()> {
        self.inner.revoke_subject(subject, cutoff, now, until)
    }
    fn revocations(&self, after: i64, now: u64) -> StoreFuture<'_, Vec<Revocation>> {
        self.inner.revocations(after, now)
    }
    fn purge_expired(&self, now: u64) -> StoreFuture<'_, Purged> {
        self.inner.purge_expired(now)
    }
    fn revocation_wakeups(&self) -> Option<RevocationWaiter> {
        self.inner.revocation_wakeups()
    }
}

/// How the manager holds the store: one store for accounts and sessions (the store compares
/// credential versions in its session transaction), or the same database behind two handles
/// (the manager re-reads the account after recording the session).
#[derive(Clone, Copy, Debug)]
enum Wiring {
    OneStore,
    Separate,
}

async fn manager(
    db: &TestDb,
    wiring: Wiring,
    hasher: PasswordHasher,
) -> (AuthManager, PausingStore) {
    let store = PausingStore {
        inner: db.store().await,
        hold: Arc::default(),
    };
    let builder = AuthManager::builder()
        .login_type(LoginType::new("user").key(SigningKey::hs256("u", &[7; 32])))
        .role("user", ["reports:read"])
        .password_hasher(hasher)
        .session_config(SessionConfig::default().staleness_bound(Duration::from_millis(100)));
    let builder = match wiring {
        Wiring::OneStore => builder.store(store.clone()),
        Wiring::Separate => builder.users(store.clone()).sessions(store.inner.clone()),
    };
    (builder.build().expect("valid configuration"), store)
}

fn cheap() -> PasswordHasher {
    PasswordHasher::insecure_for_tests(64, 1, 1)
}

/// An approved account with password [`OLD`].
async fn approved(manager: &AuthManager) -> Account {
    manager.register(EMAIL, OLD, None).await.expect("register");
    manager.approve(EMAIL).await.expect("approve");
    manager
        .users()
        .unwrap()
        .user_by_email(EMAIL)
        .await
        .unwrap()
        .unwrap()
}

fn is_revoked(result: Result<impl std::fmt::Debug, AuthError>) -> bool {
    matches!(result, Err(AuthError::InvalidToken { .. }))
}

/// A sign-in that read the account before a password change opens no session afterwards.
async fn sign_in_during_password_change(db: TestDb, wiring: Wiring) {
    let (manager, store) = manager(&db, wiring, cheap()).await;
    approved(&manager).await;
    let own = manager.sign_in(EMAIL, OLD, "user", None).await.unwrap();
    let owner = manager
        .authenticate_token(&own.access_token, &["user"])
        .await
        .unwrap();

    let attacker = manager.clone();
    let outcome = store
        .read_then_change(
            async move { attacker.sign_in(EMAIL, OLD, "user", None).await },
            async {
                manager
                    .change_password(&owner, OLD, NEW)
                    .await
                    .expect("password change");
            },
        )
        .await;
    assert_eq!(
        outcome.as_ref().map(|_| ()),
        Err(&AccountError::InvalidCredentials),
        "{wiring:?}: a sign-in with the old password must not outlive the change"
    );
    // The owner's own session lives on; the new password works, the old one does not.
    manager
        .refresh(&own.refresh_token)
        .await
        .expect("own session refreshes");
    manager
        .sign_in(EMAIL, NEW, "user", None)
        .await
        .expect("new password");
    assert_eq!(
        manager.sign_in(EMAIL, OLD, "user", None).await.map(|_| ()),
        Err(AccountError::InvalidCredentials)
    );
    // Exactly the owner's session and the new sign-in: nothing of the attacker's.
    assert_eq!(live_sessions(&db).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_in_in_flight_does_not_survive_a_password_change() {
    on_both("password change race (one store)", |db| {
        sign_in_during_password_change(db, Wiring::OneStore)
    })
    .await;
    on_both("password change race (separate stores)", |db| {
        sign_in_during_password_change(db, Wiring::Separate)
    })
    .await;
}

/// A sign-in that read the account before a ban opens no session and no token works, even
/// when it resumes seconds later (past the ban's cutoff).
async fn sign_in_during_ban(db: TestDb, wiring: Wiring) {
    let (manager, store) = manager(&db, wiring, cheap()).await;
    let account = approved(&manager).await;

    let attacker = manager.clone();
    let outcome = store
        .read_then_change(
            async move { attacker.sign_in(EMAIL, OLD, "user", None).await },
            async {
                manager.deactivate(&account.id).await.expect("ban");
                // Past the second of the ban: a token issued now would not be covered by its
                // cutoff.
                tokio::time::sleep(Duration::from_millis(1100)).await;
            },
        )
        .await;
    match outcome {
        Err(AccountError::InvalidCredentials) => {}
        Ok(pair) => {
            let access = manager
                .authenticate_token(&pair.access_token, &["user"])
                .await;
            let refresh = manager.refresh(&pair.refresh_token).await;
            panic!(
                "{wiring:?}: a sign-in in flight during a ban got tokens (access: {access:?}, \
                 refresh: {:?})",
                refresh.map(|_| ())
            );
        }
        Err(other) => panic!("{wiring:?}: unexpected {other:?}"),
    }
    assert_eq!(live_sessions(&db).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_in_in_flight_does_not_survive_a_ban() {
    on_both("ban race (one store)", |db| {
        sign_in_during_ban(db, Wiring::OneStore)
    })
    .await;
    on_both("ban race (separate stores)", |db| {
        sign_in_during_ban(db, Wiring::Separate)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rehash_at_sign_in_cannot_undo_a_password_change() {
    on_both("rehash race", |db| async move {
        // Accounts hashed with older parameters are rehashed at sign-in.
        let (old_manager, _) = manager(
            &db,
            Wiring::OneStore,
            PasswordHasher::insecure_for_tests(32, 1, 1),
        )
        .await;
        approved(&old_manager).await;
        // Signed in where the parameters are the old ones: the hash stays as it is.
        let own = old_manager.sign_in(EMAIL, OLD, "user", None).await.unwrap();
        let (manager, store) = manager(&db, Wiring::OneStore, cheap()).await;
        let owner = manager
            .authenticate_token(&own.access_token, &["user"])
            .await
            .unwrap();

        let rehashing = manager.clone();
        let outcome = store
            .read_then_change(
                async move { rehashing.sign_in(EMAIL, OLD, "user", None).await },
                async {
                    manager
                        .change_password(&owner, OLD, NEW)
                        .await
                        .expect("change");
                },
            )
            .await;
        // The resumed sign-in verified the old hash it had read; it opens no session, and its
        // rehash of the old password does not replace the new hash.
        assert_eq!(outcome.map(|_| ()), Err(AccountError::InvalidCredentials));
        manager
            .sign_in(EMAIL, NEW, "user", None)
            .await
            .expect("the new password works");
        assert_eq!(
            manager.sign_in(EMAIL, OLD, "user", None).await.map(|_| ()),
            Err(AccountError::InvalidCredentials),
            "the old password must stay dead"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_approval_racing_a_ban_cannot_reactivate_the_account() {
    on_both("approve/ban race", |db| async move {
        let (manager, store) = manager(&db, Wiring::OneStore, cheap()).await;
        manager.register(EMAIL, OLD, None).await.unwrap();
        let id = store.inner.user_by_email(EMAIL).await.unwrap().unwrap().id;

        let approving = manager.clone();
        let approval = store
            .read_then_change(async move { approving.approve(EMAIL).await }, async {
                manager.deactivate(&id).await.expect("ban");
            })
            .await;
        assert!(
            matches!(approval, Err(AccountError::WrongState(_))),
            "the approval of a banned account must fail"
        );
        let account = store.inner.user_by_id(&id).await.unwrap().unwrap();
        assert_eq!(account.status, AccountStatus::Deactivated);
        assert!(manager.sign_in(EMAIL, OLD, "user", None).await.is_err());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_after_a_credential_change_ends_the_session() {
    on_both("refresh after change", |db| async move {
        let (manager, store) = manager(&db, Wiring::OneStore, cheap()).await;
        let account = approved(&manager).await;
        let pair = manager.sign_in(EMAIL, OLD, "user", None).await.unwrap();
        // A role change made behind the manager's back (another instance, an admin tool).
        store
            .inner
            .set_roles_and_claims(&account.id, &["editor".into()], &Map::new())
            .await
            .unwrap();
        assert!(is_revoked(manager.refresh(&pair.refresh_token).await));
        // The session is revoked for good (its access token too, once the list is read).
        assert_eq!(live_sessions(&db).await, 0);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(is_revoked(
            manager
                .authenticate_token(&pair.access_token, &["user"])
                .await
        ));
    })
    .await;
}
