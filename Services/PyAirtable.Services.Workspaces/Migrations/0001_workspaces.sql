CREATE TABLE workspaces.workspaces (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_by  uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workspaces.bases (
    id           uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces.workspaces (id) ON DELETE CASCADE,
    name         text NOT NULL,
    created_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bases_by_workspace ON workspaces.bases (workspace_id, id);
