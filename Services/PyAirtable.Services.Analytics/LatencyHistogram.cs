namespace PyAirtable.Services.Analytics;

/// <summary>
/// A fixed latency histogram: the one shape every roll-up row and every query uses, so percentiles mean the same
/// whatever data answered. Bucket 0 is [0, 10 µs); from there each bucket is at most 10 % wider than its lower bound
/// ([a, b) with b ≤ 1.1·a, whole microseconds), up to an open last bucket from about 100 s. A percentile is
/// interpolated inside the bucket that holds it, so it is off by less than the bucket's width: under 10 % of the true
/// value (under 10 µs below 10 µs). Past the last bound it is reported as that bound (a lower limit).
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Lower bounds in microseconds, ascending from 0: what PostgreSQL's <c>width_bucket</c> is given.</summary>
    public static readonly long[] LowerBounds = BuildBounds();

    /// <summary>How many buckets there are.</summary>
    public static int BucketCount => LowerBounds.Length;

    private readonly long[] _counts = new long[LowerBounds.Length];

    /// <summary>Calls counted.</summary>
    public long Count { get; private set; }

    /// <summary>The bucket a latency falls in (the same as SQL <c>width_bucket(us, bounds) - 1</c>).</summary>
    public static int BucketOf(long micros)
    {
        if (micros < 0)
        {
            return 0;
        }

        var index = Array.BinarySearch(LowerBounds, micros);
        return index >= 0 ? index : ~index - 1;
    }

    public void Add(long micros) => AddBucket(BucketOf(micros), 1);

    /// <summary>Adds <paramref name="calls"/> to a bucket (from a roll-up row); out-of-range buckets go to the nearest end.</summary>
    public void AddBucket(int bucket, long calls)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(calls);
        _counts[Math.Clamp(bucket, 0, _counts.Length - 1)] += calls;
        Count += calls;
    }

    public void Merge(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
    }

    /// <summary>
    /// The latency below which a fraction <paramref name="quantile"/> of the calls fell (nearest rank, interpolated
    /// linearly inside its bucket); null without calls.
    /// </summary>
    public TimeSpan? Percentile(double quantile)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quantile, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quantile, 1.0);
        if (Count == 0)
        {
            return null;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(quantile * Count));
        long before = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            if (_counts[i] == 0 || before + _counts[i] < rank)
            {
                before += _counts[i];
                continue;
            }

            if (i == _counts.Length - 1)
            {
                return FromMicros(LowerBounds[i]);
            }

            var low = LowerBounds[i];
            var width = LowerBounds[i + 1] - low;
            // The rank-th of this bucket's calls, assumed evenly spread across it.
            var micros = low + width * (double)(rank - before) / _counts[i];
            return FromMicros(micros);
        }

        return FromMicros(LowerBounds[^1]);
    }

    private static TimeSpan FromMicros(double micros) => TimeSpan.FromTicks((long)Math.Round(micros * TimeSpan.TicksPerMicrosecond));

    private static long[] BuildBounds()
    {
        var bounds = new List<long> { 0, 10 };
        while (bounds[^1] < 100_000_000)
        {
            var last = bounds[^1];
            bounds.Add(Math.Max(last + 1, last * 11 / 10));
        }

        return [.. bounds];
    }
}
