//! Unit tests of the SQL store's pure parts: URL schemes, ids, times, roles, row decoding.

use serde_json::Value;

use super::SqlStore;
use super::pool::scheme;
use super::rows::{
    UserRow, account_from_row, encode_roles, from_sql, new_account_id, revocation_from_row, to_sql,
};
use crate::store::StoreError;

#[test]
fn schemes_never_show_more_than_the_scheme() {
    assert_eq!(scheme("sqlite://a.db").as_deref(), Some("sqlite"));
    assert_eq!(scheme("SQLite:a.db").as_deref(), Some("sqlite"));
    assert_eq!(
        scheme("postgresql://u:p@h/d").as_deref(),
        Some("postgresql")
    );
    assert_eq!(scheme("no scheme here"), None);
    assert_eq!(scheme("u ser:secret@host"), None);
    assert_eq!(scheme(":secret"), None);
}

#[test]
fn futures_are_send() {
    // `tokio::spawn` and `StoreFuture` need `Send` futures; sqlx's generic `async fn`s
    // (`RawSql::execute` with `&mut *tx`) are not "general enough" for that, so raw SQL
    // goes through `Executor::execute` instead. This fails to compile if that regresses.
    fn send<T: Send>(_: &T) {}
    send(&SqlStore::connect("sqlite::memory:"));
}

#[test]
fn account_ids_are_random_uuids() {
    let a = new_account_id();
    assert_eq!(a.len(), 36);
    assert_eq!(a.as_bytes()[14], b'4', "{a}");
    assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{a}");
    assert_eq!(a.matches('-').count(), 4);
    assert_ne!(a, new_account_id());
}

#[test]
fn times_clamp_instead_of_wrapping() {
    assert_eq!(to_sql(u64::MAX), i64::MAX);
    assert_eq!(to_sql(5), 5);
    assert_eq!(from_sql(-1), 0);
    assert_eq!(from_sql(5), 5);
}

#[test]
fn roles_with_whitespace_are_refused() {
    assert_eq!(
        encode_roles(&["a".into(), "b".into()]).as_deref(),
        Ok("a b")
    );
    assert!(encode_roles(&["Domain Admins".into()]).is_err());
    assert!(encode_roles(&[String::new()]).is_err());
    assert_eq!(encode_roles(&[]).as_deref(), Ok(""));
}

#[test]
fn unreadable_rows_are_backend_errors() {
    let row = |status: &str, claims: &str| -> UserRow {
        (
            "1".into(),
            "a@b".into(),
            None,
            status.into(),
            String::new(),
            claims.into(),
            0,
            0,
        )
    };
    assert!(matches!(
        account_from_row(row("weird", "{}")),
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        account_from_row(row("active", "[1]")),
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        account_from_row(row("active", "not json")),
        Err(StoreError::Backend(_))
    ));
    let ok = account_from_row(row("active", r#"{"k":1}"#)).expect("readable");
    assert_eq!(ok.id, "1");
    assert_eq!(ok.claims.get("k"), Some(&Value::from(1)));
    assert!(matches!(
        revocation_from_row((1, "subject".into(), "s".into(), None, 0)),
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        revocation_from_row((1, "other".into(), "s".into(), None, 0)),
        Err(StoreError::Backend(_))
    ));
}
