using Grpc.Core;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.Contracts.Events;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Access;

/// <summary>Defects a review of the access services found, pinned by tests.</summary>
public sealed class AccessReviewFindingsTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task ApiKeyScopes_LimitWorkspaceCalls()
    {
        var user = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Scoped" }, user.Bearer)).Workspace!;
        var usersOnly = (await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "u", Scopes = [Scopes.UsersRead] }, user.Bearer)).Secret;
        var readOnly = (await Host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "r", Scopes = [Scopes.WorkspacesRead] }, user.Bearer)).Secret;

        var denied = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Workspaces().DeleteWorkspaceAsync(new DeleteWorkspaceRequest { WorkspaceId = workspace.Id }, Identities.WithApiKey(usersOnly)));
        Assert.Equal(Scopes.WorkspacesWrite, AssertStatus(denied, StatusCode.PermissionDenied).Metadata["required_scope"]);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().GrantAsync(
            new GrantRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), UserId = Guid.NewGuid().ToString(), Level = PermissionLevel.Owner },
            Identities.WithApiKey(readOnly))), StatusCode.PermissionDenied);

        await using (var ids = (IAsyncDisposable)Host.Permissions().LookupResourcesAsync(
            new LookupResourcesRequest { Type = ResourceType.Workspace, Level = PermissionLevel.Read }, Identities.WithApiKey(usersOnly)).GetAsyncEnumerator())
        {
            AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await ((IAsyncEnumerator<LookupResourcesResponse>)ids).MoveNextAsync()), StatusCode.PermissionDenied);
        }

        var read = await Host.Workspaces().GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace.Id }, Identities.WithApiKey(readOnly));
        Assert.Equal(workspace.Id, read.Workspace!.Id);
    }

    [Fact]
    public async Task Checks_DoNotTellMissingIdsFromForbiddenOnes()
    {
        var owner = await Host.RegisterAsync();
        var outsider = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Secret" }, owner.Bearer)).Workspace!;

        var existing = await Host.Permissions().CheckPermissionAsync(new CheckPermissionRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.Read }, outsider.Bearer);
        var missing = await Host.Permissions().CheckPermissionAsync(new CheckPermissionRequest { Resource = Ref(ResourceType.Workspace, Guid.NewGuid().ToString()), Level = PermissionLevel.Read }, outsider.Bearer);
        Assert.Equal((existing.Allowed, existing.EffectiveLevel, existing.Reason), (missing.Allowed, missing.EffectiveLevel, missing.Reason));

        // "At least none" would be true exactly for the ids that exist: not a question one may ask.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().CheckPermissionAsync(
            new CheckPermissionRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.None }, outsider.Bearer)), StatusCode.InvalidArgument);
        await using var stream = (IAsyncDisposable)Host.Permissions().LookupResourcesAsync(new LookupResourcesRequest { Type = ResourceType.Base, Level = PermissionLevel.None }, outsider.Bearer).GetAsyncEnumerator();
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await ((IAsyncEnumerator<LookupResourcesResponse>)stream).MoveNextAsync()), StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task DeletedIds_CannotBeRegisteredAgain()
    {
        var owner = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Gone" }, owner.Bearer)).Workspace!;
        var baseId = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "B" }, owner.Bearer)).Base!.Id;
        var mine = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Mine" }, owner.Bearer)).Workspace!;

        // Moving a base out of its workspace by deleting its tree entry and registering it elsewhere: refused.
        await Host.Permissions().DeleteResourceAsync(new DeleteResourceRequest { Resource = Ref(ResourceType.Base, baseId) }, owner.Bearer);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().RegisterResourceAsync(
            new RegisterResourceRequest { Resource = Ref(ResourceType.Base, baseId), Parent = Ref(ResourceType.Workspace, mine.Id) }, owner.Bearer)), StatusCode.AlreadyExists);

        // Reviving a deleted workspace by registering its id: refused.
        await Host.Workspaces().DeleteWorkspaceAsync(new DeleteWorkspaceRequest { WorkspaceId = workspace.Id }, owner.Bearer);
        var stranger = await Host.RegisterAsync();
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().RegisterResourceAsync(
            new RegisterResourceRequest { Resource = Ref(ResourceType.Workspace, workspace.Id) }, stranger.Bearer)), StatusCode.AlreadyExists);
    }

    [Fact]
    public async Task PhantomWorkspaces_DoNotHideRealOnesFromTheList()
    {
        var attacker = await Host.RegisterAsync();
        var victim = await Host.RegisterAsync();
        var real = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            real.Add((await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "W" + i }, victim.Bearer)).Workspace!.Id);
        }

        // Tree entries with no workspace behind them, joined by the victim (membership needs their consent now:
        // they accept invitations to them), sorting before everything.
        victim = await Host.VerifyEmailAsync(victim);
        for (var i = 0; i < 3; i++)
        {
            var phantom = $"00000000-0000-7000-8000-{Random.Shared.NextInt64(0, 0xFFFFFFFFFFFF):x12}";
            await Host.Permissions().RegisterResourceAsync(new RegisterResourceRequest { Resource = Ref(ResourceType.Workspace, phantom) }, attacker.Bearer);
            var invitation = await Host.Permissions().CreateInvitationAsync(
                new CreateInvitationRequest { WorkspaceId = phantom, UserId = victim.UserId, Level = PermissionLevel.Read }, attacker.Bearer);
            await Host.Permissions().AcceptInvitationAsync(new AcceptInvitationRequest { InvitationId = invitation.Invitation!.Id }, victim.Bearer);
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
    public async Task OwnersOfAWorkspace_CannotBeLockedOutOfWhatItHolds()
    {
        var owner = await Host.RegisterAsync();
        var baseOwner = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Mine" }, owner.Bearer)).Workspace!;
        var baseId = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "B" }, owner.Bearer)).Base!.Id;
        baseOwner = await Host.JoinAsync(owner, baseOwner, workspace.Id, PermissionLevel.Read);
        await Host.Permissions().GrantAsync(new GrantRequest { Resource = Ref(ResourceType.Base, baseId), UserId = baseOwner.UserId, Level = PermissionLevel.Owner }, owner.Bearer);

        await Host.Permissions().GrantAsync(new GrantRequest { Resource = Ref(ResourceType.Base, baseId), UserId = owner.UserId, Level = PermissionLevel.None }, baseOwner.Bearer);

        var check = await Host.Permissions().CheckPermissionAsync(new CheckPermissionRequest { Resource = Ref(ResourceType.Base, baseId), Level = PermissionLevel.Owner }, owner.Bearer);
        Assert.True(check.Allowed, check.Reason);
        await Host.Workspaces().GetBaseAsync(new GetBaseRequest { BaseId = baseId }, owner.Bearer);
        await Host.Permissions().RevokeAsync(new RevokeRequest { Resource = Ref(ResourceType.Base, baseId), UserId = baseOwner.UserId }, owner.Bearer);
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
    public async Task Invitations_Expire_AndDieWithTheInvitersRights()
    {
        var owner = await Host.RegisterAsync();
        var coOwner = await Host.RegisterAsync();
        var invitee = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Later" }, owner.Bearer)).Workspace!;
        coOwner = await Host.JoinAsync(owner, coOwner, workspace.Id, PermissionLevel.Owner);
        invitee = await Host.VerifyEmailAsync(invitee);
        var old = (await Host.Workspaces().InviteMemberAsync(new InviteMemberRequest { WorkspaceId = workspace.Id, Email = invitee.Email, Level = PermissionLevel.Read }, owner.Bearer)).Invitation!;
        var fromCoOwner = (await Host.Workspaces().InviteMemberAsync(new InviteMemberRequest { WorkspaceId = workspace.Id, Email = invitee.Email, Level = PermissionLevel.Edit }, coOwner.Bearer)).Invitation!;
        Assert.True(old.ExpiresAt > DateTime.UtcNow.AddDays(6));

        await using (var connection = new Npgsql.NpgsqlConnection(fixture.Database.ConnectionString))
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "UPDATE permissions.invitations SET expires_at = now() - interval '1 second' WHERE id = @id", new { id = Guid.Parse(old.Id) });
        }

        var expired = await Assert.ThrowsAsync<RpcException>(async () => await Host.Workspaces().AcceptInviteAsync(new AcceptInviteRequest { InvitationId = old.Id }, invitee.Bearer));
        Assert.Equal("invitation_expired", AssertStatus(expired, StatusCode.FailedPrecondition).Metadata["rule"]);

        await Host.Workspaces().RemoveMemberAsync(new RemoveMemberRequest { WorkspaceId = workspace.Id, UserId = coOwner.UserId }, owner.Bearer);
        var orphaned = await Assert.ThrowsAsync<RpcException>(async () => await Host.Workspaces().AcceptInviteAsync(new AcceptInviteRequest { InvitationId = fromCoOwner.Id }, invitee.Bearer));
        Assert.Equal("inviter_not_owner", AssertStatus(orphaned, StatusCode.FailedPrecondition).Metadata["rule"]);
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

    [Fact]
    public async Task Invitations_AreSentByOwnersInPerson()
    {
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var owner = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Op" }, owner.Bearer)).Workspace!;

        // Operators pass the Permission service's ownership check but hold no grant an acceptance could re-check.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().CreateInvitationAsync(
            new CreateInvitationRequest { WorkspaceId = workspace.Id, Email = Identities.NewEmail(), Level = PermissionLevel.Read }, admin.Bearer)), StatusCode.PermissionDenied);
    }
}
