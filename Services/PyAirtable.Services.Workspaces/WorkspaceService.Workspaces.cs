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

/// <summary>Workspaces: created with the caller as owner, read and listed by what the Permission service lets one reach.</summary>
public sealed partial class WorkspaceService
{
    private const int MaxDescription = 1000;

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<CreateWorkspaceResponse> CreateWorkspaceAsync(CreateWorkspaceRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(WorkspacesAreUsers);
        var validator = new RequestValidator().Name("name", request.Name).MaxLength("description", request.Description, MaxDescription);
        validator.ThrowIfInvalid();
        var id = Guid.CreateVersion7();
        var ct = context.CancellationToken;
        // The row and the tree entry commit together or not at all: the row is written in a transaction that
        // commits only after the Permission service registered the workspace (a failure there rolls it back;
        // a failed commit leaves only an entry without a row, which no one can see into).
        await using var db = await WorkspaceSession.BeginAsync(dataSource, memory, ct);
        var row = await db.Workspaces.InsertAsync(id, request.Name.Trim(), request.Description ?? "", Guid.Parse(caller.UserId), ct);
        var workspace = row.ToContract(PermissionLevel.Owner);
        var registered = await permissions.RegisterResourceAsync(
            new RegisterResourceRequest { Resource = Ref(ResourceType.Workspace, id) }, context);
        // Once the remote write is done, finish regardless of the caller going away (the outbox's ordering lock
        // is held from here to the commit only).
        await Outbox.EnqueueAsync(db.WriteTransaction, new WorkspaceCreated
        {
            WorkspaceId = workspace.Id, Name = workspace.Name, Description = workspace.Description, CreatedBy = workspace.CreatedBy,
        }, Origin(context), CancellationToken.None);
        await db.CommitAsync(CancellationToken.None);
        return new CreateWorkspaceResponse { Workspace = workspace, ConsistencyToken = registered.ConsistencyToken };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<GetWorkspaceResponse> GetWorkspaceAsync(GetWorkspaceRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("workspace_id", request.WorkspaceId);
        var level = await RequireAsync(context, ResourceType.Workspace, id, PermissionLevel.Read);
        await using var db = await WorkspaceSession.OpenAsync(dataSource, context.CancellationToken);
        var row = await db.Workspaces.FindAsync(id, context.CancellationToken);
        if (row is null)
        {
            Fail.NotFound("workspace", id.ToString());
        }

        return new GetWorkspaceResponse { Workspace = row.ToContract(level) };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<ListWorkspacesResponse> ListWorkspacesAsync(ListWorkspacesRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(WorkspacesAreUsers);
        var scope = "workspaces.list:" + caller.UserId;
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 500);
        var reachable = new SortedDictionary<Guid, PermissionLevel>();
        var lookup = new LookupResourcesRequest { Type = ResourceType.Workspace, Level = PermissionLevel.Read };
        await foreach (var item in permissions.LookupResourcesAsync(lookup, context))
        {
            reachable[Guid.Parse(item.Resource!.Id)] = item.Level;
        }

        // Walk the reachable ids after the cursor, skipping any without a row (a tree entry whose workspace
        // was never committed), until the page plus one is full.
        var after = page.After is { Count: 1 } a ? Guid.Parse(a[0]) : Guid.Empty;
        var pending = reachable.Keys.Where(k => k.CompareTo(after) > 0).ToList();
        var rows = new List<WorkspaceRow>();
        await using (var db = await WorkspaceSession.OpenAsync(dataSource, context.CancellationToken))
        {
            for (var offset = 0; offset < pending.Count && rows.Count <= page.PageSize; offset += page.PageSize + 1)
            {
                var ids = pending.Skip(offset).Take(page.PageSize + 1).ToArray();
                rows.AddRange(await db.Workspaces.FindManyAsync(ids, context.CancellationToken));
            }
        }

        var (items, pagination) = page.Complete(
            rows.Take(page.PageSize + 1).ToList(), reachable.Count, r => [r.Id.ToString()], cursors, scope);
        return new ListWorkspacesResponse
        {
            Workspaces = items.Select(r => r.ToContract(reachable[r.Id])).ToList(), Pagination = pagination,
        };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<UpdateWorkspaceResponse> UpdateWorkspaceAsync(UpdateWorkspaceRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("workspace_id", request.WorkspaceId);
        var validator = new RequestValidator();
        if (request.Name is not null)
        {
            validator.Name("name", request.Name);
        }

        validator.MaxLength("description", request.Description, MaxDescription);
        if (request.Name is null && request.Description is null)
        {
            validator.Add("name", "set at least one of name and description");
        }

        validator.ThrowIfInvalid();
        var level = await RequireAsync(context, ResourceType.Workspace, id, PermissionLevel.Edit);
        var ct = context.CancellationToken;
        await using var db = await WorkspaceSession.BeginAsync(dataSource, memory, ct);
        var row = await db.Workspaces.UpdateAsync(id, request.Name?.Trim(), request.Description, ct);
        if (row is null)
        {
            Fail.NotFound("workspace", request.WorkspaceId);
        }

        var workspace = row.ToContract(level);
        await Outbox.EnqueueAsync(db.WriteTransaction, new WorkspaceUpdated
        {
            WorkspaceId = workspace.Id, Name = workspace.Name, Description = workspace.Description,
        }, Origin(context), ct);
        await db.CommitAsync(ct);
        return new UpdateWorkspaceResponse { Workspace = workspace };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<DeleteWorkspaceResponse> DeleteWorkspaceAsync(DeleteWorkspaceRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("workspace_id", request.WorkspaceId);
        await RequireAsync(context, ResourceType.Workspace, id, PermissionLevel.Owner);
        // Rows and outbox event first, in a transaction that commits only after the Permission service removed
        // the tree (grants, bases' and tables' entries go with it; their ids can never be registered again).
        var ct = context.CancellationToken;
        await using var db = await WorkspaceSession.BeginAsync(dataSource, memory, ct);
        await db.Workspaces.DeleteAsync(id, ct);
        var deleted = await permissions.DeleteResourceAsync(
            new DeleteResourceRequest { Resource = Ref(ResourceType.Workspace, id) }, context);
        await Outbox.EnqueueAsync(
            db.WriteTransaction, new WorkspaceDeleted { WorkspaceId = id.ToString() }, Origin(context), CancellationToken.None);
        await db.CommitAsync(CancellationToken.None);
        return new DeleteWorkspaceResponse { ConsistencyToken = deleted.ConsistencyToken };
    }
}
