using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using ProtoBuf.Grpc;
using PyAirtable.Contracts.Auth;
using PyAirtable.Contracts.Users;
using PyAirtable.Contracts.Workspaces;
using PyAirtable.IntegrationTests.Access;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.SharedState;
using StackExchange.Redis;
using Xunit.Abstractions;
using static PyAirtable.IntegrationTests.Identity.AuthenticationTests;

namespace PyAirtable.IntegrationTests.Adversarial;

/// <summary>
/// Redis restarted empty, flushed, killed or hung under a running host: no revoked credential comes back,
/// authenticated calls keep answering within their deadline, and everything recovers by itself.
/// Each test has its own Redis server, which it kills.
/// </summary>
public sealed class RedisOutageTests(ITestOutputHelper output) : DatabasePerTest
{
    private PrivateRedis? _redis;
    private readonly string _prefix = $"outage-{Guid.NewGuid():N}:";

    private PrivateRedis Redis => _redis!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _redis = await PrivateRedis.StartAsync();
    }

    public override async Task DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    private Task<TestHost> StartHostAsync() => TestHost.StartAsync(Database.ConnectionString, o =>
    {
        o.Settings["ConnectionStrings:Redis"] = Redis.ConnectionString;
        o.Settings["Redis:InstanceName"] = _prefix;
        o.Settings["Identity:RevocationSyncInterval"] = "00:00:00.200";
    });

    [Fact]
    public async Task RevokedCredentials_StayRevoked_WhenRedisRestartsEmptyOrIsFlushed()
    {
        await using var host = await StartHostAsync();
        var loggedOut = await host.RegisterAsync();
        var deactivated = await host.RegisterAsync();
        var keyOwner = await host.RegisterAsync();
        var key = await host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "ci", Scopes = [Scopes.UsersRead] }, keyOwner.Bearer);
        // Used once, so the gateway holds a good verdict for it: only the revocation list can refuse it later.
        await host.Users().GetUserAsync(new GetUserRequest { UserId = keyOwner.UserId }, Identities.WithApiKey(key.Secret));
        await host.Auth().LogoutAsync(new LogoutRequest(), loggedOut.Bearer);
        // A refresh token that comes back after it was spent ends its session, as a logout does.
        var replayed = await host.RegisterAsync();
        var rotated = (await host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = replayed.Tokens.RefreshToken })).Tokens!;
        await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Auth().RefreshAsync(new RefreshRequest { RefreshToken = replayed.Tokens.RefreshToken }));
        TestUser[] ended = [loggedOut, replayed with { Tokens = rotated }];
        await host.Users().DeactivateUserAsync(new DeactivateUserRequest { UserId = deactivated.UserId }, deactivated.Bearer);
        await host.Auth().RevokeApiKeyAsync(new RevokeApiKeyRequest { Id = key.ApiKey!.Id }, keyOwner.Bearer);
        await AssertAllRefusedAsync(host, ended, deactivated, key.Secret);

        // kill -9 and start again: Redis comes back with nothing in it.
        await Redis.KillAsync();
        await Redis.RestartAsync();
        await AssertAllRefusedAsync(host, ended, deactivated, key.Secret);
        await WaitForMirrorAsync();
        await AssertAllRefusedAsync(host, ended, deactivated, key.Secret);

        // FLUSHALL (an operator's mistake, or a failover to an empty replica).
        await using (var admin = await ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString + ",allowAdmin=true"))
        {
            await admin.GetServers()[0].FlushAllDatabasesAsync();
        }

        await AssertAllRefusedAsync(host, ended, deactivated, key.Secret);
        await WaitForMirrorAsync();
        await AssertAllRefusedAsync(host, ended, deactivated, key.Secret);

        // A host started after the loss (a new deployment) refuses them too.
        await Redis.KillAsync();
        await Redis.RestartAsync();
        await using var fresh = await StartHostAsync();
        await AssertAllRefusedAsync(fresh, ended, deactivated, key.Secret);
        TakeRedisOutageErrors(host, fresh);
    }

    [Fact]
    public async Task RedisDown_AuthenticatedCallsAnswerWithinTheirDeadline_AndRevocationsHold_ThenRecover()
    {
        await using var host = await StartHostAsync();
        var user = await host.RegisterAsync();
        var revoked = await host.RegisterAsync();
        await host.Auth().LogoutAsync(new LogoutRequest(), revoked.Bearer);

        await Redis.KillAsync();
        var latencies = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            var watch = Stopwatch.StartNew();
            var read = await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, WithDeadline(user.Bearer, TimeSpan.FromSeconds(2)));
            latencies.Add(watch.Elapsed.TotalMilliseconds);
            Assert.Equal(user.UserId, read.User!.Id);
        }

        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Users().GetUserAsync(new GetUserRequest { UserId = revoked.UserId }, WithDeadline(revoked.Bearer, TimeSpan.FromSeconds(2))));
        AssertStatus(refused, StatusCode.Unauthenticated, "revoked");

        // 200 concurrent callers with a 2 s deadline: every one answered, none left to time out.
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
        {
            try
            {
                await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, WithDeadline(user.Bearer, TimeSpan.FromSeconds(2)));
                return StatusCode.OK;
            }
            catch (RpcException ex)
            {
                return ex.StatusCode;
            }
        }));
        output.WriteLine($"Redis down: sequential GetUser p50 {Percentile(latencies, 0.5):F1} ms, max {latencies.Max():F1} ms; "
            + $"200 concurrent: {string.Join(", ", outcomes.GroupBy(o => o).Select(g => $"{g.Key} {g.Count()}"))}");
        Assert.All(outcomes, o => Assert.Equal(StatusCode.OK, o));

        // Logging in still works, and its brute-force limits still count (in this host's memory).
        var login = await host.Auth().LoginAsync(new LoginRequest { Email = user.Email, Password = user.Password }, WithDeadline(default, TimeSpan.FromSeconds(5)));
        Assert.Equal(user.UserId, login.UserId);

        // Redis comes back: the mirror is rebuilt and calls go on without anybody restarting anything.
        await Redis.RestartAsync();
        await WaitForMirrorAsync();
        await host.Users().GetUserAsync(new GetUserRequest { UserId = user.UserId }, WithDeadline(user.Bearer, TimeSpan.FromSeconds(2)));
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Users().GetUserAsync(new GetUserRequest { UserId = revoked.UserId }, revoked.Bearer)), StatusCode.Unauthenticated, "revoked");
        TakeRedisOutageErrors(host);
    }

    [Fact]
    public async Task RedisHung_CallsStillAnswerWithinTheirDeadline()
    {
        await using var host = await StartHostAsync();
        var user = await host.RegisterAsync();
        var workspace = await host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "Hung" }, user.Bearer);

        await Redis.HangAsync(); // connections stay open; nothing answers
        try
        {
            for (var i = 0; i < 5; i++)
            {
                var read = await host.Workspaces().GetWorkspaceAsync(new GetWorkspaceRequest { WorkspaceId = workspace.Workspace!.Id },
                    WithDeadline(user.Bearer, TimeSpan.FromSeconds(3)));
                Assert.Equal("Hung", read.Workspace!.Name);
            }
        }
        finally
        {
            await Redis.ResumeAsync();
        }

        TakeRedisOutageErrors(host);
    }

    [Fact]
    public async Task VersionedCache_InRedis_NeverTakesAnOlderVersionOverANewerOne()
    {
        await using var host = await StartHostAsync();
        var state = host.App.Services.GetRequiredService<ISharedState>();
        Assert.IsType<RedisSharedState>(state);
        Assert.True(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(5, [5]), TimeSpan.FromMinutes(1)));
        Assert.False(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(4, [4]), TimeSpan.FromMinutes(1)));
        Assert.False(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(5, [9]), TimeSpan.FromMinutes(1)));
        Assert.True(await state.SetVersionedIfNewerAsync("k", new VersionedEntry(6, [6]), TimeSpan.FromMinutes(1)));
        var entry = await state.GetVersionedAsync("k");
        Assert.Equal(6, entry!.Value.Version);
        Assert.Equal([6], entry.Value.Data);
    }

    private static async Task AssertAllRefusedAsync(TestHost host, TestUser[] endedSessions, TestUser deactivated, string revokedKey)
    {
        foreach (var ended in endedSessions)
        {
            AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
                await host.Users().GetUserAsync(new GetUserRequest { UserId = ended.UserId }, ended.Bearer)),
                StatusCode.Unauthenticated, "revoked");
        }

        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Users().GetUserAsync(new GetUserRequest { UserId = deactivated.UserId }, deactivated.Bearer)), StatusCode.Unauthenticated, "revoked");
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Workspaces().CreateWorkspaceAsync(new CreateWorkspaceRequest { Name = "after" }, deactivated.Bearer)), StatusCode.Unauthenticated, "revoked");
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Auth().CreateApiKeyAsync(new CreateApiKeyRequest { Name = "after", Scopes = [Scopes.UsersRead] }, deactivated.Bearer)),
            StatusCode.Unauthenticated, "revoked");
        AssertStatus(await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Users().GetUserAsync(new GetUserRequest { UserId = deactivated.UserId }, Identities.WithApiKey(revokedKey))), StatusCode.Unauthenticated, "revoked");
    }

    private async Task WaitForMirrorAsync()
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString);
        for (var i = 0; i < 100; i++)
        {
            if (await redis.GetDatabase().KeyExistsAsync(_prefix + "revoked:mirror-complete"))
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("the revocation mirror was not rebuilt within 10 s");
    }

    private static CallContext WithDeadline(CallContext context, TimeSpan timeout) =>
        new(context.CallOptions.WithDeadline(DateTime.UtcNow + timeout));

    private static double Percentile(List<double> values, double p) => values.Order().ElementAt((int)(p * (values.Count - 1)));

    /// <summary>Redis being unreachable is logged as warnings; nothing at error level is expected.</summary>
    private static void TakeRedisOutageErrors(params TestHost[] hosts)
    {
        foreach (var host in hosts)
        {
            Assert.Empty(host.Logs.UnexpectedErrors);
        }
    }
}
