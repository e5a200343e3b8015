using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
using PyAirtable.IntegrationTests.Infrastructure;
using StackExchange.Redis;

namespace PyAirtable.IntegrationTests.Data;

public sealed class CacheTests(HostFixture hostFixture) : HostTests(hostFixture)
{
    [Fact]
    public async Task DistributedCache_WithRedisConfigured_StoresInRedisUnderTheInstancePrefix()
    {
        var cache = Fixture.Host.App.Services.GetRequiredService<IDistributedCache>();
        var key = "cache-test-" + Guid.NewGuid().ToString("N");

        await cache.SetStringAsync(key, "value", new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(1) });

        Assert.Equal("value", await cache.GetStringAsync(key));
        // Visible to every host sharing the Redis: read it with a client of our own.
        await using var redis = await ConnectionMultiplexer.ConnectAsync(TestEnvironment.Redis);
        var instance = Fixture.Host.App.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.Extensions.Caching.StackExchangeRedis.RedisCacheOptions>>().Value.InstanceName;
        Assert.True(await redis.GetDatabase().KeyExistsAsync(instance + key));

        await cache.RemoveAsync(key);
        Assert.Null(await cache.GetStringAsync(key));
    }
}
