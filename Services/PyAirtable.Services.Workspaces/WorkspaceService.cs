using Dapper;
using Npgsql;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Users;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.Services.Infrastructure.Errors;
using PyAirtable.Services.Infrastructure.Identity;
using PyAirtable.Contracts.Events;
using PyAirtable.Services.Infrastructure.Events;
using PyAirtable.Services.Infrastructure.Pagination;
using PyAirtable.Services.Infrastructure.Requests;
using CallContext = ProtoBuf.Grpc.CallContext;

namespace PyAirtable.Services.Workspaces;

/// <summary>
/// pyairtable.workspaces.v1.WorkspaceService over the <c>workspaces</c> schema. Who may do what is asked
/// of IPermissionService with the caller's own context (in process or on another host alike), before any
/// data is touched. Creating and deleting write the row in a transaction that commits only after the
/// Permission service's write succeeded, finishing even if the caller goes away meanwhile.
/// </summary>
/// <remarks>
/// Nobody becomes a member without consent: AddMember makes an invitation addressed to the user, who accepts
/// or declines it; members leave with LeaveWorkspace. The invited user id is checked with the User service as
/// this service (a service token minted by the Auth service on this host), so owners learn only whether an id
/// they typed is a user — never a profile.
/// </remarks>
public sealed partial class WorkspaceService(
    NpgsqlDataSource db, IPermissionService permissions, CursorCodec cursors, IUserService users, IServiceTokenIssuer? serviceTokens = null) : IWorkspaceService
{
    private const string ServiceName = "workspaces";
    private static readonly string[] ServiceScopes = [Scopes.UsersRead];
    private const int MaxDescription = 1000;
    private const string WorkspacesAreUsers = "Workspaces belong to users.";
    private const string WorkspaceColumns = "id AS Id, name AS Name, description AS Description, created_by AS CreatedBy, created_at AS CreatedAt, updated_at AS UpdatedAt";
    private const string BaseColumns = "id AS Id, workspace_id AS WorkspaceId, name AS Name, created_by AS CreatedBy, created_at AS CreatedAt, updated_at AS UpdatedAt";

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
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var row = await connection.QuerySingleAsync<WorkspaceRow>(new CommandDefinition(
            $"INSERT INTO workspaces.workspaces (id, name, description, created_by) VALUES (@id, @name, @description, @by) RETURNING {WorkspaceColumns}",
            new { id, name = request.Name.Trim(), description = request.Description ?? "", by = Guid.Parse(caller.UserId) }, tx, cancellationToken: ct));
        var workspace = row.ToContract(PermissionLevel.Owner);
        var registered = await permissions.RegisterResourceAsync(new RegisterResourceRequest { Resource = Ref(ResourceType.Workspace, id) }, context);
        // Once the remote write is done, finish regardless of the caller going away (the outbox's ordering lock
        // is held from here to the commit only).
        await Outbox.EnqueueAsync(tx, new WorkspaceCreated
        {
            WorkspaceId = workspace.Id, Name = workspace.Name, Description = workspace.Description, CreatedBy = workspace.CreatedBy,
        }, Origin(context), CancellationToken.None);
        await tx.CommitAsync(CancellationToken.None);
        return new CreateWorkspaceResponse { Workspace = workspace, ConsistencyToken = registered.ConsistencyToken };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<GetWorkspaceResponse> GetWorkspaceAsync(GetWorkspaceRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("workspace_id", request.WorkspaceId);
        var level = await RequireAsync(context, ResourceType.Workspace, id, PermissionLevel.Read);
        var row = await ReadWorkspaceAsync(id, context.CancellationToken);
        return new GetWorkspaceResponse { Workspace = row.ToContract(level) };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<ListWorkspacesResponse> ListWorkspacesAsync(ListWorkspacesRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(WorkspacesAreUsers);
        var scope = "workspaces.list:" + caller.UserId;
        var page = PageRequest.From(request.Pagination, cursors, scope, defaultPageSize: 50, maxPageSize: 500);
        var reachable = new SortedDictionary<Guid, PermissionLevel>();
        await foreach (var item in permissions.LookupResourcesAsync(new LookupResourcesRequest { Type = ResourceType.Workspace, Level = PermissionLevel.Read }, context))
        {
            reachable[Guid.Parse(item.Resource!.Id)] = item.Level;
        }

        // Walk the reachable ids after the cursor, skipping any without a row (a tree entry whose workspace
        // was never committed), until the page plus one is full.
        var after = page.After is { Count: 1 } a ? Guid.Parse(a[0]) : Guid.Empty;
        var pending = reachable.Keys.Where(k => k.CompareTo(after) > 0).ToList();
        var rows = new List<WorkspaceRow>();
        await using (var connection = await db.OpenConnectionAsync(context.CancellationToken))
        {
            for (var offset = 0; offset < pending.Count && rows.Count <= page.PageSize; offset += page.PageSize + 1)
            {
                var ids = pending.Skip(offset).Take(page.PageSize + 1).ToArray();
                rows.AddRange(await connection.QueryAsync<WorkspaceRow>(new CommandDefinition(
                    $"SELECT {WorkspaceColumns} FROM workspaces.workspaces WHERE id = ANY(@ids) ORDER BY id", new { ids }, cancellationToken: context.CancellationToken)));
            }
        }

        var (items, pagination) = page.Complete(rows.Take(page.PageSize + 1).ToList(), reachable.Count, r => [r.Id.ToString()], cursors, scope);
        return new ListWorkspacesResponse { Workspaces = items.Select(r => r.ToContract(reachable[r.Id])).ToList(), Pagination = pagination };
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
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<WorkspaceRow>(new CommandDefinition(
            $"""
            UPDATE workspaces.workspaces SET name = coalesce(@name, name), description = coalesce(@description, description), updated_at = now()
             WHERE id = @id RETURNING {WorkspaceColumns}
            """, new { id, name = request.Name?.Trim(), description = request.Description }, tx, cancellationToken: ct));
        if (row is null)
        {
            Fail.NotFound("workspace", request.WorkspaceId);
        }

        var workspace = row.ToContract(level);
        await Outbox.EnqueueAsync(tx, new WorkspaceUpdated { WorkspaceId = workspace.Id, Name = workspace.Name, Description = workspace.Description }, Origin(context), ct);
        await tx.CommitAsync(ct);
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
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM workspaces.workspaces WHERE id = @id", new { id }, tx, cancellationToken: ct));
        var deleted = await permissions.DeleteResourceAsync(new DeleteResourceRequest { Resource = Ref(ResourceType.Workspace, id) }, context);
        await Outbox.EnqueueAsync(tx, new WorkspaceDeleted { WorkspaceId = id.ToString() }, Origin(context), CancellationToken.None);
        await tx.CommitAsync(CancellationToken.None);
        return new DeleteWorkspaceResponse { ConsistencyToken = deleted.ConsistencyToken };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<CreateBaseResponse> CreateBaseAsync(CreateBaseRequest request, CallContext context = default)
    {
        var caller = context.RequireUser(WorkspacesAreUsers);
        var workspace = Validation.Id("workspace_id", request.WorkspaceId);
        new RequestValidator().Name("name", request.Name).ThrowIfInvalid();
        await RequireAsync(context, ResourceType.Workspace, workspace, PermissionLevel.Create);
        var id = Guid.CreateVersion7();
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var row = await connection.QuerySingleAsync<BaseRow>(new CommandDefinition(
            $"INSERT INTO workspaces.bases (id, workspace_id, name, created_by) VALUES (@id, @workspace, @name, @by) RETURNING {BaseColumns}",
            new { id, workspace, name = request.Name.Trim(), by = Guid.Parse(caller.UserId) }, tx, cancellationToken: ct));
        var created = row.ToContract();
        var registered = await permissions.RegisterResourceAsync(new RegisterResourceRequest { Resource = Ref(ResourceType.Base, id), Parent = Ref(ResourceType.Workspace, workspace) }, context);
        await Outbox.EnqueueAsync(tx, new BaseCreated { BaseId = created.Id, WorkspaceId = created.WorkspaceId, Name = created.Name, CreatedBy = created.CreatedBy },
            Origin(context), CancellationToken.None);
        await tx.CommitAsync(CancellationToken.None);
        return new CreateBaseResponse { Base = created, ConsistencyToken = registered.ConsistencyToken };
    }

    [RequiresScope(Scopes.WorkspacesRead)]
    public async ValueTask<GetBaseResponse> GetBaseAsync(GetBaseRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("base_id", request.BaseId);
        await RequireAsync(context, ResourceType.Base, id, PermissionLevel.Read);
        return new GetBaseResponse { Base = (await ReadBaseAsync(id, context.CancellationToken)).ToContract() };
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
        await using var connection = await db.OpenConnectionAsync(ct);
        var all = (await connection.QueryAsync<BaseRow>(new CommandDefinition(
            $"SELECT {BaseColumns} FROM workspaces.bases WHERE workspace_id = @workspace ORDER BY id", new { workspace }, cancellationToken: ct))).ToList();
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
        var (items, pagination) = page.Complete(visible.Where(b => b.Id.CompareTo(after) > 0).Take(page.PageSize + 1).ToList(), visible.Count, b => [b.Id.ToString()], cursors, scope);
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
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<BaseRow>(new CommandDefinition(
            $"UPDATE workspaces.bases SET name = @name, updated_at = now() WHERE id = @id RETURNING {BaseColumns}", new { id, name = request.Name.Trim() }, tx, cancellationToken: ct));
        if (row is null)
        {
            Fail.NotFound("base", request.BaseId);
        }

        var renamed = row.ToContract();
        await Outbox.EnqueueAsync(tx, new BaseRenamed { BaseId = renamed.Id, WorkspaceId = renamed.WorkspaceId, Name = renamed.Name }, Origin(context), ct);
        await tx.CommitAsync(ct);
        return new RenameBaseResponse { Base = renamed };
    }

    [RequiresScope(Scopes.WorkspacesWrite)]
    public async ValueTask<DeleteBaseResponse> DeleteBaseAsync(DeleteBaseRequest request, CallContext context = default)
    {
        context.RequireUser(WorkspacesAreUsers);
        var id = Validation.Id("base_id", request.BaseId);
        await RequireAsync(context, ResourceType.Base, id, PermissionLevel.Owner);
        var ct = context.CancellationToken;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var workspaceId = await connection.ExecuteScalarAsync<Guid?>(new CommandDefinition(
            "DELETE FROM workspaces.bases WHERE id = @id RETURNING workspace_id", new { id }, tx, cancellationToken: ct));
        var deleted = await permissions.DeleteResourceAsync(new DeleteResourceRequest { Resource = Ref(ResourceType.Base, id) }, context);
        await Outbox.EnqueueAsync(tx, new BaseDeleted { BaseId = id.ToString(), WorkspaceId = workspaceId?.ToString() ?? "" }, Origin(context), CancellationToken.None);
        await tx.CommitAsync(CancellationToken.None);
        return new DeleteBaseResponse { ConsistencyToken = deleted.ConsistencyToken };
    }

    // ------------------------------------------------------------------------------------------------

    /// <summary>NOT_FOUND when the caller cannot read the resource, PERMISSION_DENIED when they can but lack the level.</summary>
    private async Task<PermissionLevel> RequireAsync(CallContext context, ResourceType type, Guid id, PermissionLevel level)
    {
        var check = await permissions.CheckPermissionAsync(new CheckPermissionRequest { Resource = Ref(type, id), Level = level }, context);
        if (check.EffectiveLevel < PermissionLevel.Read)
        {
            Fail.NotFound(type.ToString().ToLowerInvariant(), id.ToString());
        }

        if (!check.Allowed)
        {
            Fail.PermissionDenied($"This needs {level.ToString().ToLowerInvariant()} on the {type.ToString().ToLowerInvariant()}; you have {check.EffectiveLevel.ToString().ToLowerInvariant()}.");
        }

        return check.EffectiveLevel;
    }

    private Task<PermissionLevel> ExistsAsync(CallContext context, Guid workspace) => RequireAsync(context, ResourceType.Workspace, workspace, PermissionLevel.Read);

    private async Task<WorkspaceRow> ReadWorkspaceAsync(Guid id, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<WorkspaceRow>(new CommandDefinition(
            $"SELECT {WorkspaceColumns} FROM workspaces.workspaces WHERE id = @id", new { id }, cancellationToken: ct));
        if (row is null)
        {
            Fail.NotFound("workspace", id.ToString());
        }

        return row;
    }

    private async Task<BaseRow> ReadBaseAsync(Guid id, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<BaseRow>(new CommandDefinition(
            $"SELECT {BaseColumns} FROM workspaces.bases WHERE id = @id", new { id }, cancellationToken: ct));
        if (row is null)
        {
            Fail.NotFound("base", id.ToString());
        }

        return row;
    }

    /// <summary>
    /// Runs a Permission-service write, then records its event (a failed write leaves no event; once the write
    /// is done the event is written even if the caller has gone). A crash between the two can still lose the
    /// event: the two services keep separate transactions.
    /// </summary>
    private async Task<TResult> WithEventAsync<TResult, TEvent>(CallContext context, Func<Task<(TResult, TEvent?)>> write)
        where TEvent : class, IDomainEvent
    {
        var (result, domainEvent) = await write();
        if (domainEvent is not null)
        {
            // The write happened: record it whatever the caller does now.
            await using var connection = await db.OpenConnectionAsync(CancellationToken.None);
            await using var tx = await connection.BeginTransactionAsync(CancellationToken.None);
            await Outbox.EnqueueAsync(tx, domainEvent, Origin(context), CancellationToken.None);
            await tx.CommitAsync(CancellationToken.None);
        }

        return result;
    }

    private static EventOrigin Origin(CallContext context) => EventOrigin.Of<IWorkspaceService>(context);

    private static ResourceRef Ref(ResourceType type, Guid id) => new() { Type = type, Id = id.ToString() };

    private sealed record WorkspaceRow
    {
        public Guid Id { get; init; }
        public string Name { get; init; } = "";
        public string Description { get; init; } = "";
        public Guid CreatedBy { get; init; }
        public DateTime CreatedAt { get; init; }
        public DateTime UpdatedAt { get; init; }

        public Workspace ToContract(PermissionLevel level) => new()
        {
            Id = Id.ToString(), Name = Name, Description = Description, CreatedBy = CreatedBy.ToString(),
            CreatedAt = CreatedAt, UpdatedAt = UpdatedAt, MyLevel = level,
        };
    }

    private sealed record BaseRow
    {
        public Guid Id { get; init; }
        public Guid WorkspaceId { get; init; }
        public string Name { get; init; } = "";
        public Guid CreatedBy { get; init; }
        public DateTime CreatedAt { get; init; }
        public DateTime UpdatedAt { get; init; }

        public Base ToContract() => new()
        {
            Id = Id.ToString(), WorkspaceId = WorkspaceId.ToString(), Name = Name, CreatedBy = CreatedBy.ToString(),
            CreatedAt = CreatedAt, UpdatedAt = UpdatedAt,
        };
    }
}
