using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Permissions.Stores;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Permissions;

/// <summary>Membership: every member can leave; who shares a workspace with whom.</summary>
public sealed partial class PermissionService
{
    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<ResignMembershipResponse> ResignMembershipAsync(ResignMembershipRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(UsersOnly);
        var workspace = Validation.Id("workspace_id", request.WorkspaceId);
        var user = Guid.Parse(caller.UserId);
        var ct = context.CancellationToken;
        await using var db = await database.BeginAsync(ct);
        await db.Membership.LockAsync(workspace, user, ct);
        if (!await db.Membership.IsMemberAsync(workspace, user, ct))
        {
            Fail.NotFound("workspace", workspace.ToString()); // not a member: nothing of it is visible to you
        }

        await EnsureNotLastOwnerAsync(db, new ResourceKey(ResourceType.Workspace, workspace), user, ct);
        var removed = await db.Membership.RemoveAsync(workspace, user, ct);
        var token = await db.Checks.NextTokenAsync(ct);
        await db.CommitAsync(ct);
        return new ResignMembershipResponse { ConsistencyToken = token, Removed = removed > 0 };
    }

    public async ValueTask<FilterSharedWorkspaceUsersResponse> FilterSharedWorkspaceUsersAsync(
        FilterSharedWorkspaceUsersRequest request, CallContext context = default)
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
        await using var db = await database.OpenAsync(ct);
        var shared = await db.Membership.SharingWorkspaceWithAsync(me, ids, ct);
        return new FilterSharedWorkspaceUsersResponse { UserIds = request.UserIds.Where((_, i) => shared.Contains(ids[i])).ToList() };
    }
}
