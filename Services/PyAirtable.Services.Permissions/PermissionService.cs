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

/// <summary>
/// pyairtable.permissions.v1.PermissionService over the <c>permissions</c> schema. Every check is
/// computed from PostgreSQL (no decision cache yet), so a revoke is seen by the next check on every
/// host, and a consistency token is always honoured.
/// </summary>
/// <remarks>
/// Checks answer about the caller's own access and need no scope (services ask them on the caller's behalf
/// whatever the key was made for); LookupResources and listings need workspaces:read; managing grants,
/// roles and invitations needs workspaces:write.
/// </remarks>
public sealed partial class PermissionService(PermissionDatabase database, CursorCodec cursors) : IPermissionService
{
    private readonly NpgsqlDataSource db = database.DataSource;

    public const int MaxBatch = 5000;
    private const string UsersOnly = "Resources are registered by users.";
    private const int LookupChunk = 1000;

    public async ValueTask<CheckPermissionResponse> CheckPermissionAsync(CheckPermissionRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var validator = new RequestValidator();
        var resource = ResourceOf(validator, "resource", request.Resource);
        var level = RequiredLevelOf(validator, "level", request.Level);
        ParseToken(validator, request.ConsistencyToken);
        var userId = UserOf(validator, "user_id", request.UserId, caller);
        validator.ThrowIfInvalid();

        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        if (userId.ToString() != caller.UserId && !caller.IsPrivileged())
        {
            await RequireAsync(connection, null, caller, resource, PermissionLevel.Owner, "checking another user's permission", ct);
        }

        var decision = (await PermissionEvaluator.EvaluateAsync(connection, [new Query(userId, resource.Type, resource.Id)], null, ct))[0];
        return new CheckPermissionResponse
        {
            Allowed = decision.Exists && decision.Level >= level,
            EffectiveLevel = decision.Level,
            Reason = ReasonFor(caller, decision),
            ConsistencyToken = await CurrentTokenAsync(connection, ct),
        };
    }

    public async ValueTask<BatchCheckPermissionResponse> BatchCheckPermissionAsync(BatchCheckPermissionRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        if (request.Checks.Count is 0 or > MaxBatch)
        {
            throw new ValidationException("checks", $"must hold 1 to {MaxBatch} checks");
        }

        var validator = new RequestValidator();
        ParseToken(validator, request.ConsistencyToken);
        var queries = new Query[request.Checks.Count];
        var levels = new PermissionLevel[request.Checks.Count];
        var foreign = false;
        for (var i = 0; i < queries.Length; i++)
        {
            var item = request.Checks[i];
            var resource = ResourceOf(validator, $"checks[{i}].resource", item?.Resource);
            levels[i] = RequiredLevelOf(validator, $"checks[{i}].level", item?.Level ?? PermissionLevel.Unspecified);
            var user = UserOf(validator, $"checks[{i}].user_id", item?.UserId, caller);
            foreign |= user.ToString() != caller.UserId;
            queries[i] = new Query(user, resource.Type, resource.Id);
        }

        validator.ThrowIfInvalid();
        if (foreign && !caller.IsPrivileged())
        {
            Fail.PermissionDenied("A batch may check other users only for operators and the platform's services; check your own permissions, or one resource you own with CheckPermission.");
        }

        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        var decisions = await PermissionEvaluator.EvaluateAsync(connection, queries, null, ct);
        var response = new BatchCheckPermissionResponse { ConsistencyToken = await CurrentTokenAsync(connection, ct) };
        for (var i = 0; i < decisions.Length; i++)
        {
            response.Results.Add(new CheckResult { Allowed = decisions[i].Exists && decisions[i].Level >= levels[i], EffectiveLevel = decisions[i].Level, Reason = ReasonFor(caller, decisions[i]) });
        }

        return response;
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<RegisterResourceResponse> RegisterResourceAsync(RegisterResourceRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(Scopes.WorkspacesWrite, UsersOnly);
        var validator = new RequestValidator();
        var resource = ResourceOf(validator, "resource", request.Resource);
        (ResourceType Type, Guid Id)? parent = request.Parent is null ? null : ResourceOf(validator, "parent", request.Parent);
        if (resource.Type == ResourceType.Workspace && parent is not null)
        {
            validator.Add("parent", "a workspace has no parent");
        }
        else if (resource.Type != ResourceType.Workspace && parent is null)
        {
            validator.Add("parent", "is required for every resource but a workspace");
        }
        else if (parent is { } p && !AllowedParent(resource.Type, p.Type))
        {
            validator.Add("parent", $"a {PermissionEvaluator.Name(resource.Type)} cannot be inside a {PermissionEvaluator.Name(p.Type)}");
        }

        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        Guid workspaceId;
        if (parent is { } parentRef)
        {
            await RequireAsync(connection, tx, caller, parentRef, PermissionLevel.Create, "adding to it", ct);
            workspaceId = await connection.QuerySingleAsync<Guid>(new CommandDefinition(
                "SELECT workspace_id FROM permissions.resources WHERE type = @type AND id = @id FOR SHARE",
                new { type = (short)parentRef.Type, id = parentRef.Id }, tx, cancellationToken: ct));
        }
        else
        {
            workspaceId = resource.Id;
        }

        var inserted = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO permissions.resources (type, id, parent_type, parent_id, workspace_id)
            VALUES (@type, @id, @parentType, @parentId, @workspaceId) ON CONFLICT DO NOTHING
            """, new { type = (short)resource.Type, id = resource.Id, parentType = (short?)parent?.Type, parentId = parent?.Id, workspaceId }, tx, cancellationToken: ct));
        // Checked after the insert: an insert that waited for a concurrent delete of the same id sees, in this
        // next statement, the tombstone that delete committed (READ COMMITTED takes a new snapshot per statement).
        // One answer for every id that is or was in use — the caller's or anybody's, live or deleted — so
        // registering cannot tell whose an id is or whether it was deleted (everything else answers NOT_FOUND
        // for what the caller cannot see; here even that would say more).
        if (inserted == 0 || await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM permissions.deleted_resources WHERE type = @type AND id = @id)",
            new { type = (short)resource.Type, id = resource.Id }, tx, cancellationToken: ct)))
        {
            Fail.AlreadyExists(PermissionEvaluator.Name(resource.Type), "This id is not available (ids are never reused); register the resource under a new one.");
        }

        // Whoever creates a resource owns it (for a workspace: its first owner).
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO permissions.grants (resource_type, resource_id, user_id, level, granted_by) VALUES (@type, @id, @user, 6, @user)",
            new { type = (short)resource.Type, id = resource.Id, user = Guid.Parse(caller.UserId) }, tx, cancellationToken: ct));

        var token = await NextTokenAsync(connection, tx, ct);
        await tx.CommitAsync(ct);
        return new RegisterResourceResponse { ConsistencyToken = token };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<DeleteResourceResponse> DeleteResourceAsync(DeleteResourceRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller(Scopes.WorkspacesWrite);
        var validator = new RequestValidator();
        var resource = ResourceOf(validator, "resource", request.Resource);
        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await RequireAsync(connection, tx, caller, resource, PermissionLevel.Owner, "deleting it", ct);
        var removed = await connection.ExecuteScalarAsync<int>(new CommandDefinition(
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
            """, new { type = (short)resource.Type, id = resource.Id }, tx, cancellationToken: ct));
        var token = await NextTokenAsync(connection, tx, ct);
        await tx.CommitAsync(ct);
        return new DeleteResourceResponse { ConsistencyToken = token, ResourcesRemoved = removed };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<GrantResponse> GrantAsync(GrantRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller(Scopes.WorkspacesWrite);
        var validator = new RequestValidator();
        var resource = ResourceOf(validator, "resource", request.Resource);
        var user = UserOf(validator, "user_id", request.UserId, null);
        var level = LevelOf(validator, "level", request.Level);
        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await RequireAsync(connection, tx, caller, resource, PermissionLevel.Owner, "managing its permissions", ct);
        var workspace = resource.Type == ResourceType.Workspace ? resource.Id : await connection.QuerySingleAsync<Guid>(new CommandDefinition(
            "SELECT workspace_id FROM permissions.resources WHERE type = @type AND id = @id", new { type = (short)resource.Type, id = resource.Id }, tx, cancellationToken: ct));
        await EnsureMemberAsync(connection, tx, caller, workspace, user, ct);
        if (level < PermissionLevel.Owner)
        {
            await EnsureNotLastOwnerAsync(connection, tx, resource, user, ct);
        }

        var grantedAt = await connection.QuerySingleAsync<DateTime>(new CommandDefinition(
            """
            INSERT INTO permissions.grants (resource_type, resource_id, user_id, level, granted_by)
            VALUES (@type, @id, @user, @level, @by)
            ON CONFLICT (resource_type, resource_id, user_id) DO UPDATE SET level = excluded.level, granted_by = excluded.granted_by, granted_at = now()
            RETURNING granted_at
            """, new { type = (short)resource.Type, id = resource.Id, user, level = (short)level, by = caller.UserId }, tx, cancellationToken: ct));
        var token = await NextTokenAsync(connection, tx, ct);
        await tx.CommitAsync(ct);
        return new GrantResponse
        {
            ConsistencyToken = token,
            Grant = new Grant { Resource = request.Resource, UserId = user.ToString(), Level = level, GrantedAt = grantedAt, GrantedBy = caller.UserId },
        };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<RevokeResponse> RevokeAsync(RevokeRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller(Scopes.WorkspacesWrite);
        var validator = new RequestValidator();
        var resource = ResourceOf(validator, "resource", request.Resource);
        var user = UserOf(validator, "user_id", request.UserId, null);
        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await RequireAsync(connection, tx, caller, resource, PermissionLevel.Owner, "managing its permissions", ct);
        await EnsureNotLastOwnerAsync(connection, tx, resource, user, ct);
        if (request.WholeWorkspace && resource.Type != ResourceType.Workspace)
        {
            throw new ValidationException("whole_workspace", "applies to workspaces only");
        }

        var removed = await connection.ExecuteAsync(new CommandDefinition(
            request.WholeWorkspace
                ? """
                  DELETE FROM permissions.grants g USING permissions.resources r
                   WHERE r.type = g.resource_type AND r.id = g.resource_id AND r.workspace_id = @id AND g.user_id = @user;
                  DELETE FROM permissions.role_assignments WHERE workspace_id = @id AND user_id = @user;
                  """
                : "DELETE FROM permissions.grants WHERE resource_type = @type AND resource_id = @id AND user_id = @user",
            new { type = (short)resource.Type, id = resource.Id, user }, tx, cancellationToken: ct));
        var token = await NextTokenAsync(connection, tx, ct);
        await tx.CommitAsync(ct);
        return new RevokeResponse { ConsistencyToken = token, Removed = removed > 0 };
    }

    // Roles ------------------------------------------------------------------------------------------

    // Invitations and membership ---------------------------------------------------------------------

    // Helpers ----------------------------------------------------------------------------------------

    /// <summary>
    /// Refuses unless the caller holds <paramref name="level"/> on the resource: NOT_FOUND when they cannot
    /// even read it (so ids do not leak), PERMISSION_DENIED when they can read it but not do this.
    /// </summary>
    private static async Task RequireAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, UserContext caller, (ResourceType Type, Guid Id) resource,
        PermissionLevel level, string action, CancellationToken ct)
    {
        if (caller.HasRole(PlatformRoles.Admin))
        {
            var exists = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                "SELECT EXISTS (SELECT 1 FROM permissions.resources WHERE type = @type AND id = @id)", new { type = (short)resource.Type, id = resource.Id }, tx, cancellationToken: ct));
            if (!exists)
            {
                Fail.NotFound(PermissionEvaluator.Name(resource.Type), resource.Id.ToString());
            }

            return;
        }

        if (!Guid.TryParse(caller.UserId, out var user))
        {
            Fail.PermissionDenied("Only users hold permissions.");
        }

        var decision = (await PermissionEvaluator.EvaluateAsync(connection, [new Query(user, resource.Type, resource.Id)], tx, ct))[0];
        if (!decision.Exists || decision.Level < PermissionLevel.Read)
        {
            Fail.NotFound(PermissionEvaluator.Name(resource.Type), resource.Id.ToString());
        }

        if (decision.Level < level)
        {
            Fail.PermissionDenied($"{Level(level)} on the {PermissionEvaluator.Name(resource.Type)} is needed for {action}; you have {Level(decision.Level)}.");
        }
    }

    /// <summary>Whether the user owns the workspace (a workspace is a root: ownership is its own grant), locking that grant.</summary>
    private static async Task<bool> HoldsOwnerGrantAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid workspace, Guid user, CancellationToken ct) =>
        await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "SELECT 1 FROM permissions.grants WHERE resource_type = 1 AND resource_id = @workspace AND user_id = @user AND level = 6 FOR SHARE",
            new { workspace, user }, tx, cancellationToken: ct)) is not null;

    /// <summary>Refuses to remove or demote the last owner of a workspace (the owners' rows are locked, so two demotions cannot race).</summary>
    private static async Task EnsureNotLastOwnerAsync(NpgsqlConnection connection, NpgsqlTransaction tx, (ResourceType Type, Guid Id) resource, Guid user, CancellationToken ct)
    {
        if (resource.Type != ResourceType.Workspace)
        {
            return;
        }

        var owners = (await connection.QueryAsync<Guid>(new CommandDefinition(
            "SELECT user_id FROM permissions.grants WHERE resource_type = 1 AND resource_id = @id AND level = 6 ORDER BY user_id FOR UPDATE",
            new { id = resource.Id }, tx, cancellationToken: ct))).ToList();
        if (owners.Count == 1 && owners[0] == user)
        {
            Fail.FailedPrecondition("A workspace keeps at least one owner: make someone else owner first.",
                new Dictionary<string, string> { ["rule"] = "last_owner" });
        }
    }

    private static (ResourceType Type, Guid Id) ResourceOf(RequestValidator validator, string field, ResourceRef? resource)
    {
        if (resource is null)
        {
            validator.Add(field, "is required");
            return default;
        }

        if (resource.Type == ResourceType.Unspecified || !Enum.IsDefined(resource.Type))
        {
            validator.Add(field + ".type", "must be a resource type");
        }

        return (resource.Type, validator.Id(field + ".id", resource.Id));
    }

    private static PermissionLevel LevelOf(RequestValidator validator, string field, PermissionLevel level)
    {
        if (level is < PermissionLevel.None or > PermissionLevel.Owner)
        {
            validator.Add(field, "must be a permission level (none, read, comment, edit, create or owner)");
        }

        return level;
    }

    /// <summary>A level a check asks for: read or more (asking for "at least none" would only tell whether an id exists).</summary>
    private static PermissionLevel RequiredLevelOf(RequestValidator validator, string field, PermissionLevel level)
    {
        if (level is < PermissionLevel.Read or > PermissionLevel.Owner)
        {
            validator.Add(field, "must be read, comment, edit, create or owner");
        }

        return level;
    }

    /// <summary>Below read, a missing resource and one without access read the same, so checks do not reveal which ids exist.</summary>
    private static string ReasonFor(UserContext caller, Decision decision) =>
        decision.Level >= PermissionLevel.Read || caller.IsPrivileged() ? decision.Reason : "no access";

    private static Guid UserOf(RequestValidator validator, string field, string? userId, UserContext? caller)
    {
        if (string.IsNullOrEmpty(userId) && caller is not null)
        {
            if (Guid.TryParse(caller.UserId, out var self))
            {
                return self;
            }

            validator.Add(field, "is required when the caller is not a user");
            return Guid.Empty;
        }

        return validator.Id(field, userId);
    }

    private static long? ParseToken(RequestValidator validator, string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        if (token.Length > 24 || token[0] != 'r' || !long.TryParse(token.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var revision))
        {
            validator.Add("consistency_token", "must be a token returned by a write of this service");
            return null;
        }

        return revision;
    }

    private static bool AllowedParent(ResourceType type, ResourceType parent) => type switch
    {
        ResourceType.Base => parent == ResourceType.Workspace,
        ResourceType.Table => parent == ResourceType.Base,
        ResourceType.File or ResourceType.Webhook => parent is ResourceType.Workspace or ResourceType.Base or ResourceType.Table,
        _ => false,
    };

    private static string Level(PermissionLevel level) => level.ToString().ToLowerInvariant();

    private static async Task<string> NextTokenAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken ct) =>
        "r" + (await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT nextval('permissions.revision')", transaction: tx, cancellationToken: ct)))
            .ToString(CultureInfo.InvariantCulture);

    private static async Task<string> CurrentTokenAsync(NpgsqlConnection connection, CancellationToken ct) =>
        "r" + (await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM permissions.revision", cancellationToken: ct)))
            .ToString(CultureInfo.InvariantCulture);

    private sealed record GrantRow
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
}
