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

/// <summary>Roles: named sets of levels per resource type, assigned to members of a workspace.</summary>
public sealed partial class PermissionService
{
    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<CreateRoleResponse> CreateRoleAsync(CreateRoleRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller(Scopes.WorkspacesWrite);
        var validator = new RequestValidator();
        var workspace = Validation.Id("workspace_id", request.WorkspaceId);
        validator.Name("name", request.Name);
        var levels = RoleLevelsOf(validator, request.Permissions);
        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await RequireAsync(connection, tx, caller, (ResourceType.Workspace, workspace), PermissionLevel.Owner, "managing its roles", ct);
        var id = Guid.CreateVersion7();
        var created = await connection.QuerySingleOrDefaultAsync<DateTime?>(new CommandDefinition(
            "INSERT INTO permissions.roles (id, workspace_id, name) VALUES (@id, @workspace, @name) ON CONFLICT (workspace_id, name) DO NOTHING RETURNING created_at",
            new { id, workspace, name = request.Name.Trim() }, tx, cancellationToken: ct));
        if (created is null)
        {
            Fail.AlreadyExists("role", "The workspace has a role of that name already.");
        }

        await ReplaceLevelsAsync(connection, tx, id, levels, ct);
        var token = await NextTokenAsync(connection, tx, ct);
        await tx.CommitAsync(ct);
        return new CreateRoleResponse
        {
            ConsistencyToken = token,
            Role = new Role { Id = id.ToString(), WorkspaceId = workspace.ToString(), Name = request.Name.Trim(), Permissions = levels, CreatedAt = created },
        };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<UpdateRoleResponse> UpdateRoleAsync(UpdateRoleRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller(Scopes.WorkspacesWrite);
        var validator = new RequestValidator();
        var roleId = Validation.Id("role_id", request.RoleId);
        if (request.Name is not null)
        {
            validator.Name("name", request.Name);
        }

        var levels = request.ReplacePermissions ? RoleLevelsOf(validator, request.Permissions) : [];
        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var workspace = await RoleWorkspaceAsync(connection, tx, caller, roleId, PermissionLevel.Owner, ct);
        if (request.Name is not null)
        {
            var renamed = await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE permissions.roles SET name = @name WHERE id = @roleId AND NOT EXISTS (SELECT 1 FROM permissions.roles WHERE workspace_id = @workspace AND name = @name AND id <> @roleId)",
                new { roleId, workspace, name = request.Name.Trim() }, tx, cancellationToken: ct));
            if (renamed == 0)
            {
                Fail.AlreadyExists("role", "The workspace has a role of that name already.");
            }
        }

        if (request.ReplacePermissions)
        {
            await ReplaceLevelsAsync(connection, tx, roleId, levels, ct);
        }

        var token = await NextTokenAsync(connection, tx, ct);
        var role = await ReadRoleAsync(connection, tx, roleId, ct);
        await tx.CommitAsync(ct);
        return new UpdateRoleResponse { Role = role, ConsistencyToken = token };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<AssignRoleResponse> AssignRoleAsync(AssignRoleRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller(Scopes.WorkspacesWrite);
        var roleId = Validation.Id("role_id", request.RoleId);
        var user = Validation.Id("user_id", request.UserId);
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var workspace = await RoleWorkspaceAsync(connection, tx, caller, roleId, PermissionLevel.Owner, ct);
        await EnsureMemberAsync(connection, tx, caller, workspace, user, ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO permissions.role_assignments (role_id, user_id, workspace_id) VALUES (@roleId, @user, @workspace) ON CONFLICT DO NOTHING",
            new { roleId, user, workspace }, tx, cancellationToken: ct));
        var token = await NextTokenAsync(connection, tx, ct);
        await tx.CommitAsync(ct);
        return new AssignRoleResponse { ConsistencyToken = token };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<UnassignRoleResponse> UnassignRoleAsync(UnassignRoleRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller(Scopes.WorkspacesWrite);
        var roleId = Validation.Id("role_id", request.RoleId);
        var user = Validation.Id("user_id", request.UserId);
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await RoleWorkspaceAsync(connection, tx, caller, roleId, PermissionLevel.Owner, ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM permissions.role_assignments WHERE role_id = @roleId AND user_id = @user", new { roleId, user }, tx, cancellationToken: ct));
        var token = await NextTokenAsync(connection, tx, ct);
        await tx.CommitAsync(ct);
        return new UnassignRoleResponse { ConsistencyToken = token };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<ListRolesResponse> ListRolesAsync(ListRolesRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller(Scopes.WorkspacesRead);
        var workspace = Validation.Id("workspace_id", request.WorkspaceId);
        var scope = "permissions.roles:" + workspace;
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 500);
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await RequireAsync(connection, null, caller, (ResourceType.Workspace, workspace), PermissionLevel.Read, "listing its roles", ct);
        var afterName = page.After is { Count: 1 } a ? a[0] : "";
        var ids = (await connection.QueryAsync<(Guid Id, string Name)>(new CommandDefinition(
            "SELECT id, name FROM permissions.roles WHERE workspace_id = @workspace AND name > @afterName ORDER BY name LIMIT @limit",
            new { workspace, afterName, limit = page.PageSize + 1 }, cancellationToken: ct))).ToList();
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM permissions.roles WHERE workspace_id = @workspace", new { workspace }, cancellationToken: ct));
        var (items, pagination) = page.Complete(ids, total, r => [r.Name], cursors, scope);
        var roles = new List<Role>();
        foreach (var (id, _) in items)
        {
            roles.Add(await ReadRoleAsync(connection, null, id, ct));
        }

        return new ListRolesResponse { Roles = roles, Pagination = pagination };
    }

    private static async Task<Guid> RoleWorkspaceAsync(NpgsqlConnection connection, NpgsqlTransaction tx, UserContext caller, Guid roleId, PermissionLevel level, CancellationToken ct)
    {
        var workspace = await connection.QuerySingleOrDefaultAsync<Guid?>(new CommandDefinition(
            "SELECT workspace_id FROM permissions.roles WHERE id = @roleId FOR UPDATE", new { roleId }, tx, cancellationToken: ct));
        if (workspace is null)
        {
            Fail.NotFound("role", roleId.ToString());
        }

        try
        {
            await RequireAsync(connection, tx, caller, (ResourceType.Workspace, workspace.Value), level, "managing its roles", ct);
        }
        catch (PlatformException ex) when (ex.Code == ErrorCode.NotFound)
        {
            Fail.NotFound("role", roleId.ToString()); // a role of a workspace you cannot see does not exist for you
        }

        return workspace.Value;
    }

    private static async Task ReplaceLevelsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid roleId, List<RoleLevel> levels, CancellationToken ct)
    {
        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM permissions.role_levels WHERE role_id = @roleId", new { roleId }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO permissions.role_levels (role_id, resource_type, level) SELECT @roleId, t, l FROM unnest(@types::smallint[], @levels::smallint[]) AS x(t, l)",
            new { roleId, types = levels.Select(l => (short)l.Type).ToArray(), levels = levels.Select(l => (short)l.Level).ToArray() }, tx, cancellationToken: ct));
    }

    private static async Task<Role> ReadRoleAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, Guid roleId, CancellationToken ct)
    {
        var role = await connection.QuerySingleAsync<(Guid Id, Guid WorkspaceId, string Name, DateTime CreatedAt)>(new CommandDefinition(
            "SELECT id, workspace_id, name, created_at FROM permissions.roles WHERE id = @roleId", new { roleId }, tx, cancellationToken: ct));
        var levels = await connection.QueryAsync<(short Type, short Level)>(new CommandDefinition(
            "SELECT resource_type, level FROM permissions.role_levels WHERE role_id = @roleId ORDER BY resource_type", new { roleId }, tx, cancellationToken: ct));
        return new Role
        {
            Id = role.Id.ToString(),
            WorkspaceId = role.WorkspaceId.ToString(),
            Name = role.Name,
            CreatedAt = role.CreatedAt,
            Permissions = levels.Select(l => new RoleLevel { Type = (ResourceType)l.Type, Level = (PermissionLevel)l.Level }).ToList(),
        };
    }

    private static List<RoleLevel> RoleLevelsOf(RequestValidator validator, List<RoleLevel> levels)
    {
        if (levels.Count is 0 or > 5)
        {
            validator.Add("permissions", "must give 1 to 5 levels, one per resource type");
        }

        for (var i = 0; i < levels.Count; i++)
        {
            if (levels[i].Type == ResourceType.Unspecified || !Enum.IsDefined(levels[i].Type))
            {
                validator.Add($"permissions[{i}].type", "must be a resource type");
            }

            if (levels[i].Level is < PermissionLevel.None or >= PermissionLevel.Owner)
            {
                validator.Add($"permissions[{i}].level", "must be none, read, comment, edit or create (owner is granted, not given by roles)");
            }
        }

        if (levels.Select(l => l.Type).Distinct().Count() != levels.Count)
        {
            validator.Add("permissions", "must name each resource type at most once");
        }

        return levels;
    }
}
