using Google.Rpc;
using Grpc.Core;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Access;

/// <summary>Direct grants through real calls: what Grant and Revoke answer, and who may list which grants, page by page.</summary>
public sealed class GrantTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task Grant_AnswersWithTheGrantAsGiven_AndRevoke_TellsWhetherThereWasOne()
    {
        var owner = await Host.RegisterAsync();
        var member = await Host.RegisterAsync();
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Grants" }, owner.Bearer)).Workspace!;
        var baseId = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "B" }, owner.Bearer)).Base!.Id;
        member = await Host.JoinAsync(owner, member, workspace.Id, PermissionLevel.Read);
        var onBase = Ref(ResourceType.Base, baseId);

        var before = DateTime.UtcNow;
        var granted = await Host.Permissions().GrantAsync(new GrantRequest { Resource = onBase, UserId = member.UserId, Level = PermissionLevel.Edit }, owner.Bearer);
        var grant = granted.Grant!;
        Assert.Equal((ResourceType.Base, baseId), (grant.Resource!.Type, grant.Resource.Id));
        Assert.Equal((member.UserId, PermissionLevel.Edit, owner.UserId), (grant.UserId, grant.Level, grant.GrantedBy));
        Assert.InRange(grant.GrantedAt!.Value, before.AddMinutes(-1), DateTime.UtcNow.AddMinutes(1)); // the database's clock, not ours
        var check = await Host.Permissions().CheckPermissionAsync(
            new CheckPermissionRequest { Resource = onBase, Level = PermissionLevel.Edit, ConsistencyToken = granted.ConsistencyToken }, member.Bearer);
        Assert.Equal(PermissionLevel.Edit, check.EffectiveLevel);

        // A reader asking to manage the base is told what it takes and what they have.
        var tooLow = await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().GrantAsync(
            new GrantRequest { Resource = onBase, UserId = owner.UserId, Level = PermissionLevel.Read }, member.Bearer));
        AssertStatus(tooLow, StatusCode.PermissionDenied);
        Assert.Equal("owner on the base is needed for managing its permissions; you have edit.", tooLow.Status.Detail);

        // The only owner may give themselves owner again (a client re-applying a list): that demotes nobody.
        await Host.Permissions().GrantAsync(
            new GrantRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), UserId = owner.UserId, Level = PermissionLevel.Owner }, owner.Bearer);

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().RevokeAsync(
            new RevokeRequest { Resource = onBase, UserId = member.UserId, WholeWorkspace = true }, owner.Bearer));
        AssertStatus(refused, StatusCode.InvalidArgument);
        Assert.Equal("whole_workspace", refused.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);

        var revoked = await Host.Permissions().RevokeAsync(new RevokeRequest { Resource = onBase, UserId = member.UserId }, owner.Bearer);
        Assert.True(revoked.Removed);
        Assert.False((await Host.Permissions().RevokeAsync(new RevokeRequest { Resource = onBase, UserId = member.UserId }, owner.Bearer)).Removed);
        check = await Host.Permissions().CheckPermissionAsync(
            new CheckPermissionRequest { Resource = onBase, Level = PermissionLevel.Read, ConsistencyToken = revoked.ConsistencyToken }, member.Bearer);
        Assert.Equal(PermissionLevel.Read, check.EffectiveLevel); // back to what the workspace gives

        // Removing someone from the whole workspace takes what they hold deeper down too, not only the workspace's grant.
        await Host.Permissions().GrantAsync(new GrantRequest { Resource = onBase, UserId = member.UserId, Level = PermissionLevel.Edit }, owner.Bearer);
        revoked = await Host.Permissions().RevokeAsync(
            new RevokeRequest { Resource = Ref(ResourceType.Workspace, workspace.Id), UserId = member.UserId, WholeWorkspace = true }, owner.Bearer);
        Assert.True(revoked.Removed);
        check = await Host.Permissions().CheckPermissionAsync(
            new CheckPermissionRequest { Resource = onBase, Level = PermissionLevel.Read, ConsistencyToken = revoked.ConsistencyToken }, member.Bearer);
        Assert.False(check.Allowed);
    }

    [Fact]
    public async Task GrantAndRevoke_NameEachInvalidField()
    {
        var owner = await Host.RegisterAsync();
        var grant = await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().GrantAsync(
            new GrantRequest { UserId = "not-a-user", Level = (PermissionLevel)42 }, owner.Bearer));
        AssertStatus(grant, StatusCode.InvalidArgument);
        Assert.Equal(["level", "resource", "user_id"], grant.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field).Order());
        var revoke = await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().RevokeAsync(
            new RevokeRequest { UserId = "" }, owner.Bearer));
        AssertStatus(revoke, StatusCode.InvalidArgument);
        Assert.Equal(["resource", "user_id"], revoke.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field).Order());
        var list = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Permissions().ListPermissionsAsync(new ListPermissionsRequest { UserId = "not-a-user" }, owner.Bearer));
        Assert.Equal("user_id", list.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        list = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Permissions().ListPermissionsAsync(new ListPermissionsRequest { Resource = Ref(ResourceType.Unspecified, "x") }, owner.Bearer));
        Assert.Equal(["resource.id", "resource.type"], list.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field).Order());
    }

    [Fact]
    public async Task ListPermissions_OfAResource_ShowsAWorkspacesMembersToMembers_AndDeeperGrantsToOwnersOnly()
    {
        var owner = await Host.RegisterAsync();
        var coOwner = await Host.RegisterAsync();
        var member = await Host.RegisterAsync();
        var outsider = await Host.RegisterAsync();
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Listed" }, owner.Bearer)).Workspace!;
        var baseId = (await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "B" }, owner.Bearer)).Base!.Id;
        coOwner = await Host.JoinAsync(owner, coOwner, workspace.Id, PermissionLevel.Owner);
        member = await Host.JoinAsync(owner, member, workspace.Id, PermissionLevel.Read);
        var onWorkspace = Ref(ResourceType.Workspace, workspace.Id);

        // Three members, two a page, in user id order: the second page starts where the first ended, and both count all three.
        var first = await Host.Permissions().ListPermissionsAsync(
            new ListPermissionsRequest { Resource = onWorkspace, Pagination = new PaginationRequest { PageSize = 2 } }, member.Bearer);
        Assert.Equal((2, true, 3L), (first.Permissions.Count, first.Pagination!.HasNext, first.Pagination.TotalCount));
        var second = await Host.Permissions().ListPermissionsAsync(new ListPermissionsRequest
        {
            Resource = onWorkspace, Pagination = new PaginationRequest { PageSize = 2, Cursor = first.Pagination.NextCursor },
        }, member.Bearer);
        Assert.Equal((1, false, 3L), (second.Permissions.Count, second.Pagination!.HasNext, second.Pagination.TotalCount));
        var all = first.Permissions.Concat(second.Permissions).ToList();
        Assert.Equal(new[] { owner.UserId, coOwner.UserId, member.UserId }.Order(StringComparer.Ordinal), all.Select(g => g.UserId));
        Assert.All(all, g => Assert.Equal((ResourceType.Workspace, workspace.Id), (g.Resource!.Type, g.Resource.Id)));
        Assert.Equal(PermissionLevel.Read, all.Single(g => g.UserId == member.UserId).Level);
        Assert.Equal(owner.UserId, all.Single(g => g.UserId == member.UserId).GrantedBy);

        // A cursor belongs to its listing: the base's listing refuses the workspace's.
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().ListPermissionsAsync(new ListPermissionsRequest
        {
            Resource = Ref(ResourceType.Base, baseId), Pagination = new PaginationRequest { PageSize = 2, Cursor = first.Pagination.NextCursor },
        }, owner.Bearer)), StatusCode.InvalidArgument);

        var onBase = new ListPermissionsRequest { Resource = Ref(ResourceType.Base, baseId) };
        Assert.Equal([owner.UserId], (await Host.Permissions().ListPermissionsAsync(onBase, owner.Bearer)).Permissions.Select(g => g.UserId));
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Permissions().ListPermissionsAsync(onBase, member.Bearer)), StatusCode.PermissionDenied);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Permissions().ListPermissionsAsync(new ListPermissionsRequest { Resource = onWorkspace }, outsider.Bearer)), StatusCode.NotFound);
        Assert.Equal(1, (await Host.Permissions().ListPermissionsAsync(onBase, admin.Bearer)).Pagination!.TotalCount); // operators see all
    }

    [Fact]
    public async Task ListPermissions_OfAUser_IsTheirOwnToRead_PageByPage()
    {
        var owner = await Host.RegisterAsync();
        var other = await Host.RegisterAsync();
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Mine" }, owner.Bearer)).Workspace!;
        var bases = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            bases.Add((await Host.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = $"B{i}" }, owner.Bearer)).Base!.Id);
        }

        // The workspace and its four bases, owned by their creator: five grants, two a page, by (type, id).
        var seen = new List<Grant>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await Host.Permissions().ListPermissionsAsync(
                new ListPermissionsRequest { UserId = owner.UserId, Pagination = new PaginationRequest { PageSize = 2, Cursor = cursor } }, owner.Bearer);
            Assert.Equal(5L, page.Pagination!.TotalCount);
            Assert.Equal(++pages < 3 ? 2 : 1, page.Permissions.Count);
            seen.AddRange(page.Permissions);
            cursor = page.Pagination.HasNext ? page.Pagination.NextCursor : null;
        }
        while (cursor is not null && pages < 10);
        Assert.Equal(3, pages);
        var expected = bases.Order(StringComparer.Ordinal).Select(b => (ResourceType.Base, b)).Prepend((ResourceType.Workspace, workspace.Id)).ToList();
        Assert.Equal(expected, seen.Select(g => (g.Resource!.Type, g.Resource.Id)).ToList());
        Assert.All(seen, g => Assert.Equal((owner.UserId, PermissionLevel.Owner), (g.UserId, g.Level)));

        // A cursor of one user's listing is refused on another's.
        var firstOfOwner = await Host.Permissions().ListPermissionsAsync(
            new ListPermissionsRequest { UserId = owner.UserId, Pagination = new PaginationRequest { PageSize = 2 } }, admin.Bearer);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().ListPermissionsAsync(new ListPermissionsRequest
        {
            UserId = other.UserId, Pagination = new PaginationRequest { PageSize = 2, Cursor = firstOfOwner.Pagination!.NextCursor },
        }, admin.Bearer)), StatusCode.InvalidArgument);

        var theirs = new ListPermissionsRequest { UserId = owner.UserId };
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Permissions().ListPermissionsAsync(theirs, other.Bearer)), StatusCode.PermissionDenied);
        Assert.Equal(5L, (await Host.Permissions().ListPermissionsAsync(theirs, admin.Bearer)).Pagination!.TotalCount);
        Assert.Empty((await Host.Permissions().ListPermissionsAsync(new ListPermissionsRequest { UserId = other.UserId }, other.Bearer)).Permissions);

        // Exactly one of resource and user_id.
        foreach (var question in new[] { new ListPermissionsRequest(), theirs with { Resource = Ref(ResourceType.Workspace, workspace.Id) } })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Permissions().ListPermissionsAsync(question, owner.Bearer));
            AssertStatus(ex, StatusCode.InvalidArgument);
            Assert.Equal("resource", ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Single().Field);
        }
    }
}
