using Dapper;
using Google.Rpc;
using Grpc.Core;
using Npgsql;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Access;

/// <summary>The base RPCs' answers and events field by field, the level each needs, and how ListBases pages.</summary>
public sealed class BaseRequestTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task CreateBase_NeedsCreate_AnswersTheStoredBase_NameTrimmed_AndRecordsItsEvent()
    {
        var owner = await Host.RegisterAsync();
        var creator = await Host.RegisterAsync();
        var editor = await Host.RegisterAsync();
        var stranger = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Bases" }, owner.Bearer)).Workspace!;
        creator = await Host.JoinAsync(owner, creator, workspace.Id, PermissionLevel.Create);
        editor = await Host.JoinAsync(owner, editor, workspace.Id, PermissionLevel.Edit);

        var created = await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "  Plans  " }, creator.Bearer);
        var made = created.Base!;
        Assert.Equal(("Plans", workspace.Id, creator.UserId), (made.Name, made.WorkspaceId, made.CreatedBy));
        Assert.NotNull(made.CreatedAt);
        Assert.False(string.IsNullOrEmpty(created.ConsistencyToken));
        Assert.Equal(made, (await ws.GetBaseAsync(new GetBaseRequest { BaseId = made.Id }, owner.Bearer)).Base);
        Assert.Equal([new BaseCreated { BaseId = made.Id, WorkspaceId = workspace.Id, Name = "Plans", CreatedBy = creator.UserId }],
            await OutboxEvents.OfAsync<BaseCreated>(fixture.Database.ConnectionString, made.Id));

        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Edit is not enough" }, editor.Bearer)), StatusCode.PermissionDenied);
        Assert.Equal("workspace", AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Mine" }, stranger.Bearer)), StatusCode.NotFound).Metadata["resource_type"]);
        foreach (var (request, field) in new[]
        {
            (new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "   " }, "name"),
            (new CreateBaseRequest { WorkspaceId = "x", Name = "Fine" }, "workspace_id"),
        })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(async () => await ws.CreateBaseAsync(request, stranger.Bearer));
            AssertStatus(ex, StatusCode.InvalidArgument);
            Assert.Equal(field, ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        }

        Assert.Equal([made.Id], (await ws.ListBasesAsync(new ListBasesRequest { WorkspaceId = workspace.Id }, owner.Bearer)).Bases.Select(b => b.Id));
    }

    [Fact]
    public async Task RenameNeedsEdit_DeleteNeedsOwner_AndEachRecordsItsEvent()
    {
        var owner = await Host.RegisterAsync();
        var editor = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Renames" }, owner.Bearer)).Workspace!;
        editor = await Host.JoinAsync(owner, editor, workspace.Id, PermissionLevel.Edit);
        var baseId = (await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Old" }, owner.Bearer)).Base!.Id;
        Assert.Equal("Old", (await ws.GetBaseAsync(new GetBaseRequest { BaseId = baseId }, editor.Bearer)).Base!.Name);

        foreach (var (request, field) in new[]
        {
            (new RenameBaseRequest { BaseId = baseId, Name = "" }, "name"),
            (new RenameBaseRequest { BaseId = "x", Name = "Fine" }, "base_id"),
        })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(async () => await ws.RenameBaseAsync(request, editor.Bearer));
            AssertStatus(ex, StatusCode.InvalidArgument);
            Assert.Equal(field, ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        }

        var renamed = (await ws.RenameBaseAsync(new RenameBaseRequest { BaseId = baseId, Name = " New " }, editor.Bearer)).Base!;
        Assert.Equal((baseId, workspace.Id, "New", owner.UserId), (renamed.Id, renamed.WorkspaceId, renamed.Name, renamed.CreatedBy));
        Assert.Equal("New", (await ws.GetBaseAsync(new GetBaseRequest { BaseId = baseId }, editor.Bearer)).Base!.Name);
        Assert.Equal([new BaseRenamed { BaseId = baseId, WorkspaceId = workspace.Id, Name = "New" }],
            await OutboxEvents.OfAsync<BaseRenamed>(fixture.Database.ConnectionString, baseId));

        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.DeleteBaseAsync(new DeleteBaseRequest { BaseId = baseId }, editor.Bearer)), StatusCode.PermissionDenied);
        foreach (var (call, field) in new (Func<Task>, string)[]
        {
            (async () => await ws.DeleteBaseAsync(new DeleteBaseRequest { BaseId = "x" }, owner.Bearer), "base_id"),
            (async () => await ws.GetBaseAsync(new GetBaseRequest { BaseId = "x" }, owner.Bearer), "base_id"),
            (async () => await ws.ListBasesAsync(new ListBasesRequest { WorkspaceId = "x" }, owner.Bearer), "workspace_id"),
        })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(call);
            AssertStatus(ex, StatusCode.InvalidArgument);
            Assert.Equal(field, ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        }

        var deleted = await ws.DeleteBaseAsync(new DeleteBaseRequest { BaseId = baseId }, owner.Bearer);
        Assert.False(string.IsNullOrEmpty(deleted.ConsistencyToken));
        Assert.Equal([new BaseDeleted { BaseId = baseId, WorkspaceId = workspace.Id }],
            await OutboxEvents.OfAsync<BaseDeleted>(fixture.Database.ConnectionString, baseId));
        Assert.Equal("base", AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.GetBaseAsync(new GetBaseRequest { BaseId = baseId }, owner.Bearer)), StatusCode.NotFound).Metadata["resource_type"]);
    }

    [Fact]
    public async Task ABaseWithoutItsRow_IsNotFound_ToReadOrRename_ButCanBeDeleted()
    {
        var owner = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Orphans" }, owner.Bearer)).Workspace!;
        var baseId = (await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Gone" }, owner.Bearer)).Base!.Id;

        // As when a create's commit fails after the Permission service registered the base: the entry stays, the row does not.
        await using (var connection = new NpgsqlConnection(fixture.Database.ConnectionString))
        {
            await connection.ExecuteAsync("DELETE FROM workspaces.bases WHERE id = @id", new { id = Guid.Parse(baseId) });
        }

        Assert.Equal("base", AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.GetBaseAsync(new GetBaseRequest { BaseId = baseId }, owner.Bearer)), StatusCode.NotFound).Metadata["resource_type"]);
        Assert.Equal("base", AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.RenameBaseAsync(new RenameBaseRequest { BaseId = baseId, Name = "Back" }, owner.Bearer)), StatusCode.NotFound).Metadata["resource_type"]);
        Assert.Empty((await ws.ListBasesAsync(new ListBasesRequest { WorkspaceId = workspace.Id }, owner.Bearer)).Bases);

        // Its owner can still delete what is left of it: the tree entry.
        await ws.DeleteBaseAsync(new DeleteBaseRequest { BaseId = baseId }, owner.Bearer);
        var check = await Host.Permissions().CheckPermissionAsync(
            new CheckPermissionRequest { Resource = Ref(ResourceType.Base, baseId), Level = PermissionLevel.Read }, owner.Bearer);
        Assert.False(check.Allowed);
        // With the row went the only record of its workspace here: the event names none.
        Assert.Equal([new BaseDeleted { BaseId = baseId, WorkspaceId = "" }], await OutboxEvents.OfAsync<BaseDeleted>(fixture.Database.ConnectionString, baseId));
    }

    [Fact]
    public async Task ListBases_PagesWhatTheCallerMayRead_InIdOrder_WithCursorsOfThatListingOnly()
    {
        var owner = await Host.RegisterAsync();
        var reader = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Many" }, owner.Bearer)).Workspace!;
        var other = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Other" }, owner.Bearer)).Workspace!;
        reader = await Host.JoinAsync(owner, reader, workspace.Id, PermissionLevel.Read);
        reader = await Host.JoinAsync(owner, reader, other.Id, PermissionLevel.Read);
        var ids = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            ids.Add((await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "B" + i }, owner.Bearer)).Base!.Id);
        }

        await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = other.Id, Name = "Elsewhere" }, owner.Bearer);
        var sorted = ids.Order(StringComparer.Ordinal).ToList();
        await Host.Permissions().GrantAsync(new GrantRequest { Resource = Ref(ResourceType.Base, sorted[2]), UserId = reader.UserId, Level = PermissionLevel.None }, owner.Bearer);
        var visible = sorted.Where(id => id != sorted[2]).ToList();

        var pages = new List<ListBasesResponse>();
        string? cursor = null;
        do
        {
            var page = await ws.ListBasesAsync(new ListBasesRequest { WorkspaceId = workspace.Id, Pagination = new PaginationRequest { PageSize = 2, Cursor = cursor } }, reader.Bearer);
            pages.Add(page);
            cursor = page.Pagination!.HasNext ? page.Pagination.NextCursor : null;
        }
        while (cursor is not null && pages.Count < 5);

        Assert.Equal([visible[..2], visible[2..4], visible[4..]], pages.Select(p => p.Bases.Select(b => b.Id).ToList()));
        Assert.Equal([true, true, false], pages.Select(p => p.Pagination!.HasNext));
        Assert.All(pages, p => Assert.Equal(5, p.Pagination!.TotalCount));
        Assert.All(pages.SelectMany(p => p.Bases), b => Assert.Equal(workspace.Id, b.WorkspaceId));

        // The reader's cursor is theirs, in this workspace: the owner's listing and another workspace's refuse it.
        var readersCursor = pages[0].Pagination!.NextCursor;
        foreach (var (workspaceId, caller) in new[] { (workspace.Id, owner), (other.Id, reader) })
        {
            AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await ws.ListBasesAsync(new ListBasesRequest
            {
                WorkspaceId = workspaceId, Pagination = new PaginationRequest { PageSize = 2, Cursor = readersCursor },
            }, caller.Bearer)), StatusCode.InvalidArgument);
        }
    }
}
