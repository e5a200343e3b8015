using Grpc.Core;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Access;

/// <summary>The resource tree: an id is registered once, ever; owners of a workspace own everything in it.</summary>
public sealed class ResourceTreeTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task DeletedIds_CannotBeRegisteredAgain()
    {
        var owner = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Gone" }, owner.Bearer)).Workspace!;
        var baseId = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "B" }, owner.Bearer)).Base!.Id;
        var mine = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Mine" }, owner.Bearer)).Workspace!;

        // Moving a base out of its workspace by deleting its tree entry and registering it elsewhere: refused (only the
        // Workspaces service registers bases and workspaces).
        await Host.Permissions().DeleteResourceAsync(new DeleteResourceRequest { Resource = Ref(ResourceType.Base, baseId) }, owner.Bearer);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().RegisterResourceAsync(
            new RegisterResourceRequest { Resource = Ref(ResourceType.Base, baseId), Parent = Ref(ResourceType.Workspace, mine.Id) }, owner.Bearer)), StatusCode.PermissionDenied);

        // A deleted table's id cannot be registered again, even by its owner.
        var keep = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = mine.Id, Name = "K" }, owner.Bearer)).Base!.Id;
        var table = Guid.NewGuid().ToString();
        var entry = new RegisterResourceRequest { Resource = Ref(ResourceType.Table, table), Parent = Ref(ResourceType.Base, keep) };
        await Host.Permissions().RegisterResourceAsync(entry, owner.Bearer);
        await Host.Permissions().DeleteResourceAsync(new DeleteResourceRequest { Resource = Ref(ResourceType.Table, table) }, owner.Bearer);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().RegisterResourceAsync(entry, owner.Bearer)),
            StatusCode.AlreadyExists);

        // Reviving a deleted workspace by registering its id: refused.
        await Host.Workspaces().DeleteWorkspaceAsync(new DeleteWorkspaceRequest { WorkspaceId = workspace.Id }, owner.Bearer);
        var stranger = await Host.RegisterAsync();
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().RegisterResourceAsync(
            new RegisterResourceRequest { Resource = Ref(ResourceType.Workspace, workspace.Id) }, stranger.Bearer)), StatusCode.PermissionDenied);
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
}
