-- Throttle budgets shared by every instance (login, password-change and registration
-- budgets; see the throttle module of auth-runtime): one counter per budget key, counting
-- charges in a fixed window that starts at the first charge.
-- Keys hold no email: `bucket:id`, the id an HMAC of the account and/or the client's network.
-- Times are milliseconds since the Unix epoch.

CREATE TABLE auth_throttle (
    id         TEXT   NOT NULL PRIMARY KEY,
    hits       INTEGER NOT NULL,
    window_end INTEGER NOT NULL
);

CREATE INDEX auth_throttle_window_end ON auth_throttle (window_end);
