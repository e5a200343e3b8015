-- Contents, stored once per sha256 in the blob store; refs counts the files that use them. A blob whose refs
-- reached 0 is deleted from the store (and here) by the garbage collector, which holds its row lock meanwhile.
CREATE TABLE files.blobs (
    sha256          text PRIMARY KEY,
    size_bytes      bigint NOT NULL,
    refs            integer NOT NULL CHECK (refs >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    unreferenced_at timestamptz
);
CREATE INDEX blobs_unreferenced ON files.blobs (unreferenced_at) WHERE refs = 0;

CREATE TABLE files.files (
    id           uuid PRIMARY KEY,
    workspace_id uuid NOT NULL,
    base_id      uuid NOT NULL,
    table_id     uuid,
    name         text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL,
    sha256       text NOT NULL REFERENCES files.blobs (sha256),
    created_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_by_base ON files.files (base_id, id);
CREATE INDEX files_by_workspace ON files.files (workspace_id);

-- Resumable uploads: progress lives here (committed_offset), the bytes in the host's staging area.
CREATE TABLE files.uploads (
    id               uuid PRIMARY KEY,
    workspace_id     uuid NOT NULL,
    base_id          uuid NOT NULL,
    table_id         uuid,
    name             text NOT NULL,
    content_type     text NOT NULL,
    declared_size    bigint,
    declared_sha256  text,
    committed_offset bigint NOT NULL DEFAULT 0,
    created_by       uuid NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL
);
CREATE INDEX uploads_by_expiry ON files.uploads (expires_at);
