-- Token revocation, refresh rotation, and the cron's reconciliation of R2 with D1.

-- Raised when a user's password or username changes; tokens carry the generation they were
-- issued under, so older ones stop working at once.
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;

-- Refresh tokens already exchanged (rotation): a jti may be used once. Rows outlive the
-- token's expiry only until the cron sweeps them.
CREATE TABLE used_refresh_tokens (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX used_refresh_tokens_by_expiry ON used_refresh_tokens(expires_at);

-- Small named values the cron keeps between runs (where the R2 reconciliation stopped).
CREATE TABLE maintenance_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
