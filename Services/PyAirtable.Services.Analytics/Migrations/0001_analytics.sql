-- Every call recorded by a gateway or sent with IngestMetrics, kept Analytics:RawRetention (48 h by default).
-- Enum values are the contract's (HttpMethod, CallProtocol, MetricSource), written as parameters.
CREATE TABLE analytics.calls (
    recorded_at  timestamptz NOT NULL,                           -- when the call ended
    inserted_at  timestamptz NOT NULL DEFAULT clock_timestamp(), -- when the row was written: roll-ups find new rows by it
    endpoint     text NOT NULL,
    method       smallint NOT NULL,
    protocol     smallint NOT NULL,
    status_code  integer NOT NULL,
    is_error     boolean NOT NULL,
    duration_us  bigint NOT NULL CHECK (duration_us >= 0),
    user_id      uuid,
    workspace_id uuid,
    source       smallint NOT NULL
);
CREATE INDEX calls_by_time ON analytics.calls (recorded_at);
CREATE INDEX calls_by_workspace ON analytics.calls (workspace_id, recorded_at) WHERE workspace_id IS NOT NULL;
CREATE INDEX calls_by_insert ON analytics.calls USING brin (inserted_at);

-- Roll-ups: one row per (period, endpoint, workspace, status, latency bucket) with the number of calls, i.e. a
-- latency histogram per period and status. Latency buckets are LatencyHistogram's (width_bucket over its bounds).
CREATE TABLE analytics.minute_rollups (
    bucket_start   timestamptz NOT NULL,
    endpoint       text NOT NULL,
    workspace_id   uuid,
    protocol       smallint NOT NULL,
    status_code    integer NOT NULL,
    is_error       boolean NOT NULL,
    latency_bucket smallint NOT NULL,
    calls          bigint NOT NULL
);
CREATE INDEX minute_rollups_by_time ON analytics.minute_rollups (bucket_start);
CREATE INDEX minute_rollups_by_workspace ON analytics.minute_rollups (workspace_id, bucket_start) WHERE workspace_id IS NOT NULL;

CREATE TABLE analytics.hour_rollups (LIKE analytics.minute_rollups);
CREATE INDEX hour_rollups_by_time ON analytics.hour_rollups (bucket_start);
CREATE INDEX hour_rollups_by_workspace ON analytics.hour_rollups (workspace_id, bucket_start) WHERE workspace_id IS NOT NULL;

-- When the last roll-up run started: the next one recomputes the minutes that got rows since (less a margin).
CREATE TABLE analytics.rollup_state (
    id          smallint PRIMARY KEY CHECK (id = 1),
    last_run_at timestamptz NOT NULL
);
