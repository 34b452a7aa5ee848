//! [`Dialect`]: what differs between SQLite ([`SQLITE`]) and PostgreSQL ([`POSTGRES`]),
//! including the SQL text that is not the same on both.

use super::migrations::{Migration, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

/// What differs between the two backends.
pub(crate) struct Dialect {
    pub(super) name: &'static str,
    /// Starts a writing transaction.
    pub(crate) begin: &'static str,
    /// Serializes schema migrations between instances (inside the migration transaction).
    pub(super) migration_lock: Option<&'static str>,
    /// Serializes revocation inserts so that `seq` order is commit order (see
    /// [`revoke`](super::revoke)).
    pub(super) revocation_lock: Option<&'static str>,
    /// Tells the other instances, at commit, that a revocation was recorded.
    pub(super) revocation_notify: Option<&'static str>,
    /// Reads a session row to classify a failed rotation (locking it where that means
    /// something).
    pub(super) session_for_rotation: &'static str,
    /// Records a session in one statement, only if it carries no credential version or its
    /// account is active with that version (locking the account row against a concurrent
    /// credential change where that means something).
    pub(super) insert_session: &'static str,
    pub(super) migrations: &'static [Migration],
}

/// Whether a session's recorded credential version is its account's current one (always true
/// for a session without one): an SQL expression over `auth_sessions`.
macro_rules! session_version_current {
    () => {
        "(auth_sessions.credential_version IS NULL OR EXISTS (SELECT 1 FROM auth_users u \
         WHERE u.public_id = auth_sessions.subject AND u.status = 'active' \
         AND u.credential_version = auth_sessions.credential_version))"
    };
}
pub(super) use session_version_current;

macro_rules! session_for_rotation {
    () => {
        concat!(
            "SELECT refresh_jti, revoked_at, expires_at, last_used_at, CAST(CASE WHEN ",
            session_version_current!(),
            " THEN 1 ELSE 0 END AS BIGINT) FROM auth_sessions WHERE id = $1"
        )
    };
}
const SESSION_FOR_ROTATION: &str = session_for_rotation!();

/// `$1` id, `$2` subject, `$3` login type, `$4` refresh jti, `$5` now, `$6` end, `$7` the
/// credential version (or NULL); `$lock` locks the account row.
macro_rules! insert_session {
    ($lock:literal) => {
        concat!(
            "INSERT INTO auth_sessions (id, subject, login_type, refresh_jti, created_at, \
             last_used_at, expires_at, revoked_at, credential_version) \
             SELECT $1, $2, $3, $4, $5, $5, $6, NULL, $7 \
             WHERE $7 IS NULL OR EXISTS (SELECT 1 FROM auth_users WHERE public_id = $2 \
             AND status = 'active' AND credential_version = $7",
            $lock,
            ")"
        )
    };
}

pub(crate) const SQLITE: Dialect = Dialect {
    name: "sqlite",
    begin: "BEGIN IMMEDIATE",
    migration_lock: None,
    revocation_lock: None,
    revocation_notify: None,
    session_for_rotation: SESSION_FOR_ROTATION,
    // One statement is atomic with the read inside it (SQLite serializes writers).
    insert_session: insert_session!(""),
    migrations: SQLITE_MIGRATIONS,
};

// Advisory lock keys: "auth_sch" and "auth_rev" in ASCII.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) const POSTGRES: Dialect = Dialect {
    name: "postgres",
    begin: "BEGIN",
    migration_lock: Some("SELECT pg_advisory_xact_lock(7022364553343296360)"),
    revocation_lock: Some("SELECT pg_advisory_xact_lock(7022364553342592374)"),
    revocation_notify: Some("SELECT pg_notify('auth_revocations', '')"),
    session_for_rotation: concat!(session_for_rotation!(), " FOR UPDATE"),
    // FOR SHARE: a credential change (an UPDATE of the row) waits for this statement, or this
    // read waits for it and sees the new version. Either way the new session is revoked by the
    // change or never recorded.
    insert_session: insert_session!(" FOR SHARE"),
    migrations: POSTGRES_MIGRATIONS,
};
