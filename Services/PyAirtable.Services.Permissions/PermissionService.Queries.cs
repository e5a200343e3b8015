using System.Globalization;
using Dapper;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Permissions;

/// <summary>Reading the permission tree: who has what (ListPermissions), what a user reaches (LookupResources), who shares a workspace.</summary>
public sealed partial class PermissionService
{
    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<ListPermissionsResponse> ListPermissionsAsync(ListPermissionsRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller(Scopes.WorkspacesRead);
        var validator = new RequestValidator();
        var byResource = request.Resource is not null;
        if (byResource == !string.IsNullOrEmpty(request.UserId))
        {
            validator.Add("resource", "set exactly one of resource and user_id");
        }

        validator.ThrowIfInvalid();
        var resource = byResource ? ResourceOf(validator, "resource", request.Resource) : default;
        var user = byResource ? Guid.Empty : UserOf(validator, "user_id", request.UserId, null);
        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        if (byResource && !caller.IsPrivileged())
        {
            // A workspace's members are visible to its members; grants deeper down only to owners.
            await RequireAsync(connection, null, caller, resource,
                resource.Type == ResourceType.Workspace ? PermissionLevel.Read : PermissionLevel.Owner, "listing its permissions", ct);
        }
        else if (!byResource && user.ToString() != caller.UserId && !caller.IsPrivileged())
        {
            Fail.PermissionDenied("You can list only your own grants.");
        }

        var scope = byResource ? $"permissions.by-resource:{(int)resource.Type}:{resource.Id}" : $"permissions.by-user:{user}";
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 500);
        var after = page.After is { Count: 3 } a ? (short.Parse(a[0], CultureInfo.InvariantCulture), Guid.Parse(a[1]), Guid.Parse(a[2])) : ((short)0, Guid.Empty, Guid.Empty);
        var rows = (await connection.QueryAsync<GrantRow>(new CommandDefinition(
            byResource
                ? """
                  SELECT resource_type AS ResourceType, resource_id AS ResourceId, user_id AS UserId, level AS Level, granted_by AS GrantedBy, granted_at AS GrantedAt
                    FROM permissions.grants WHERE resource_type = @type AND resource_id = @id AND user_id > @afterUser
                   ORDER BY user_id LIMIT @limit
                  """
                : """
                  SELECT resource_type AS ResourceType, resource_id AS ResourceId, user_id AS UserId, level AS Level, granted_by AS GrantedBy, granted_at AS GrantedAt
                    FROM permissions.grants WHERE user_id = @user AND (resource_type, resource_id) > (@afterType, @afterId)
                   ORDER BY resource_type, resource_id LIMIT @limit
                  """,
            new { type = (short)resource.Type, id = resource.Id, user, afterUser = after.Item3, afterType = after.Item1, afterId = after.Item2, limit = page.PageSize + 1 },
            cancellationToken: ct))).ToList();
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            byResource
                ? "SELECT count(*) FROM permissions.grants WHERE resource_type = @type AND resource_id = @id"
                : "SELECT count(*) FROM permissions.grants WHERE user_id = @user",
            new { type = (short)resource.Type, id = resource.Id, user }, cancellationToken: ct));
        var (items, pagination) = page.Complete(rows, total,
            r => [r.ResourceType.ToString(CultureInfo.InvariantCulture), r.ResourceId.ToString(), r.UserId.ToString()], cursors, scope);
        return new ListPermissionsResponse { Permissions = items.Select(r => r.ToContract()).ToList(), Pagination = pagination };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async IAsyncEnumerable<LookupResourcesResponse> LookupResourcesAsync(LookupResourcesRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller(Scopes.WorkspacesRead); // it lists ids: a key must be allowed to read workspaces
        var validator = new RequestValidator();
        var user = UserOf(validator, "user_id", request.UserId, caller);
        if (request.Type == ResourceType.Unspecified || !Enum.IsDefined(request.Type))
        {
            validator.Add("type", "must be a resource type");
        }

        var level = RequiredLevelOf(validator, "level", request.Level);
        ParseToken(validator, request.ConsistencyToken);
        var after = string.IsNullOrEmpty(request.AfterId) ? Guid.Empty : validator.Id("after_id", request.AfterId);

        validator.ThrowIfInvalid();
        if (user.ToString() != caller.UserId && !caller.IsPrivileged())
        {
            Fail.PermissionDenied("You can look up only your own resources.");
        }

        var ct = context.CancellationToken;
        // Candidates: resources of the type in every workspace where the user holds a grant of read or more,
        // or a role. A chunk is read and evaluated, its connection returned to the pool, then streamed: a
        // slow reader holds no connection.
        while (true)
        {
            List<Guid> candidates;
            Decision[] decisions;
            await using (var connection = await db.OpenConnectionAsync(ct))
            {
                candidates = (await connection.QueryAsync<Guid>(new CommandDefinition(
                    """
                    SELECT r.id FROM permissions.resources r
                     WHERE r.type = @type AND r.id > @after
                       AND r.workspace_id IN (
                           SELECT res.workspace_id FROM permissions.grants g JOIN permissions.resources res ON res.type = g.resource_type AND res.id = g.resource_id
                            WHERE g.user_id = @user AND g.level >= 2
                           UNION
                           SELECT workspace_id FROM permissions.role_assignments WHERE user_id = @user)
                     ORDER BY r.id LIMIT @chunk
                    """, new { type = (short)request.Type, after, user, chunk = LookupChunk }, cancellationToken: ct))).ToList();
                if (candidates.Count == 0)
                {
                    yield break;
                }

                decisions = await PermissionEvaluator.EvaluateAsync(connection, candidates.Select(id => new Query(user, request.Type, id)).ToList(), null, ct);
            }

            for (var i = 0; i < candidates.Count; i++)
            {
                if (decisions[i].Exists && decisions[i].Level >= level)
                {
                    yield return new LookupResourcesResponse
                    {
                        Resource = new ResourceRef { Type = request.Type, Id = candidates[i].ToString() },
                        Level = decisions[i].Level,
                    };
                }
            }

            after = candidates[^1];
        }
    }

    public async ValueTask<FilterSharedWorkspaceUsersResponse> FilterSharedWorkspaceUsersAsync(FilterSharedWorkspaceUsersRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        if (request.UserIds.Count > 500)
        {
            throw new ValidationException("user_ids", "must hold at most 500 ids");
        }

        var validator = new RequestValidator();
        var ids = validator.Ids("user_ids", request.UserIds);

        validator.ThrowIfInvalid();
        if (ids.Length == 0 || !Guid.TryParse(caller.UserId, out var me))
        {
            return new FilterSharedWorkspaceUsersResponse();
        }

        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        // A member of a workspace: a grant of read or more on the workspace itself, or a role in it.
        var shared = (await connection.QueryAsync<Guid>(new CommandDefinition(
            """
            WITH mine AS (
                SELECT resource_id AS workspace_id FROM permissions.grants WHERE user_id = @me AND resource_type = 1 AND level >= 2
                UNION
                SELECT workspace_id FROM permissions.role_assignments WHERE user_id = @me
            )
            SELECT DISTINCT g.user_id FROM mine JOIN permissions.grants g ON g.resource_type = 1 AND g.resource_id = mine.workspace_id
             WHERE g.level >= 2 AND g.user_id = ANY(@ids)
            UNION
            SELECT DISTINCT ra.user_id FROM mine JOIN permissions.role_assignments ra ON ra.workspace_id = mine.workspace_id
             WHERE ra.user_id = ANY(@ids)
            """, new { me, ids }, cancellationToken: ct))).ToHashSet();
        return new FilterSharedWorkspaceUsersResponse { UserIds = request.UserIds.Where((_, i) => shared.Contains(ids[i])).ToList() };
    }
}
