using System.Diagnostics;
using Google.Rpc;
using Grpc.Core;
using ProtoBuf.Grpc;
using ProtoBuf.Grpc.Client;
using PyAirtable.IntegrationTests.Adversarial;
using PyAirtable.IntegrationTests.Diagnostics;
using PyAirtable.IntegrationTests.Identity;
using PyAirtable.IntegrationTests.Infrastructure;

namespace PyAirtable.IntegrationTests.Gateway;

/// <summary>
/// The gateway's token buckets through real gRPC: per base, per credential, per client address; shared by two
/// hosts through Redis; per host in memory while Redis is down. Each test sets its own limits (the test host's
/// defaults are out of reach) and its own Redis prefix, so buckets never carry over between tests.
/// </summary>
public sealed class RateLimitTests : DatabasePerTest
{
    private readonly string _prefix = $"rl-{Guid.NewGuid():N}:";

    private Task<TestHost> StartAsync(string name, Action<TestHostOptions>? configure = null) =>
        TestHost.StartAsync(Database.ConnectionString, o =>
        {
            o.Name = name;
            o.Settings["Redis:InstanceName"] = _prefix;
            configure?.Invoke(o);
        });

    [Fact]
    public async Task Burst_OfAHundredCallsOnFivePerSecondPerBase_RefusesTheRestWithRetryInfo()
    {
        await using var host = await StartAsync("host", o => o.Settings["RateLimits:Classes:default:PerBase"] = "5");
        var diagnostics = host.Diagnostics;

        var (ok, refused, elapsed) = await BurstAsync(100, _ => diagnostics.EchoAsync(new EchoRequest { BaseId = "appBurst" }));

        // A bucket holds 5 and gets 5 more each whole second: at most 5 + 5 per started second pass.
        AssertAllowed(ok, elapsed, perSecond: 5);
        Assert.Equal(100 - ok, refused.Count);
        foreach (var ex in refused)
        {
            AssertRefusal(ex, "per_base", "appBurst");
        }

        // Another base has its own bucket.
        await diagnostics.EchoAsync(new EchoRequest { BaseId = "appOther" });
    }

    [Fact]
    public async Task Burst_OnTwoHosts_SharesOneBucketThroughRedis()
    {
        await using var first = await StartAsync("first", o => o.Settings["RateLimits:Classes:default:PerBase"] = "5");
        await using var second = await StartAsync("second", o => o.Settings["RateLimits:Classes:default:PerBase"] = "5");
        var hosts = new[] { first.Diagnostics, second.Diagnostics };

        var (ok, refused, elapsed) = await BurstAsync(60, i => hosts[i % 2].EchoAsync(new EchoRequest { BaseId = "appShared" }));

        // Two buckets of their own would let 10 through per second; one shared bucket lets 5.
        AssertAllowed(ok, elapsed, perSecond: 5);
        Assert.Equal(60 - ok, refused.Count);
        Assert.All(refused, ex => AssertRefusal(ex, "per_base", "appShared"));
    }

    [Fact]
    public async Task Burst_WithOneUsersToken_IsLimitedPerCredential()
    {
        await using var host = await StartAsync("host", o => o.Settings["RateLimits:Classes:default:PerCredential"] = "5");
        var user = await host.RegisterAsync();
        var diagnostics = host.Diagnostics;

        var (ok, refused, elapsed) = await BurstAsync(40, _ => diagnostics.EchoAsync(new EchoRequest(), user.Bearer));

        AssertAllowed(ok, elapsed, perSecond: 5);
        Assert.All(refused, ex => AssertRefusal(ex, "per_credential", "user:" + user.UserId));
    }

    [Fact]
    public async Task Burst_WithoutCredentials_IsLimitedPerClientAddress()
    {
        await using var host = await StartAsync("host", o => o.Settings["RateLimits:Classes:default:PerClientIp"] = "5");
        using var noisy = Adversary.ChannelFrom(host, "127.0.0.2");
        using var quiet = Adversary.ChannelFrom(host, "127.0.0.3");
        var fromNoisy = noisy.CreateGrpcService<IDiagnosticsService>();

        var (ok, refused, elapsed) = await BurstAsync(40, _ => fromNoisy.EchoAsync(new EchoRequest()));

        AssertAllowed(ok, elapsed, perSecond: 5);
        Assert.All(refused, ex => AssertRefusal(ex, "per_client_ip", "127.0.0.2"));
        // Another address is not held back by the noisy one.
        await quiet.CreateGrpcService<IDiagnosticsService>().EchoAsync(new EchoRequest());
    }

    [Fact]
    public async Task BehindAKnownProxy_EachForwardedClientHasItsOwnAddressLimit()
    {
        await using var host = await StartAsync("host", o =>
        {
            o.Settings["RateLimits:Classes:default:PerClientIp"] = "5";
            o.Settings["ForwardedHeaders:KnownProxies"] = "127.0.0.2";
        });
        using var proxy = Adversary.ChannelFrom(host, "127.0.0.2");
        var diagnostics = proxy.CreateGrpcService<IDiagnosticsService>();
        CallContext From(string client) => new(new CallOptions(new Metadata { { "x-forwarded-for", client } }));

        var (ok, refused, elapsed) = await BurstAsync(40, _ => diagnostics.EchoAsync(new EchoRequest(), From("203.0.113.9")));

        AssertAllowed(ok, elapsed, perSecond: 5);
        Assert.All(refused, ex => AssertRefusal(ex, "per_client_ip", "203.0.113.9"));
        // Another client behind the same proxy is not held back by the noisy one.
        await diagnostics.EchoAsync(new EchoRequest(), From("198.51.100.7"));
    }

    [Fact]
    public async Task BusyCredential_SpendsPermitsLeasedFromRedis_WithoutARoundTripPerCall()
    {
        await using var redis = await PrivateRedis.StartAsync();
        await using var host = await StartAsync("host", o =>
        {
            o.Settings["ConnectionStrings:Redis"] = redis.ConnectionString;
            o.Settings["RateLimits:Classes:default:PerCredential"] = "1000"; // leases of 100
        });
        var user = await host.RegisterAsync();
        var diagnostics = host.Diagnostics;
        await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");
        var before = await ScriptCallsAsync(admin);

        var (ok, refused, _) = await BurstAsync(300, _ => diagnostics.EchoAsync(new EchoRequest(), user.Bearer));

        Assert.Equal((300, 0), (ok, refused.Count));
        // One Lua round trip per call before leases; now one per lease of 100 (a few more when calls race for a new one).
        var scripts = await ScriptCallsAsync(admin) - before;
        Assert.InRange(scripts, 1, 60);
    }

    [Fact]
    public async Task LeasedPermits_NeverLetMoreThanTheSharedLimitThrough_OnTwoHosts()
    {
        await using var first = await StartAsync("first", o => o.Settings["RateLimits:Classes:default:PerCredential"] = "50");
        await using var second = await StartAsync("second", o => o.Settings["RateLimits:Classes:default:PerCredential"] = "50");
        var user = await first.RegisterAsync();
        var hosts = new[] { first.Diagnostics, second.Diagnostics };

        var (ok, refused, elapsed) = await BurstAsync(300, i => hosts[i % 2].EchoAsync(new EchoRequest(), user.Bearer));

        // Leases of 5 are taken from the one shared bucket: what each host holds was granted by Redis, so two hosts
        // together still pass at most 50 per second, never 50 each; permits a host still holds when the burst ends
        // (at most 4 each) are the only ones not spent.
        var most = 50 + (50 * (int)Math.Ceiling(elapsed.TotalSeconds));
        Assert.True(ok >= 50 - (2 * 4) && ok <= most, $"{ok} calls passed in {elapsed.TotalMilliseconds:F0} ms; expected {50 - 8}..{most}");
        Assert.Equal(300 - ok, refused.Count);
        Assert.All(refused, ex => AssertRefusal(ex, "per_credential", "user:" + user.UserId));
    }

    [Fact]
    public async Task RedisDown_WhileAHostHoldsLeases_LimitsStillHoldFromItsMemory()
    {
        await using var redis = await PrivateRedis.StartAsync();
        await using var host = await StartAsync("host", o =>
        {
            o.Settings["ConnectionStrings:Redis"] = redis.ConnectionString;
            o.Settings["RateLimits:Classes:default:PerCredential"] = "50"; // leases of 5
        });
        var user = await host.RegisterAsync();
        var diagnostics = host.Diagnostics;
        await diagnostics.EchoAsync(new EchoRequest(), user.Bearer); // this host now holds four leased permits

        await redis.KillAsync();
        var (ok, refused, elapsed) = await BurstAsync(200, _ => diagnostics.EchoAsync(new EchoRequest(), user.Bearer));

        // The permits held are spent, the in-memory bucket of 50 takes over: limited, never UNAVAILABLE.
        var most = 4 + 50 + (50 * (int)Math.Ceiling(elapsed.TotalSeconds));
        Assert.True(ok >= 50 && ok <= most, $"{ok} calls passed in {elapsed.TotalMilliseconds:F0} ms; expected 50..{most}");
        Assert.All(refused, ex => AssertRefusal(ex, "per_credential", "user:" + user.UserId));
    }

    private static async Task<long> ScriptCallsAsync(StackExchange.Redis.ConnectionMultiplexer redis)
    {
        var stats = await redis.GetServers()[0].InfoAsync("commandstats");
        // "cmdstat_evalsha" → "calls=12,usec=…"
        return stats.SelectMany(g => g).Where(kv => kv.Key is "cmdstat_evalsha" or "cmdstat_eval")
            .Sum(kv => long.Parse(kv.Value.Split(',')[0]["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task RedisDown_LimitsFailOpenToTheHostsMemory_AndAreSharedAgainWhenItReturns()
    {
        await using var redis = await PrivateRedis.StartAsync();
        await using var host = await StartAsync("host", o =>
        {
            o.Settings["ConnectionStrings:Redis"] = redis.ConnectionString;
            o.Settings["RateLimits:Classes:default:PerBase"] = "5";
        });
        var diagnostics = host.Diagnostics;

        await redis.KillAsync();
        var (ok, refused, elapsed) = await BurstAsync(30, _ => diagnostics.EchoAsync(new EchoRequest { BaseId = "appOutage" }));

        // Still limited (in memory), never UNAVAILABLE; the outage is logged once, as a warning.
        AssertAllowed(ok, elapsed, perSecond: 5);
        Assert.All(refused, ex => AssertRefusal(ex, "per_base", "appOutage"));
        Assert.Single(host.Logs.Entries, e => e.Message.StartsWith("Rate limits cannot reach Redis", StringComparison.Ordinal));

        await redis.RestartAsync();
        await Eventually.TrueAsync(async () =>
        {
            await Task.Delay(300);
            await diagnostics.EchoAsync(new EchoRequest { BaseId = "appBack-" + Guid.NewGuid().ToString("N") });
            return host.Logs.Entries.Any(e => e.Message.StartsWith("Rate limits reach Redis again", StringComparison.Ordinal));
        }, "the limiter uses Redis again", TimeSpan.FromSeconds(20));
    }

    private static async Task<(int Ok, List<RpcException> Refused, TimeSpan Elapsed)> BurstAsync(
        int count, Func<int, ValueTask<EchoResponse>> call)
    {
        var stopwatch = Stopwatch.StartNew();
        var results = await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            try
            {
                await call(i);
                return null;
            }
            catch (RpcException ex)
            {
                return ex;
            }
        }));
        stopwatch.Stop();
        var refused = results.OfType<RpcException>().ToList();
        return (results.Count(r => r is null), refused, stopwatch.Elapsed);
    }

    private static void AssertAllowed(int ok, TimeSpan elapsed, int perSecond)
    {
        var most = perSecond + (perSecond * (int)Math.Ceiling(elapsed.TotalSeconds));
        Assert.True(ok >= perSecond && ok <= most, $"{ok} calls passed in {elapsed.TotalMilliseconds:F0} ms; expected {perSecond}..{most}");
    }

    private static void AssertRefusal(RpcException ex, string limit, string partitionPart)
    {
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        var status = ex.GetRpcStatus()!;
        var info = status.GetDetail<ErrorInfo>();
        Assert.Equal("ERROR_CODE_RESOURCE_EXHAUSTED", info.Reason);
        Assert.Equal(limit, info.Metadata["limit"]);
        Assert.Contains(partitionPart, info.Metadata["partition"], StringComparison.Ordinal);
        var retry = status.GetDetail<RetryInfo>();
        Assert.NotNull(retry);
        Assert.InRange(retry.RetryDelay.ToTimeSpan(), TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1));
    }
}
