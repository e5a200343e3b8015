using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace PyAirtable.Services.Infrastructure.SharedState;

/// <summary>How the host treats Redis when it misbehaves (section <c>Redis</c>).</summary>
public sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary>Key prefix of everything this platform keeps in Redis.</summary>
    public string InstanceName { get; set; } = "pyairtable:";

    /// <summary>
    /// The longest a call waits for one Redis operation before Redis is treated as down (hung, or a network
    /// that drops packets) rather than let every caller wait out the client's 5 s. Redis answers in well under
    /// a millisecond; the margin is for a host whose CPUs are saturated, where a tighter cap would declare a
    /// healthy Redis down. A Redis that is gone (connection refused or reset) is known at once, without it.
    /// </summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>After a failure, how long operations fail at once before one is tried again (or until the connection is restored).</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Redis: every host sees the same counters, flags and cache entries. Fails fast: an operation that
/// times out or finds no connection opens a breaker for <see cref="RedisOptions.BreakDuration"/> (closed
/// early when the multiplexer reports the connection restored, or when a probe answers), during which every
/// operation throws <see cref="SharedStateUnavailableException"/> without touching the network; after it,
/// one operation probes while the rest keep failing fast.
/// </summary>
public sealed partial class RedisSharedState : ISharedState
{
    // INCR, and start the window on the first increment; returns {count, pttl}.
    private const string IncrementScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return {n, redis.call('PTTL', KEYS[1])}
        """;

    // DECR only a counter that exists (a missing one must not come back negative and without expiry).
    private const string DecrementScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
        return 0
        """;

    // Compare-and-set on the version field of a hash.
    private const string SetIfNewerScript = """
        local current = redis.call('HGET', KEYS[1], 'v')
        if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
        redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return 1
        """;

    private const string SetIfGuardScript = """
        if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
        redis.call('SET', KEYS[1], ARGV[1])
        return 1
        """;

    // The change feed: a hash (epoch, last number) and a sorted set of "n|item" scored by n, trimmed to the newest
    // ARGV[2]. A feed whose hash is gone (restart, flush) starts a new epoch with an empty log, so followers see the
    // epoch change and rebuild rather than trust a log that lost items.
    private const string AppendChangesScript = """
        if redis.call('HEXISTS', KEYS[1], 'epoch') == 0 then
          redis.call('DEL', KEYS[2])
          redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'seq', 0)
        end
        for i = 3, #ARGV do
          local n = redis.call('HINCRBY', KEYS[1], 'seq', 1)
          redis.call('ZADD', KEYS[2], n, n .. '|' .. ARGV[i])
        end
        local count = redis.call('ZCARD', KEYS[2])
        if count > tonumber(ARGV[2]) then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, count - tonumber(ARGV[2]) - 1) end
        return 1
        """;

    private const string ReadChangesScript = """
        if redis.call('HEXISTS', KEYS[1], 'epoch') == 0 then
          redis.call('DEL', KEYS[2])
          redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'seq', 0)
        end
        local meta = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
        return {meta[1], meta[2], redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[2], '+inf', 'LIMIT', 0, ARGV[3])}
        """;

    private const string ResetChangesScript = """
        redis.call('DEL', KEYS[2])
        redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'seq', 0)
        return 1
        """;

    private readonly IConnectionMultiplexer _redis;
    private readonly TimeProvider _time;
    private readonly ILogger<RedisSharedState> _logger;
    private readonly RedisOptions _options;
    private readonly string _prefix;
    private long _openUntil; // TimeProvider timestamp; 0 = closed

    public RedisSharedState(IConnectionMultiplexer redis, IOptions<RedisOptions> options, TimeProvider time, ILogger<RedisSharedState> logger)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(options);
        _redis = redis;
        _time = time;
        _logger = logger;
        _options = options.Value;
        _prefix = _options.InstanceName;
        redis.ConnectionFailed += (_, e) =>
        {
            if (e.ConnectionType == ConnectionType.Interactive)
            {
                Open();
            }
        };
        redis.ConnectionRestored += (_, e) =>
        {
            if (e.ConnectionType == ConnectionType.Interactive)
            {
                Interlocked.Exchange(ref _openUntil, 0);
            }
        };
    }

    private IDatabase Db => _redis.GetDatabase();

    private RedisKey Key(string key) => _prefix + key;

    public Task<(long Count, TimeSpan Remaining)> IncrementAsync(string key, TimeSpan window) => RunAsync(async db =>
    {
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(IncrementScript, [Key(key)], [(long)window.TotalMilliseconds]))!;
        return ((long)result[0], TimeSpan.FromMilliseconds(Math.Max(0, (long)result[1])));
    });

    public Task DecrementAsync(string key) => RunAsync(db => db.ScriptEvaluateAsync(DecrementScript, [Key(key)]));

    public Task<(long Count, TimeSpan Remaining)> GetCounterAsync(string key) => RunAsync(async db =>
    {
        var k = Key(key);
        var batch = db.CreateBatch();
        var value = batch.StringGetAsync(k);
        var ttl = batch.KeyTimeToLiveAsync(k);
        batch.Execute();
        var count = await value;
        return (count.HasValue ? (long)count : 0, await ttl ?? TimeSpan.Zero);
    });

    public Task SetFlagAsync(string key, TimeSpan ttl) => RunAsync(db => db.StringSetAsync(Key(key), 1, ttl));

    public Task<bool[]> ExistAsync(string[] keys, CancellationToken cancellationToken = default) => RunAsync(async db =>
    {
        // MGET reads every key at one instant (hashes read as missing, which no caller asks about).
        var values = await db.StringGetAsync(keys.Select(Key).ToArray());
        return values.Select(v => v.HasValue).ToArray();
    }, cancellationToken);

    public Task SetTextAsync(string key, string value) => RunAsync(db => db.StringSetAsync(Key(key), value));

    public Task<bool> SetIfGuardAsync(string key, string value, string guardKey, string guardValue) => RunAsync(async db =>
        (int)await db.ScriptEvaluateAsync(SetIfGuardScript, [Key(key), Key(guardKey)], [value, guardValue]) == 1);

    public Task DeleteAsync(string key) => RunAsync(db => db.KeyDeleteAsync(Key(key)));

    public Task<VersionedEntry?> GetVersionedAsync(string key) => RunAsync(async db =>
    {
        var values = await db.HashGetAsync(Key(key), ["v", "d"]);
        return values[0].HasValue && values[1].HasValue ? new VersionedEntry((long)values[0], (byte[])values[1]!) : (VersionedEntry?)null;
    });

    public Task<bool> SetVersionedIfNewerAsync(string key, VersionedEntry entry, TimeSpan ttl) => RunAsync(async db =>
        (int)await db.ScriptEvaluateAsync(SetIfNewerScript, [Key(key)], [entry.Version, entry.Data, (long)ttl.TotalMilliseconds]) == 1);

    public Task AppendChangesAsync(IReadOnlyList<string> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        RedisValue[] args = [Guid.NewGuid().ToString("N"), ChangeFeed.Retained, .. items.Select(i => (RedisValue)i)];
        return RunAsync(db => db.ScriptEvaluateAsync(AppendChangesScript, ChangeKeys, args));
    }

    public Task<ChangeBatch> ReadChangesAsync(long after, int max, string newEpoch, CancellationToken cancellationToken = default) =>
        RunAsync(async db =>
        {
            var result = (RedisResult[])(await db.ScriptEvaluateAsync(ReadChangesScript, ChangeKeys, [newEpoch, after, max]))!;
            var items = new List<(long, string)>();
            foreach (var member in (RedisResult[])result[2]!)
            {
                var text = (string)member!;
                var bar = text.IndexOf('|', StringComparison.Ordinal);
                items.Add((long.Parse(text.AsSpan(0, bar), System.Globalization.CultureInfo.InvariantCulture), text[(bar + 1)..]));
            }

            return new ChangeBatch((string)result[0]!, (long)result[1], items);
        }, cancellationToken);

    public Task ResetChangesAsync(string newEpoch) => RunAsync(db => db.ScriptEvaluateAsync(ResetChangesScript, ChangeKeys, [newEpoch]));

    private RedisKey[] ChangeKeys => [Key("changes:meta"), Key("changes:log")];

    private Task<bool> RunAsync(Func<IDatabase, Task> operation) => RunAsync(async db =>
    {
        await operation(db);
        return true;
    });

    private async Task<T> RunAsync<T>(Func<IDatabase, Task<T>> operation, CancellationToken cancellationToken = default)
    {
        var openUntil = Volatile.Read(ref _openUntil);
        if (openUntil != 0)
        {
            // Open: fail at once. Once the break is over, one caller probes (and re-arms the break for the
            // others meanwhile), so a hung Redis costs one caller the timeout per break, not every caller.
            var now = _time.GetTimestamp();
            if (now < openUntil || Interlocked.CompareExchange(ref _openUntil, now + BreakTicks, openUntil) != openUntil)
            {
                throw new SharedStateUnavailableException("Redis is unavailable (failing fast until it answers again).");
            }
        }

        try
        {
            // Redis commands cannot be cancelled; the caller stops waiting at its timeout or cancellation
            // and the command finishes (or times out) in the background.
            var result = await operation(Db).WaitAsync(_options.OperationTimeout, _time, cancellationToken);
            if (Volatile.Read(ref _openUntil) != 0)
            {
                Interlocked.Exchange(ref _openUntil, 0); // it answered: closed
            }

            return result;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Open();
            LogUnavailable(_logger, ex.GetType().Name, ex.Message);
            throw new SharedStateUnavailableException("Redis is unavailable: " + ex.Message, ex);
        }
    }

    private long BreakTicks => (long)(_options.BreakDuration.TotalSeconds * _time.TimestampFrequency);

    /// <summary>
    /// True while the breaker is open and its break not over: other users of the same multiplexer (the gateway's rate
    /// limits) skip Redis too, so one call never waits out the timeout twice on a hung Redis.
    /// </summary>
    public bool IsFailingFast
    {
        get
        {
            var openUntil = Volatile.Read(ref _openUntil);
            return openUntil != 0 && _time.GetTimestamp() < openUntil;
        }
    }

    private void Open() => Interlocked.Exchange(ref _openUntil, _time.GetTimestamp() + BreakTicks);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unavailable ({Kind}: {Error}); failing fast for the break duration")]
    private static partial void LogUnavailable(ILogger logger, string kind, string error);
}
