-- Who is a member of which workspace, as the event stream told (WorkspaceCreated, MemberAdded, MemberRemoved,
-- WorkspaceDeleted): the recipients of a workspace's notifications. Whether they may still read what a notification
-- is about is checked again when it is delivered.
CREATE TABLE notifications.members (
    workspace_id uuid NOT NULL,
    user_id      uuid NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);

-- One feed per user: offsets from 1 without gaps within an epoch; trimmed_through is the last offset dropped.
CREATE TABLE notifications.feeds (
    user_id         uuid PRIMARY KEY,
    epoch           uuid NOT NULL,
    last_offset     bigint NOT NULL DEFAULT 0,
    trimmed_through bigint NOT NULL DEFAULT 0
);

CREATE TABLE notifications.inbox (
    user_id      uuid NOT NULL,
    "offset"     bigint NOT NULL,
    event_id     uuid NOT NULL,
    event_type   text NOT NULL,
    workspace_id uuid NOT NULL,
    base_id      uuid,
    subject      text NOT NULL,
    actor_id     text NOT NULL,
    happened_at  timestamptz NOT NULL,
    data         bytea NOT NULL,
    read_at      timestamptz,
    PRIMARY KEY (user_id, "offset")
);
CREATE INDEX inbox_unread ON notifications.inbox (user_id) WHERE read_at IS NULL;
