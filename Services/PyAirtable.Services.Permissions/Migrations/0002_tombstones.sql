-- Ids of deleted resources: never registered again, so a deleted workspace or base cannot be revived
-- by whoever learns its id (its rows may outlive the tree entry if the owning service fails in between).
CREATE TABLE permissions.deleted_resources (
    type       smallint NOT NULL,
    id         uuid NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (type, id)
);
