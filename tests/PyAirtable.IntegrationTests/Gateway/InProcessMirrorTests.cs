using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Permissions;
using PyAirtable.Contracts.Users;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.SharedState;
using static PyAirtable.IntegrationTests.Access.Access;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// The in-process mirrors of the hot path (revocations, permission decisions, profiles) on two hosts that share PostgreSQL and
/// Redis: a change made through one host is seen by the other within <c>ChangeFeed:Bound</c>, a consistency token at once, and
/// a host cut off from the change feed stops answering from memory.
/// </summary>
public sealed class InProcessMirrorTests : DatabasePerTest
{
    private static readonly TimeSpan Bound = new ChangeFeedOptions().Bound;
    private readonly string _redisPrefix = $"mirrors-{Guid.NewGuid():N}:";

    private Task<TestHost> StartAsync(string name, CacheFaults? faults = null) =>
        TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = name;
            o.Settings["Redis:InstanceName"] = _redisPrefix;
            if (faults is not null)
            {
                o.ConfigureServices = services => FaultySharedState.Install(services, faults);
            }
        });

    [Fact]
    public async Task PermissionRevokedOnOneHost_TheOtherDeniesWithinTheBound_AndHonoursTheWritesTokenAtOnce()
    {
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        var owner = await a.RegisterAsync();
        var member = await a.RegisterAsync();
        var workspace = (await a.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Mirrors" }, owner.Bearer)).Workspace!;
        member = await a.JoinAsync(owner, member, workspace.Id, PermissionLevel.Edit);
        var baseId = (await a.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "B" }, owner.Bearer)).Base!.Id;
        var check = new CheckPermissionRequest { Resource = Ref(ResourceType.Base, baseId), Level = PermissionLevel.Read };
        await Task.Delay(Bound); // b has seen every write above
        Assert.True((await b.Permissions().CheckPermissionAsync(check, member.Bearer)).Allowed); // computed on b
        Assert.True((await b.Permissions().CheckPermissionAsync(check, member.Bearer)).Allowed); // from b's memory

        var revoked = await a.Permissions().GrantAsync(
            new GrantRequest { Resource = Ref(ResourceType.Base, baseId), UserId = member.UserId, Level = PermissionLevel.None }, owner.Bearer);

        // The writer's token is honoured on b at once, whatever b has applied yet.
        Assert.False((await b.Permissions().CheckPermissionAsync(check with { ConsistencyToken = revoked.ConsistencyToken }, member.Bearer)).Allowed);
        // The writer's own host sees its write on the next check, token or not.
        Assert.False((await a.Permissions().CheckPermissionAsync(check, member.Bearer)).Allowed);
        // Once the bound has passed since the write returned, b denies without a token too.
        await Task.Delay(Bound);
        Assert.False((await b.Permissions().CheckPermissionAsync(check, member.Bearer)).Allowed);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await b.Workspaces().GetBaseAsync(new GetBaseRequest { BaseId = baseId }, member.Bearer)), StatusCode.NotFound);
    }

    [Fact]
    public async Task ProfileChangedOnOneHost_TheOtherServesTheNewVersionWithinTheBound()
    {
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        var user = await a.RegisterAsync("Before");
        var get = new GetUserRequest { UserId = user.UserId };
        await b.Users().GetUserAsync(get, user.Bearer);
        var held = await b.Users().GetUserAsync(get, user.Bearer); // from b's memory
        Assert.Equal("Before", held.User!.DisplayName);

        await a.Users().UpdateUserAsync(new UpdateUserRequest { UserId = user.UserId, Etag = held.Cache!.Etag, DisplayName = "After" }, user.Bearer);
        Assert.Equal("After", (await a.Users().GetUserAsync(get, user.Bearer)).User!.DisplayName); // the writer's host at once
        await Task.Delay(Bound);
        Assert.Equal("After", (await b.Users().GetUserAsync(get, user.Bearer)).User!.DisplayName);
    }

    [Fact]
    public async Task AccountDeactivatedOnOneHost_TheOtherShowsItDeactivatedWithinTheBound()
    {
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        var admin = await a.RegisterAdminAsync(Database.ConnectionString);
        var user = await a.RegisterAsync();
        var get = new GetUserRequest { UserId = user.UserId };
        await b.Users().GetUserAsync(get, admin.Bearer);
        Assert.Equal(UserStatus.Active, (await b.Users().GetUserAsync(get, admin.Bearer)).User!.Status); // from b's memory

        await a.Users().DeactivateUserAsync(new DeactivateUserRequest { UserId = user.UserId }, admin.Bearer);
        await Task.Delay(Bound);
        Assert.Equal(UserStatus.Deactivated, (await b.Users().GetUserAsync(get, admin.Bearer)).User!.Status);
    }

    [Fact]
    public async Task BaseRenamedOnOneHost_TheOtherServesTheNewNameWithinTheBound_AndADeletionAtOnceOnItsOwnHost()
    {
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        var owner = await a.RegisterAsync();
        var workspace = (await a.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Mirrors" }, owner.Bearer)).Workspace!;
        var baseId = (await a.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Before" }, owner.Bearer)).Base!.Id;
        var get = new GetBaseRequest { BaseId = baseId };
        await Task.Delay(Bound);
        await b.Workspaces().GetBaseAsync(get, owner.Bearer);
        Assert.Equal("Before", (await b.Workspaces().GetBaseAsync(get, owner.Bearer)).Base!.Name); // from b's memory
        await a.Workspaces().GetBaseAsync(get, owner.Bearer);

        await a.Workspaces().RenameBaseAsync(new RenameBaseRequest { BaseId = baseId, Name = "After" }, owner.Bearer);
        Assert.Equal("After", (await a.Workspaces().GetBaseAsync(get, owner.Bearer)).Base!.Name);
        await Task.Delay(Bound);
        Assert.Equal("After", (await b.Workspaces().GetBaseAsync(get, owner.Bearer)).Base!.Name);

        await b.Workspaces().DeleteBaseAsync(new DeleteBaseRequest { BaseId = baseId }, owner.Bearer);
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () => await b.Workspaces().GetBaseAsync(get, owner.Bearer)), StatusCode.NotFound);
    }

    [Fact]
    public async Task HostCutOffFromTheFeed_StopsAnsweringFromMemory_AndRefusesARevokedKey()
    {
        var faults = new CacheFaults();
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b", faults);
        var user = await a.RegisterAsync();
        var key = await a.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead] }, user.Bearer);
        var withKey = Identities.WithApiKey(key.Secret);
        await b.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, withKey);
        var feed = b.App.Services.GetRequiredService<ChangeFeed>();
        // Current before the cut: on a loaded box a poll can come later than the bound (CI once found it not yet current).
        await Eventually.TrueAsync(() => Task.FromResult(feed.IsCurrent), "host b's change feed is current", TimeSpan.FromSeconds(5));

        faults.FailChangeReads = true; // b no longer hears of changes, though the rest of Redis answers it
        await a.Auth().RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = key.ApiKey!.Id }, user.Bearer);
        await Task.Delay(Bound);

        Assert.False(feed.IsCurrent);
        var local = b.App.Services.GetRequiredService<LocalRevocations>();
        Assert.False(local.TryCheck(RevocationList.ApiKey(key.ApiKey.Id), RevocationList.User(user.UserId), out _));
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await b.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, withKey)), StatusCode.Unauthenticated, "revoked");
        b.Logs.TakeErrors(_ => false);
    }

    [Fact]
    public async Task FeedLostWhileAHostWasCutOff_ItRebuildsItsMirrorFromPostgres()
    {
        var faults = new CacheFaults();
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b", faults);
        var user = await a.RegisterAsync();
        var key = await a.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "k", Scopes = [Scopes.UsersRead] }, user.Bearer);
        var local = b.App.Services.GetRequiredService<LocalRevocations>();
        var feed = b.App.Services.GetRequiredService<ChangeFeed>();
        var workspace = (await a.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Lost" }, user.Bearer)).Workspace!;
        var baseId = (await a.Workspaces().CreateBaseAsync(new CreateBaseRequest { WorkspaceId = workspace.Id, Name = "Before" }, user.Bearer)).Base!.Id;
        var get = new GetBaseRequest { BaseId = baseId };
        await Eventually.TrueAsync(() => Task.FromResult(feed.IsCurrent), "host b's change feed is current", TimeSpan.FromSeconds(5));
        Assert.Equal("Before", (await b.Workspaces().GetBaseAsync(get, user.Bearer)).Base!.Name); // now in b's memory

        faults.FailChangeReads = true;
        await a.Auth().RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = key.ApiKey!.Id }, user.Bearer);
        await a.Workspaces().RenameBaseAsync(new RenameBaseRequest { BaseId = baseId, Name = "After" }, user.Bearer);
        // Redis loses the feed (a restart or a flush would): the item b missed is gone from it.
        await a.App.Services.GetRequiredService<ISharedState>().ResetChangesAsync(Guid.NewGuid().ToString("N"));
        await a.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "later", Scopes = [Scopes.UsersRead] }, user.Bearer);
        await Task.Delay(Bound);
        Assert.False(feed.IsCurrent);
        faults.FailChangeReads = false;

        await Eventually.TrueAsync(() => Task.FromResult(feed.IsCurrent), "b follows the feed again");
        Assert.True(local.TryCheck(RevocationList.ApiKey(key.ApiKey.Id), RevocationList.User(user.UserId), out var isRevoked));
        Assert.True(isRevoked, "the revocation b never heard of came from PostgreSQL when it saw the new epoch");
        // The rename b never heard of either: what b kept in memory went with the old epoch.
        Assert.Equal("After", (await b.Workspaces().GetBaseAsync(get, user.Bearer)).Base!.Name);
        b.Logs.TakeErrors(_ => false);
    }
}
