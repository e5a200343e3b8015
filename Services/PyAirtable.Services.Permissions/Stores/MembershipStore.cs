using Dapper;
using PyAirtable.Contracts.Permissions;

namespace PyAirtable.Services.Permissions.Stores;

/// <summary>Who is in a workspace (grants of read or more, or roles, in it), leaving it, and who shares one with whom.</summary>
internal sealed class MembershipStore(PermissionSession session)
{
    /// <summary>
    /// Serializes "is this user in the workspace?" decisions with leaving it, until the transaction ends: without it a
    /// Grant that checked membership could commit after the user left, putting them back in without consent.
    /// </summary>
    public Task LockAsync(Guid workspace, Guid user, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_xact_lock(hashtextextended(@key, 0))", new { key = $"membership:{workspace:N}:{user:N}" },
            session.Transaction, cancellationToken: ct));

    /// <summary>In the workspace: a grant of read or more on anything in it, or a role in it.</summary>
    public async Task<bool> IsMemberAsync(Guid workspace, Guid user, CancellationToken ct) =>
        await session.Connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            """
            SELECT EXISTS (SELECT 1 FROM permissions.grants g
                             JOIN permissions.resources r ON r.type = g.resource_type AND r.id = g.resource_id
                            WHERE r.workspace_id = @workspace AND g.user_id = @user AND g.level >= @read)
                OR EXISTS (SELECT 1 FROM permissions.role_assignments WHERE workspace_id = @workspace AND user_id = @user)
            """, new { workspace, user, read = (short)PermissionLevel.Read }, session.Transaction, cancellationToken: ct));

    /// <summary>Removes everything the user holds inside the workspace (grants anywhere in it, roles); the rows removed.</summary>
    public Task<int> RemoveAsync(Guid workspace, Guid user, CancellationToken ct) =>
        session.Connection.ExecuteAsync(new CommandDefinition(
            """
            DELETE FROM permissions.grants g USING permissions.resources r
             WHERE r.type = g.resource_type AND r.id = g.resource_id AND r.workspace_id = @workspace AND g.user_id = @user;
            DELETE FROM permissions.role_assignments WHERE workspace_id = @workspace AND user_id = @user;
            """, new { workspace, user }, session.Transaction, cancellationToken: ct));

    /// <summary>
    /// Those of <paramref name="users"/> who share a workspace with <paramref name="me"/>: both members of it by a grant
    /// of read or more on the workspace itself, or by a role in it.
    /// </summary>
    public async Task<HashSet<Guid>> SharingWorkspaceWithAsync(Guid me, Guid[] users, CancellationToken ct) =>
        (await session.Connection.QueryAsync<Guid>(new CommandDefinition(
            """
            WITH mine AS (
                SELECT resource_id AS workspace_id FROM permissions.grants
                 WHERE user_id = @me AND resource_type = @workspaceType AND level >= @read
                UNION
                SELECT workspace_id FROM permissions.role_assignments WHERE user_id = @me
            )
            SELECT DISTINCT g.user_id FROM mine
              JOIN permissions.grants g ON g.resource_type = @workspaceType AND g.resource_id = mine.workspace_id
             WHERE g.level >= @read AND g.user_id = ANY(@ids)
            UNION
            SELECT DISTINCT ra.user_id FROM mine JOIN permissions.role_assignments ra ON ra.workspace_id = mine.workspace_id
             WHERE ra.user_id = ANY(@ids)
            """, new { me, ids = users, workspaceType = (short)ResourceType.Workspace, read = (short)PermissionLevel.Read },
            session.Transaction, cancellationToken: ct))).ToHashSet();
}
