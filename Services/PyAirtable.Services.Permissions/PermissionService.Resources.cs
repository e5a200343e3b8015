using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Services.Infrastructure.Contracts;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Permissions.Stores;
using static PyAirtable.Services.Permissions.PermissionRequests;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Permissions;

/// <summary>The resource tree: registering and deleting resources, and looking up those a user reaches.</summary>
public sealed partial class PermissionService
{
    private const int LookupChunk = 1000;

    /// <summary>The area of pyairtable.workspaces.v1.WorkspaceService: the only service that registers workspaces and bases.</summary>
    private const string WorkspacesArea = "workspaces";

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<RegisterResourceResponse> RegisterResourceAsync(RegisterResourceRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(UsersOnly);
        var validator = new RequestValidator();
        var resource = ResourceOf(validator, "resource", request.Resource);
        ResourceKey? parent = request.Parent is null ? null : ResourceOf(validator, "parent", request.Parent);
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
            validator.Add("parent", $"a {Names.Of(resource.Type)} cannot be inside a {Names.Of(p.Type)}");
        }

        validator.ThrowIfInvalid();
        // Workspaces and bases have rows of their own in the Workspaces service, which registers them when it creates
        // them: registered directly, a workspace would be a phantom that only the tree knows. Tables have no service yet.
        if (resource.Type is ResourceType.Workspace or ResourceType.Base
            && context.CallingService(ContractBindingExtensions.ServiceNameOf<IPermissionService>()) != WorkspacesArea)
        {
            Fail.PermissionDenied($"A {Names.Of(resource.Type)} is registered by the Workspaces service when it creates one " +
                "(CreateWorkspace, CreateBase), not directly.");
        }

        var ct = context.CancellationToken;
        await using var db = await database.BeginAsync(ct);
        Guid workspaceId;
        if (parent is { } parentKey)
        {
            await RequireAsync(db, caller, parentKey, PermissionLevel.Create, "adding to it", ct);
            workspaceId = await db.Resources.LockParentWorkspaceAsync(parentKey, ct);
        }
        else
        {
            workspaceId = resource.Id;
        }

        var inserted = await db.Resources.InsertAsync(resource, parent, workspaceId, ct);
        // Checked after the insert: an insert that waited for a concurrent delete of the same id sees, in this
        // next statement, the tombstone that delete committed (READ COMMITTED takes a new snapshot per statement).
        // One answer for every id that is or was in use — the caller's or anybody's, live or deleted — so
        // registering cannot tell whose an id is or whether it was deleted (everything else answers NOT_FOUND
        // for what the caller cannot see; here even that would say more).
        if (!inserted || await db.Resources.WasDeletedAsync(resource, ct))
        {
            Fail.AlreadyExists(Names.Of(resource.Type),
                "This id is not available (ids are never reused); register the resource under a new one.");
        }

        await db.Grants.InsertOwnerAsync(resource, Guid.Parse(caller.UserId), ct);
        var token = await db.Checks.NextTokenAsync(ct);
        await db.CommitAsync(ct);
        return new RegisterResourceResponse { ConsistencyToken = token };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<DeleteResourceResponse> DeleteResourceAsync(DeleteResourceRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
        var validator = new RequestValidator();
        var resource = ResourceOf(validator, "resource", request.Resource);
        validator.ThrowIfInvalid();
        var ct = context.CancellationToken;
        await using var db = await database.BeginAsync(ct);
        await RequireAsync(db, caller, resource, PermissionLevel.Owner, "deleting it", ct);
        var removed = await db.Resources.DeleteSubtreeAsync(resource, ct);
        var token = await db.Checks.NextTokenAsync(ct);
        await db.CommitAsync(ct);
        return new DeleteResourceResponse { ConsistencyToken = token, ResourcesRemoved = removed };
    }

    [RequiresScope(Scopes.WorkspacesRead)] // it lists ids: a key must be allowed to read workspaces
    public async IAsyncEnumerable<LookupResourcesResponse> LookupResourcesAsync(LookupResourcesRequest request, CallContext context = default)
    {
        var caller = context.RequireCaller();
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
            await using (var db = await database.OpenAsync(ct))
            {
                candidates = await db.Resources.CandidatesAsync(request.Type, user, after, LookupChunk, ct);
                if (candidates.Count == 0)
                {
                    yield break;
                }

                decisions = await db.Checks.EvaluateAsync(candidates.Select(id => new Query(user, request.Type, id)).ToList(), ct);
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
}
