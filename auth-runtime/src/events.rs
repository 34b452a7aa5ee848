//! Names shared by the components that log security events.

/// The `tracing` target of security events: sign-in results, throttling, registrations,
/// approvals, bans, password changes, refresh-token reuse. Events name accounts by id and
/// never carry a password, a hash, a token or an email. Route it to an audit log with a
/// target filter such as `auth_runtime::security=info`.
pub const SECURITY_EVENTS: &str = "auth_runtime::security";
