using System.Collections.Concurrent;

namespace PyAirtable.Host.Gateway.RateLimiting;

/// <summary>
/// Permits a host took from a shared (Redis) bucket ahead of need, so that most calls spend one from memory instead of
/// a Redis round trip each. A host takes a lease of <see cref="SizeFor"/> permits (a fraction of the bucket's rate) when
/// it has none left, and keeps them for at most <see cref="Lifetime"/>; what is unused then is thrown away.
/// <para>
/// When half of a lease is spent, one caller is told to take the next lease ahead of need (<see cref="TryTake(string, out bool)"/>),
/// so that a busy partition's callers do not queue at the refill gate for a round trip each time a lease runs out. The next
/// lease is held apart with its own lifetime and is spent once the current one is gone.
/// </para>
/// <para>
/// What it changes: no call is ever admitted without a permit that Redis granted, and no permit outlives its own lease,
/// so the shared limit is never exceeded over a second; but permits held by one host are not available to the others, so a
/// caller spread over N hosts can be refused up to (2 × lease − 1) × N calls early per lifetime. Buckets of under
/// 2 / <see cref="Fraction"/> per second lease one permit at a time (behaviour as without leases).
/// </para>
/// </summary>
internal sealed class LocalPermitLeases
{
    private readonly ConcurrentDictionary<string, Lease> _leases = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly long _lifetimeTicks;
    private long _nextSweep;

    public LocalPermitLeases(double fraction, int maxLease, TimeSpan lifetime, TimeProvider time)
    {
        Fraction = fraction;
        MaxLease = maxLease;
        Lifetime = lifetime;
        _time = time;
        _lifetimeTicks = (long)(lifetime.TotalSeconds * time.TimestampFrequency);
        _nextSweep = time.GetTimestamp() + _lifetimeTicks;
    }

    public double Fraction { get; }

    public int MaxLease { get; }

    public TimeSpan Lifetime { get; }

    /// <summary>Entries held now (expired ones are swept once per lifetime).</summary>
    public int Count => _leases.Count;

    /// <summary>How many permits to take from the shared bucket at once: never more than a bucket of that rate holds.</summary>
    public int SizeFor(int perSecond) => Math.Clamp((int)(perSecond * Fraction), 1, Math.Min(MaxLease, perSecond));

    /// <summary>
    /// Spends one permit held for <paramref name="partition"/>; false when none is left or they expired. It never makes its
    /// caller the one to take the next lease (it could not say so): that stays for a caller of the other overload.
    /// </summary>
    public bool TryTake(string partition) => TryTake(partition, claimNext: false, out _);

    /// <summary>
    /// Spends one permit held for <paramref name="partition"/>; false when none is left or they expired. <paramref name="takeNext"/>
    /// is true for one caller when the permits run low and no next lease is held or on its way: that caller should take it
    /// (and report with <see cref="AddNext"/>) without making its own call wait.
    /// </summary>
    public bool TryTake(string partition, out bool takeNext) => TryTake(partition, claimNext: true, out takeNext);

    private bool TryTake(string partition, bool claimNext, out bool takeNext)
    {
        takeNext = false;
        var now = _time.GetTimestamp();
        SweepIfDue(now);
        if (!_leases.TryGetValue(partition, out var lease))
        {
            return false;
        }

        lock (lease)
        {
            if (lease.Remaining <= 0 || now >= lease.ExpiresAt)
            {
                // The current lease is spent or gone: the next one, if it came and is still good, takes over.
                if (lease.NextRemaining <= 0 || now >= lease.NextExpiresAt)
                {
                    return false;
                }

                (lease.Remaining, lease.ExpiresAt, lease.LowMark) = (lease.NextRemaining, lease.NextExpiresAt, lease.NextRemaining / 2);
                lease.NextRemaining = 0;
            }

            lease.Remaining--;
            if (claimNext && !lease.TakingNext && lease.NextRemaining == 0 && lease.Remaining <= lease.LowMark && lease.LowMark > 0)
            {
                lease.TakingNext = takeNext = true;
            }

            return true;
        }
    }

    /// <summary>Keeps <paramref name="permits"/> more for <paramref name="partition"/> (the rest of a lease just granted).</summary>
    public void Add(string partition, int permits)
    {
        if (permits <= 0)
        {
            return;
        }

        var now = _time.GetTimestamp();
        var lease = _leases.GetOrAdd(partition, _ => new Lease());
        lock (lease)
        {
            // Expired permits are gone; fresh ones live one lifetime from their grant.
            lease.Remaining = now >= lease.ExpiresAt ? permits : lease.Remaining + permits;
            lease.ExpiresAt = now + _lifetimeTicks;
            lease.LowMark = permits / 2;
        }
    }

    /// <summary>
    /// Keeps the next lease taken ahead of need (<paramref name="permits"/>, 0 when none could be had), to be spent once the
    /// current one is gone: its permits live one lifetime from now, however long the current one lasts.
    /// </summary>
    public void AddNext(string partition, int permits)
    {
        var now = _time.GetTimestamp();
        var lease = _leases.GetOrAdd(partition, _ => new Lease());
        lock (lease)
        {
            lease.TakingNext = false;
            if (permits > 0)
            {
                (lease.NextRemaining, lease.NextExpiresAt) = (permits, now + _lifetimeTicks);
            }
        }
    }

    /// <summary>
    /// The partition's refill gate: one caller at a time takes a new lease from Redis, the others wait and spend from it,
    /// so a burst of N concurrent calls costs one round trip, not N leases drained from the shared bucket at once.
    /// </summary>
    public SemaphoreSlim GateOf(string partition) => _leases.GetOrAdd(partition, _ => new Lease()).Gate;

    /// <summary>Drops everything held (Redis unreachable: the in-memory buckets take over, then start afresh).</summary>
    public void Clear() => _leases.Clear();

    private void SweepIfDue(long now)
    {
        var due = Volatile.Read(ref _nextSweep);
        if (now < due || Interlocked.CompareExchange(ref _nextSweep, now + _lifetimeTicks, due) != due)
        {
            return;
        }

        // One caller per lifetime walks the entries, so partitions that went quiet (one per credential, base and
        // address ever seen) do not pile up.
        foreach (var (partition, lease) in _leases)
        {
            bool expired;
            lock (lease)
            {
                expired = now >= lease.ExpiresAt && (lease.NextRemaining <= 0 || now >= lease.NextExpiresAt) && !lease.TakingNext;
            }

            if (expired)
            {
                _leases.TryRemove(new KeyValuePair<string, Lease>(partition, lease));
            }
        }
    }

#pragma warning disable CA1001 // the gate never allocates a wait handle (only WaitAsync/Release): nothing to dispose
    private sealed class Lease
#pragma warning restore CA1001
    {
        public int Remaining;
        public long ExpiresAt;
        public int LowMark; // the next lease is taken when no more than this is left of the current one
        public int NextRemaining;
        public long NextExpiresAt;
        public bool TakingNext;
        public readonly SemaphoreSlim Gate = new(1, 1);
    }
}
