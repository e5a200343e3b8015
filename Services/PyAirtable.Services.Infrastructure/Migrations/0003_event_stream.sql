-- The outbox becomes the record of the event stream. Writers only insert (no platform-wide lock); the
-- relay gives committed rows their stream position: seq (global, from 1, no gaps), part (the partition
-- the aggregate hashes to) and pseq (position within the partition, no gaps), then publishes them to
-- Redis Streams. Consumers read Redis and fall back to these rows by (part, pseq) when Redis lost some.
ALTER TABLE platform.outbox
    ADD COLUMN seq          bigint UNIQUE,
    ADD COLUMN part         smallint,
    ADD COLUMN pseq         bigint,
    ADD COLUMN source       text NOT NULL DEFAULT '',
    ADD COLUMN workspace_id text NOT NULL DEFAULT '',
    ADD COLUMN actor_id     text NOT NULL DEFAULT '';

-- Rows of the in-process dispatcher this replaces: what it delivered or gave up on had its only consumers already.
-- Of what it had not delivered, the one event a consumer acts on becomes its typed successor (a UserDeactivated whose
-- field 1 is the user id); the rest had no consumer and would be undecodable on the stream (string type names).
DELETE FROM platform.outbox WHERE dispatched_at IS NOT NULL OR failed_at IS NOT NULL;
UPDATE platform.outbox
   SET event_type = 'pyairtable.events.v1.UserDeactivated', payload = '\x0a24'::bytea || convert_to(aggregate_id, 'UTF8')
 WHERE event_type = 'user.deactivated' AND length(aggregate_id) = 36;
DELETE FROM platform.outbox WHERE event_type NOT LIKE 'pyairtable.events.v1.%';

-- The dispatcher that delivered one event per transaction in process is gone with its bookkeeping.
DROP INDEX IF EXISTS platform.outbox_pending_idx;
ALTER TABLE platform.outbox
    DROP COLUMN attempts,
    DROP COLUMN next_attempt_at,
    DROP COLUMN last_error,
    DROP COLUMN dispatched_at,
    DROP COLUMN failed_at;

CREATE INDEX outbox_unsequenced_idx ON platform.outbox (id) WHERE seq IS NULL;
CREATE UNIQUE INDEX outbox_partition_idx ON platform.outbox (part, pseq) WHERE pseq IS NOT NULL;
CREATE INDEX outbox_time_idx ON platform.outbox (occurred_at);

-- The relay's progress: the last position handed out, and the last one known to be in Redis.
CREATE TABLE platform.event_relay (
    id            smallint PRIMARY KEY CHECK (id = 1),
    last_seq      bigint NOT NULL DEFAULT 0,
    published_seq bigint NOT NULL DEFAULT 0
);
INSERT INTO platform.event_relay (id) VALUES (1);

CREATE TABLE platform.event_partitions (
    part      smallint PRIMARY KEY,
    last_pseq bigint NOT NULL DEFAULT 0
);
-- Eight partitions, fixed: an aggregate's partition must never change, or its order across the change is lost.
-- Eight lets up to eight hosts share the work of one consumer.
INSERT INTO platform.event_partitions (part) SELECT generate_series(0, 7);

-- Per consumer and partition: every event up to pseq is handled (or set aside). Survives Redis.
CREATE TABLE platform.event_checkpoints (
    consumer   text     NOT NULL,
    part       smallint NOT NULL,
    pseq       bigint   NOT NULL,
    seq        bigint   NOT NULL,
    -- Raised by a replay: a runner whose checkpoint write finds another generation starts over from the record.
    generation integer  NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, part)
);

-- Events a consumer handled with effects in PostgreSQL, written in the same transaction as the effect:
-- a second delivery (at-least-once) finds its id here and changes nothing.
CREATE TABLE platform.event_handled (
    consumer   text        NOT NULL,
    event_id   uuid        NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX event_handled_time_idx ON platform.event_handled (handled_at);

-- Failed deliveries: attempts so far and the last error; set_aside_at once the consumer gave up on it.
CREATE TABLE platform.event_failures (
    consumer     text        NOT NULL,
    seq          bigint      NOT NULL,
    event_id     uuid        NOT NULL,
    event_type   text        NOT NULL,
    attempts     integer     NOT NULL,
    last_error   text        NOT NULL,
    failed_at    timestamptz NOT NULL DEFAULT now(),
    set_aside_at timestamptz,
    PRIMARY KEY (consumer, seq)
);
