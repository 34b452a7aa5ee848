-- Expired sessions are deleted by SessionStore::purge_expired (auth_revocations has its index
-- on expires_at since 0001).
CREATE INDEX auth_sessions_expires_at ON auth_sessions (expires_at);
