using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Workspaces.Stores;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Workspaces;

/// <summary>Bases: made in a workspace by those who may create there, each with its own entry in the Permission service's tree.</summary>
public sealed partial class WorkspaceService
{
    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<CreateBaseResponse> CreateBaseAsync(CreateBaseRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(WorkspacesAreUsers);
        var workspace = Validation.Id("workspace_id", request.WorkspaceId);
        new RequestValidator().Name("name", request.Name).ThrowIfInvalid();
        await RequireAsync(context, ResourceType.Workspace, workspace, PermissionLevel.Create);
        var id = Guid.CreateVersion7();
        var ct = context.CancellationToken;
        await using var db = await WorkspaceSession.BeginAsync(dataSource, memory, ct);
        var row = await db.Bases.InsertAsync(id, workspace, request.Name.Trim(), Guid.Parse(caller.UserId), ct);
        var created = row.ToContract();
        var entry = new RegisterResourceRequest { Resource = Ref(ResourceType.Base, id), Parent = Ref(ResourceType.Workspace, workspace) };
        var registered = await permissions.RegisterResourceAsync(entry, context);
        await Outbox.EnqueueAsync(db.WriteTransaction,
            new BaseCreated { BaseId = created.Id, WorkspaceId = created.WorkspaceId, Name = created.Name, CreatedBy = created.CreatedBy },
            Origin(context), CancellationToken.None);
        await db.CommitAsync(CancellationToken.None);
        return new CreateBaseResponse { Base = created, ConsistencyToken = registered.ConsistencyToken };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<GetBaseResponse> GetBaseAsync(GetBaseRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("base_id", request.BaseId);
        await RequireAsync(context, ResourceType.Base, id, PermissionLevel.Read);
        if (!memory.TryGet(id, out var row))
        {
            var generation = memory.Generation;
            await using var db = await WorkspaceSession.OpenAsync(dataSource, context.CancellationToken);
            var found = await db.Bases.FindAsync(id, context.CancellationToken);
            if (found is null)
            {
                Fail.NotFound("base", id.ToString());
            }

            memory.Put(row = found, generation);
        }

        return new GetBaseResponse { Base = row.ToContract() };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<ListBasesResponse> ListBasesAsync(ListBasesRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(WorkspacesAreUsers);
        var workspace = Validation.Id("workspace_id", request.WorkspaceId);
        await ExistsAsync(context, workspace);
        var scope = $"workspaces.bases:{workspace}:{caller.UserId}";
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 500);
        var ct = context.CancellationToken;
        await using var db = await WorkspaceSession.OpenAsync(dataSource, ct);
        var all = await db.Bases.ListInWorkspaceAsync(workspace, ct);
        var visible = new List<BaseRow>();
        foreach (var chunk in all.Chunk(1000))
        {
            var verdicts = await permissions.BatchCheckPermissionAsync(new BatchCheckPermissionRequest
            {
                Checks = chunk.Select(b => new CheckItem { Resource = Ref(ResourceType.Base, b.Id), Level = PermissionLevel.Read }).ToList(),
            }, context);
            visible.AddRange(chunk.Where((_, i) => verdicts.Results[i].Allowed));
        }

        var after = page.After is { Count: 1 } a ? Guid.Parse(a[0]) : Guid.Empty;
        var next = visible.Where(b => b.Id.CompareTo(after) > 0).Take(page.PageSize + 1).ToList();
        var (items, pagination) = page.Complete(next, visible.Count, b => [b.Id.ToString()], cursors, scope);
        return new ListBasesResponse { Bases = items.Select(b => b.ToContract()).ToList(), Pagination = pagination };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<RenameBaseResponse> RenameBaseAsync(RenameBaseRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("base_id", request.BaseId);
        new RequestValidator().Name("name", request.Name).ThrowIfInvalid();
        await RequireAsync(context, ResourceType.Base, id, PermissionLevel.Edit);
        var ct = context.CancellationToken;
        await using var db = await WorkspaceSession.BeginAsync(dataSource, memory, ct);
        var row = await db.Bases.RenameAsync(id, request.Name.Trim(), ct);
        if (row is null)
        {
            Fail.NotFound("base", request.BaseId);
        }

        var renamed = row.ToContract();
        await Outbox.EnqueueAsync(db.WriteTransaction,
            new BaseRenamed { BaseId = renamed.Id, WorkspaceId = renamed.WorkspaceId, Name = renamed.Name }, Origin(context), ct);
        await db.CommitAsync(ct);
        return new RenameBaseResponse { Base = renamed };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<DeleteBaseResponse> DeleteBaseAsync(DeleteBaseRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("base_id", request.BaseId);
        await RequireAsync(context, ResourceType.Base, id, PermissionLevel.Owner);
        var ct = context.CancellationToken;
        await using var db = await WorkspaceSession.BeginAsync(dataSource, memory, ct);
        var workspaceId = await db.Bases.DeleteAsync(id, ct);
        var deleted = await permissions.DeleteResourceAsync(new DeleteResourceRequest { Resource = Ref(ResourceType.Base, id) }, context);
        await Outbox.EnqueueAsync(db.WriteTransaction, new BaseDeleted
        {
            BaseId = id.ToString(), WorkspaceId = workspaceId?.ToString() ?? "",
        }, Origin(context), CancellationToken.None);
        await db.CommitAsync(CancellationToken.None);
        return new DeleteBaseResponse { ConsistencyToken = deleted.ConsistencyToken };
    }
}
