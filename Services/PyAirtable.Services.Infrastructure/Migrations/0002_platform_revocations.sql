-- Credentials revoked before they expire (sessions, users, API keys). This table is the record:
-- Redis holds a mirror of it for the per-call check, rebuilt from here whenever Redis loses it.
CREATE TABLE platform.revocations (
    key        text        PRIMARY KEY,
    revoked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at timestamptz NOT NULL
);

-- The mirror copies what changed recently; the sweeper deletes what expired.
CREATE INDEX revocations_by_time ON platform.revocations (revoked_at);
CREATE INDEX revocations_by_expiry ON platform.revocations (expires_at);
