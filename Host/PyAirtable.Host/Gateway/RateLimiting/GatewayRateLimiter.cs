using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using PyAirtable.Services.Infrastructure.SharedState;
using RedisRateLimiting;
using StackExchange.Redis;

namespace PyAirtable.Host.Gateway.RateLimiting;

/// <summary>One token bucket to take a permit from: its kind (the limit's name), partition and rate.</summary>
/// <param name="Limit">The limit's name as callers see it: <c>per_credential</c>, <c>per_base</c> or <c>per_client_ip</c>.</param>
/// <param name="Partition">Whose bucket, e.g. <c>default:credential:user:…</c>.</param>
/// <param name="PerSecond">Requests per second; the bucket holds one second's worth.</param>
internal readonly record struct LimitKey(string Limit, string Partition, int PerSecond);

/// <summary>The outcome of a check that was refused: which bucket, and when it has a permit again.</summary>
internal sealed record RateLimitRefusal(LimitKey Key, TimeSpan RetryAfter);

/// <summary>
/// Token buckets shared by every host through Redis (RedisRateLimiting's Lua token bucket, one round trip per
/// check), or kept in this host's memory when Redis is not configured. When Redis does not answer within
/// <c>Redis:OperationTimeout</c>, checks fail open to the in-memory buckets for <c>Redis:BreakDuration</c> at a
/// time: each host then limits on its own (a caller spread over N hosts gets up to N times the rate), which is
/// better than refusing everything or letting everything through. The outage is logged once, and its end once.
/// </summary>
internal sealed partial class GatewayRateLimiter : IAsyncDisposable
{
    private readonly PartitionedRateLimiter<LimitKey>? _redis;
    private readonly PartitionedRateLimiter<LimitKey> _memory;
    private readonly RedisOptions _redisOptions;
    private readonly TimeProvider _time;
    private readonly ILogger<GatewayRateLimiter> _logger;
    private readonly RedisSharedState? _shared; // read its breaker, so a hung Redis costs a call one timeout, not two
    private long _redisOpenUntil; // TimeProvider timestamp; 0 = Redis is used
    private int _failingOpen; // 1 while the last Redis check failed (logged once per outage)

    public GatewayRateLimiter(
        IServiceProvider services, IOptions<RedisOptions> redisOptions, TimeProvider time, ILogger<GatewayRateLimiter> logger)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(redisOptions);
        _redisOptions = redisOptions.Value;
        _shared = services.GetService<ISharedState>() as RedisSharedState;
        _time = time;
        _logger = logger;
        _memory = PartitionedRateLimiter.Create<LimitKey, string>(key => RateLimitPartition.GetTokenBucketLimiter(key.Partition, _ =>
            new TokenBucketRateLimiterOptions
            {
                TokenLimit = key.PerSecond,
                TokensPerPeriod = key.PerSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
            }));

        if (services.GetService<IConnectionMultiplexer>() is { } redis)
        {
            // RedisRateLimiting names its keys rl:tb:{partition}: the instance prefix inside the partition keeps
            // deployments (and test hosts) that share one Redis apart, and hosts of one deployment together.
            var prefix = _redisOptions.InstanceName;
            _redis = PartitionedRateLimiter.Create<LimitKey, string>(key => RedisRateLimitPartition.GetTokenBucketRateLimiter(
                prefix + key.Partition, _ => new RedisTokenBucketRateLimiterOptions
                {
                    TokenLimit = key.PerSecond,
                    TokensPerPeriod = key.PerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    ConnectionMultiplexerFactory = () => redis,
                }));
        }
    }

    /// <summary>True while checks use this host's memory because Redis did not answer.</summary>
    public bool FailingOpen => Volatile.Read(ref _failingOpen) == 1;

    /// <summary>Takes one permit from each bucket in order; the first that has none refuses the call.</summary>
    public async ValueTask<RateLimitRefusal?> CheckAsync(IReadOnlyList<LimitKey> keys, CancellationToken cancellationToken)
    {
        foreach (var key in keys)
        {
            using var lease = await AcquireAsync(key, cancellationToken);
            if (!lease.IsAcquired)
            {
                return new RateLimitRefusal(key, RetryAfterOf(lease));
            }
        }

        return null;
    }

    private async ValueTask<RateLimitLease> AcquireAsync(LimitKey key, CancellationToken cancellationToken)
    {
        if (_redis is null || !RedisAllowed())
        {
            if (_redis is not null && Interlocked.Exchange(ref _failingOpen, 1) == 0)
            {
                LogFailingOpen(_logger, "SharedStateUnavailable", "the shared Redis breaker is open");
            }

            return await _memory.AcquireAsync(key, 1, cancellationToken);
        }

        try
        {
            var lease = await _redis.AcquireAsync(key, 1, cancellationToken).AsTask()
                .WaitAsync(_redisOptions.OperationTimeout, _time, cancellationToken);
            if (Interlocked.Exchange(ref _failingOpen, 0) == 1)
            {
                LogRedisBack(_logger);
            }

            Interlocked.Exchange(ref _redisOpenUntil, 0);
            return lease;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // Its own break only: a limiter call that was slow on a loaded host must not fail the operations of the
            // shared state that have no fallback (they answer UNAVAILABLE); those open their breaker themselves.
            Interlocked.Exchange(ref _redisOpenUntil, _time.GetTimestamp() + BreakTicks);
            if (Interlocked.Exchange(ref _failingOpen, 1) == 0)
            {
                LogFailingOpen(_logger, ex.GetType().Name, ex.Message);
            }

            return await _memory.AcquireAsync(key, 1, cancellationToken);
        }
    }

    /// <summary>Closed, or the break is over and this caller won the probe (the others stay in memory meanwhile).</summary>
    private bool RedisAllowed()
    {
        if (_shared?.IsFailingFast == true)
        {
            return false;
        }

        var openUntil = Volatile.Read(ref _redisOpenUntil);
        if (openUntil == 0)
        {
            return true;
        }

        var now = _time.GetTimestamp();
        return now >= openUntil && Interlocked.CompareExchange(ref _redisOpenUntil, now + BreakTicks, openUntil) == openUntil;
    }

    private long BreakTicks => (long)(_redisOptions.BreakDuration.TotalSeconds * _time.TimestampFrequency);

    private static TimeSpan RetryAfterOf(RateLimitLease lease)
    {
        // The in-memory bucket says it as a TimeSpan; RedisRateLimiting as whole seconds (an int).
        if (lease.TryGetMetadata(MetadataName.RetryAfter.Name, out var value))
        {
            switch (value)
            {
                case TimeSpan span when span > TimeSpan.Zero:
                    return span;
                case int seconds when seconds > 0:
                    return TimeSpan.FromSeconds(seconds);
            }
        }

        return TimeSpan.FromSeconds(1); // a bucket refills every second
    }

    public async ValueTask DisposeAsync()
    {
        await _memory.DisposeAsync();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Rate limits cannot reach Redis ({Kind}: {Error}); limiting per host in memory until it answers")]
    private static partial void LogFailingOpen(ILogger logger, string kind, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rate limits reach Redis again; limits are shared by all hosts")]
    private static partial void LogRedisBack(ILogger logger);
}
