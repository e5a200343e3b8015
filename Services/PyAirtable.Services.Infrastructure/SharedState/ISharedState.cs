using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using StackExchange.Redis;

namespace PyAirtable.Services.Infrastructure.SharedState;

/// <summary>A cache entry that carries the version of what it caches.</summary>
public readonly record struct VersionedEntry(long Version, byte[] Data);

/// <summary>
/// State every host instance must agree on — rate-limit counters, revocations, versioned cache
/// entries — kept in Redis (or in memory in single-instance mode, when no Redis is configured).
/// Keys are prefixed with <c>Redis:InstanceName</c>.
/// </summary>
public interface ISharedState
{
    /// <summary>Adds one to a counter that lives for <paramref name="window"/> from its first increment; returns the count and the time left.</summary>
    Task<(long Count, TimeSpan Remaining)> IncrementAsync(string key, TimeSpan window);

    /// <summary>A counter's value and time left (0 and zero when absent).</summary>
    Task<(long Count, TimeSpan Remaining)> GetCounterAsync(string key);

    /// <summary>Sets a flag that expires after <paramref name="ttl"/>.</summary>
    Task SetFlagAsync(string key, TimeSpan ttl);

    /// <summary>True when any of the keys exists (one round trip).</summary>
    Task<bool> AnyExistsAsync(string key1, string key2);

    Task DeleteAsync(string key);

    /// <summary>The cached entry, or null.</summary>
    Task<VersionedEntry?> GetVersionedAsync(string key);

    /// <summary>
    /// Stores <paramref name="entry"/> unless the cache already holds the same or a newer version, so a
    /// slow reader can never put back an older version than a writer stored.
    /// </summary>
    Task<bool> SetVersionedIfNewerAsync(string key, VersionedEntry entry, TimeSpan ttl);
}

/// <summary>Redis: every host sees the same counters, flags and cache entries.</summary>
public sealed class RedisSharedState(IConnectionMultiplexer redis, IConfiguration configuration) : ISharedState
{
    // INCR, and start the window on the first increment; returns {count, pttl}.
    private const string IncrementScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return {n, redis.call('PTTL', KEYS[1])}
        """;

    // Compare-and-set on the version field of a hash.
    private const string SetIfNewerScript = """
        local current = redis.call('HGET', KEYS[1], 'v')
        if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
        redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return 1
        """;

    private readonly string _prefix = configuration["Redis:InstanceName"] ?? "pyairtable:";

    private IDatabase Db => redis.GetDatabase();

    private RedisKey Key(string key) => _prefix + key;

    public async Task<(long Count, TimeSpan Remaining)> IncrementAsync(string key, TimeSpan window)
    {
        var result = (RedisResult[])(await Db.ScriptEvaluateAsync(IncrementScript, [Key(key)], [(long)window.TotalMilliseconds]))!;
        return ((long)result[0], TimeSpan.FromMilliseconds(Math.Max(0, (long)result[1])));
    }

    public async Task<(long Count, TimeSpan Remaining)> GetCounterAsync(string key)
    {
        var k = Key(key);
        var batch = Db.CreateBatch();
        var value = batch.StringGetAsync(k);
        var ttl = batch.KeyTimeToLiveAsync(k);
        batch.Execute();
        var count = await value;
        return (count.HasValue ? (long)count : 0, await ttl ?? TimeSpan.Zero);
    }

    public Task SetFlagAsync(string key, TimeSpan ttl) => Db.StringSetAsync(Key(key), 1, ttl);

    public async Task<bool> AnyExistsAsync(string key1, string key2) =>
        await Db.KeyExistsAsync([Key(key1), Key(key2)]) > 0;

    public Task DeleteAsync(string key) => Db.KeyDeleteAsync(Key(key));

    public async Task<VersionedEntry?> GetVersionedAsync(string key)
    {
        var values = await Db.HashGetAsync(Key(key), ["v", "d"]);
        return values[0].HasValue && values[1].HasValue ? new VersionedEntry((long)values[0], (byte[])values[1]!) : null;
    }

    public async Task<bool> SetVersionedIfNewerAsync(string key, VersionedEntry entry, TimeSpan ttl) =>
        (int)await Db.ScriptEvaluateAsync(SetIfNewerScript, [Key(key)], [entry.Version, entry.Data, (long)ttl.TotalMilliseconds]) == 1;
}

/// <summary>Single-instance mode: the same semantics in this process only.</summary>
public sealed class MemorySharedState(TimeProvider time) : ISharedState
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    private sealed record Entry(long Count, VersionedEntry? Versioned, DateTimeOffset ExpiresAt);

    private int _writes;

    /// <summary>Entries are dropped when read after expiry; every 1024 writes the rest are swept, so keys never read again do not pile up.</summary>
    private void Sweep()
    {
        if ((Interlocked.Increment(ref _writes) & 1023) != 0)
        {
            return;
        }

        var now = time.GetUtcNow();
        foreach (var entry in _entries)
        {
            if (entry.Value.ExpiresAt <= now)
            {
                _entries.TryRemove(entry);
            }
        }
    }

    private Entry? Live(string key)
    {
        if (_entries.TryGetValue(key, out var entry))
        {
            if (entry.ExpiresAt > time.GetUtcNow())
            {
                return entry;
            }

            _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
        }

        return null;
    }

    public Task<(long Count, TimeSpan Remaining)> IncrementAsync(string key, TimeSpan window)
    {
        Sweep();
        var now = time.GetUtcNow();
        var entry = _entries.AddOrUpdate(key,
            _ => new Entry(1, null, now + window),
            (_, e) => e.ExpiresAt > now ? e with { Count = e.Count + 1 } : new Entry(1, null, now + window));
        return Task.FromResult((entry.Count, entry.ExpiresAt - now));
    }

    public Task<(long Count, TimeSpan Remaining)> GetCounterAsync(string key) =>
        Task.FromResult(Live(key) is { } e ? (e.Count, e.ExpiresAt - time.GetUtcNow()) : (0L, TimeSpan.Zero));

    public Task SetFlagAsync(string key, TimeSpan ttl)
    {
        Sweep();
        _entries[key] = new Entry(1, null, time.GetUtcNow() + ttl);
        return Task.CompletedTask;
    }

    public Task<bool> AnyExistsAsync(string key1, string key2) =>
        Task.FromResult(Live(key1) is not null || Live(key2) is not null);

    public Task DeleteAsync(string key)
    {
        _entries.TryRemove(key, out _);
        return Task.CompletedTask;
    }

    public Task<VersionedEntry?> GetVersionedAsync(string key) => Task.FromResult(Live(key)?.Versioned);

    public Task<bool> SetVersionedIfNewerAsync(string key, VersionedEntry entry, TimeSpan ttl)
    {
        Sweep();
        var stored = false;
        var expires = time.GetUtcNow() + ttl;
        _entries.AddOrUpdate(key,
            _ => { stored = true; return new Entry(0, entry, expires); },
            (_, e) =>
            {
                if (e.Versioned is { } current && current.Version >= entry.Version && e.ExpiresAt > time.GetUtcNow())
                {
                    stored = false;
                    return e;
                }

                stored = true;
                return new Entry(0, entry, expires);
            });
        return Task.FromResult(stored);
    }
}
