using Dapper;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Identity;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Access;

/// <summary>The rules every permission-changing RPC shares: operators, consent to join, and what a check's reason may reveal.</summary>
public sealed class PermissionRuleTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task AnOperator_ManagesPermissionsOfAnyResource_ButAMissingOneIsNotFound()
    {
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var owner = await Host.RegisterAsync();
        var colleague = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Operated" }, owner.Bearer)).Workspace!;

        // The operator holds nothing on the workspace, yet may add someone directly (no invitation needed from them).
        await Host.Permissions().GrantAsync(
            new GrantRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), UserId = colleague.UserId, Level = PermissionLevel.Edit }, admin.Bearer);
        var check = await Host.Permissions().CheckPermissionAsync(
            new CheckPermissionRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.Edit }, colleague.Bearer);
        Assert.True(check.Allowed);

        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().GrantAsync(
            new GrantRequest { Resource = Ref(ResourceType.Workspace, Guid.NewGuid().ToString()), UserId = colleague.UserId, Level = PermissionLevel.Edit },
            admin.Bearer)), StatusCode.NotFound);
    }

    [Fact]
    public async Task AnOperator_RevokingOnAMissingWorkspace_IsToldItIsNotFound()
    {
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var someone = await Host.RegisterAsync();

        // Not "removed: false": an operator mistyping an id must learn that nothing by that id exists.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().RevokeAsync(
            new RevokeRequest { Resource = Ref(ResourceType.Workspace, Guid.NewGuid().ToString()), UserId = someone.UserId, WholeWorkspace = true },
            admin.Bearer)), StatusCode.NotFound);
    }

    [Fact]
    public async Task APlatformService_HoldsNoPermissions_AndCannotManageThem()
    {
        var owner = await Host.RegisterAsync();
        var colleague = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Services" }, owner.Bearer)).Workspace!;
        var issuer = Host.App.Services.GetRequiredService<IServiceTokenIssuer>();
        var asService = new CallContext(new CallOptions(new Metadata { { "authorization", await issuer.AuthorizationAsync("auth", [], default) } }));

        // A service token is no user and no operator: refused outright, not told the workspace is missing.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().GrantAsync(
            new GrantRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), UserId = colleague.UserId, Level = PermissionLevel.Edit },
            asService)), StatusCode.PermissionDenied);
        var check = await Host.Permissions().CheckPermissionAsync(
            new CheckPermissionRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.Read }, colleague.Bearer);
        Assert.False(check.Allowed);
    }

    [Fact]
    public async Task AnOwner_CannotGiveAnythingToSomeoneOutsideTheWorkspace()
    {
        var owner = await Host.RegisterAsync();
        var outsider = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Consent" }, owner.Bearer)).Workspace!;

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().GrantAsync(
            new GrantRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), UserId = outsider.UserId, Level = PermissionLevel.Read }, owner.Bearer));
        Assert.Equal("not_a_member", AssertStatus(refused, StatusCode.FailedPrecondition).Metadata["rule"]);
        var check = await Host.Permissions().CheckPermissionAsync(
            new CheckPermissionRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.Read }, outsider.Bearer);
        Assert.False(check.Allowed);
    }

    /// <summary>
    /// One owner removes a member while another raises the member's level: the grant must not put the removed member
    /// back (nobody joins without consent). The test holds the member's grant row so that the removal waits inside its
    /// transaction, starts the grant meanwhile, then lets both go: the grant, having waited for the removal to end,
    /// finds the user outside the workspace.
    /// </summary>
    [Fact]
    public async Task AGrant_RacingTheMembersRemoval_DoesNotPutThemBack()
    {
        var owner = await Host.RegisterAsync();
        var coOwner = await Host.RegisterAsync();
        var member = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Race" }, owner.Bearer)).Workspace!;
        coOwner = await Host.JoinAsync(owner, coOwner, workspace.Id, PermissionLevel.Owner);
        member = await Host.JoinAsync(owner, member, workspace.Id, PermissionLevel.Read);
        var onWorkspace = Ref(ResourceType.Workspace, workspace.Id);

        await using var holder = new NpgsqlConnection(fixture.Database.ConnectionString);
        await holder.OpenAsync();
        await using var watcher = new NpgsqlConnection(fixture.Database.ConnectionString); // outside the held transaction, which sees one snapshot of the statistics
        await watcher.OpenAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await holder.ExecuteAsync(
            "SELECT 1 FROM permissions.grants WHERE resource_type = @type AND resource_id = @id AND user_id = @user FOR UPDATE",
            new { type = (short)ResourceType.Workspace, id = Guid.Parse(workspace.Id), user = Guid.Parse(member.UserId) }, hold);

        var removal = Host.Permissions().RevokeAsync(
            new RevokeRequest { Resource = onWorkspace, UserId = member.UserId, WholeWorkspace = true }, owner.Bearer).AsTask();
        await WaitForWaitingSessionsAsync(watcher, 1);
        var grant = Host.Permissions().GrantAsync(
            new GrantRequest { Resource = onWorkspace, UserId = member.UserId, Level = PermissionLevel.Edit }, coOwner.Bearer).AsTask();
        await WaitForWaitingSessionsAsync(watcher, 2);
        await hold.RollbackAsync();

        Assert.True((await removal).Removed);
        var refused = await Assert.ThrowsAsync<RpcException>(() => grant);
        Assert.Equal("not_a_member", AssertStatus(refused, StatusCode.FailedPrecondition).Metadata["rule"]);
        var check = await Host.Permissions().CheckPermissionAsync(new CheckPermissionRequest { Resource = onWorkspace, Level = PermissionLevel.Read }, member.Bearer);
        Assert.False(check.Allowed);
    }

    /// <summary>Waits until <paramref name="count"/> of the Permission service's sessions wait for a lock (30 s at most).</summary>
    private static async Task WaitForWaitingSessionsAsync(NpgsqlConnection connection, int count)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(20))
        {
            var waiting = await connection.ExecuteScalarAsync<int>(
                """
                SELECT count(*)::int FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = 'pyairtable-permissions' AND wait_event_type = 'Lock'
                """);
            if (waiting >= count)
            {
                return;
            }
        }

        throw new TimeoutException($"{count} sessions never waited for a lock");
    }

    [Fact]
    public async Task ACheck_TellsAReaderWhereTheirLevelComesFrom_AndAnOutsiderOnlyThatTheyHaveNoAccess()
    {
        var owner = await Host.RegisterAsync();
        var reader = await Host.RegisterAsync();
        var outsider = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Reasons" }, owner.Bearer)).Workspace!;
        reader = await Host.JoinAsync(owner, reader, workspace.Id, PermissionLevel.Read);
        var question = new CheckPermissionRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), Level = PermissionLevel.Read };

        var read = await Host.Permissions().CheckPermissionAsync(question, reader.Bearer);
        Assert.Equal(PermissionLevel.Read, read.EffectiveLevel);
        Assert.Contains(workspace.Id, read.Reason, StringComparison.Ordinal); // the grant that gives it

        var none = await Host.Permissions().CheckPermissionAsync(question, outsider.Bearer);
        Assert.Equal("no access", none.Reason);
    }
}
