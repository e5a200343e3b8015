using System.Collections.Concurrent;

namespace PyAirtable.Services.Infrastructure.SharedState;

/// <summary>A cache entry that carries the version of what it caches.</summary>
public readonly record struct VersionedEntry(long Version, byte[] Data);

/// <summary>
/// The shared state cannot be reached (Redis down, hung, restarting or refusing writes). Thrown at once
/// while Redis is known to be down, so callers fall back or answer UNAVAILABLE in milliseconds instead of
/// waiting out a client timeout. Nothing kept here may be the only record of anything that matters.
/// </summary>
public sealed class SharedStateUnavailableException(string message, Exception? innerException = null) : Exception(message, innerException);

/// <summary>
/// State every host instance must agree on — rate-limit counters, revocation flags, versioned cache
/// entries — kept in Redis (or in memory in single-instance mode, when no Redis is configured).
/// Keys are prefixed with <c>Redis:InstanceName</c>. Every method may throw
/// <see cref="SharedStateUnavailableException"/>; it is a fast path, never the record.
/// </summary>
public interface ISharedState
{
    /// <summary>Adds one to a counter that lives for <paramref name="window"/> from its first increment; returns the count and the time left.</summary>
    Task<(long Count, TimeSpan Remaining)> IncrementAsync(string key, TimeSpan window);

    /// <summary>Takes one back from a counter that still exists (its window unchanged); an expired counter stays gone.</summary>
    Task DecrementAsync(string key);

    /// <summary>A counter's value and time left (0 and zero when absent).</summary>
    Task<(long Count, TimeSpan Remaining)> GetCounterAsync(string key);

    /// <summary>Sets a flag that expires after <paramref name="ttl"/>.</summary>
    Task SetFlagAsync(string key, TimeSpan ttl);

    /// <summary>Whether each key exists, in the order given, read at one instant (one round trip).</summary>
    Task<bool[]> ExistAsync(string[] keys, CancellationToken cancellationToken = default);

    /// <summary>Sets a text value without expiry.</summary>
    Task SetTextAsync(string key, string value);

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/> (no expiry) only if <paramref name="guardKey"/> still holds <paramref name="guardValue"/>.</summary>
    Task<bool> SetIfGuardAsync(string key, string value, string guardKey, string guardValue);

    Task DeleteAsync(string key);

    /// <summary>The cached entry, or null.</summary>
    Task<VersionedEntry?> GetVersionedAsync(string key);

    /// <summary>
    /// Stores <paramref name="entry"/> unless the cache already holds the same or a newer version, so a
    /// slow reader can never put back an older version than a writer stored.
    /// </summary>
    Task<bool> SetVersionedIfNewerAsync(string key, VersionedEntry entry, TimeSpan ttl);

    /// <summary>Appends items, numbered in order, to the change feed every host follows (see <see cref="ChangeFeed"/>).</summary>
    Task AppendChangesAsync(IReadOnlyList<string> items);

    /// <summary>
    /// The change feed's epoch and last number, and up to <paramref name="max"/> items numbered after <paramref name="after"/>
    /// (one round trip). A feed that is gone (Redis restarted empty, flushed) starts again as <paramref name="newEpoch"/>.
    /// </summary>
    Task<ChangeBatch> ReadChangesAsync(long after, int max, string newEpoch, CancellationToken cancellationToken = default);

    /// <summary>Starts the change feed again as <paramref name="newEpoch"/>: every follower rebuilds from the record.</summary>
    Task ResetChangesAsync(string newEpoch);
}

/// <summary>What <see cref="ISharedState.ReadChangesAsync"/> returns: the epoch, the last number taken, and items after the asked one.</summary>
public sealed record ChangeBatch(string Epoch, long Last, IReadOnlyList<(long Sequence, string Item)> Items);

/// <summary>Single-instance mode: the same semantics in this process only.</summary>
public sealed class MemorySharedState(TimeProvider time) : ISharedState
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly List<(long Sequence, string Item)> _changes = [];
    private string? _changesEpoch;
    private long _changesLast;

    private sealed record Entry(long Count, VersionedEntry? Versioned, DateTimeOffset ExpiresAt, string? Text = null);

    private int _writes;

    /// <summary>Entries held, expired ones included until read or swept (for tests of the memory bound).</summary>
    internal int Count => _entries.Count;

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

    public Task DecrementAsync(string key)
    {
        var now = time.GetUtcNow();
        _entries.AddOrUpdate(key,
            _ => new Entry(0, null, now), // nothing to take back: born expired
            (_, e) => e.ExpiresAt > now ? e with { Count = Math.Max(0, e.Count - 1) } : e);
        return Task.CompletedTask;
    }

    public Task<(long Count, TimeSpan Remaining)> GetCounterAsync(string key) =>
        Task.FromResult(Live(key) is { } e ? (e.Count, e.ExpiresAt - time.GetUtcNow()) : (0L, TimeSpan.Zero));

    public Task SetFlagAsync(string key, TimeSpan ttl)
    {
        Sweep();
        _entries[key] = new Entry(1, null, time.GetUtcNow() + ttl);
        return Task.CompletedTask;
    }

    public Task<bool[]> ExistAsync(string[] keys, CancellationToken cancellationToken = default) =>
        Task.FromResult(keys.Select(k => Live(k) is not null).ToArray());

    public Task<bool> SetIfGuardAsync(string key, string value, string guardKey, string guardValue)
    {
        lock (_entries)
        {
            if (Live(guardKey)?.Text != guardValue)
            {
                return Task.FromResult(false);
            }

            _entries[key] = new Entry(0, null, DateTimeOffset.MaxValue, value);
            return Task.FromResult(true);
        }
    }

    public Task SetTextAsync(string key, string value)
    {
        _entries[key] = new Entry(0, null, DateTimeOffset.MaxValue, value);
        return Task.CompletedTask;
    }

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

    public Task AppendChangesAsync(IReadOnlyList<string> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        lock (_changes)
        {
            _changesEpoch ??= Guid.NewGuid().ToString("N");
            foreach (var item in items)
            {
                _changes.Add((++_changesLast, item));
            }

            if (_changes.Count > ChangeFeed.Retained)
            {
                _changes.RemoveRange(0, _changes.Count - ChangeFeed.Retained);
            }
        }

        return Task.CompletedTask;
    }

    public Task<ChangeBatch> ReadChangesAsync(long after, int max, string newEpoch, CancellationToken cancellationToken = default)
    {
        lock (_changes)
        {
            _changesEpoch ??= newEpoch;
            var items = _changes.Where(c => c.Sequence > after).Take(max).ToList();
            return Task.FromResult(new ChangeBatch(_changesEpoch, _changesLast, items));
        }
    }

    public Task ResetChangesAsync(string newEpoch)
    {
        lock (_changes)
        {
            _changes.Clear();
            _changesEpoch = newEpoch;
            _changesLast = 0;
        }

        return Task.CompletedTask;
    }
}
