-- How each call arrived (CallTransport: 1 gRPC, 2 gRPC-Web, 3 JSON/HTTP; 0 unknown) and the API version its endpoint
-- names ('v1', 'v2', … or ''), in the calls and in both roll-up levels, so the share of JSON/HTTP and of each version per
-- endpoint can be read for any retained range. Rows written before this migration keep 0 and ''.
ALTER TABLE analytics.calls
    ADD COLUMN transport   smallint NOT NULL DEFAULT 0,
    ADD COLUMN api_version text NOT NULL DEFAULT '';
ALTER TABLE analytics.minute_rollups
    ADD COLUMN transport   smallint NOT NULL DEFAULT 0,
    ADD COLUMN api_version text NOT NULL DEFAULT '';
ALTER TABLE analytics.hour_rollups
    ADD COLUMN transport   smallint NOT NULL DEFAULT 0,
    ADD COLUMN api_version text NOT NULL DEFAULT '';
