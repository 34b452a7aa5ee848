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

/// The test provider itself: discovery, a PKCE-checked, single-use code exchange whose ID
/// token passes `oidc::validate_id_token` with the provider's published keys.
#[tokio::test]
async fn the_test_provider_speaks_the_code_flow() {
    use auth_runtime::oidc::{
        AuthorizationRequest, OidcClient, ProviderMetadata, validate_id_token,
    };
    use common::provider::{Provider, ProviderUser};

    let provider = Provider::start("app", "app-secret").await;
    provider.sign_in_as(ProviderUser::new("p-1", "ann@example.com", &["editors"]));
    let http = |request: String| async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(provider_addr(&request))
            .await
            .unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    fn provider_addr(request: &str) -> String {
        request
            .lines()
            .find_map(|l| l.strip_prefix("Host: "))
            .unwrap()
            .to_owned()
    }
    let host = provider.addr.to_string();
    let discovery = http(format!(
        "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    ))
    .await;
    let body = discovery.split("\r\n\r\n").nth(1).unwrap();
    let metadata = ProviderMetadata::from_discovery(body.as_bytes(), &provider.issuer).unwrap();
    let client = OidcClient::new("app", "http://127.0.0.1:1/callback");
    let (url, pending) = AuthorizationRequest::new(&metadata, &client).into_parts();
    let path = url.strip_prefix(&provider.issuer).unwrap();
    let redirect = http(format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    ))
    .await;
    let location = redirect
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or_else(|| panic!("{redirect}"));
    let code = location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .unwrap()
        .to_owned();
    assert!(location.contains(&format!("state={}", pending.state)));
    let exchange = |verifier: &str| {
        let form = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={verifier}&client_id=app&client_secret=app-secret",
            common::server::encode("http://127.0.0.1:1/callback")
        );
        http(format!(
            "POST /token HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ))
    };
    // The wrong verifier spends nothing... and the code is single-use either way.
    let wrong = exchange("not-the-verifier-not-the-verifier-not-the-v").await;
    assert!(wrong.starts_with("HTTP/1.1 400"), "{wrong}");
    let again = exchange(&pending.verifier).await;
    assert!(again.starts_with("HTTP/1.1 400"), "a spent code: {again}");

    // A fresh code with the right verifier gives an ID token that validates.
    let (url, pending) = AuthorizationRequest::new(&metadata, &client).into_parts();
    let path = url.strip_prefix(&provider.issuer).unwrap();
    let redirect = http(format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    ))
    .await;
    let code = redirect
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .and_then(|l| l.split(['?', '&']).find_map(|p| p.strip_prefix("code=")))
        .unwrap()
        .to_owned();
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={}",
        common::server::encode("http://127.0.0.1:1/callback"),
        pending.verifier
    );
    let token = http(format!(
        "POST /token HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic YXBwOmFwcC1zZWNyZXQ=\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    ))
    .await;
    assert!(token.starts_with("HTTP/1.1 200"), "{token}");
    let body: serde_json::Value =
        serde_json::from_str(token.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let jwks = http(format!(
        "GET /jwks HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    ))
    .await;
    let keys: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(jwks.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = validate_id_token(
        body["id_token"].as_str().unwrap(),
        &keys,
        &metadata,
        &client,
        &pending.nonce,
        now,
    )
    .unwrap();
    assert_eq!(claims.subject, "p-1");
    assert_eq!(claims.strings("groups"), ["editors"]);
    assert!(provider.requests("/token") >= 3);
}

/// `AUTH_OIDC_*`: all four or none; a bad group mapping names the variable; secrets are never
/// in the error or the debug output.
#[test]
fn the_reference_servers_oidc_settings() {
    let settings = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        examples::oidc::from_vars(move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    };
    let full = [
        ("AUTH_OIDC_ISSUER", "http://127.0.0.1:9000"),
        ("AUTH_OIDC_CLIENT_ID", "app"),
        ("AUTH_OIDC_CLIENT_SECRET", "very-secret-value"),
        (
            "AUTH_OIDC_REDIRECT_URL",
            "http://127.0.0.1:3000/auth/oidc/callback",
        ),
    ];
    let oidc = settings(&full).unwrap().expect("configured");
    assert!(oidc.group_roles.is_empty());
    assert!(!format!("{oidc:?}").contains("very-secret-value"));
    assert_eq!(settings(&[]).unwrap(), None);
    let err = settings(&full[..3]).unwrap_err();
    assert_eq!(err.variable, "AUTH_OIDC_REDIRECT_URL");
    let err = settings(&[("AUTH_OIDC_CLIENT_SECRET", "very-secret-value")]).unwrap_err();
    assert_eq!(err.variable, "AUTH_OIDC_ISSUER");
    assert!(!err.to_string().contains("very-secret-value"));
    let mut bad_map = full.to_vec();
    bad_map.push(("AUTH_OIDC_GROUP_ROLES", "editors=editor,ops"));
    let err = settings(&bad_map).unwrap_err();
    assert_eq!(err.variable, "AUTH_OIDC_GROUP_ROLES");
    assert!(err.reason.contains("`ops`"), "{}", err.reason);
    let mut bad_url = full.to_vec();
    bad_url[0] = ("AUTH_OIDC_ISSUER", "id.example.com");
    assert_eq!(settings(&bad_url).unwrap_err().variable, "AUTH_OIDC_ISSUER");
}
