//! Sign-in on an identity provider's word (`AuthManager::sign_in_federated`, what the OIDC
//! callback calls), on SQLite and PostgreSQL: the account is created on first sign-in, linked
//! once, refused when the email is unverified or linked to someone else, and its
//! provider-managed roles follow the provider.

mod common;

use auth_runtime::accounts::{AccountError, FederatedSignIn};
use auth_runtime::prelude::*;
use auth_runtime::store::SqlStore;
use common::db::{TestDb, on_both};
use serde_json::json;

const ISSUER: &str = "https://id.example.com";
const PASSWORD: &str = "a long local passphrase";

fn manager(store: SqlStore) -> AuthManager {
    AuthManager::builder()
        .login_type(LoginType::new("user").key(SigningKey::hs256("u1", &[1; 32])))
        .login_type(LoginType::new("admin").key(SigningKey::hs256("a1", &[2; 32])))
        .role("user", ["reports:read"])
        .role("editor", ["reports:*"])
        .role("auditor", ["audit:read"])
        .role("admin", ["admin:*", "users:*"])
        .store(store)
        .build()
        .unwrap()
}

fn person(subject: &str, email: &str) -> FederatedSignIn {
    FederatedSignIn::new(ISSUER, subject, email, true)
        .roles(["editor"])
        .managed_roles(["editor", "admin"])
}

async fn count(db: &TestDb, condition: &str) -> i64 {
    db.scalar(&format!(
        "SELECT COUNT(*) FROM auth_users WHERE {condition}"
    ))
    .await
}

fn scopes(manager: &AuthManager, token: &str) -> Vec<String> {
    let principal = manager.verify_access_token(token, &["user"]).unwrap();
    principal.scopes().iter().map(str::to_owned).collect()
}

#[tokio::test]
async fn first_sign_in_creates_an_active_linked_account_once() {
    on_both("federated first sign-in", |db: TestDb| async move {
        let manager = manager(db.store().await);
        let ann = person("p-1", "Ann@Example.com");
        let pair = manager.sign_in_federated(&ann, "user", None).await.unwrap();
        assert_eq!(
            scopes(&manager, &pair.access_token),
            ["reports:*", "reports:read"]
        );
        let account = manager
            .account_by_email("ann@example.com")
            .await
            .unwrap()
            .expect("created");
        assert_eq!(account.status.as_str(), "active");
        assert_eq!(account.roles, ["editor", "user"]);
        assert_eq!(
            account.claims["federated"],
            json!({ "iss": ISSUER, "sub": "p-1" })
        );
        assert!(account.password_hash.is_none(), "no password");
        // Password sign-in is impossible for it; a second federated sign-in finds it.
        assert!(
            manager
                .sign_in("ann@example.com", PASSWORD, "user", None)
                .await
                .is_err()
        );
        manager.sign_in_federated(&ann, "user", None).await.unwrap();
        assert_eq!(count(&db, "email = 'ann@example.com'").await, 1);

        // Eight first sign-ins of one new person at once: one account.
        let bob = person("p-2", "bob@example.com");
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (manager, bob) = (manager.clone(), bob.clone());
            tasks.push(tokio::spawn(async move {
                manager.sign_in_federated(&bob, "user", None).await
            }));
        }
        let mut ok = 0;
        for task in tasks {
            if task.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert!(ok >= 1, "at least one sign-in succeeds");
        assert_eq!(count(&db, "email = 'bob@example.com'").await, 1);
    })
    .await;
}

#[tokio::test]
async fn refusals_create_and_change_nothing() {
    on_both("federated refusals", |db: TestDb| async move {
        let manager = manager(db.store().await);
        // An unverified email.
        let unverified = FederatedSignIn::new(ISSUER, "p-9", "eve@example.com", false);
        let err = manager
            .sign_in_federated(&unverified, "user", None)
            .await
            .unwrap_err();
        assert!(matches!(err, AccountError::Forbidden(_)), "{err:?}");
        assert_eq!(count(&db, "1 = 1").await, 0);
        // Not an email.
        let bad = FederatedSignIn::new(ISSUER, "p-9", "not an email", true);
        assert!(matches!(
            manager.sign_in_federated(&bad, "user", None).await,
            Err(AccountError::InvalidEmail)
        ));

        // An email linked to another subject (the provider gave it to someone else).
        manager
            .sign_in_federated(&person("p-1", "ann@example.com"), "user", None)
            .await
            .unwrap();
        let err = manager
            .sign_in_federated(&person("p-other", "ann@example.com"), "user", None)
            .await
            .unwrap_err();
        assert!(matches!(err, AccountError::Forbidden(_)), "{err:?}");
        let other_issuer =
            FederatedSignIn::new("https://evil.example.com", "p-1", "ann@example.com", true);
        assert!(
            manager
                .sign_in_federated(&other_issuer, "user", None)
                .await
                .is_err()
        );
        let ann = manager
            .account_by_email("ann@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ann.claims["federated"]["sub"], "p-1");

        // A pending local registration stays pending; a deactivated account stays out.
        manager
            .register("pam@example.com", PASSWORD, None)
            .await
            .unwrap();
        assert!(matches!(
            manager
                .sign_in_federated(&person("p-3", "pam@example.com"), "user", None)
                .await,
            Err(AccountError::Pending)
        ));
        manager.deactivate(&ann.id).await.unwrap();
        assert!(matches!(
            manager
                .sign_in_federated(&person("p-1", "ann@example.com"), "user", None)
                .await,
            Err(AccountError::Deactivated)
        ));
    })
    .await;
}

#[tokio::test]
async fn a_local_account_is_linked_and_managed_roles_follow_the_provider() {
    on_both("federated link and sync", |db: TestDb| async move {
        let manager = manager(db.store().await);
        manager
            .register("lee@example.com", PASSWORD, None)
            .await
            .unwrap();
        manager.approve("lee@example.com").await.unwrap();
        let lee = manager
            .account_by_email("lee@example.com")
            .await
            .unwrap()
            .unwrap();
        // An admin grants a role the provider does not manage.
        manager
            .set_roles(&lee.id, &["user".to_owned(), "auditor".to_owned()])
            .await
            .unwrap();

        let as_editor = person("p-7", "lee@example.com");
        let first = manager
            .sign_in_federated(&as_editor, "user", None)
            .await
            .unwrap();
        let linked = manager.account(&lee.id).await.unwrap().unwrap();
        assert_eq!(linked.claims["federated"]["sub"], "p-7");
        assert_eq!(linked.roles, ["auditor", "editor", "user"]);
        // The local password still works.
        manager
            .sign_in("lee@example.com", PASSWORD, "user", None)
            .await
            .unwrap();

        // The provider drops the group: the next sign-in drops the role (and, a role change
        // being a credential change, the earlier session); the admin's role stays.
        let plain = FederatedSignIn::new(ISSUER, "p-7", "lee@example.com", true)
            .managed_roles(["editor", "admin"]);
        let second = manager
            .sign_in_federated(&plain, "user", None)
            .await
            .unwrap();
        let now = manager.account(&lee.id).await.unwrap().unwrap();
        assert_eq!(now.roles, ["auditor", "user"]);
        assert_eq!(
            scopes(&manager, &second.access_token),
            ["audit:read", "reports:read"]
        );
        assert!(manager.refresh(&first.refresh_token).await.is_err());
        // The same sign-in again changes nothing and keeps the session.
        let third = manager
            .sign_in_federated(&plain, "user", None)
            .await
            .unwrap();
        manager.refresh(&second.refresh_token).await.unwrap();
        manager.refresh(&third.refresh_token).await.unwrap();
    })
    .await;
}
