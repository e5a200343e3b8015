using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Permissions.Stores;
using static PyAirtable.Services.Permissions.PermissionRequests;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Permissions;

/// <summary>Roles: named sets of levels per resource type, assigned to members of a workspace.</summary>
public sealed partial class PermissionService
{
    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<CreateRoleResponse> CreateRoleAsync(CreateRoleRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var validator = new RequestValidator();
        var workspace = Validation.Id("workspace_id", request.WorkspaceId);
        validator.Name("name", request.Name);
        var levels = RoleLevelsOf(validator, request.Permissions);
        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var db = await database.BeginAsync(ct);
        await RequireAsync(db, caller, new ResourceKey(ResourceType.Workspace, workspace), PermissionLevel.Owner, "managing its roles", ct);
        var id = Guid.CreateVersion7();
        var created = await db.Roles.InsertAsync(id, workspace, request.Name.Trim(), ct);
        if (created is null)
        {
            Fail.AlreadyExists("role", "The workspace has a role of that name already.");
        }

        await db.Roles.ReplaceLevelsAsync(id, levels, ct);
        var token = await db.Checks.NextTokenAsync(ct);
        await db.CommitAsync(ct);
        return new CreateRoleResponse
        {
            ConsistencyToken = token,
            Role = new Role
            {
                Id = id.ToString(), WorkspaceId = workspace.ToString(), Name = request.Name.Trim(), Permissions = levels, CreatedAt = created,
            },
        };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<UpdateRoleResponse> UpdateRoleAsync(UpdateRoleRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var validator = new RequestValidator();
        var roleId = Validation.Id("role_id", request.RoleId);
        if (request.Name is not null)
        {
            validator.Name("name", request.Name);
        }

        var levels = request.ReplacePermissions ? RoleLevelsOf(validator, request.Permissions) : [];
        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var db = await database.BeginAsync(ct);
        var workspace = await RoleWorkspaceAsync(db, caller, roleId, ct);
        if (request.Name is not null && !await db.Roles.RenameAsync(roleId, workspace, request.Name.Trim(), ct))
        {
            Fail.AlreadyExists("role", "The workspace has a role of that name already.");
        }

        if (request.ReplacePermissions)
        {
            await db.Roles.ReplaceLevelsAsync(roleId, levels, ct);
        }

        var token = await db.Checks.NextTokenAsync(ct);
        var role = await db.Roles.ReadAsync(roleId, ct);
        await db.CommitAsync(ct);
        return new UpdateRoleResponse { Role = role, ConsistencyToken = token };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<AssignRoleResponse> AssignRoleAsync(AssignRoleRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var roleId = Validation.Id("role_id", request.RoleId);
        var user = Validation.Id("user_id", request.UserId);
        var ct = context.CancellationToken;
        await using var db = await database.BeginAsync(ct);
        var workspace = await RoleWorkspaceAsync(db, caller, roleId, ct);
        await EnsureMemberAsync(db, caller, workspace, user, ct);
        await db.Roles.AssignAsync(roleId, user, workspace, ct);
        var token = await db.Checks.NextTokenAsync(ct);
        await db.CommitAsync(ct);
        return new AssignRoleResponse { ConsistencyToken = token };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<UnassignRoleResponse> UnassignRoleAsync(UnassignRoleRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var roleId = Validation.Id("role_id", request.RoleId);
        var user = Validation.Id("user_id", request.UserId);
        var ct = context.CancellationToken;
        await using var db = await database.BeginAsync(ct);
        await RoleWorkspaceAsync(db, caller, roleId, ct);
        await db.Roles.UnassignAsync(roleId, user, ct);
        var token = await db.Checks.NextTokenAsync(ct);
        await db.CommitAsync(ct);
        return new UnassignRoleResponse { ConsistencyToken = token };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<ListRolesResponse> ListRolesAsync(ListRolesRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var workspace = Validation.Id("workspace_id", request.WorkspaceId);
        var scope = "permissions.roles:" + workspace;
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 500);
        var ct = context.CancellationToken;
        await using var db = await database.OpenAsync(ct);
        await RequireAsync(db, caller, new ResourceKey(ResourceType.Workspace, workspace), PermissionLevel.Read, "listing its roles", ct);
        var afterName = page.After is { Count: 1 } a ? a[0] : "";
        var ids = await db.Roles.ListAsync(workspace, afterName, page.PageSize + 1, ct);
        var total = await db.Roles.CountAsync(workspace, ct);
        var (items, pagination) = page.Complete(ids, total, r => [r.Name], cursors, scope);
        var roles = new List<Role>();
        foreach (var (id, _) in items)
        {
            roles.Add(await db.Roles.ReadAsync(id, ct));
        }

        return new ListRolesResponse { Roles = roles, Pagination = pagination };
    }

    /// <summary>The workspace of a role the caller owns (the role locked); NOT_FOUND for a role in a workspace they cannot see.</summary>
    private static async Task<Guid> RoleWorkspaceAsync(PermissionSession db, UserContext caller, Guid roleId, CancellationToken ct)
    {
        var workspace = await db.Roles.LockWorkspaceOfAsync(roleId, ct);
        if (workspace is null)
        {
            Fail.NotFound("role", roleId.ToString());
        }

        try
        {
            var key = new ResourceKey(ResourceType.Workspace, workspace.Value);
            await RequireAsync(db, caller, key, PermissionLevel.Owner, "managing its roles", ct);
        }
        catch (PlatformException ex) when (ex.Code == ErrorCode.NotFound)
        {
            Fail.NotFound("role", roleId.ToString()); // a role of a workspace you cannot see does not exist for you
        }

        return workspace.Value;
    }
}
