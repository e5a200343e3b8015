-- Every write takes the next revision; consistency tokens are revisions ("r<n>").
CREATE SEQUENCE permissions.revision;

-- The resource tree. workspace_id is the root of the resource's tree (itself for a workspace).
CREATE TABLE permissions.resources (
    type         smallint NOT NULL,
    id           uuid NOT NULL,
    parent_type  smallint,
    parent_id    uuid,
    workspace_id uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (type, id),
    FOREIGN KEY (parent_type, parent_id) REFERENCES permissions.resources (type, id) ON DELETE CASCADE,
    CHECK ((parent_type IS NULL) = (type = 1))
);
CREATE INDEX resources_children ON permissions.resources (parent_type, parent_id);
CREATE INDEX resources_by_workspace ON permissions.resources (workspace_id, type, id);

-- Direct grants: the nearest one on a resource or its ancestors decides (level 1 = none blocks).
CREATE TABLE permissions.grants (
    resource_type smallint NOT NULL,
    resource_id   uuid NOT NULL,
    user_id       uuid NOT NULL,
    level         smallint NOT NULL CHECK (level BETWEEN 1 AND 6),
    granted_by    text NOT NULL,
    granted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (resource_type, resource_id, user_id),
    FOREIGN KEY (resource_type, resource_id) REFERENCES permissions.resources (type, id) ON DELETE CASCADE
);
CREATE INDEX grants_by_user ON permissions.grants (user_id, resource_type, resource_id);

-- Roles: per workspace, a level per resource type, for resources with no grant in the user's chain.
CREATE TABLE permissions.roles (
    id             uuid PRIMARY KEY,
    workspace_type smallint NOT NULL DEFAULT 1 CHECK (workspace_type = 1),
    workspace_id   uuid NOT NULL,
    name           text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name),
    FOREIGN KEY (workspace_type, workspace_id) REFERENCES permissions.resources (type, id) ON DELETE CASCADE
);
CREATE TABLE permissions.role_levels (
    role_id       uuid NOT NULL REFERENCES permissions.roles (id) ON DELETE CASCADE,
    resource_type smallint NOT NULL,
    level         smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
    PRIMARY KEY (role_id, resource_type)
);
CREATE TABLE permissions.role_assignments (
    role_id      uuid NOT NULL REFERENCES permissions.roles (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL,
    workspace_id uuid NOT NULL,
    PRIMARY KEY (role_id, user_id)
);
CREATE INDEX role_assignments_by_user ON permissions.role_assignments (user_id, workspace_id);

-- Invitations by e-mail; accepting one grants its level on its workspace.
CREATE TABLE permissions.invitations (
    id           uuid PRIMARY KEY,
    workspace_id uuid NOT NULL,
    workspace_type smallint NOT NULL DEFAULT 1 CHECK (workspace_type = 1),
    email        text NOT NULL,
    level        smallint NOT NULL CHECK (level BETWEEN 2 AND 6),
    invited_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    accepted_at  timestamptz,
    accepted_by  uuid,
    FOREIGN KEY (workspace_type, workspace_id) REFERENCES permissions.resources (type, id) ON DELETE CASCADE
);
CREATE INDEX invitations_by_workspace ON permissions.invitations (workspace_id);
