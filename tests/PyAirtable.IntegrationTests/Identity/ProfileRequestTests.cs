using Google.Rpc;
using Grpc.Core;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Users;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Infrastructure;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>
/// What GetUser, GetUsers and UpdateUser refuse, through real gRPC calls: another user's profile, requests that name too
/// much or nothing, and the bounds of each field (just inside is accepted, just outside refused with the field named).
/// </summary>
public sealed class ProfileRequestTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>, IDisposable
{
    private TestHost Host => fixture.Host;

    public void Dispose() => fixture.AssertNoUnexpectedErrors();

    [Fact]
    public async Task AUser_CannotChangeAnotherUsersProfile_EvenWithItsCurrentEtag()
    {
        var victim = await Host.RegisterAsync("Victim");
        var attacker = await Host.RegisterAsync("Attacker");
        var etag = (await Host.Users().GetUserAsync(new GetUserRequest { UserId = victim.UserId }, victim.Bearer)).Cache!.Etag;

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().UpdateUserAsync(
            new UpdateUserRequest { UserId = victim.UserId, Etag = etag, DisplayName = "Owned" }, attacker.Bearer));

        AssertStatus(ex, StatusCode.PermissionDenied);
        var after = await Host.Users().GetUserAsync(new GetUserRequest { UserId = victim.UserId }, victim.Bearer);
        Assert.Equal(("Victim", etag), (after.User!.DisplayName, after.Cache!.Etag));
    }

    [Fact]
    public async Task AProfileTheCallerMayNotRead_DoesNotExistForThem()
    {
        var stranger = await Host.RegisterAsync();
        var caller = await Host.RegisterAsync();

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Users().GetUserAsync(new GetUserRequest { UserId = stranger.UserId }, caller.Bearer));

        AssertStatus(ex, StatusCode.NotFound);
        var batch = await Host.Users().GetUsersAsync(new GetUsersRequest { UserIds = [stranger.UserId, caller.UserId] }, caller.Bearer);
        Assert.Equal([caller.UserId], batch.Users.Select(u => u.Id));
        Assert.Equal([stranger.UserId], batch.MissingIds);
    }

    [Fact]
    public async Task CoMembers_SeeEachOthersPublicProfileOnly_OneAtATimeAndInABatch()
    {
        var owner = await Host.RegisterAsync("Owner");
        var first = await Host.RegisterAsync("First");
        var second = await Host.RegisterAsync("Second");
        var reader = await Host.RegisterAsync("Reader");
        foreach (var user in new[] { first, second })
        {
            var etag = (await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer)).Cache!.Etag;
            await Host.Users().UpdateUserAsync(new UpdateUserRequest { UserId = user.UserId, Etag = etag, TimeZone = "Europe/Paris" }, user.Bearer);
        }

        var workspace = (await Host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Shared" }, owner.Bearer)).Workspace!;
        foreach (var member in new[] { first, second, reader })
        {
            await Host.JoinAsync(owner, member, workspace.Id, PermissionLevel.Read);
        }

        // Both co-members in one batch: each is asked of the Permission service, none dropped on the way.
        var batch = await Host.Users().GetUsersAsync(new GetUsersRequest { UserIds = [first.UserId, second.UserId] }, reader.Bearer);
        Assert.Equal([first.UserId, second.UserId], batch.Users.Select(u => u.Id));
        Assert.Empty(batch.MissingIds);
        var one = (await Host.Users().GetUserAsync(new GetUserRequest { UserId = first.UserId }, reader.Bearer)).User!;

        // Name, not the e-mail address or the time zone: co-members are not necessarily contacts.
        Assert.All(batch.Users.Append(one), u => Assert.Equal(("", ""), (u.Email, u.TimeZone)));
        Assert.Equal(["First", "Second"], batch.Users.Select(u => u.DisplayName));
        var own = (await Host.Users().GetUserAsync(new GetUserRequest { UserId = first.UserId }, first.Bearer)).User!;
        Assert.Equal((first.Email, "Europe/Paris"), (own.Email, own.TimeZone));
    }

    [Fact]
    public async Task UpdateUser_WithoutAnEtag_OrWithNothingToChange_IsInvalid_NamingTheField()
    {
        var user = await Host.RegisterAsync();
        var etag = (await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer)).Cache!.Etag;

        Assert.Equal(["etag"], await ViolationsAsync(new UpdateUserRequest { UserId = user.UserId, DisplayName = "No etag" }, user));
        Assert.Equal(["display_name"], await ViolationsAsync(new UpdateUserRequest { UserId = user.UserId, Etag = etag }, user));
        Assert.Equal(["display_name"],
            await ViolationsAsync(new UpdateUserRequest { UserId = user.UserId, Etag = etag, DisplayName = "" }, user));
    }

    [Fact]
    public async Task UpdateUser_TimeZone_IsAnIanaIdOfAtMost64Characters_AndAloneChangesOnlyTheZone()
    {
        var user = await Host.RegisterAsync("Zoned");
        var etag = (await Host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, user.Bearer)).Cache!.Etag;

        Assert.Equal(["time_zone"], await ViolationsAsync(new UpdateUserRequest
        {
            UserId = user.UserId, Etag = etag, TimeZone = "Europe/" + new string('A', 58),
        }, user));
        var updated = await Host.Users().UpdateUserAsync(
            new UpdateUserRequest { UserId = user.UserId, Etag = etag, TimeZone = "Europe/Paris" }, user.Bearer);
        Assert.Equal(("Europe/Paris", "Zoned"), (updated.User!.TimeZone, updated.User.DisplayName));
    }

    [Fact]
    public async Task GetUser_IfNoneMatch_IsAnEtagOfAtMost64Characters()
    {
        var user = await Host.RegisterAsync();

        var sixtyFour = await Host.Users().GetUserAsync(
            new GetUserRequest { UserId = user.UserId, IfNoneMatch = new string('v', 64) }, user.Bearer);
        Assert.False(sixtyFour.NotModified);
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().GetUserAsync(
            new GetUserRequest { UserId = user.UserId, IfNoneMatch = new string('v', 65) }, user.Bearer));
        Assert.Equal("if_none_match", Assert.Single(ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations).Field);
    }

    [Fact]
    public async Task GetUsers_TakesOneTo100Ids()
    {
        var user = await Host.RegisterAsync();
        var hundred = Enumerable.Range(0, 99).Select(_ => Guid.NewGuid().ToString()).Append(user.UserId).ToList();

        var batch = await Host.Users().GetUsersAsync(new GetUsersRequest { UserIds = hundred }, user.Bearer);
        Assert.Equal([user.UserId], batch.Users.Select(u => u.Id));
        Assert.Equal(99, batch.MissingIds.Count);

        foreach (var ids in new[] { new List<string>(), [.. hundred, Guid.NewGuid().ToString()] })
        {
            var ex = await Assert.ThrowsAsync<RpcException>(async () =>
                await Host.Users().GetUsersAsync(new GetUsersRequest { UserIds = ids }, user.Bearer));
            Assert.Equal("user_ids", Assert.Single(ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations).Field);
        }
    }

    [Fact]
    public async Task AnOperatorsListingCursor_IsRefusedToAPlainUser_WhoseListingIsTheirOwn()
    {
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        await Host.RegisterAsync();
        var user = await Host.RegisterAsync();
        var first = await Host.Users().ListUsersAsync(new ListUsersRequest { Pagination = new PaginationRequest { PageSize = 1 } }, admin.Bearer);
        var cursor = first.Pagination!.NextCursor!;

        // The operator goes on with it; a user handed it cannot: a cursor is a position in one list, and a user's
        // list is themself only. Refused, not "an empty second page", so a client does not mistake it for the end.
        var second = await Host.Users().ListUsersAsync(
            new ListUsersRequest { Pagination = new PaginationRequest { PageSize = 1, Cursor = cursor } }, admin.Bearer);
        Assert.NotEqual(first.Users.Single().Id, second.Users.Single().Id);
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().ListUsersAsync(
            new ListUsersRequest { Pagination = new PaginationRequest { PageSize = 1, Cursor = cursor } }, user.Bearer));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal("pagination.cursor", Assert.Single(ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations).Field);
    }

    [Fact]
    public async Task AnIdThatIsNoOnes_IsNotFound_ToAnOperator_ForGetUserAndUpdateUser()
    {
        // An operator may read and change any profile, so these reach the database and find nothing there
        // (a plain user is refused sooner): the answer is NOT_FOUND, never an empty profile or a write to nobody.
        var admin = await Host.RegisterAdminAsync(fixture.Database.ConnectionString);
        var nobody = Guid.NewGuid().ToString();
        var etag = (await Host.Users().GetUserAsync(new GetUserRequest { UserId = admin.UserId }, admin.Bearer)).Cache!.Etag;

        var read = await Assert.ThrowsAsync<RpcException>(async () =>
            await Host.Users().GetUserAsync(new GetUserRequest { UserId = nobody }, admin.Bearer));
        AssertStatus(read, StatusCode.NotFound);
        var write = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().UpdateUserAsync(
            new UpdateUserRequest { UserId = nobody, Etag = etag, DisplayName = "Ghost" }, admin.Bearer));
        AssertStatus(write, StatusCode.NotFound);
    }

    private async Task<List<string>> ViolationsAsync(UpdateUserRequest request, TestUser user)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await Host.Users().UpdateUserAsync(request, user.Bearer));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        return ex.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field).ToList();
    }
}
