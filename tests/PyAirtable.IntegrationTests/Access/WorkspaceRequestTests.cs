using Dapper;
using Google.Rpc;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Events;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Identity;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Access;

/// <summary>
/// The workspace RPCs' answers and events field by field, what each needs of the caller, and workspaces whose
/// tree entry outlived their row (a create whose commit failed after the Permission service registered it).
/// </summary>
public sealed class WorkspaceRequestTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task CreateWorkspace_AnswersTheStoredWorkspace_NameTrimmed_AndRecordsItsEvent()
    {
        var owner = await Host.RegisterAsync();
        var ws = Host.Workspaces();

        var created = await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "  Ops  " }, owner.Bearer);
        var workspace = created.Workspace!;
        Assert.Equal(("Ops", "", owner.UserId, PermissionLevel.Owner), (workspace.Name, workspace.Description, workspace.CreatedBy, workspace.MyLevel));
        Assert.NotNull(workspace.CreatedAt);
        Assert.False(string.IsNullOrEmpty(created.ConsistencyToken));
        var read = (await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace.Id }, owner.Bearer)).Workspace!;
        Assert.Equal(workspace, read);

        var withText = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Plans", Description = "Q4 " }, owner.Bearer)).Workspace!;
        Assert.Equal("Q4 ", withText.Description); // descriptions are kept as typed

        var happened = Assert.Single(await OutboxEvents.OfAsync<WorkspaceCreated>(fixture.Database.ConnectionString, workspace.Id));
        Assert.Equal(new WorkspaceCreated { WorkspaceId = workspace.Id, Name = "Ops", Description = "", CreatedBy = owner.UserId }, happened);
    }

    [Fact]
    public async Task UpdateWorkspace_ChangesWhatIsSet_KeepsTheRest_AndAnswersTheCallersLevel()
    {
        var owner = await Host.RegisterAsync();
        var editor = await Host.RegisterAsync();
        var commenter = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Before", Description = "Kept" }, owner.Bearer)).Workspace!;
        editor = await Host.JoinAsync(owner, editor, workspace.Id, PermissionLevel.Edit);
        commenter = await Host.JoinAsync(owner, commenter, workspace.Id, PermissionLevel.Comment);

        var renamed = (await ws.UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Name = " After " }, editor.Bearer)).Workspace!;
        Assert.Equal(("After", "Kept", PermissionLevel.Edit), (renamed.Name, renamed.Description, renamed.MyLevel));
        var described = (await ws.UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Description = "New" }, owner.Bearer)).Workspace!;
        Assert.Equal(("After", "New", PermissionLevel.Owner), (described.Name, described.Description, described.MyLevel));
        Assert.Equal(owner.UserId, described.CreatedBy);

        // Each member sees their own level, in GetWorkspace and in their listing alike.
        Assert.Equal(PermissionLevel.Comment, (await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace.Id }, commenter.Bearer)).Workspace!.MyLevel);
        var listed = (await ws.ListWorkspacesAsync(new ListWorkspacesRequest(), commenter.Bearer)).Workspaces.Single(w => w.Id == workspace.Id);
        Assert.Equal(("After", "New", PermissionLevel.Comment), (listed.Name, listed.Description, listed.MyLevel));

        // Below edit, the member can see it but not change it.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await ws.UpdateWorkspaceAsync(
            new UpdateWorkspaceRequest { WorkspaceId = workspace.Id, Name = "Mine" }, commenter.Bearer)), StatusCode.PermissionDenied);

        Assert.Equal(
            [
                new WorkspaceUpdated { WorkspaceId = workspace.Id, Name = "After", Description = "Kept" },
                new WorkspaceUpdated { WorkspaceId = workspace.Id, Name = "After", Description = "New" },
            ],
            await OutboxEvents.OfAsync<WorkspaceUpdated>(fixture.Database.ConnectionString, workspace.Id));
    }

    [Fact]
    public async Task UpdateWorkspace_NamesEachInvalidField_BeforeLookingAtTheWorkspace()
    {
        var stranger = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var missing = Guid.NewGuid().ToString();

        async Task<string[]> FieldsOf(UpdateWorkspaceRequest request)
        {
            var ex = await Assert.ThrowsAsync<RpcException>(async () => await ws.UpdateWorkspaceAsync(request, stranger.Bearer));
            AssertStatus(ex, StatusCode.InvalidArgument);
            return [.. ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field).Order(StringComparer.Ordinal)];
        }

        Assert.Equal(["name"], await FieldsOf(new UpdateWorkspaceRequest { WorkspaceId = missing }));
        Assert.Equal(["name"], await FieldsOf(new UpdateWorkspaceRequest { WorkspaceId = missing, Name = "   " }));
        Assert.Equal(["description"], await FieldsOf(new UpdateWorkspaceRequest { WorkspaceId = missing, Description = new string('d', 1001) }));
        Assert.Equal(["workspace_id"], await FieldsOf(new UpdateWorkspaceRequest { WorkspaceId = "nope", Name = "x" }));

        // A valid request on a workspace the caller cannot see: NOT_FOUND, as for one that does not exist.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await ws.UpdateWorkspaceAsync(
            new UpdateWorkspaceRequest { WorkspaceId = missing, Description = new string('d', 1000) }, stranger.Bearer)), StatusCode.NotFound);
    }

    [Fact]
    public async Task DeleteWorkspace_NeedsOwner_AndRecordsItsEvent()
    {
        var owner = await Host.RegisterAsync();
        var editor = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Doomed" }, owner.Bearer)).Workspace!;
        editor = await Host.JoinAsync(owner, editor, workspace.Id, PermissionLevel.Create);

        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.DeleteWorkspaceAsync(new DeleteWorkspaceRequest { WorkspaceId = workspace.Id }, editor.Bearer)), StatusCode.PermissionDenied);
        Assert.Equal("Doomed", (await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace.Id }, editor.Bearer)).Workspace!.Name);
        foreach (var call in new Func<Task>[]
        {
            async () => await ws.DeleteWorkspaceAsync(new DeleteWorkspaceRequest { WorkspaceId = "x" }, owner.Bearer),
            async () => await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = "x" }, owner.Bearer),
        })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(call);
            AssertStatus(ex, StatusCode.InvalidArgument);
            Assert.Equal("workspace_id", ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        }


        var deleted = await ws.DeleteWorkspaceAsync(new DeleteWorkspaceRequest { WorkspaceId = workspace.Id }, owner.Bearer);
        Assert.False(string.IsNullOrEmpty(deleted.ConsistencyToken));
        Assert.Equal([new WorkspaceDeleted { WorkspaceId = workspace.Id }],
            await OutboxEvents.OfAsync<WorkspaceDeleted>(fixture.Database.ConnectionString, workspace.Id));
        Assert.Empty((await ws.ListWorkspacesAsync(new ListWorkspacesRequest(), editor.Bearer)).Workspaces);
    }

    [Fact]
    public async Task AWorkspaceWithoutItsRow_IsNotFound_AndListingsPageOverIt()
    {
        var owner = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var ids = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            ids.Add((await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "W" + i }, owner.Bearer)).Workspace!.Id);
        }

        // The second and fifth in id order lose their row, as when a create's commit fails after the Permission
        // service registered the workspace: the first page's first batch (page size + 1 ids) then holds one row short.
        var sorted = ids.Order(StringComparer.Ordinal).ToList();
        string[] gone = [sorted[1], sorted[4]];
        await using (var connection = new NpgsqlConnection(fixture.Database.ConnectionString))
        {
            await connection.ExecuteAsync("DELETE FROM workspaces.workspaces WHERE id = ANY(@ids)", new { ids = gone.Select(Guid.Parse).ToArray() });
        }

        foreach (var id in gone)
        {
            Assert.Equal("workspace", AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
                await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = id }, owner.Bearer)), StatusCode.NotFound).Metadata["resource_type"]);
            Assert.Equal("workspace", AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
                await ws.UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = id, Name = "Back" }, owner.Bearer)), StatusCode.NotFound).Metadata["resource_type"]);
        }

        var pages = new List<(List<string> Ids, bool HasNext)>();
        string? cursor = null;
        do
        {
            var page = await ws.ListWorkspacesAsync(new ListWorkspacesRequest { Pagination = new PaginationRequest { PageSize = 2, Cursor = cursor } }, owner.Bearer);
            pages.Add((page.Workspaces.Select(w => w.Id).ToList(), page.Pagination!.HasNext));
            cursor = page.Pagination.HasNext ? page.Pagination.NextCursor : null;
        }
        while (cursor is not null && pages.Count < 5);

        Assert.Equal([sorted[0], sorted[2]], pages[0].Ids);
        Assert.True(pages[0].HasNext);
        Assert.Equal([sorted[3], sorted[5]], pages[1].Ids);
        Assert.Equal(2, pages.Count);
    }

    [Fact]
    public async Task ListWorkspaces_CursorsBelongToTheirCaller()
    {
        var owner = await Host.RegisterAsync();
        var member = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var id = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Shared " + i }, owner.Bearer)).Workspace!.Id;
            member = await Host.JoinAsync(owner, member, id, PermissionLevel.Read);
            ids.Add(id);
        }

        var first = await ws.ListWorkspacesAsync(new ListWorkspacesRequest { Pagination = new PaginationRequest { PageSize = 1 } }, owner.Bearer);
        Assert.Equal([ids.Order(StringComparer.Ordinal).First()], first.Workspaces.Select(w => w.Id));
        var next = new ListWorkspacesRequest { Pagination = new PaginationRequest { PageSize = 1, Cursor = first.Pagination!.NextCursor } };

        // The same workspaces, in the same order, but another caller's listing: their cursor is refused.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await ws.ListWorkspacesAsync(next, member.Bearer)), StatusCode.InvalidArgument);
        Assert.Equal([ids.Order(StringComparer.Ordinal).ElementAt(1)], (await ws.ListWorkspacesAsync(next, owner.Bearer)).Workspaces.Select(w => w.Id));
    }

    [Fact]
    public async Task APlatformService_IsRefusedByEveryWorkspaceRpc_WorkspacesBelongToUsers()
    {
        var owner = await Host.RegisterAsync();
        var member = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Users only" }, owner.Bearer)).Workspace!.Id;
        member = await Host.JoinAsync(owner, member, workspace, PermissionLevel.Read);
        var baseId = (await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace, Name = "B" }, owner.Bearer)).Base!.Id;
        var invitation = (await ws.InviteMemberAsync(new InviteMemberRequest { WorkspaceId = workspace, Email = Identities.NewEmail(), Level = PermissionLevel.Read }, owner.Bearer)).Invitation!.Id;
        var issuer = Host.App.Services.GetRequiredService<IServiceTokenIssuer>();
        var authorization = await issuer.AuthorizationAsync("auth", [Scopes.WorkspacesRead, Scopes.WorkspacesWrite], default);
        var asService = new CallContext(new CallOptions(new Metadata { { "authorization", authorization } }));

        // A service token holds the scopes but is no user: refused before anything is looked up or changed. (Left to
        // the Permission service, the calls that begin with a permission check would answer INVALID_ARGUMENT on user_id,
        // and ListMembers would answer: ListPermissions lets privileged callers, services included, list any resource.)
        foreach (var call in new Func<Task>[]
        {
            async () => await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Theirs" }, asService),
            async () => await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace }, asService),
            async () => await ws.ListWorkspacesAsync(new ListWorkspacesRequest(), asService),
            async () => await ws.UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = workspace, Name = "Renamed" }, asService),
            async () => await ws.DeleteWorkspaceAsync(new DeleteWorkspaceRequest { WorkspaceId = workspace }, asService),
            async () => await ws.AddMemberAsync(new AddMemberRequest { WorkspaceId = workspace, UserId = owner.UserId, Level = PermissionLevel.Read }, asService),
            async () => await ws.InviteMemberAsync(new InviteMemberRequest { WorkspaceId = workspace, Email = Identities.NewEmail(), Level = PermissionLevel.Read }, asService),
            async () => await ws.AcceptInviteAsync(new AcceptInviteRequest { InvitationId = invitation }, asService),
            async () => await ws.LeaveWorkspaceAsync(new LeaveWorkspaceRequest { WorkspaceId = workspace }, asService),
            async () => await ws.RemoveMemberAsync(new RemoveMemberRequest { WorkspaceId = workspace, UserId = member.UserId }, asService),
            async () => await ws.ChangeMemberRoleAsync(new ChangeMemberRoleRequest { WorkspaceId = workspace, UserId = member.UserId, Level = PermissionLevel.Edit }, asService),
            async () => await ws.ListMembersAsync(new ListMembersRequest { WorkspaceId = workspace }, asService),
            async () => await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace, Name = "Theirs" }, asService),
            async () => await ws.GetBaseAsync(new GetBaseRequest { BaseId = baseId }, asService),
            async () => await ws.ListBasesAsync(new ListBasesRequest { WorkspaceId = workspace }, asService),
            async () => await ws.RenameBaseAsync(new RenameBaseRequest { BaseId = baseId, Name = "Renamed" }, asService),
            async () => await ws.DeleteBaseAsync(new DeleteBaseRequest { BaseId = baseId }, asService),
        })
        {
            var refused = await Assert.ThrowsAsync<RpcException>(call);
            AssertStatus(refused, StatusCode.PermissionDenied);
            Assert.Equal("Workspaces belong to users.", refused.Status.Detail);
        }

        var after = (await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace }, member.Bearer)).Workspace!;
        Assert.Equal(("Users only", PermissionLevel.Read), (after.Name, after.MyLevel));
        Assert.Equal("B", (await ws.GetBaseAsync(new GetBaseRequest { BaseId = baseId }, member.Bearer)).Base!.Name);
    }
}
