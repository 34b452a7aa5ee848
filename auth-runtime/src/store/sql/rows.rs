//! Rows and values as SQL stores them: the row tuples read back ([`UserRow`],
//! [`RevocationRow`], [`SessionProbe`]) and their conversions, encoded roles and claims, times
//! as SQL integers, and new account ids.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::store::{Account, AccountStatus, Revocation, RevocationKind, StoreError};

/// An `auth_users` row: public_id, email, password_hash, status, roles, claims, created_at,
/// credential_version.
pub(super) type UserRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    i64,
);

/// An `auth_revocations` row: seq, kind, subject, cutoff, expires_at.
pub(super) type RevocationRow = (i64, String, String, Option<i64>, i64);

/// What a failed compare-and-swap found when it read the session: refresh_jti, revoked_at,
/// expires_at, last_used_at, and 1 if its credential version is current (else 0).
pub(super) type SessionProbe = (String, Option<i64>, i64, i64, i64);

/// Seconds since the Unix epoch.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A time (or any count) for SQL's signed 64 bits, clamped.
pub(crate) fn to_sql(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// A time read from SQL, clamped at 0.
pub(super) fn from_sql(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

/// A new account id: 122 random bits in the form of a UUID (version 4), so that ids reveal
/// neither the number of accounts nor the next one.
pub(super) fn new_account_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Roles as stored: space-separated. A role that is empty or holds whitespace could not be
/// read back as itself ("Domain Admins" would come back as two roles), so it is refused.
pub(super) fn encode_roles(roles: &[String]) -> Result<String, StoreError> {
    if let Some(bad) = roles
        .iter()
        .find(|r| r.is_empty() || r.chars().any(char::is_whitespace))
    {
        return Err(StoreError::Backend(format!(
            "role {bad:?} cannot be stored: roles must be non-empty and hold no whitespace"
        )));
    }
    Ok(roles.join(" "))
}

pub(super) fn encode_claims(claims: &Map<String, Value>) -> Result<String, StoreError> {
    serde_json::to_string(claims)
        .map_err(|e| StoreError::Backend(format!("claims cannot be stored: {e}")))
}

pub(super) fn account_from_row(row: UserRow) -> Result<Account, StoreError> {
    let (id, email, password_hash, status, roles, claims, created_at, version) = row;
    let status = AccountStatus::parse(&status)
        .ok_or_else(|| StoreError::Backend(format!("account {id}: unknown status {status:?}")))?;
    let claims: Map<String, Value> = serde_json::from_str(&claims).map_err(|e| {
        StoreError::Backend(format!("account {id}: claims are not a JSON object: {e}"))
    })?;
    Ok(Account {
        id: id.to_string(),
        email,
        password_hash,
        status,
        roles: roles.split_whitespace().map(str::to_owned).collect(),
        claims,
        created_at: from_sql(created_at),
        credential_version: from_sql(version),
    })
}

pub(super) fn revocation_from_row(row: RevocationRow) -> Result<Revocation, StoreError> {
    let (seq, kind, subject, cutoff, expires_at) = row;
    let kind = match (kind.as_str(), cutoff) {
        ("session", _) => RevocationKind::Session(subject),
        ("subject", Some(cutoff)) => RevocationKind::Subject {
            subject,
            cutoff: from_sql(cutoff),
        },
        ("subject", None) => {
            return Err(StoreError::Backend(format!(
                "revocation {seq}: a subject revocation without a cutoff"
            )));
        }
        (other, _) => {
            return Err(StoreError::Backend(format!(
                "revocation {seq}: unknown kind {other:?}"
            )));
        }
    };
    Ok(Revocation {
        seq,
        kind,
        expires_at: from_sql(expires_at),
    })
}
