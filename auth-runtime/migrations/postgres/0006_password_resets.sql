-- Password resets (see accounts::reset of auth-runtime): single-use tokens mailed to an
-- account's owner. The token is never stored, only its SHA-256 digest (lowercase hex), which
-- is the key. A token is good once (`used_at` is set by a conditional update), until
-- `expires_at`, and only while its account still has the credential version it was issued
-- at (`credential_version`): any password, status or role change kills it.
-- Times are seconds since the Unix epoch. PostgreSQL twin of the SQLite file.

CREATE TABLE auth_password_resets (
    digest             TEXT   NOT NULL PRIMARY KEY,
    account            TEXT   NOT NULL,
    credential_version BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    used_at            BIGINT NULL
);

CREATE INDEX auth_password_resets_expires_at ON auth_password_resets (expires_at);
