using Dapper;
using Grpc.Core;
using Npgsql;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Users;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.Contracts.Events;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Access;

/// <summary>Workspaces, members and bases through real gRPC calls, every step checked by the Permission service.</summary>
public sealed class WorkspaceTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task WorkspaceLifecycle_MembersBasesAndWhatEachCanSee()
    {
        var owner = await Host.RegisterAsync();
        var reader = await Host.RegisterAsync();
        var stranger = await Host.RegisterAsync();
        var ws = Host.Workspaces();

        var created = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Marketing", Description = "Q4" }, owner.Bearer)).Workspace!;
        Assert.Equal(PermissionLevel.Owner, created.MyLevel);
        reader = await Host.JoinAsync(owner, reader, created.Id, PermissionLevel.Read);
        var baseA = (await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = created.Id, Name = "Campaigns" }, owner.Bearer)).Base!;
        var baseB = (await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = created.Id, Name = "Budget" }, owner.Bearer)).Base!;

        // The reader sees the workspace and both bases, at read.
        var seen = await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = created.Id }, reader.Bearer);
        Assert.Equal(PermissionLevel.Read, seen.Workspace!.MyLevel);
        Assert.Equal([baseA.Id, baseB.Id], (await ws.ListBasesAsync(new ListBasesRequest { WorkspaceId = created.Id }, reader.Bearer)).Bases.Select(b => b.Id).Order());
        Assert.Contains(created.Id, (await ws.ListWorkspacesAsync(new ListWorkspacesRequest(), reader.Bearer)).Workspaces.Select(w => w.Id));

        // …but cannot change anything: PERMISSION_DENIED, since they can see it.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.UpdateWorkspaceAsync(new UpdateWorkspaceRequest { WorkspaceId = created.Id, Name = "Mine now" }, reader.Bearer)), StatusCode.PermissionDenied);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.CreateBaseAsync(new CreateBaseRequest { WorkspaceId = created.Id, Name = "x" }, reader.Bearer)), StatusCode.PermissionDenied);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.RenameBaseAsync(new RenameBaseRequest { BaseId = baseA.Id, Name = "x" }, reader.Bearer)), StatusCode.PermissionDenied);

        // A more specific grant overrides the workspace's: "none" on one base hides it from the reader.
        await Host.Permissions().GrantAsync(new GrantRequest { Resource = Ref(ResourceType.Base, baseB.Id), UserId = reader.UserId, Level = PermissionLevel.None }, owner.Bearer);
        Assert.Equal([baseA.Id], (await ws.ListBasesAsync(new ListBasesRequest { WorkspaceId = created.Id }, reader.Bearer)).Bases.Select(b => b.Id));
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.GetBaseAsync(new GetBaseRequest { BaseId = baseB.Id }, reader.Bearer)), StatusCode.NotFound);

        // A stranger cannot tell the workspace or its bases from ids that do not exist.
        foreach (var call in new Func<Task>[]
        {
            async () => await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = created.Id }, stranger.Bearer),
            async () => await ws.GetBaseAsync(new GetBaseRequest { BaseId = baseA.Id }, stranger.Bearer),
            async () => await ws.ListBasesAsync(new ListBasesRequest { WorkspaceId = created.Id }, stranger.Bearer),
            async () => await ws.ListMembersAsync(new ListMembersRequest { WorkspaceId = created.Id }, stranger.Bearer),
            async () => await ws.DeleteWorkspaceAsync(new DeleteWorkspaceRequest { WorkspaceId = created.Id }, stranger.Bearer),
            async () => await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = Guid.NewGuid().ToString() }, stranger.Bearer),
        })
        {
            AssertStatus(await Assert.ThrowsAsync<RpcException>(call), StatusCode.NotFound);
        }

        Assert.DoesNotContain(created.Id, (await ws.ListWorkspacesAsync(new ListWorkspacesRequest(), stranger.Bearer)).Workspaces.Select(w => w.Id));

        // Members read each other's public profiles (no e-mail address); strangers see nothing.
        var profile = (await Host.Users().GetUserAsync(new GetUserRequest { UserId = owner.UserId }, reader.Bearer)).User!;
        Assert.False(string.IsNullOrEmpty(profile.DisplayName));
        Assert.Equal("", profile.Email);
        Assert.Equal(owner.Email, (await Host.Users().GetUserAsync(new GetUserRequest { UserId = owner.UserId }, owner.Bearer)).User!.Email);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Users().GetUserAsync(new GetUserRequest { UserId = owner.UserId }, stranger.Bearer)), StatusCode.NotFound);

        var members = await ws.ListMembersAsync(new ListMembersRequest { WorkspaceId = created.Id }, reader.Bearer);
        Assert.Equal(new[] { owner.UserId, reader.UserId }.Order(), members.Members.Select(m => m.UserId).Order());

        // Deleting removes it for everybody, members and grants included; it is not recoverable.
        await ws.DeleteWorkspaceAsync(new DeleteWorkspaceRequest { WorkspaceId = created.Id }, owner.Bearer);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = created.Id }, owner.Bearer)), StatusCode.NotFound);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.GetBaseAsync(new GetBaseRequest { BaseId = baseA.Id }, owner.Bearer)), StatusCode.NotFound);
        await using var connection = new NpgsqlConnection(fixture.Database.ConnectionString);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM permissions.grants WHERE resource_id = ANY(@ids)",
            new { ids = new[] { Guid.Parse(created.Id), Guid.Parse(baseA.Id), Guid.Parse(baseB.Id) } }));
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM workspaces.bases WHERE workspace_id = @id", new { id = Guid.Parse(created.Id) }));

        var events = (await connection.QueryAsync<string>(
            "SELECT event_type FROM platform.outbox WHERE aggregate_id = ANY(@ids) ORDER BY id", new { ids = new[] { created.Id, baseA.Id, baseB.Id } })).ToList();
        Assert.Equal(
            [
                EventTypes.NameOf<WorkspaceCreated>(), EventTypes.NameOf<MemberInvited>(), EventTypes.NameOf<MemberAdded>(),
                EventTypes.NameOf<BaseCreated>(), EventTypes.NameOf<BaseCreated>(), EventTypes.NameOf<WorkspaceDeleted>(),
            ], events);
    }

    [Fact]
    public async Task LastOwner_CannotBeRemovedOrDemoted_UntilAnotherOwnerExists()
    {
        var owner = await Host.RegisterAsync();
        var other = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Solo" }, owner.Bearer)).Workspace!;

        var remove = await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.RemoveMemberAsync(new RemoveMemberRequest { WorkspaceId = workspace.Id, UserId = owner.UserId }, owner.Bearer));
        Assert.Equal("last_owner", AssertStatus(remove, StatusCode.FailedPrecondition).Metadata["rule"]);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.ChangeMemberRoleAsync(new ChangeMemberRoleRequest { WorkspaceId = workspace.Id, UserId = owner.UserId, Level = PermissionLevel.Edit }, owner.Bearer)), StatusCode.FailedPrecondition);

        other = await Host.JoinAsync(owner, other, workspace.Id, PermissionLevel.Owner);
        await ws.RemoveMemberAsync(new RemoveMemberRequest { WorkspaceId = workspace.Id, UserId = owner.UserId }, owner.Bearer);

        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace.Id }, owner.Bearer)), StatusCode.NotFound);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.RemoveMemberAsync(new RemoveMemberRequest { WorkspaceId = workspace.Id, UserId = other.UserId }, other.Bearer)), StatusCode.FailedPrecondition);
    }

    [Fact]
    public async Task Invitation_ByEmail_AcceptedByThatUserOnly()
    {
        var owner = await Host.RegisterAsync();
        var invitee = await Host.RegisterAsync();
        var someoneElse = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var workspace = (await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Invites" }, owner.Bearer)).Workspace!;

        var invitation = (await ws.InviteMemberAsync(new InviteMemberRequest { WorkspaceId = workspace.Id, Email = invitee.Email.ToUpperInvariant(), Level = PermissionLevel.Edit }, owner.Bearer)).Invitation!;

        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.AcceptInviteAsync(new AcceptInviteRequest { InvitationId = invitation.Id }, someoneElse.Bearer)), StatusCode.NotFound);
        invitee = await Host.VerifyEmailAsync(invitee);
        var accepted = await ws.AcceptInviteAsync(new AcceptInviteRequest { InvitationId = invitation.Id }, invitee.Bearer);
        Assert.Equal(PermissionLevel.Edit, accepted.Member!.Level);
        Assert.Equal(PermissionLevel.Edit, (await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace.Id }, invitee.Bearer)).Workspace!.MyLevel);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.AcceptInviteAsync(new AcceptInviteRequest { InvitationId = invitation.Id }, invitee.Bearer)), StatusCode.FailedPrecondition);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.InviteMemberAsync(new InviteMemberRequest { WorkspaceId = workspace.Id, Email = "x@example.com", Level = PermissionLevel.Read }, invitee.Bearer)), StatusCode.PermissionDenied);
    }

    [Fact]
    public async Task BadInput_InvalidArgumentWithFields()
    {
        var owner = await Host.RegisterAsync();
        var ws = Host.Workspaces();
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await ws.CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = new string('n', 101), Description = new string('d', 1001) }, owner.Bearer));
        AssertStatus(ex, StatusCode.InvalidArgument);
        Assert.Equal(["description", "name"], ex.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Select(v => v.Field).Order());
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = "' OR 1=1 --" }, owner.Bearer)), StatusCode.InvalidArgument);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await ws.AddMemberAsync(new AddMemberRequest { WorkspaceId = Guid.NewGuid().ToString(), UserId = owner.UserId, Level = PermissionLevel.Unspecified }, owner.Bearer)), StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task PhantomWorkspaces_CannotBeRegisteredByUsers_NorHideRealOnes()
    {
        var attacker = await Host.RegisterAsync();
        var victim = await Host.RegisterAsync();
        var real = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            real.Add((await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "W" + i }, victim.Bearer)).Workspace!.Id);
        }

        // Tree entries with no workspace behind them, sorting before everything, would be phantoms a victim could be
        // invited to: only the Workspaces service registers workspaces, so a user's attempt is refused.
        for (var i = 0; i < 3; i++)
        {
            var phantom = $"00000000-0000-7000-8000-{Random.Shared.NextInt64(0, 0xFFFFFFFFFFFF):x12}";
            AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().RegisterResourceAsync(
                new RegisterResourceRequest { Resource = Ref(ResourceType.Workspace, phantom) }, attacker.Bearer)), StatusCode.PermissionDenied);
        }

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await Host.Workspaces().ListWorkspacesAsync(new ListWorkspacesRequest { Pagination = new() { PageSize = 2, Cursor = cursor } }, victim.Bearer);
            seen.AddRange(page.Workspaces.Select(w => w.Id));
            cursor = page.Pagination!.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal(real.Order(), seen.Order());
    }

    [Fact]
    public async Task RemovingSomeoneWhoIsNotAMember_ChangesNothing_AndEmitsNoEvent()
    {
        var owner = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Quiet" }, owner.Bearer)).Workspace!;
        var nobody = Guid.NewGuid().ToString();

        await Host.Workspaces().RemoveMemberAsync(new RemoveMemberRequest { WorkspaceId = workspace.Id, UserId = nobody }, owner.Bearer);

        await using var connection = new Npgsql.NpgsqlConnection(fixture.Database.ConnectionString);
        var events = (await Dapper.SqlMapper.QueryAsync<string>(connection,
            "SELECT event_type FROM platform.outbox WHERE aggregate_id = @id ORDER BY id", new { id = workspace.Id })).ToList();
        Assert.Equal([EventTypes.NameOf<WorkspaceCreated>()], events);
    }

    [Fact]
    public async Task RemovedMembers_LoseWhatTheyCreatedInTheWorkspace()
    {
        var owner = await Host.RegisterAsync();
        var creator = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Team" }, owner.Bearer)).Workspace!;
        creator = await Host.JoinAsync(owner, creator, workspace.Id, PermissionLevel.Create);
        var baseId = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Mine?" }, creator.Bearer)).Base!.Id;

        await Host.Workspaces().RemoveMemberAsync(new RemoveMemberRequest { WorkspaceId = workspace.Id, UserId = creator.UserId }, owner.Bearer);

        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Workspaces().GetBaseAsync(new GetBaseRequest { BaseId = baseId }, creator.Bearer)), StatusCode.NotFound);
        await Host.Workspaces().GetBaseAsync(new GetBaseRequest { BaseId = baseId }, owner.Bearer); // still the workspace's
    }
}
