using System.Collections.Concurrent;

namespace PyAirtable.Services.Infrastructure.SharedState;

/// <summary>
/// Values read from the record, kept in memory for one generation: <see cref="Invalidate"/> (a write applied from the
/// <see cref="ChangeFeed"/>) voids every one at once, and a value read before it cannot be stored after it, since the
/// reader hands back the generation it took before reading. Bounded: past <c>maxEntries</c> it starts again empty, which
/// the next reads refill (simpler and cheaper per read than tracking recency).
/// </summary>
public sealed class GenerationCache<TKey, TValue>(int maxEntries)
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, (TValue Value, long Generation)> _entries = new();
    private long _generation;

    /// <summary>Taken before reading the record, and given back to <see cref="Put"/>.</summary>
    public long Generation => Volatile.Read(ref _generation);

    public bool TryGet(TKey key, out TValue value)
    {
        if (_entries.TryGetValue(key, out var held) && held.Generation == Generation)
        {
            value = held.Value;
            return true;
        }

        value = default!;
        return false;
    }

    /// <summary>Keeps <paramref name="value"/>, read in <paramref name="generation"/> (ignored if it was voided since).</summary>
    public void Put(TKey key, TValue value, long generation)
    {
        if (generation != Generation)
        {
            return;
        }

        if (_entries.Count >= maxEntries)
        {
            _entries.Clear();
        }

        _entries[key] = (value, generation);
    }

    /// <summary>A new generation: every value held, and every read in flight, is void.</summary>
    public void Invalidate()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }
}
