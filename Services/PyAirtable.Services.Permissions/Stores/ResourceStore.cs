using Dapper;
using PyAirtable.Contracts.Permissions;

namespace PyAirtable.Services.Permissions.Stores;

/// <summary>A resource as the tree knows it: its type and id.</summary>
internal readonly record struct ResourceKey(ResourceType Type, Guid Id);

/// <summary>The resource tree (permissions.resources) and the ids it will never take again (deleted_resources).</summary>
internal sealed class ResourceStore(PermissionSession session)
{
    public async Task<bool> ExistsAsync(ResourceKey resource, CancellationToken ct) =>
        await session.Connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM permissions.resources WHERE type = @type AND id = @id)",
            new { type = (short)resource.Type, id = resource.Id }, session.Transaction, cancellationToken: ct));

    /// <summary>The workspace a resource is in (itself for a workspace). The resource must exist.</summary>
    public Task<Guid> WorkspaceOfAsync(ResourceKey resource, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<Guid>(new CommandDefinition(
            "SELECT workspace_id FROM permissions.resources WHERE type = @type AND id = @id",
            new { type = (short)resource.Type, id = resource.Id }, session.Transaction, cancellationToken: ct));

    /// <summary>
    /// The workspace of a parent about to receive a child, with the parent's row locked FOR SHARE so a concurrent
    /// delete of the parent waits for the child's insert (or the insert sees the parent gone).
    /// </summary>
    public Task<Guid> LockParentWorkspaceAsync(ResourceKey parent, CancellationToken ct) =>
        session.Connection.QuerySingleAsync<Guid>(new CommandDefinition(
            "SELECT workspace_id FROM permissions.resources WHERE type = @type AND id = @id FOR SHARE",
            new { type = (short)parent.Type, id = parent.Id }, session.Transaction, cancellationToken: ct));

    /// <summary>Adds the resource; false when its id is taken (by anyone).</summary>
    public async Task<bool> InsertAsync(ResourceKey resource, ResourceKey? parent, Guid workspaceId, CancellationToken ct) =>
        await session.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO permissions.resources (type, id, parent_type, parent_id, workspace_id)
            VALUES (@type, @id, @parentType, @parentId, @workspaceId) ON CONFLICT DO NOTHING
            """,
            new { type = (short)resource.Type, id = resource.Id, parentType = (short?)parent?.Type, parentId = parent?.Id, workspaceId },
            session.Transaction, cancellationToken: ct)) > 0;

    /// <summary>Whether the id belonged to a resource that was deleted (ids are never reused).</summary>
    public async Task<bool> WasDeletedAsync(ResourceKey resource, CancellationToken ct) =>
        await session.Connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM permissions.deleted_resources WHERE type = @type AND id = @id)",
            new { type = (short)resource.Type, id = resource.Id }, session.Transaction, cancellationToken: ct));

    /// <summary>Deletes the resource and everything under it, remembering every id; the number of resources removed.</summary>
    public Task<int> DeleteSubtreeAsync(ResourceKey resource, CancellationToken ct) =>
        session.Connection.ExecuteScalarAsync<int>(new CommandDefinition(
            """
            WITH RECURSIVE subtree AS (
                SELECT type, id FROM permissions.resources WHERE type = @type AND id = @id
                UNION ALL
                SELECT r.type, r.id FROM permissions.resources r JOIN subtree s ON r.parent_type = s.type AND r.parent_id = s.id
            ), gone AS (
                DELETE FROM permissions.resources r USING subtree s WHERE r.type = s.type AND r.id = s.id RETURNING r.type, r.id
            ), remembered AS (
                INSERT INTO permissions.deleted_resources (type, id) SELECT type, id FROM gone ON CONFLICT DO NOTHING RETURNING 1
            )
            SELECT count(*) FROM gone
            """, new { type = (short)resource.Type, id = resource.Id }, session.Transaction, cancellationToken: ct));

    /// <summary>
    /// Ids of resources of <paramref name="type"/> after <paramref name="after"/>, at most <paramref name="limit"/>, in
    /// every workspace where the user holds a grant of read or more, or a role: the candidates a lookup then evaluates.
    /// </summary>
    public async Task<List<Guid>> CandidatesAsync(ResourceType type, Guid user, Guid after, int limit, CancellationToken ct) =>
        (await session.Connection.QueryAsync<Guid>(new CommandDefinition(
            """
            SELECT r.id FROM permissions.resources r
             WHERE r.type = @type AND r.id > @after
               AND r.workspace_id IN (
                   SELECT res.workspace_id FROM permissions.grants g
                     JOIN permissions.resources res ON res.type = g.resource_type AND res.id = g.resource_id
                    WHERE g.user_id = @user AND g.level >= @read
                   UNION
                   SELECT workspace_id FROM permissions.role_assignments WHERE user_id = @user)
             ORDER BY r.id LIMIT @limit
            """, new { type = (short)type, after, user, limit, read = (short)PermissionLevel.Read },
            session.Transaction, cancellationToken: ct))).ToList();
}
