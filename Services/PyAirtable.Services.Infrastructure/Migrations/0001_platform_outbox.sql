-- The transactional outbox: services insert domain events here in the same transaction as the
-- state change they describe; the dispatcher delivers them in id order and marks them done.
CREATE TABLE platform.outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    event_type      text        NOT NULL,
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    payload         bytea       NOT NULL,
    request_id      text,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text,
    dispatched_at   timestamptz,
    failed_at       timestamptz
);

-- The dispatcher only ever reads the pending head of the queue.
CREATE INDEX outbox_pending_idx ON platform.outbox (id) WHERE dispatched_at IS NULL AND failed_at IS NULL;

-- Platform-wide secrets generated once and shared by every host on this database
-- (for example the pagination cursor signing key), unless configuration overrides them.
CREATE TABLE platform.settings (
    name       text        PRIMARY KEY,
    value      bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
