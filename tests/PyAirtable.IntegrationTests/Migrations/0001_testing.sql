CREATE TABLE testing.items (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX items_unique_name ON testing.items (name) WHERE name LIKE 'unique:%';

-- What the test outbox handler received, written in the delivery transaction.
CREATE TABLE testing.received_events (
    received_order bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       uuid   NOT NULL,
    sequence       bigint NOT NULL,
    event_type     text   NOT NULL,
    host_name      text   NOT NULL
);
