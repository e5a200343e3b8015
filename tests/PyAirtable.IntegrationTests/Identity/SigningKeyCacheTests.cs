using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using ProtoBuf.Grpc.Client;
using PyAirtable.Contracts.Auth;
using PyAirtable.Host.Gateway.Authentication;
using PyAirtable.IntegrationTests.Infrastructure;
using PyAirtable.Services.Infrastructure.Identity;

namespace PyAirtable.IntegrationTests.Identity;

/// <summary>
/// The gateway's cache of token verification keys, as an edge host holds it: fed by a real Auth service over gRPC (the one
/// of a test host), on a clock the test moves, with every JWKS request the cache sends counted on its channel. What it
/// loads, when it asks again (a stale set, an unknown kid at most once per minimum interval), and what it keeps while the
/// Auth service is away.
/// </summary>
public sealed class SigningKeyCacheTests : DatabasePerTest, IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
    private static readonly TokenOptions Options = new();

    private readonly FakeTimeProvider _time = new(Start);
    private readonly LogSink _logs = new();
    private readonly JwksRequests _requests = new();
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }
    }

    [Fact]
    public async Task TheKeysATokenNeeds_AreLoadedOnDemand_AndAKnownKidAsksNothingUntilTheSetIsStale()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var kid = SigningKeyCache.ReadKid(user.Tokens.AccessToken)!;
        var cache = CacheOf(host);

        Assert.Null(cache.Find(kid));
        Assert.Null(cache.Find(null)); // a token without a kid has no key (and does not throw)
        await cache.EnsureAsync(null, CancellationToken.None);
        Assert.Equal(0, _requests.Count); // nothing to look up

        await cache.EnsureAsync(kid, CancellationToken.None);
        Assert.Equal(1, _requests.Count);
        var key = cache.Find(kid);
        Assert.Equal(kid, key!.KeyId);
        Assert.True(await VerifiesAsync(cache, user.Tokens.AccessToken)); // the key is the one the token was signed with
        foreach (var published in (await host.Auth().GetJwksAsync(new GetJwksRequest())).Keys)
        {
            Assert.NotNull(cache.Find(published.Kid)); // the next key too: its first tokens need no request
        }

        // Known and fresh: no request, however often, up to the refresh interval itself; a rotation meanwhile is not seen.
        var admin = await host.RegisterAdminAsync(Database.ConnectionString);
        await host.Auth().RotateSigningKeyAsync(new RotateSigningKeyRequest(), admin.Bearer);
        var newest = await UnknownKidAsync(host, cache); // the new next key
        _time.Advance(Options.JwksRefreshInterval);
        await cache.EnsureAsync(kid, CancellationToken.None);
        await cache.EnsureAsync(kid, CancellationToken.None);
        Assert.Equal(1, _requests.Count);
        Assert.Null(cache.Find(newest));

        // Stale a tick later: the next token asks again, and the set now holds the rotated keys.
        _time.Advance(TimeSpan.FromTicks(1));
        await cache.EnsureAsync(kid, CancellationToken.None);
        Assert.Equal(2, _requests.Count);
        Assert.NotNull(cache.Find(newest));
        Assert.Same(key, cache.Find(kid)); // a key it had is kept as it was (the token handler's per-key state with it)
    }

    [Fact]
    public async Task AnUnknownKid_IsAskedForAtMostOncePerMinimumInterval_SoForgedKidsCannotHammerTheAuthService()
    {
        await using var host = await TestHost.StartAsync(Database.ConnectionString);
        var user = await host.RegisterAsync();
        var cache = CacheOf(host);
        await cache.EnsureAsync(SigningKeyCache.ReadKid(user.Tokens.AccessToken), CancellationToken.None);
        Assert.Equal(1, _requests.Count);

        // Within the minimum interval of the last request, unknown kids wait: none of them is asked for.
        await cache.EnsureAsync("forged-1", CancellationToken.None);
        _time.Advance(Options.JwksMinRefreshInterval - TimeSpan.FromTicks(1));
        await cache.EnsureAsync("forged-2", CancellationToken.None);
        Assert.Equal(1, _requests.Count);

        // From the interval on, one is; the next waits again, counted from that request.
        _time.Advance(TimeSpan.FromTicks(1));
        await cache.EnsureAsync("forged-3", CancellationToken.None);
        Assert.Equal(2, _requests.Count);
        Assert.Null(cache.Find("forged-3"));
        await Task.WhenAll(Enumerable.Range(4, 20).Select(i => cache.EnsureAsync($"forged-{i}", CancellationToken.None)));
        Assert.Equal(2, _requests.Count);

        // A key rotated in meanwhile is found by the first of its tokens after the interval.
        var admin = await host.RegisterAdminAsync(Database.ConnectionString);
        await host.Auth().RotateSigningKeyAsync(new RotateSigningKeyRequest(), admin.Bearer);
        var newest = await UnknownKidAsync(host, cache);
        _time.Advance(Options.JwksMinRefreshInterval);
        await cache.EnsureAsync(newest, CancellationToken.None);
        Assert.Equal(3, _requests.Count);
        Assert.NotNull(cache.Find(newest));
    }

    [Fact]
    public async Task WhileTheAuthServiceIsAway_TheKeysAreKept_ItIsAskedAtMostOncePerMinimumInterval_AndTheOperatorIsTold()
    {
        var auth = await TestHost.StartAsync(Database.ConnectionString);
        var user = await auth.RegisterAsync();
        var kid = SigningKeyCache.ReadKid(user.Tokens.AccessToken);
        var cache = CacheOf(auth);
        await cache.EnsureAsync(kid, CancellationToken.None);
        var key = cache.Find(kid);
        Assert.NotNull(key);

        await auth.DisposeAsync();
        _time.Advance(Options.JwksRefreshInterval + TimeSpan.FromTicks(1));
        await cache.EnsureAsync(kid, CancellationToken.None); // stale, and the request fails: not the caller's failure
        Assert.Equal(2, _requests.Count);
        Assert.Same(key, cache.Find(kid)); // tokens it verifies keep working
        Assert.True(await VerifiesAsync(cache, user.Tokens.AccessToken));

        // Stale keys do not make every call ask the unreachable service: once per minimum interval.
        _time.Advance(Options.JwksMinRefreshInterval - TimeSpan.FromTicks(1));
        await cache.EnsureAsync(kid, CancellationToken.None);
        Assert.Equal(2, _requests.Count);
        _time.Advance(TimeSpan.FromTicks(1));
        await cache.EnsureAsync(kid, CancellationToken.None);
        Assert.Equal(3, _requests.Count);

        var warnings = _logs.Entries.Where(e => e.Category == typeof(SigningKeyCache).FullName).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.All(warnings, w => Assert.Equal(LogLevel.Warning, w.Level));
        Assert.All(warnings, w => Assert.StartsWith("Could not refresh the token signing keys", w.Message, StringComparison.Ordinal));
    }

    /// <summary>A cache as an edge host's gateway holds it: the Auth service reached over gRPC, at <see cref="TestHost.GrpcAddress"/>.</summary>
    private SigningKeyCache CacheOf(TestHost authHost)
    {
        var channel = GrpcChannel.ForAddress(authHost.GrpcAddress);
        var services = new ServiceCollection()
            .AddSingleton(channel.Intercept(_requests).CreateGrpcService<IAuthService>())
            .BuildServiceProvider();
        var loggers = LoggerFactory.Create(logging => logging.AddProvider(_logs));
        var cache = new SigningKeyCache(services, Microsoft.Extensions.Options.Options.Create(Options), _time, loggers.CreateLogger<SigningKeyCache>());
        _owned.AddRange([cache, loggers, services, channel]);
        return cache;
    }

    /// <summary>Whether the token verifies as the gateway verifies it, with the keys the cache holds.</summary>
    private static async Task<bool> VerifiesAsync(SigningKeyCache cache, string token) =>
        (await new JsonWebTokenHandler().ValidateTokenAsync(token, Options.CreateValidationParameters(cache.Find))).IsValid;

    /// <summary>The one key the Auth service publishes that the cache does not hold (after a rotation: the new next key).</summary>
    private static async Task<string> UnknownKidAsync(TestHost host, SigningKeyCache cache) =>
        (await host.Auth().GetJwksAsync(new GetJwksRequest())).Keys.Select(k => k.Kid).Single(kid => cache.Find(kid) is null);

    /// <summary>Counts the JWKS requests sent, answered or not.</summary>
    private sealed class JwksRequests : Interceptor
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request,
            ClientInterceptorContext<TRequest, TResponse> context, AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
        {
            if (context.Method.Name == "GetJwks")
            {
                Interlocked.Increment(ref _count);
            }

            return continuation(request, context);
        }
    }
}
