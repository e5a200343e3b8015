using Dapper;
using PyAirtable.Contracts.Permissions;

namespace PyAirtable.Services.Permissions.Stores;

/// <summary>Direct grants (permissions.grants): a user's level on one resource, and who gave it.</summary>
internal sealed class GrantStore(PermissionSession session)
{
    private const string Columns =
        "resource_type AS ResourceType, resource_id AS ResourceId, user_id AS UserId, level AS Level, " +
        "granted_by AS GrantedBy, granted_at AS GrantedAt";

    /// <summary>Makes <paramref name="user"/> owner of a resource they just registered (for a workspace: its first owner).</summary>
    public Task InsertOwnerAsync(ResourceKey resource, Guid user, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO permissions.grants (resource_type, resource_id, user_id, level, granted_by)
            VALUES (@type, @id, @user, @owner, @user)
            """,
            new { type = (short)resource.Type, id = resource.Id, user, owner = (short)PermissionLevel.Owner },
            session.Transaction, cancellationToken: ct));

    /// <summary>Sets the user's level on the resource, replacing any grant they had there; when it was granted.</summary>
    public Task<DateTime> UpsertAsync(ResourceKey resource, Guid user, PermissionLevel level, string grantedBy, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<DateTime>(new CommandDefinition(
            """
            INSERT INTO permissions.grants (resource_type, resource_id, user_id, level, granted_by)
            VALUES (@type, @id, @user, @level, @by)
            ON CONFLICT (resource_type, resource_id, user_id)
            DO UPDATE SET level = excluded.level, granted_by = excluded.granted_by, granted_at = now()
            RETURNING granted_at
            """, new { type = (short)resource.Type, id = resource.Id, user, level = (short)level, by = grantedBy },
            session.Transaction, cancellationToken: ct));

    /// <summary>
    /// Gives the user at least <paramref name="level"/> on the workspace, never lowering what they hold (accepting a
    /// read invitation as an owner keeps owner); the level they end up with and when it was granted.
    /// </summary>
    public Task<(short Level, DateTime GrantedAt)> RaiseOnWorkspaceAsync(
        Guid workspace, Guid user, short level, string grantedBy, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<(short Level, DateTime GrantedAt)>(new CommandDefinition(
            """
            INSERT INTO permissions.grants (resource_type, resource_id, user_id, level, granted_by)
            VALUES (@type, @workspace, @user, @level, @by)
            ON CONFLICT (resource_type, resource_id, user_id) DO UPDATE SET level = greatest(permissions.grants.level, excluded.level)
            RETURNING level, granted_at
            """, new { type = (short)ResourceType.Workspace, workspace, user, level, by = grantedBy },
            session.Transaction, cancellationToken: ct));

    /// <summary>Removes the user's grant on this one resource; the number of rows removed.</summary>
    public Task<int> DeleteAsync(ResourceKey resource, Guid user, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM permissions.grants WHERE resource_type = @type AND resource_id = @id AND user_id = @user",
            new { type = (short)resource.Type, id = resource.Id, user }, session.Transaction, cancellationToken: ct));

    /// <summary>
    /// Whether the user owns the workspace (a workspace is a root: ownership is its own grant), locking that grant
    /// FOR SHARE so a demotion waits for the transaction that relied on it.
    /// </summary>
    public async Task<bool> LockOwnerGrantAsync(Guid workspace, Guid user, CancellationToken ct) =>
        await session.Connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            """
            SELECT 1 FROM permissions.grants
             WHERE resource_type = @workspaceType AND resource_id = @workspace AND user_id = @user AND level = @owner FOR SHARE
            """, new { workspace, user, workspaceType = (short)ResourceType.Workspace, owner = (short)PermissionLevel.Owner },
            session.Transaction, cancellationToken: ct)) is not null;

    /// <summary>The owners of a workspace, their grants locked FOR UPDATE (in user order, so two transactions lock alike).</summary>
    public async Task<List<Guid>> LockOwnersAsync(Guid workspace, CancellationToken ct) =>
        (await session.Connection.QueryAsync<Guid>(new CommandDefinition(
            """
            SELECT user_id FROM permissions.grants
             WHERE resource_type = @workspaceType AND resource_id = @workspace AND level = @owner ORDER BY user_id FOR UPDATE
            """, new { workspace, workspaceType = (short)ResourceType.Workspace, owner = (short)PermissionLevel.Owner },
            session.Transaction, cancellationToken: ct))).ToList();

    /// <summary>Grants on one resource, by user id after <paramref name="afterUser"/>.</summary>
    public async Task<List<GrantRow>> ListOnResourceAsync(ResourceKey resource, Guid afterUser, int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<GrantRow>(new CommandDefinition(
            $"""
            SELECT {Columns}
              FROM permissions.grants WHERE resource_type = @type AND resource_id = @id AND user_id > @afterUser
             ORDER BY user_id LIMIT @limit
            """, new { type = (short)resource.Type, id = resource.Id, afterUser, limit },
            session.Transaction, cancellationToken: ct))).ToList();

    public Task<long> CountOnResourceAsync(ResourceKey resource, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM permissions.grants WHERE resource_type = @type AND resource_id = @id",
            new { type = (short)resource.Type, id = resource.Id }, session.Transaction, cancellationToken: ct));

    /// <summary>One user's grants, by (resource type, resource id) after <paramref name="after"/>.</summary>
    public async Task<List<GrantRow>> ListOfUserAsync(Guid user, (short Type, Guid Id) after, int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<GrantRow>(new CommandDefinition(
            $"""
            SELECT {Columns}
              FROM permissions.grants WHERE user_id = @user AND (resource_type, resource_id) > (@afterType, @afterId)
             ORDER BY resource_type, resource_id LIMIT @limit
            """, new { user, afterType = after.Type, afterId = after.Id, limit },
            session.Transaction, cancellationToken: ct))).ToList();

    public Task<long> CountOfUserAsync(Guid user, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM permissions.grants WHERE user_id = @user", new { user }, session.Transaction, cancellationToken: ct));
}

/// <summary>A row of permissions.grants.</summary>
internal sealed record GrantRow
{
    public short ResourceType { get; init; }
    public Guid ResourceId { get; init; }
    public Guid UserId { get; init; }
    public short Level { get; init; }
    public string GrantedBy { get; init; } = "";
    public DateTime GrantedAt { get; init; }

    public Grant ToContract() => new()
    {
        Resource = new ResourceRef { Type = (ResourceType)ResourceType, Id = ResourceId.ToString() },
        UserId = UserId.ToString(),
        Level = (PermissionLevel)Level,
        GrantedBy = GrantedBy,
        GrantedAt = GrantedAt,
    };
}
