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

/// <summary>The buckets one call spends from (at most one per kind of limit), held inline: a call allocates no list for them.</summary>
internal struct LimitKeys
{
    private Buffer _keys;

    public int Count { get; private set; }

    public readonly LimitKey this[int index] => (uint)index < (uint)Count ? _keys[index] : throw new ArgumentOutOfRangeException(nameof(index));

    public void Add(LimitKey key)
    {
        if (Count == Buffer.Length)
        {
            throw new InvalidOperationException($"A call spends from at most {Buffer.Length} buckets.");
        }

        _keys[Count++] = key;
    }

    [System.Runtime.CompilerServices.InlineArray(Length)]
    private struct Buffer
    {
        public const int Length = 3; // per credential or per address, per base

        private LimitKey _first;
    }
}

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
    private readonly LocalPermitLeases? _leases; // null without Redis, or when leasing is off
    private long _redisOpenUntil; // TimeProvider timestamp; 0 = Redis is used
    private int _failingOpen; // 1 while the last Redis check failed (logged once per outage)

    public GatewayRateLimiter(IServiceProvider services, IOptions<RedisOptions> redisOptions, IOptions<RateLimitOptions> limitOptions,
        TimeProvider time, ILogger<GatewayRateLimiter> logger)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(redisOptions);
        ArgumentNullException.ThrowIfNull(limitOptions);
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
            var limits = limitOptions.Value;
            if (limits.LeaseFraction > 0 && limits.MaxLease > 1 && limits.LeaseLifetime > TimeSpan.Zero)
            {
                _leases = new LocalPermitLeases(limits.LeaseFraction, limits.MaxLease, limits.LeaseLifetime, time);
            }
        }
    }

    /// <summary>Permits taken from Redis ahead of need (null without Redis or with leasing off).</summary>
    internal LocalPermitLeases? Leases => _leases;

    /// <summary>True while checks use this host's memory because Redis did not answer.</summary>
    public bool FailingOpen => Volatile.Read(ref _failingOpen) == 1;

    /// <summary>
    /// Takes one permit from each bucket in order; the first that has none refuses the call. With Redis the permit comes
    /// from a lease this host holds when it has one (<see cref="LocalPermitLeases"/>), else from a new lease.
    /// </summary>
    public async ValueTask<RateLimitRefusal?> CheckAsync(LimitKeys keys, CancellationToken cancellationToken)
    {
        for (var i = 0; i < keys.Count; i++)
        {
            var key = keys[i];
            // A bucket too small to lease from (Airtable's 5/s per base) costs a round trip per call, as it always did,
            // without queueing its callers behind one another at the refill gate.
            var refusal = _leases is null || _leases.SizeFor(key.PerSecond) == 1
                ? await TakeOneAsync(key, cancellationToken)
                : await TakeLeasedAsync(_leases, key, cancellationToken);
            if (refusal is not null)
            {
                return refusal;
            }
        }

        return null;
    }

    private async ValueTask<RateLimitRefusal?> TakeOneAsync(LimitKey key, CancellationToken cancellationToken)
    {
        using var acquired = await AcquireAsync(key, 1, cancellationToken);
        return acquired.Lease.IsAcquired ? null : new RateLimitRefusal(key, RetryAfterOf(acquired.Lease));
    }

    private async ValueTask<RateLimitRefusal?> TakeLeasedAsync(LocalPermitLeases leases, LimitKey key, CancellationToken cancellationToken)
    {
        // Most calls of a busy partition spend a permit this host already holds: no round trip.
        if (TakeHeld(leases, key))
        {
            return null;
        }

        var gate = leases.GateOf(key.Partition);
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (TakeHeld(leases, key))
            {
                return null; // another caller refilled while this one waited
            }

            var size = leases.SizeFor(key.PerSecond);
            using var acquired = await AcquireAsync(key, size, cancellationToken);
            if (acquired.Lease.IsAcquired)
            {
                if (acquired.Shared)
                {
                    leases.Add(key.Partition, size - 1);
                }

                return null;
            }

            if (!acquired.Shared || size == 1)
            {
                return new RateLimitRefusal(key, RetryAfterOf(acquired.Lease));
            }

            // Fewer than a lease left in the shared bucket: the last permits go one call at a time.
            return await TakeOneAsync(key, cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Spends a held permit; the caller told to take the next lease starts it. Every spender must be able to start it: the one
    /// told is the only one, and a next lease nobody took would never be taken.
    /// </summary>
    private bool TakeHeld(LocalPermitLeases leases, LimitKey key)
    {
        if (!leases.TryTake(key.Partition, out var takeNext))
        {
            return false;
        }

        if (takeNext)
        {
            _ = TakeNextLeaseAsync(leases, key);
        }

        return true;
    }

    /// <summary>
    /// Takes a partition's next lease while its callers still spend the current one (no call waits for it). Only a lease from
    /// the shared bucket counts: while Redis is out the in-memory buckets decide each call, and a refused lease is no lease.
    /// </summary>
    private async Task TakeNextLeaseAsync(LocalPermitLeases leases, LimitKey key)
    {
        var granted = 0;
        try
        {
            if (!FailingOpen)
            {
                var size = leases.SizeFor(key.PerSecond);
                using var acquired = await AcquireAsync(key, size, CancellationToken.None);
                granted = acquired.Shared && acquired.Lease.IsAcquired ? size : 0;
            }
        }
        catch (Exception ex) when (ex is ObjectDisposedException or RedisException or TimeoutException)
        {
            // shutting down, or Redis failed past the limiter's own handling: the next caller takes a lease at the gate
        }
        finally
        {
            leases.AddNext(key.Partition, granted);
        }
    }

    /// <summary>A lease and whether it came from the shared (Redis) bucket rather than this host's memory.</summary>
    private readonly record struct Acquired(RateLimitLease Lease, bool Shared) : IDisposable
    {
        public void Dispose() => Lease.Dispose();
    }

    private async ValueTask<Acquired> AcquireAsync(LimitKey key, int permits, CancellationToken cancellationToken)
    {
        if (_redis is null || !RedisAllowed())
        {
            if (_redis is not null && Interlocked.Exchange(ref _failingOpen, 1) == 0)
            {
                LogFailingOpen(_logger, "SharedStateUnavailable", "the shared Redis breaker is open");
                _leases?.Clear();
            }

            return new Acquired(await _memory.AcquireAsync(key, 1, cancellationToken), Shared: false);
        }

        try
        {
            var lease = await _redis.AcquireAsync(key, permits, cancellationToken).AsTask()
                .WaitAsync(_redisOptions.OperationTimeout, _time, cancellationToken);
            if (Interlocked.Exchange(ref _failingOpen, 0) == 1)
            {
                LogRedisBack(_logger);
            }

            Interlocked.Exchange(ref _redisOpenUntil, 0);
            return new Acquired(lease, Shared: true);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // Its own break only: a limiter call that was slow on a loaded host must not fail the operations of the
            // shared state that have no fallback (they answer UNAVAILABLE); those open their breaker themselves.
            Interlocked.Exchange(ref _redisOpenUntil, _time.GetTimestamp() + BreakTicks);
            if (Interlocked.Exchange(ref _failingOpen, 1) == 0)
            {
                LogFailingOpen(_logger, ex.GetType().Name, ex.Message);
                _leases?.Clear();
            }

            return new Acquired(await _memory.AcquireAsync(key, 1, cancellationToken), Shared: false);
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
