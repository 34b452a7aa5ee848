-- Opaque account ids and credential versions: SQLite (twin of the PostgreSQL file).
--
-- public_id: the account id as the world sees it (the `sub` of its tokens): 128 random bits
-- for new accounts, so ids reveal neither how many accounts exist nor which one is next.
-- Accounts created before this migration keep their decimal id, so their tokens and sessions
-- stay valid.
--
-- credential_version: changes with every password change, status change (approval, ban,
-- deactivation) and role change. A session records the version it was opened with; opening
-- it and every refresh compare that with the account's, inside the store, so a sign-in that
-- was in flight while the account changed never yields a live session.

ALTER TABLE auth_users ADD COLUMN public_id TEXT NULL;
ALTER TABLE auth_users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;
UPDATE auth_users SET public_id = CAST(id AS TEXT);
CREATE UNIQUE INDEX auth_users_public_id ON auth_users (public_id);

-- NULL: the session's subject is no account of this store (an application's own user store).
ALTER TABLE auth_sessions ADD COLUMN credential_version INTEGER NULL;
