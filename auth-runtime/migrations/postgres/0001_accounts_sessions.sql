-- Accounts, sessions (refresh-token families) and revocations: PostgreSQL.
-- Applied by SqlStore's own migration runner (auth-runtime/src/store/sql/migrations.rs),
-- recorded in auth_schema_version. Never edit an applied migration: add 0002_... instead.
-- Times are seconds since the Unix epoch.

CREATE TABLE auth_users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT   NOT NULL UNIQUE,
    password_hash TEXT   NULL,
    status        TEXT   NOT NULL,
    roles         TEXT   NOT NULL,  -- space-separated
    claims        TEXT   NOT NULL,  -- a JSON object
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE INDEX auth_users_status ON auth_users (status, created_at, id);

CREATE TABLE auth_sessions (
    id           TEXT   NOT NULL PRIMARY KEY,
    subject      TEXT   NOT NULL,
    login_type   TEXT   NOT NULL,
    refresh_jti  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT NULL
);

CREATE INDEX auth_sessions_subject ON auth_sessions (subject);

CREATE TABLE auth_revocations (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT   NOT NULL CHECK (kind IN ('session', 'subject')),
    subject    TEXT   NOT NULL,  -- the sid ('session') or the subject ('subject')
    cutoff     BIGINT NULL,      -- 'subject' only: tokens with iat < cutoff are revoked
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX auth_revocations_expires_at ON auth_revocations (expires_at);
