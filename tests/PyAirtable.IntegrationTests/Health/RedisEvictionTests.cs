using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Common;
using PyAirtable.Contracts.Health;
using PyAirtable.IntegrationTests.Infrastructure;
using StackExchange.Redis;

namespace PyAirtable.IntegrationTests.Health;

/// <summary>
/// A Redis that may evict keys is a misconfiguration the host cannot repair (an evicted revocation flag reads as "not
/// revoked", an evicted event is lost), so health says so, on a Redis of the test's own whose policy it sets.
/// </summary>
public sealed class RedisEvictionTests : DatabasePerTest
{
    [Fact]
    public async Task ARedisThatMayEvictKeys_LeavesTheHostServingButDegraded_NamingThePolicy()
    {
        await using var redis = await PrivateRedis.StartAsync();
        await using (var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true"))
        {
            await admin.GetServer(admin.GetEndPoints()[0]).ConfigSetAsync("maxmemory-policy", "volatile-lru");
        }

        await using var host = await TestHost.StartAsync(Database.ConnectionString,
            o => o.Settings["ConnectionStrings:Redis"] = redis.ConnectionString);
        var health = host.Channel.CreateGrpcService<IHealthService>();

        CheckResponse? response = null;
        await Eventually.TrueAsync(async () => (response = await health.CheckAsync(new CheckRequest())).Degraded,
            "health reports the policy");

        Assert.Equal(HealthStatus.Serving, response!.Status);
        var eviction = Assert.Single(response.Dependencies, d => d.Name == "redis-eviction");
        Assert.Equal((HealthStatus.Serving, true), (eviction.Status, eviction.Degraded));
        Assert.Contains("maxmemory-policy volatile-lru", eviction.Description, StringComparison.Ordinal);
        Assert.All(response.Dependencies.Where(d => d.Name != "redis-eviction"), d => Assert.False(d.Degraded));
    }

    [Fact]
    public async Task ARedisThatNeverEvicts_IsNotDegraded()
    {
        await using var redis = await PrivateRedis.StartAsync(); // scripts/redis.sh runs noeviction
        await using var host = await TestHost.StartAsync(Database.ConnectionString,
            o => o.Settings["ConnectionStrings:Redis"] = redis.ConnectionString);
        var health = host.Channel.CreateGrpcService<IHealthService>();

        CheckResponse? response = null;
        await Eventually.TrueAsync(async () => (response = await health.CheckAsync(new CheckRequest())).Status == HealthStatus.Serving,
            "serving");

        Assert.False(response!.Degraded);
        var eviction = Assert.Single(response.Dependencies, d => d.Name == "redis-eviction");
        Assert.Equal(("", false), (eviction.Description, eviction.Degraded));
    }
}
