-- API keys (see accounts::api_keys of auth-runtime): looked up by their public id; the secret
-- is never stored, only its SHA-256 digest (lowercase hex). A key acts for its owner account
-- with its own scopes (space-delimited) and dies with any credential change of the owner:
-- `credential_version` is the owner's version when the key was created.
-- Times are seconds since the Unix epoch.

CREATE TABLE auth_api_keys (
    id                 TEXT   NOT NULL PRIMARY KEY,
    owner              TEXT   NOT NULL,
    login_type         TEXT   NOT NULL,
    name               TEXT   NOT NULL,
    scopes             TEXT   NOT NULL,
    secret_hash        TEXT   NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    credential_version BIGINT NOT NULL,
    last_used_at       BIGINT,
    revoked_at         BIGINT
);

CREATE INDEX auth_api_keys_owner ON auth_api_keys (owner, created_at);
