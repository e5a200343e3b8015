using Dapper;
using PyAirtable.Contracts.Permissions;

namespace PyAirtable.Services.Permissions.Stores;

/// <summary>Roles (permissions.roles, role_levels, role_assignments): named sets of levels per resource type in a workspace.</summary>
internal sealed class RoleStore(PermissionSession session)
{
    /// <summary>Creates the role; its creation time, or null when the workspace has a role of that name.</summary>
    public Task<DateTime?> InsertAsync(Guid id, Guid workspace, string name, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<DateTime?>(new CommandDefinition(
            """
            INSERT INTO permissions.roles (id, workspace_id, name) VALUES (@id, @workspace, @name)
            ON CONFLICT (workspace_id, name) DO NOTHING RETURNING created_at
            """, new { id, workspace, name }, session.Transaction, cancellationToken: ct));

    /// <summary>Renames the role; false when another role of the workspace has that name.</summary>
    public async Task<bool> RenameAsync(Guid roleId, Guid workspace, string name, CancellationToken ct) =>
        await session.Connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE permissions.roles SET name = @name
             WHERE id = @roleId
               AND NOT EXISTS (SELECT 1 FROM permissions.roles WHERE workspace_id = @workspace AND name = @name AND id <> @roleId)
            """, new { roleId, workspace, name }, session.Transaction, cancellationToken: ct)) > 0;

    public async Task ReplaceLevelsAsync(Guid roleId, IReadOnlyList<RoleLevel> levels, CancellationToken ct)
    {
        await session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM permissions.role_levels WHERE role_id = @roleId", new { roleId }, session.Transaction, cancellationToken: ct));
        await session.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO permissions.role_levels (role_id, resource_type, level)
            SELECT @roleId, t, l FROM unnest(@types::smallint[], @levels::smallint[]) AS x(t, l)
            """,
            new { roleId, types = levels.Select(l => (short)l.Type).ToArray(), levels = levels.Select(l => (short)l.Level).ToArray() },
            session.Transaction, cancellationToken: ct));
    }

    /// <summary>The role's workspace, the role locked FOR UPDATE (changes to one role queue up); null when there is no such role.</summary>
    public Task<Guid?> LockWorkspaceOfAsync(Guid roleId, CancellationToken ct) =>
        session.Connection.QuerySingleOrDefaultAsync<Guid?>(new CommandDefinition(
            "SELECT workspace_id FROM permissions.roles WHERE id = @roleId FOR UPDATE", new { roleId },
            session.Transaction, cancellationToken: ct));

    /// <summary>The role with its levels. The role must exist.</summary>
    public async Task<Role> ReadAsync(Guid roleId, CancellationToken ct)
    {
        var role = await session.Connection.QuerySingleAsync<(Guid Id, Guid WorkspaceId, string Name, DateTime CreatedAt)>(
            new CommandDefinition("SELECT id, workspace_id, name, created_at FROM permissions.roles WHERE id = @roleId", new { roleId },
                session.Transaction, cancellationToken: ct));
        var levels = await session.Connection.QueryAsync<(short Type, short Level)>(new CommandDefinition(
            "SELECT resource_type, level FROM permissions.role_levels WHERE role_id = @roleId ORDER BY resource_type", new { roleId },
            session.Transaction, cancellationToken: ct));
        return new Role
        {
            Id = role.Id.ToString(),
            WorkspaceId = role.WorkspaceId.ToString(),
            Name = role.Name,
            CreatedAt = role.CreatedAt,
            Permissions = levels.Select(l => new RoleLevel { Type = (ResourceType)l.Type, Level = (PermissionLevel)l.Level }).ToList(),
        };
    }

    /// <summary>Roles of the workspace by name after <paramref name="afterName"/>.</summary>
    public async Task<List<(Guid Id, string Name)>> ListAsync(Guid workspace, string afterName, int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<(Guid Id, string Name)>(new CommandDefinition(
            "SELECT id, name FROM permissions.roles WHERE workspace_id = @workspace AND name > @afterName ORDER BY name LIMIT @limit",
            new { workspace, afterName, limit }, session.Transaction, cancellationToken: ct))).ToList();

    public Task<long> CountAsync(Guid workspace, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM permissions.roles WHERE workspace_id = @workspace", new { workspace },
            session.Transaction, cancellationToken: ct));

    public Task AssignAsync(Guid roleId, Guid user, Guid workspace, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO permissions.role_assignments (role_id, user_id, workspace_id) VALUES (@roleId, @user, @workspace)
            ON CONFLICT DO NOTHING
            """,
            new { roleId, user, workspace }, session.Transaction, cancellationToken: ct));

    public Task UnassignAsync(Guid roleId, Guid user, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM permissions.role_assignments WHERE role_id = @roleId AND user_id = @user", new { roleId, user },
            session.Transaction, cancellationToken: ct));
}
