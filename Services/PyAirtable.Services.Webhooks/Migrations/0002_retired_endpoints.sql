-- A webhook whose workspace or base was deleted is retired by the webhooks.forward consumer in the transaction that
-- handles the deletion event: it matches no later event and is no longer listed or found, its deliveries still
-- pending (the deletion event's own among them) are still sent, and it is deleted — with its deliveries and attempts —
-- once none is pending.
ALTER TABLE webhooks.endpoints ADD COLUMN retired_at timestamptz;
CREATE INDEX endpoints_retired ON webhooks.endpoints (id) WHERE retired_at IS NOT NULL;
