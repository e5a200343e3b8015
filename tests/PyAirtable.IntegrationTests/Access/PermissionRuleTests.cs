using Grpc.Core;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
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
