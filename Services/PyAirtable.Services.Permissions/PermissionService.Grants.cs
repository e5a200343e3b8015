using System.Globalization;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using static PyAirtable.Services.Permissions.PermissionRequests;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Permissions;

/// <summary>Direct grants: giving, taking away and listing who has what.</summary>
public sealed partial class PermissionService
{
    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<GrantResponse> GrantAsync(GrantRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var validator = new RequestValidator();
        var resource = ResourceOf(validator, "resource", request.Resource);
        var user = UserOf(validator, "user_id", request.UserId, null);
        var level = LevelOf(validator, "level", request.Level);
        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var db = await database.BeginAsync(ct);
        await RequireAsync(db, caller, resource, PermissionLevel.Owner, "managing its permissions", ct);
        var workspace = resource.Type == ResourceType.Workspace ? resource.Id : await db.Resources.WorkspaceOfAsync(resource, ct);
        await EnsureMemberAsync(db, caller, workspace, user, ct);
        if (level < PermissionLevel.Owner)
        {
            await EnsureNotLastOwnerAsync(db, resource, user, ct);
        }

        var grantedAt = await db.Grants.UpsertAsync(resource, user, level, caller.UserId, ct);
        var token = await db.Checks.NextTokenAsync(ct);
        await db.CommitAsync(ct);
        return new GrantResponse
        {
            ConsistencyToken = token,
            Grant = new Grant
            {
                Resource = request.Resource, UserId = user.ToString(), Level = level, GrantedAt = grantedAt, GrantedBy = caller.UserId,
            },
        };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<RevokeResponse> RevokeAsync(RevokeRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var validator = new RequestValidator();
        var resource = ResourceOf(validator, "resource", request.Resource);
        var user = UserOf(validator, "user_id", request.UserId, null);
        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var db = await database.BeginAsync(ct);
        await RequireAsync(db, caller, resource, PermissionLevel.Owner, "managing its permissions", ct);
        // Taking a grant away can take the user out of the workspace: ordered with Grant's membership check, or a
        // concurrent Grant that found them a member would put them back without their consent.
        var workspace = resource.Type == ResourceType.Workspace ? resource.Id : await db.Resources.WorkspaceOfAsync(resource, ct);
        await db.Membership.LockAsync(workspace, user, ct);
        await EnsureNotLastOwnerAsync(db, resource, user, ct);
        if (request.WholeWorkspace && resource.Type != ResourceType.Workspace)
        {
            throw new ValidationException("whole_workspace", "applies to workspaces only");
        }

        var removed = request.WholeWorkspace
            ? await db.Membership.RemoveAsync(resource.Id, user, ct)
            : await db.Grants.DeleteAsync(resource, user, ct);
        var token = await db.Checks.NextTokenAsync(ct);
        await db.CommitAsync(ct);
        return new RevokeResponse { ConsistencyToken = token, Removed = removed > 0 };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<ListPermissionsResponse> ListPermissionsAsync(ListPermissionsRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
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
        await using var db = await database.OpenAsync(ct);
        if (byResource && !caller.IsPrivileged())
        {
            // A workspace's members are visible to its members; grants deeper down only to owners.
            await RequireAsync(db, caller, resource,
                resource.Type == ResourceType.Workspace ? PermissionLevel.Read : PermissionLevel.Owner, "listing its permissions", ct);
        }
        else if (!byResource && user.ToString() != caller.UserId && !caller.IsPrivileged())
        {
            Fail.PermissionDenied("You can list only your own grants.");
        }

        var scope = byResource ? $"permissions.by-resource:{(int)resource.Type}:{resource.Id}" : $"permissions.by-user:{user}";
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 500);
        (short Type, Guid Id, Guid User) after = page.After is { Count: 3 } a
            ? (short.Parse(a[0], CultureInfo.InvariantCulture), Guid.Parse(a[1]), Guid.Parse(a[2]))
            : ((short)0, Guid.Empty, Guid.Empty);
        var rows = byResource
            ? await db.Grants.ListOnResourceAsync(resource, after.User, page.PageSize + 1, ct)
            : await db.Grants.ListOfUserAsync(user, (after.Type, after.Id), page.PageSize + 1, ct);
        var total = byResource ? await db.Grants.CountOnResourceAsync(resource, ct) : await db.Grants.CountOfUserAsync(user, ct);
        var (items, pagination) = page.Complete(rows, total,
            r => [r.ResourceType.ToString(CultureInfo.InvariantCulture), r.ResourceId.ToString(), r.UserId.ToString()], cursors, scope);
        return new ListPermissionsResponse { Permissions = items.Select(r => r.ToContract()).ToList(), Pagination = pagination };
    }
}
